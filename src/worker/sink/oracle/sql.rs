//! SQL text of the Oracle sink: the MERGE of an upsert, the target table's
//! DDL with Oracle types, the ledger's types and its overlap query, and the
//! data dictionary queries. Text only: it never runs SQL.
//!
//! Identifiers are quoted exactly as configured (`sql::push_ident`). Oracle
//! stores unquoted names in upper case, so a table created as `CREATE TABLE
//! orders (id ...)` is `ORDERS` with column `ID`: the configuration must say
//! `ORDERS` / `ID` to reach it; `orders` means the quoted lower-case name.

use crate::format::{ColumnSpec, ColumnType};
use crate::worker::sink::ledger::LedgerTypes;
use crate::worker::sink::sql::{self, Placeholder};

/// The ledger in Oracle. Two 512-character keys (2,048 bytes each in
/// AL32UTF8) and a 128-character target (a table's name is at most 128
/// bytes) keep the primary key's index under the 6,398-byte limit of an
/// 8 KiB block; a source identity is a file name, its size and a hash.
pub const LEDGER_TYPES: LedgerTypes = LedgerTypes {
    key_text: "VARCHAR2(512 CHAR)",
    target_text: "VARCHAR2(128 CHAR)",
    int: "NUMBER(19)",
    json: "CLOB",
    timestamp: "TIMESTAMP(3)",
};

/// Characters of the ledger's key columns, for binding them as VARCHAR2.
pub const LEDGER_KEY_CHARS: u32 = 512;

/// Characters of the ledger's `target`.
pub const LEDGER_TARGET_CHARS: u32 = 128;

/// Whether the ledger's primary key (in schema `:1`) has `target` yet (an
/// older version made it without; the key is the upgrade's last step).
pub const LEDGER_KEY_HAS_TARGET_SQL: &str = "SELECT count(*) FROM all_constraints c \
     JOIN all_cons_columns k ON k.owner = c.owner AND k.constraint_name = c.constraint_name \
     WHERE c.owner = :1 AND c.table_name = 'INGESTD_LEDGER' AND c.constraint_type = 'P' \
     AND k.column_name = 'TARGET'";

/// The upgrade of a ledger without `target`, step by step, each with the
/// ORA code meaning another worker did that step first (DDL commits at
/// once in Oracle, so the steps cannot be one transaction; each is safe to
/// meet done). Existing rows get `ledger::LEGACY_TARGET` (the default).
pub fn ledger_upgrade_steps() -> [(String, i32); 3] {
    use crate::worker::sink::ledger::{KEY, LEGACY_TARGET, TABLE};
    [
        (
            format!(
                "ALTER TABLE {TABLE} ADD (target {} DEFAULT '{LEGACY_TARGET}' NOT NULL)",
                LEDGER_TYPES.target_text
            ),
            // ORA-01430: column being added already exists in table
            1430,
        ),
        (
            format!("ALTER TABLE {TABLE} DROP PRIMARY KEY DROP INDEX"),
            // ORA-02441: cannot drop nonexistent primary key
            2441,
        ),
        (
            format!("ALTER TABLE {TABLE} ADD PRIMARY KEY ({KEY})"),
            // ORA-02260: table can have only one primary key
            2260,
        ),
    ]
}

/// `committed_at`: UTC from the database's clock, so all workers stamp alike.
pub const NOW: &str = "SYS_EXTRACT_UTC(SYSTIMESTAMP)";

/// ORA-00955: name is already used by an existing object (CREATE TABLE of a
/// table that exists: another worker won the race, or it was there).
pub const ORA_NAME_IN_USE: i32 = 955;

/// Run first in each batch's transaction: a deferrable constraint (a
/// deferred foreign key or check) is then checked at each row, where it
/// rejects that row, instead of at COMMIT (ORA-02091), which could only
/// roll the whole batch back.
pub const SET_CONSTRAINTS_SQL: &str = "SET CONSTRAINTS ALL IMMEDIATE";

/// The ledger rows of (job = :1, target = :2, source = :3) that overlap
/// [:5, :4) or start at :6 (= the start again). In SQL, Oracle binds
/// placeholders by position of occurrence, so a repeated `:4` would be two
/// binds: each value has its own placeholder here. Same rule as
/// `ledger::select_overlapping_sql`.
pub fn ledger_overlapping_sql() -> String {
    let mut s = crate::worker::sink::ledger::select_committed_sql(Placeholder::Colon);
    let order = " ORDER BY start_off";
    debug_assert!(s.ends_with(order));
    s.truncate(s.len() - order.len());
    s.push_str(" AND ((start_off < :4 AND end_off > :5) OR start_off = :6)");
    s.push_str(order);
    s
}

/// The Oracle type of a configured column, for `create_table`.
pub fn column_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Int => "NUMBER(10)".into(),
        ColumnType::BigInt => "NUMBER(19)".into(),
        ColumnType::Decimal { precision, scale } => format!("NUMBER({precision},{scale})"),
        ColumnType::Float => "BINARY_DOUBLE".into(),
        // Plain `text` has no length: the longest VARCHAR2 every database
        // takes. Longer declared texts become CLOB.
        ColumnType::Text { max_chars: None } => "VARCHAR2(4000 CHAR)".into(),
        ColumnType::Text { max_chars: Some(n) } if n <= 4000 => format!("VARCHAR2({n} CHAR)"),
        ColumnType::Text { max_chars: Some(_) } => "CLOB".into(),
        ColumnType::Bool => "NUMBER(1)".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Timestamp => "TIMESTAMP(9)".into(),
        ColumnType::TimestampTz => "TIMESTAMP(9) WITH TIME ZONE".into(),
    }
}

/// `CREATE TABLE "t" ("a" NUMBER(19) NOT NULL, ...)`. An upsert's key
/// columns are NOT NULL (a NULL key never matches, so every load would add
/// the row again) and its primary key (so two workers' MERGEs of one new key
/// cannot both insert). No IF NOT EXISTS in Oracle: the caller takes
/// ORA-00955 as "exists".
pub fn create_table_sql(table: &str, columns: &[ColumnSpec], key: Option<&[String]>) -> String {
    let key = key.filter(|k| !k.is_empty());
    let mut s = String::from("CREATE TABLE ");
    sql::push_ident(&mut s, table);
    s.push_str(" (");
    for (i, c) in columns.iter().enumerate() {
        s.push_str(if i > 0 { ", " } else { "" });
        sql::push_ident(&mut s, &c.name);
        s.push(' ');
        s.push_str(&column_type(c.ty));
        if !c.nullable || key.is_some_and(|k| k.contains(&c.name)) {
            s.push_str(" NOT NULL");
        }
    }
    if let Some(key) = key {
        s.push_str(", PRIMARY KEY (");
        sql::push_ident_list(&mut s, key, "");
        s.push(')');
    }
    s.push(')');
    s
}

/// `CREATE UNIQUE INDEX "T_KEY" ON "OWNER"."T" ("ID")`: what an operator
/// runs so that an existing table can take upserts on `key`.
pub fn unique_index_sql(owner: &str, table: &str, key: &[String]) -> String {
    let mut name: String = format!("{table}_KEY");
    // Oracle's names are at most 128 bytes.
    while name.len() > 128 {
        name.remove(0);
    }
    let mut s = String::from("CREATE UNIQUE INDEX ");
    sql::push_ident(&mut s, &name);
    s.push_str(" ON ");
    sql::push_ident(&mut s, owner);
    s.push('.');
    sql::push_ident(&mut s, table);
    s.push_str(" (");
    sql::push_ident_list(&mut s, key, "");
    s.push(')');
    s
}

/// The upsert of one row by `key`:
///
/// ```sql
/// MERGE INTO "t" d USING (SELECT :1 "id", :2 "v" FROM dual) s ON (d."id" = s."id")
/// WHEN MATCHED THEN UPDATE SET d."v" = s."v"
/// WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v")
/// ```
///
/// Parameters are the columns in order, like the INSERT's. Key columns are
/// matched as configured; a table whose columns are all key columns has no
/// UPDATE branch (nothing to change on a match). A column with a cast
/// (`casts[i]`, a text bound as a LOB for a character column) is selected
/// as `CAST(:n AS VARCHAR2(4000 BYTE))`, so the match and the update see
/// the column's own type, not a LOB.
pub fn merge_sql(
    table: &str,
    columns: &[ColumnSpec],
    key: &[String],
    casts: &[Option<String>],
) -> String {
    let mut s = String::from("MERGE INTO ");
    sql::push_ident(&mut s, table);
    s.push_str(" d USING (SELECT ");
    for (i, c) in columns.iter().enumerate() {
        s.push_str(if i > 0 { ", " } else { "" });
        match casts.get(i).and_then(Option::as_deref) {
            Some(ty) => {
                s.push_str("CAST(");
                Placeholder::Colon.push(&mut s, i + 1);
                s.push_str(" AS ");
                s.push_str(ty);
                s.push(')');
            }
            None => Placeholder::Colon.push(&mut s, i + 1),
        }
        s.push(' ');
        sql::push_ident(&mut s, &c.name);
    }
    s.push_str(" FROM dual) s ON (");
    for (i, k) in key.iter().enumerate() {
        s.push_str(if i > 0 { " AND " } else { "" });
        s.push_str("d.");
        sql::push_ident(&mut s, k);
        s.push_str(" = s.");
        sql::push_ident(&mut s, k);
    }
    s.push(')');
    let rest: Vec<&str> = columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !key.iter().any(|k| k == n))
        .collect();
    if !rest.is_empty() {
        s.push_str(" WHEN MATCHED THEN UPDATE SET ");
        for (i, n) in rest.iter().enumerate() {
            s.push_str(if i > 0 { ", " } else { "" });
            s.push_str("d.");
            sql::push_ident(&mut s, n);
            s.push_str(" = s.");
            sql::push_ident(&mut s, n);
        }
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    s.push_str(" WHEN NOT MATCHED THEN INSERT (");
    sql::push_ident_list(&mut s, &names, "");
    s.push_str(") VALUES (");
    sql::push_ident_list(&mut s, &names, "s.");
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures::col;
    use crate::worker::sink::ledger;

    fn orders() -> Vec<ColumnSpec> {
        vec![
            col("id", ColumnType::BigInt, false),
            col(
                "Amount",
                ColumnType::Decimal {
                    precision: 12,
                    scale: 2,
                },
                true,
            ),
            col("note", ColumnType::Text { max_chars: None }, true),
        ]
    }

    #[test]
    fn insert_text_uses_colon_placeholders_and_quotes_as_configured() {
        assert_eq!(
            sql::insert_sql("orders", &orders(), Placeholder::Colon),
            r#"INSERT INTO "orders" ("id", "Amount", "note") VALUES (:1, :2, :3)"#
        );
        assert_eq!(
            sql::insert_sql("ORDERS", &orders()[..1], Placeholder::Colon),
            r#"INSERT INTO "ORDERS" ("id") VALUES (:1)"#
        );
    }

    #[test]
    fn merge_text() {
        let key = vec!["id".to_string()];
        assert_eq!(
            merge_sql("orders", &orders(), &key, &[]),
            "MERGE INTO \"orders\" d USING (SELECT :1 \"id\", :2 \"Amount\", :3 \"note\" FROM dual) s \
             ON (d.\"id\" = s.\"id\") \
             WHEN MATCHED THEN UPDATE SET d.\"Amount\" = s.\"Amount\", d.\"note\" = s.\"note\" \
             WHEN NOT MATCHED THEN INSERT (\"id\", \"Amount\", \"note\") \
             VALUES (s.\"id\", s.\"Amount\", s.\"note\")"
        );
        let two = vec!["id".to_string(), "note".to_string()];
        let m = merge_sql("t", &orders(), &two, &[None, None, None]);
        assert!(
            m.contains("ON (d.\"id\" = s.\"id\" AND d.\"note\" = s.\"note\")"),
            "{m}"
        );
        assert!(
            m.contains("UPDATE SET d.\"Amount\" = s.\"Amount\" WHEN"),
            "{m}"
        );
        // Only key columns: no UPDATE branch (Oracle refuses an empty SET).
        let all = vec!["id".to_string()];
        let m = merge_sql("t", &orders()[..1], &all, &[]);
        assert!(!m.contains("WHEN MATCHED"), "{m}");
        assert!(m.ends_with("INSERT (\"id\") VALUES (s.\"id\")"), "{m}");
    }

    #[test]
    fn create_table_with_oracle_types() {
        let mut cols = orders();
        cols.extend([
            col("n", ColumnType::Int, true),
            col("f", ColumnType::Float, true),
            col("c", ColumnType::Text { max_chars: Some(3) }, false),
            col(
                "long",
                ColumnType::Text {
                    max_chars: Some(10_000),
                },
                true,
            ),
            col("b", ColumnType::Bool, true),
            col("d", ColumnType::Date, true),
            col("ts", ColumnType::Timestamp, true),
        ]);
        assert_eq!(
            create_table_sql("orders", &cols, None),
            "CREATE TABLE \"orders\" (\"id\" NUMBER(19) NOT NULL, \"Amount\" NUMBER(12,2), \
             \"note\" VARCHAR2(4000 CHAR), \"n\" NUMBER(10), \"f\" BINARY_DOUBLE, \
             \"c\" VARCHAR2(3 CHAR) NOT NULL, \"long\" CLOB, \"b\" NUMBER(1), \"d\" DATE, \
             \"ts\" TIMESTAMP(9))"
        );
    }

    #[test]
    fn created_upsert_tables_have_not_null_key_columns_and_the_key_as_primary_key() {
        let key = vec!["id".to_string(), "note".to_string()];
        let mut cols = orders();
        cols[0].nullable = true;
        assert_eq!(
            create_table_sql("t", &cols, Some(&key)),
            "CREATE TABLE \"t\" (\"id\" NUMBER(19) NOT NULL, \"Amount\" NUMBER(12,2), \
             \"note\" VARCHAR2(4000 CHAR) NOT NULL, PRIMARY KEY (\"id\", \"note\"))"
        );
        // Not for inserts: the job's own nullability.
        assert!(!create_table_sql("t", &cols, None).contains("NOT NULL"));
    }

    #[test]
    fn long_texts_bound_as_lobs_are_cast_back_in_a_merge() {
        let key = vec!["note".to_string()];
        let casts = [None, None, Some("VARCHAR2(4000 BYTE)".to_string())];
        let m = merge_sql("t", &orders(), &key, &casts);
        assert!(
            m.starts_with(
                "MERGE INTO \"t\" d USING (SELECT :1 \"id\", :2 \"Amount\", \
                 CAST(:3 AS VARCHAR2(4000 BYTE)) \"note\" FROM dual) s ON (d.\"note\" = s.\"note\")"
            ),
            "{m}"
        );
    }

    #[test]
    fn the_unique_index_hint_names_owner_table_and_key() {
        let key = vec!["ID".to_string(), "Day".to_string()];
        assert_eq!(
            unique_index_sql("SALES", "ORDERS", &key),
            "CREATE UNIQUE INDEX \"ORDERS_KEY\" ON \"SALES\".\"ORDERS\" (\"ID\", \"Day\")"
        );
        let long = "T".repeat(127);
        assert!(
            unique_index_sql("S", &long, &key)
                .starts_with(&format!("CREATE UNIQUE INDEX \"{}_KEY\"", "T".repeat(124)))
        );
    }

    #[test]
    fn ledger_text() {
        let ddl = ledger::create_sql(&LEDGER_TYPES, ledger::TABLE, false);
        assert!(ddl.starts_with("CREATE TABLE ingestd_ledger (\n"), "{ddl}");
        assert!(!ddl.contains("IF NOT EXISTS"), "{ddl}");
        assert!(ddl.contains("job VARCHAR2(512 CHAR) NOT NULL"), "{ddl}");
        assert!(ddl.contains("rejects CLOB NOT NULL"), "{ddl}");
        assert!(ddl.contains("committed_at TIMESTAMP(3) NOT NULL"), "{ddl}");
        assert!(
            ddl.contains("target VARCHAR2(128 CHAR) DEFAULT '(legacy)' NOT NULL"),
            "{ddl}"
        );
        assert!(
            ddl.contains("PRIMARY KEY (job, target, source, start_off)"),
            "{ddl}"
        );
        let q = ledger_overlapping_sql();
        assert_eq!(
            q,
            "SELECT start_off, end_off, first_line, rows_loaded, rows_rejected, rejects \
             FROM ingestd_ledger WHERE job = :1 AND target = :2 AND source = :3 \
             AND ((start_off < :4 AND end_off > :5) OR start_off = :6) ORDER BY start_off"
        );
        // Each placeholder once: Oracle binds SQL placeholders by occurrence.
        for n in 1..=6 {
            assert_eq!(q.matches(&format!(":{n}")).count(), 1, "{q}");
        }
        let ins = ledger::insert_sql(Placeholder::Colon, NOW);
        assert!(
            ins.ends_with(":9, :10, SYS_EXTRACT_UTC(SYSTIMESTAMP))"),
            "{ins}"
        );
    }

    #[test]
    fn ledger_upgrade_text() {
        let steps = ledger_upgrade_steps();
        assert_eq!(
            steps[0],
            (
                "ALTER TABLE ingestd_ledger ADD (target VARCHAR2(128 CHAR) DEFAULT '(legacy)' \
                 NOT NULL)"
                    .to_string(),
                1430
            )
        );
        assert_eq!(
            steps[1].0,
            "ALTER TABLE ingestd_ledger DROP PRIMARY KEY DROP INDEX"
        );
        assert_eq!(
            steps[2].0,
            "ALTER TABLE ingestd_ledger ADD PRIMARY KEY (job, target, source, start_off)"
        );
        // The dictionary holds the unquoted names upper-case.
        assert!(LEDGER_KEY_HAS_TARGET_SQL.contains("k.column_name = 'TARGET'"));
        assert!(LEDGER_KEY_HAS_TARGET_SQL.contains("c.constraint_type = 'P'"));
        assert_eq!(
            ledger::claim_sql(Placeholder::Colon),
            "UPDATE ingestd_ledger SET target = :2 WHERE job = :1 AND target = '(legacy)'"
        );
    }
}
