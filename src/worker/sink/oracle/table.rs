//! The target table of an Oracle job: reading its columns from the data
//! dictionary (they decide the text bind types), checking them against the
//! job's (`sink::columns`: exactly, else ignoring case when unambiguous),
//! creating the table when asked, and telling the operator about Oracle's
//! upper-case rule when a table's name differs only in case. Must not write
//! rows or touch the ledger.

use oracle::Connection;
use oracle::sql_type::OracleType;

use super::bind::TargetColumn;
use super::classify::{classify, describe};
use super::sql::{self, ORA_NAME_IN_USE};
use crate::config::WriteMode;
use crate::format::ColumnSpec;
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;
use crate::worker::sink::columns::{self, Limits};

/// Names in the dictionary are at most 128 bytes.
const NAME_BIND: OracleType = OracleType::Varchar2(128);

/// What one Oracle table can have: 1000 columns, names of at most 128
/// bytes (12.2 and later) without double quotes or NUL, even quoted.
pub const LIMITS: Limits = Limits {
    database: "Oracle",
    max_columns: 1000,
    max_name_bytes: Some(128),
    ascii_case_blind: false,
    forbidden: &['\0', '"'],
};

/// Makes sure `table` exists (creating it when `create`) with every column
/// of `columns`; returns the table's own name of each of them, and its
/// columns as the dictionary has them.
pub fn ensure(
    conn: &Connection,
    table: &str,
    columns: &[ColumnSpec],
    create: bool,
    mode: &WriteMode,
) -> Result<(Vec<String>, Vec<TargetColumn>), SinkError> {
    let config = |detail: String| SinkError::Table {
        class: ErrorClass::Config,
        table: table.to_string(),
        detail,
    };
    let key = match mode {
        WriteMode::Insert => None,
        WriteMode::Upsert { key } => Some(key.as_slice()),
    };
    if let Some(missing) = key
        .into_iter()
        .flatten()
        .find(|k| !columns.iter().any(|c| &c.name == *k))
    {
        return Err(config(format!(
            "the upsert key column {missing:?} is not among the job's columns"
        )));
    }
    let mut have = table_columns(conn, table)?;
    if have.is_empty() && !create {
        let hint = case_hint(conn, table)?;
        return Err(config(format!(
            "no such table in the user's schema; create it, or set create_table = true \
             to create it from the job's columns{hint}"
        )));
    }
    columns::check_names(&LIMITS, table, columns)?;
    if have.is_empty() {
        let ddl = sql::create_table_sql(table, columns, key);
        match conn.execute(&ddl, &[]) {
            Ok(_) => {}
            // Another worker created it between our look and here.
            Err(e) if e.oci_code() == Some(ORA_NAME_IN_USE) => {}
            Err(e) => {
                return Err(SinkError::Table {
                    class: classify(&e),
                    table: table.to_string(),
                    detail: format!("creating it: {}", describe(&e)),
                });
            }
        }
        have = table_columns(conn, table)?;
    }
    let at = matched(table, columns, &have)?;
    Ok((at, have))
}

/// The table's own name of each of `columns` (`sink::columns::map`): a job
/// column `id` takes the column `ID` that `CREATE TABLE t (id ...)` made.
pub fn matched(
    table: &str,
    columns: &[ColumnSpec],
    have: &[TargetColumn],
) -> Result<Vec<String>, SinkError> {
    let names: Vec<&str> = have.iter().map(|h| h.name.as_str()).collect();
    let at = columns::map(table, columns, &names)?;
    Ok(at.into_iter().map(|i| have[i].name.clone()).collect())
}

/// Oracle's upper-case rule, for messages about a table's name.
pub const UPPER_RULE: &str = "table names are matched exactly as configured, and Oracle stores \
     names created without quotes in upper case";

fn table_err(table: &str, what: &str, e: &oracle::Error) -> SinkError {
    SinkError::Table {
        class: classify(e),
        table: table.to_string(),
        detail: format!("{what}: {}", describe(e)),
    }
}

/// The table's columns from `user_tab_columns`; empty when there is no such
/// table (or view) in the user's schema.
pub fn table_columns(conn: &Connection, table: &str) -> Result<Vec<TargetColumn>, SinkError> {
    let err = |e: oracle::Error| table_err(table, "reading its columns", &e);
    let rows = conn
        .query(sql::TABLE_COLUMNS_SQL, &[&(&table, &NAME_BIND)])
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(err)?;
        let name: String = row.get(0).map_err(err)?;
        let data_type: String = row.get(1).map_err(err)?;
        let char_length: Option<u32> = row.get(2).map_err(err)?;
        out.push(TargetColumn {
            name,
            data_type,
            char_length: char_length.unwrap_or(0),
        });
    }
    Ok(out)
}

/// `; the schema has "ORDERS": ...` when a table's name differs only in case.
fn case_hint(conn: &Connection, table: &str) -> Result<String, SinkError> {
    let err = |e: oracle::Error| table_err(table, "looking for similar names", &e);
    let rows = conn
        .query(sql::TABLES_IGNORING_CASE_SQL, &[&(&table, &NAME_BIND)])
        .map_err(err)?;
    let mut names = Vec::new();
    for row in rows {
        names.push(format!(
            "{:?}",
            row.map_err(err)?.get::<_, String>(0).map_err(err)?
        ));
    }
    Ok(match names.is_empty() {
        true => String::new(),
        false => format!(
            "; the schema has {}: write that in the job's `table` ({UPPER_RULE})",
            names.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have(names: &[&str]) -> Vec<TargetColumn> {
        names
            .iter()
            .map(|n| TargetColumn {
                name: n.to_string(),
                data_type: "VARCHAR2".into(),
                char_length: 10,
            })
            .collect()
    }

    fn cols(names: &[&str]) -> Vec<ColumnSpec> {
        names.iter().map(|n| ColumnSpec::text(n)).collect()
    }

    fn detail(e: SinkError) -> String {
        match e {
            SinkError::Columns { detail, .. } => detail,
            other => panic!("not a Columns error: {other}"),
        }
    }

    #[test]
    fn columns_take_the_dictionary_s_spelling_by_the_one_rule() {
        // `CREATE TABLE t (id ..., name ...)` stores ID and NAME.
        let got = matched("t", &cols(&["name", "id"]), &have(&["ID", "NAME"])).unwrap();
        assert_eq!(got, ["NAME", "ID"]);
        // Quoted mixed case beside it: exact wins, else it is ambiguous.
        let both = have(&["ID", "Id"]);
        assert_eq!(matched("t", &cols(&["Id"]), &both).unwrap(), ["Id"]);
        let e = detail(matched("t", &cols(&["id"]), &both).unwrap_err());
        assert!(
            e.starts_with("\"id\" matches several columns ignoring case"),
            "{e}"
        );
        let e = detail(matched("t", &cols(&["id", "x"]), &have(&["ID"])).unwrap_err());
        assert_eq!(e, "missing column(s) x (the table has ID)");
    }

    #[test]
    fn names_an_oracle_table_cannot_hold() {
        let many: Vec<String> = (1..=1001).map(|i| format!("C{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = detail(columns::check_names(&LIMITS, "t", &cols(&many)).unwrap_err());
        assert!(
            e == "1001 columns, more than the 1000 Oracle allows in one table (from \"C1001\" on)",
            "{e}"
        );
        assert!(columns::check_names(&LIMITS, "t", &cols(&many[..1000])).is_ok());
        let e = detail(columns::check_names(&LIMITS, "t", &cols(&["a\"b"])).unwrap_err());
        assert_eq!(e, "\"a\\\"b\" holds '\"', which Oracle names cannot hold");
        let long = "x".repeat(129);
        let e = detail(columns::check_names(&LIMITS, "t", &cols(&[&long])).unwrap_err());
        assert!(
            e.ends_with("is 129 bytes long; Oracle names are at most 128 bytes"),
            "{e}"
        );
        // Quoted names keep their case: "a" and "A" are two columns.
        assert!(columns::check_names(&LIMITS, "t", &cols(&["a", "A"])).is_ok());
        // The ledger's target is the name as configured.
        assert_eq!(LIMITS.identity("Orders"), "Orders");
    }
}
