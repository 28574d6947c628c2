//! The target table of an Oracle job, in the session's schema: reading its
//! columns and types from the data dictionary (they decide every bind,
//! `bind.rs`), checking them against the job's (`sink::columns`: exactly,
//! else ignoring case when unambiguous; each of a type the sink writes and
//! the job's values fit), creating the table when asked, refusing an upsert
//! into a table without a unique key on exactly the key columns (naming the
//! `CREATE UNIQUE INDEX` to run), and telling the operator about Oracle's
//! upper-case rule when names differ only in case. Must not write rows or
//! touch the ledger.

use oracle::Connection;

use super::classify::fail;
use super::dictionary;
use super::sql::{self, ORA_NAME_IN_USE};
use super::target::{Kind, SUPPORTED, TargetColumn};
use crate::config::WriteMode;
use crate::format::ColumnSpec;
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;
use crate::worker::sink::columns::{self, Limits};

/// What one Oracle table can have: 1000 columns, names of at most 128
/// bytes (12.2 and later) without double quotes or NUL, even quoted.
pub const LIMITS: Limits = Limits {
    database: "Oracle",
    max_columns: 1000,
    max_name_bytes: Some(128),
    ascii_case_blind: false,
    forbidden: &['\0', '"'],
};

/// Makes sure `owner`.`table` exists (creating it when `create`) with every
/// column of `columns`, fit for the job's mode; returns the table's own name
/// of each of them, and its columns as the dictionary has them.
pub fn ensure(
    conn: &Connection,
    owner: &str,
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
    let db = |what: &'static str| {
        move |e: oracle::Error| {
            fail(&e, |class, detail| SinkError::Table {
                class,
                table: table.to_string(),
                detail: format!("{what}: {detail}"),
            })
        }
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
    let read = |conn: &Connection| {
        dictionary::table_columns(conn, owner, table).map_err(db("reading its columns"))
    };
    let mut have = read(conn)?;
    if have.is_empty() {
        if !create {
            let similar = dictionary::tables_ignoring_case(conn, owner, table)
                .map_err(db("looking for similar names"))?;
            return Err(config(format!(
                "no such table in schema {owner:?}; create it, or set create_table = true \
                 to create it from the job's columns{}",
                case_hint(&similar)
            )));
        }
        columns::check_names(&LIMITS, table, columns)?;
        let ddl = sql::create_table_sql(table, columns, key);
        match conn.execute(&ddl, &[]) {
            Ok(_) => {}
            // Another worker created it between our look and here.
            Err(e) if e.oci_code() == Some(ORA_NAME_IN_USE) => {}
            Err(e) => return Err(db("creating it")(e)),
        }
        have = read(conn)?;
    }
    let at = matched(table, columns, &have)?;
    check_columns(&have, columns).map_err(config)?;
    if let Some(key) = key {
        let keys =
            dictionary::unique_keys(conn, owner, table).map_err(db("reading its unique keys"))?;
        check_key(owner, table, &have, key, &keys).map_err(config)?;
    }
    Ok((at, have))
}

/// The table's column that job column `name` goes to: the one place that
/// matches job columns to the table's, by `format::names`' rule (exactly,
/// else ignoring case when only one column matches).
pub fn resolve<'a>(have: &'a [TargetColumn], name: &str) -> Option<&'a TargetColumn> {
    let names: Vec<&str> = have.iter().map(|h| h.name.as_str()).collect();
    let at = crate::format::names::resolve(&[name], &names).ok()?;
    at.first().map(|&i| &have[i])
}

/// Every job column is in the table, of a type the sink writes and that
/// the job's values fit.
pub fn check_columns(have: &[TargetColumn], columns: &[ColumnSpec]) -> Result<(), String> {
    let missing: Vec<&ColumnSpec> = columns
        .iter()
        .filter(|c| resolve(have, &c.name).is_none())
        .collect();
    if !missing.is_empty() {
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
        return Err(format!(
            "missing column(s) {} (the table has {}){hint}",
            names.join(", "),
            all.join(", ")
        ));
    }
    for c in columns {
        let Some(t) = resolve(have, &c.name) else {
            continue;
        };
        match t.kind() {
            None => {
                return Err(format!(
                    "column {:?} has type {}, which the oracle sink does not write (it writes \
                     {SUPPORTED})",
                    t.name, t.data_type
                ));
            }
            Some(k) if !k.accepts(c.ty) => {
                return Err(format!(
                    "column {:?} is {} in the table, but the job gives {}: no value of that \
                     type fits",
                    t.name, t.data_type, c.ty
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// An upsert's key: no LOB in it, and a primary key, unique constraint or
/// unique index on exactly its columns, so that two workers' MERGEs of the
/// same new key cannot both insert (the second waits, then fails with
/// ORA-00001 and merges again).
pub fn check_key(
    owner: &str,
    table: &str,
    have: &[TargetColumn],
    key: &[String],
    keys: &[(String, Vec<String>)],
) -> Result<(), String> {
    // The key in the table's spelling.
    let key: Vec<String> = key
        .iter()
        .map(|k| resolve(have, k).map_or_else(|| k.clone(), |t| t.name.clone()))
        .collect();
    if let Some(lob) = key
        .iter()
        .filter_map(|k| resolve(have, k))
        .find(|t| matches!(t.kind(), Some(Kind::Clob | Kind::NClob)))
    {
        return Err(format!(
            "column {:?} is a {}: it cannot be part of an upsert key (LOBs are not compared)",
            lob.name, lob.data_type
        ));
    }
    let mut want = key.to_vec();
    want.sort();
    if keys.iter().any(|(_, cols)| *cols == want) {
        return Ok(());
    }
    let found: Vec<String> = keys
        .iter()
        .map(|(by, cols)| format!("{by} on ({})", cols.join(", ")))
        .collect();
    let found = match found.is_empty() {
        true => "it has none".to_string(),
        false => format!("it has {}", found.join("; ")),
    };
    Err(format!(
        "mode = \"upsert\" needs a primary key or unique index on exactly ({}) ({found}): \
         without one two workers' MERGEs of the same new key can both insert it; run {}, \
         or let create_table make the table",
        key.join(", "),
        sql::unique_index_sql(owner, table, &key)
    ))
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

/// `; the schema has "ORDERS": ...` when a table's name differs only in case.
fn case_hint(similar: &[String]) -> String {
    match similar.is_empty() {
        true => String::new(),
        false => {
            let names: Vec<String> = similar.iter().map(|n| format!("{n:?}")).collect();
            format!(
                "; the schema has {}: write that in the job's `table` ({UPPER_RULE})",
                names.join(", ")
            )
        }
    }
}

#[cfg(test)]
#[path = "tests/table.rs"]
mod tests;
