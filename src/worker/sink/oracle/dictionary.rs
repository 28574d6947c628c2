//! What the data dictionary says, read with owner-qualified `ALL_*` views
//! (so a table of another schema, reached through `schema`, is found like
//! one of the user's own): the session's schema and whether the ledger is
//! there (a table, or a synonym of the schema or PUBLIC: a ledger a DBA made
//! elsewhere), a table's columns and types, its unique keys, and tables
//! whose name differs only in case. Reads only; names are bound, never
//! quoted into the text.

use std::collections::BTreeMap;

use oracle::Connection;
use oracle::sql_type::OracleType;

use super::target::TargetColumn;

/// Names in the dictionary are at most 128 bytes.
pub(super) const NAME_BIND: OracleType = OracleType::Varchar2(128);

/// The session's schema (`CURRENT_SCHEMA`: the user's own, or the sink's
/// `schema`) and how many ways `INGESTD_LEDGER` resolves there: a table of
/// that schema, a synonym of that schema, a PUBLIC synonym. Unquoted in its
/// DDL, the ledger's name is stored upper-case.
pub const LEDGER_LOOKUP_SQL: &str = "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'), \
     (SELECT count(*) FROM all_tables WHERE owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') \
     AND table_name = 'INGESTD_LEDGER') + (SELECT count(*) FROM all_synonyms \
     WHERE owner IN (SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'), 'PUBLIC') \
     AND synonym_name = 'INGESTD_LEDGER') FROM dual";

/// The target's columns (:1 owner, :2 table), in table order.
pub const TABLE_COLUMNS_SQL: &str = "SELECT column_name, data_type, data_length, char_length, \
     char_used, nullable FROM all_tab_columns WHERE owner = :1 AND table_name = :2 \
     ORDER BY column_id";

/// Tables of owner :1 whose name differs from :2 only in case.
pub const TABLES_IGNORING_CASE_SQL: &str =
    "SELECT table_name FROM all_tables WHERE owner = :1 AND UPPER(table_name) = UPPER(:2)";

/// The column sets that keep a key unique in table (:1, :2) = (:3, :4):
/// enabled primary key and unique constraints, and unique indexes that are
/// usable and on plain columns. Each placeholder occurs once: Oracle binds
/// SQL placeholders by position of occurrence.
pub const UNIQUE_KEYS_SQL: &str = "SELECT 'constraint ' || c.constraint_name, cc.column_name \
     FROM all_constraints c JOIN all_cons_columns cc ON cc.owner = c.owner \
     AND cc.constraint_name = c.constraint_name AND cc.table_name = c.table_name \
     WHERE c.owner = :1 AND c.table_name = :2 AND c.constraint_type IN ('P', 'U') \
     AND c.status = 'ENABLED' \
     UNION ALL SELECT 'index ' || i.owner || '.' || i.index_name, ic.column_name \
     FROM all_indexes i JOIN all_ind_columns ic ON ic.index_owner = i.owner \
     AND ic.index_name = i.index_name \
     WHERE i.table_owner = :3 AND i.table_name = :4 AND i.uniqueness = 'UNIQUE' \
     AND i.status <> 'UNUSABLE' AND i.index_type NOT LIKE 'FUNCTION-BASED%'";

/// The session's schema, and whether the ledger resolves in it.
pub fn ledger_lookup(conn: &Connection) -> oracle::Result<(String, bool)> {
    let (owner, found) = conn.query_row_as::<(String, i64)>(LEDGER_LOOKUP_SQL, &[])?;
    Ok((owner, found > 0))
}

/// The columns of `owner`.`table`; empty when there is no such table (or
/// view) that the user can see.
pub fn table_columns(
    conn: &Connection,
    owner: &str,
    table: &str,
) -> oracle::Result<Vec<TargetColumn>> {
    let rows = conn.query(
        TABLE_COLUMNS_SQL,
        &[&(&owner, &NAME_BIND), &(&table, &NAME_BIND)],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        let char_used: Option<String> = row.get(4)?;
        out.push(TargetColumn {
            name: row.get(0)?,
            data_type: row.get(1)?,
            data_length: row.get::<_, Option<u32>>(2)?.unwrap_or(0),
            char_length: row.get::<_, Option<u32>>(3)?.unwrap_or(0),
            char_semantics: char_used.map(|c| c == "C"),
            nullable: row.get::<_, String>(5)? != "N",
        });
    }
    Ok(out)
}

/// The names of `owner`'s tables that differ from `table` only in case.
pub fn tables_ignoring_case(
    conn: &Connection,
    owner: &str,
    table: &str,
) -> oracle::Result<Vec<String>> {
    let rows = conn.query(
        TABLES_IGNORING_CASE_SQL,
        &[&(&owner, &NAME_BIND), &(&table, &NAME_BIND)],
    )?;
    rows.map(|r| r.and_then(|r| r.get::<_, String>(0)))
        .collect()
}

/// The column sets (sorted) of `owner`.`table`'s unique keys, each with
/// what enforces it (`constraint PK_T`, `index LOADER.T_KEY`).
pub fn unique_keys(
    conn: &Connection,
    owner: &str,
    table: &str,
) -> oracle::Result<Vec<(String, Vec<String>)>> {
    let (o, t) = (&(&owner, &NAME_BIND), &(&table, &NAME_BIND));
    let rows = conn.query(UNIQUE_KEYS_SQL, &[o, t, o, t])?;
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let row = row?;
        keys.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    Ok(keys
        .into_iter()
        .map(|(by, mut columns)| {
            columns.sort();
            (by, columns)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `:n` occurrences of a statement, in order.
    fn placeholders(sql: &str) -> Vec<u32> {
        sql.split(':')
            .skip(1)
            .filter_map(|p| {
                let n: String = p.chars().take_while(char::is_ascii_digit).collect();
                n.parse().ok()
            })
            .collect()
    }

    #[test]
    fn every_lookup_is_owner_qualified_through_all_views() {
        for sql in [TABLE_COLUMNS_SQL, TABLES_IGNORING_CASE_SQL, UNIQUE_KEYS_SQL] {
            assert!(!sql.to_lowercase().contains("user_"), "{sql}");
            assert!(sql.contains("owner = :1"), "{sql}");
        }
        assert!(TABLE_COLUMNS_SQL.contains("FROM all_tab_columns"));
        assert!(TABLE_COLUMNS_SQL.contains("data_length, char_length, char_used, nullable"));
        // Bound by position of occurrence: each placeholder once, in order.
        assert_eq!(placeholders(TABLE_COLUMNS_SQL), [1, 2]);
        assert_eq!(placeholders(UNIQUE_KEYS_SQL), [1, 2, 3, 4]);
    }

    #[test]
    fn the_ledger_is_found_as_a_table_or_a_synonym_in_the_sessions_schema() {
        let q = LEDGER_LOOKUP_SQL;
        assert!(!q.to_lowercase().contains("user_tables"), "{q}");
        assert!(
            q.contains("FROM all_tables WHERE owner = SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')")
        );
        assert!(q.contains("FROM all_synonyms"));
        assert!(q.contains("owner IN (SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'), 'PUBLIC')"));
        // The DDL does not quote the ledger's name: Oracle stores it upper-case.
        assert!(q.contains(&format!(
            "'{}'",
            crate::worker::sink::ledger::TABLE.to_uppercase()
        )));
        assert!(placeholders(q).is_empty());
    }

    #[test]
    fn unique_keys_are_enabled_constraints_and_usable_plain_unique_indexes() {
        let q = UNIQUE_KEYS_SQL;
        for part in [
            "FROM all_constraints c JOIN all_cons_columns cc",
            "c.constraint_type IN ('P', 'U')",
            "c.status = 'ENABLED'",
            "FROM all_indexes i JOIN all_ind_columns ic",
            "i.uniqueness = 'UNIQUE'",
            "i.status <> 'UNUSABLE'",
            "i.index_type NOT LIKE 'FUNCTION-BASED%'",
        ] {
            assert!(q.contains(part), "no {part:?} in {q}");
        }
    }
}
