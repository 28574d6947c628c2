//! The target table of an Oracle job: reading its columns from the data
//! dictionary (they decide the text bind types), checking them against the
//! job's, creating the table when asked, and telling the operator about
//! Oracle's upper-case rule when names differ only in case. Must not write
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

/// Names in the dictionary are at most 128 bytes.
const NAME_BIND: OracleType = OracleType::Varchar2(128);

/// Makes sure `table` exists (creating it when `create`) with every column
/// of `columns`; returns its columns as the dictionary has them.
pub fn ensure(
    conn: &Connection,
    table: &str,
    columns: &[ColumnSpec],
    create: bool,
    mode: &WriteMode,
) -> Result<Vec<TargetColumn>, SinkError> {
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
    if have.is_empty() {
        if !create {
            let hint = case_hint(conn, table)?;
            return Err(config(format!(
                "no such table in the user's schema; create it, or set create_table = true \
                 to create it from the job's columns{hint}"
            )));
        }
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
    let missing: Vec<&ColumnSpec> = columns
        .iter()
        .filter(|c| !have.iter().any(|h| h.name == c.name))
        .collect();
    if missing.is_empty() {
        return Ok(have);
    }
    let names: Vec<String> = missing.iter().map(|c| format!("{:?}", c.name)).collect();
    let all: Vec<&str> = have.iter().map(|h| h.name.as_str()).collect();
    let cased: Vec<String> = missing
        .iter()
        .filter_map(|c| {
            let h = have.iter().find(|h| h.name.eq_ignore_ascii_case(&c.name))?;
            Some(format!("write {:?} for {:?}", h.name, c.name))
        })
        .collect();
    let hint = match cased.is_empty() {
        true => String::new(),
        false => format!("; {}: {UPPER_RULE}", cased.join(", ")),
    };
    Err(config(format!(
        "missing column(s) {} (the table has {}){hint}",
        names.join(", "),
        all.join(", ")
    )))
}

/// Oracle's upper-case rule, for messages.
pub const UPPER_RULE: &str = "names are matched exactly as configured, and Oracle stores \
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
