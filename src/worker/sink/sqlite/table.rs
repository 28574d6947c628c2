//! The target table of a SQLite job: checking that it has the job's columns
//! (and for an upsert, a unique index on the key), and creating it from them
//! when asked. Owns the column-type mapping to SQLite's declared types; must
//! not write rows or touch the ledger.

use std::path::Path;

use rusqlite::Connection;

use super::classify::{classify, describe};
use super::schema;
use crate::format::{ColumnSpec, ColumnType};
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;
use crate::worker::sink::columns::{self, Limits};
use crate::worker::sink::sql;

/// What one SQLite table can have: SQLITE_MAX_COLUMN's default (the
/// bundled build keeps it); names compared ignoring ASCII case.
pub const LIMITS: Limits = Limits {
    database: "SQLite",
    max_columns: 2000,
    max_name_bytes: None,
    ascii_case_blind: true,
    forbidden: &['\0'],
};

/// Makes sure `table` exists (creating it when `create`) with every column
/// of `columns`, and for an upsert (`key`) a unique index on exactly the key
/// columns; returns the table's own name of each column. A missing table or
/// index is a `Config` error naming it; columns that cannot map onto the
/// table are `SinkError::Columns` (`sink::columns`).
pub fn ensure(
    conn: &Connection,
    path: &Path,
    table: &str,
    columns: &[ColumnSpec],
    create: bool,
    key: Option<&[String]>,
) -> Result<Vec<String>, SinkError> {
    let config = |detail: String| SinkError::Table {
        class: ErrorClass::Config,
        table: table.to_string(),
        detail,
    };
    let mut have = table_columns(conn, path, table)?;
    if have.is_empty() && !create {
        return Err(config(format!(
            "no such table in {}; create it, or set create_table = true to create it \
             from the job's columns",
            path.display()
        )));
    }
    columns::check_names(&LIMITS, table, columns)?;
    if have.is_empty() {
        // IF NOT EXISTS: another worker may create it between our check and here.
        let ddl = create_table_sql(table, columns, key);
        conn.execute_batch(&ddl).map_err(|e| SinkError::Table {
            class: classify(&e),
            table: table.to_string(),
            detail: format!("creating it in {}: {}", path.display(), describe(&e)),
        })?;
        have = table_columns(conn, path, table)?;
    }
    let at = columns::map(table, columns, &have)?;
    // Checked on a table we just created too: IF NOT EXISTS may have kept
    // an older one without the index.
    if let Some(key) = key {
        schema::check_upsert_key(conn, path, table, columns, key)?;
    }
    Ok(at.into_iter().map(|i| have[i].clone()).collect())
}

/// The table's column names; empty when there is no such table. A bound
/// name, so no quoting question arises.
fn table_columns(conn: &Connection, path: &Path, table: &str) -> Result<Vec<String>, SinkError> {
    let table_err = |e: rusqlite::Error| SinkError::Table {
        class: classify(&e),
        table: table.to_string(),
        detail: format!(
            "reading its columns in {}: {}",
            path.display(),
            describe(&e)
        ),
    };
    let mut stmt = conn
        .prepare_cached("SELECT name FROM pragma_table_info(?1)")
        .map_err(table_err)?;
    let names = stmt
        .query_map([table], |row| row.get::<_, String>(0))
        .map_err(table_err)?;
    names.collect::<Result<_, _>>().map_err(table_err)
}

/// `CREATE TABLE IF NOT EXISTS` for the job's columns. Declared types pick
/// SQLite's affinity: NUMERIC keeps decimals exact where it can; dates and
/// timestamps are TEXT because a declared DATE would get NUMERIC affinity.
/// An upsert `key` gets a UNIQUE constraint, for ON CONFLICT, and NOT NULL:
/// NULLs never conflict, so a NULL key would add a row on every load. (Not
/// PRIMARY KEY: on one INTEGER column that would become the rowid, where a
/// NULL means "assign one" instead of a reject.)
fn create_table_sql(table: &str, columns: &[ColumnSpec], key: Option<&[String]>) -> String {
    let in_key =
        |c: &ColumnSpec| key.is_some_and(|k| k.iter().any(|k| k.eq_ignore_ascii_case(&c.name)));
    let mut s = String::from("CREATE TABLE IF NOT EXISTS ");
    sql::push_ident(&mut s, table);
    s.push_str(" (");
    for (i, c) in columns.iter().enumerate() {
        s.push_str(if i > 0 { ", " } else { "" });
        sql::push_ident(&mut s, &c.name);
        s.push_str(match c.ty {
            ColumnType::Int | ColumnType::BigInt | ColumnType::Bool => " INTEGER",
            ColumnType::Decimal { .. } => " NUMERIC",
            ColumnType::Float => " REAL",
            ColumnType::Text { .. }
            | ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::TimestampTz => " TEXT",
        });
        if !c.nullable || in_key(c) {
            s.push_str(" NOT NULL");
        }
    }
    if let Some(key) = key {
        s.push_str(", UNIQUE (");
        sql::push_ident_list(&mut s, key, "");
        s.push(')');
    }
    s.push(')');
    s
}
