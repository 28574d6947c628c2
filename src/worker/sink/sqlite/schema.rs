//! What the writer needs to know about the target's schema beyond its
//! column names: each column's affinity (may a decimal be bound as REAL?),
//! whether any conflict can resolve with FAIL (may rows be inserted several
//! per statement?), and which unique index an upsert's ON CONFLICT uses.
//! Reads the schema only; must not change it or write rows.

use std::path::Path;

use rusqlite::Connection;

use super::classify::{classify, describe};
use crate::format::ColumnSpec;
use crate::protocol::ErrorClass;
use crate::worker::sink::{SinkError, sql};

/// Facts about one table, valid for one `PRAGMA schema_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub version: i64,
    /// Per job column: a decimal bound as REAL is stored exactly as its text
    /// would be (INTEGER, NUMERIC or REAL affinity, or STRICT INT/REAL).
    pub real_ok: Vec<bool>,
    /// No FAIL conflict resolution anywhere in the schema. FAIL (a column's
    /// `ON CONFLICT FAIL`, a trigger's `RAISE(FAIL)`, `INSERT OR FAIL` in a
    /// trigger) stops a statement but keeps the rows it already inserted, so
    /// a multi-row INSERT that fails could not simply be replayed row by row.
    /// ABORT, the default, undoes the failed statement's own rows.
    pub chunks_safe: bool,
}

/// The schema version (bumped by every schema change, by any connection).
/// Cheap: a header field of page 1, which the write lock has just read.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA schema_version")?
        .query_row([], |r| r.get(0))
}

/// Reads the facts for `columns` of `table` at schema version `version`.
pub fn facts(
    conn: &Connection,
    table: &str,
    columns: &[ColumnSpec],
    version: i64,
) -> rusqlite::Result<Facts> {
    let strict: bool = conn
        .prepare_cached("SELECT COALESCE(MAX(strict), 0) FROM pragma_table_list(?1)")?
        .query_row([table], |r| r.get(0))?;
    let declared: Vec<(String, String)> = conn
        .prepare_cached("SELECT name, type FROM pragma_table_info(?1)")?
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let real_ok = columns
        .iter()
        .map(|c| {
            declared
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&c.name))
                .is_some_and(|(_, ty)| takes_real(ty, strict))
        })
        .collect();
    let mut stmt = conn.prepare_cached("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    let mut chunks_safe = true;
    while let Some(row) = rows.next()? {
        let sql: String = row.get(0)?;
        if mentions_fail(&sql) {
            chunks_safe = false;
            break;
        }
    }
    Ok(Facts {
        version,
        real_ok,
        chunks_safe,
    })
}

/// SQLite's affinity rules (datatype3.html, 3.1) applied to a declared
/// type: true for INTEGER, REAL and NUMERIC affinity, where a REAL and the
/// decimal's text end up the same stored value. TEXT would store `12.5` for
/// `12.50`, BLOB (no affinity, or STRICT ANY) would keep a REAL a REAL.
fn takes_real(declared: &str, strict: bool) -> bool {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        return true;
    }
    let text = ["CHAR", "CLOB", "TEXT"].iter().any(|w| t.contains(w));
    let blob = t.contains("BLOB") || t.trim().is_empty() || (strict && t.trim() == "ANY");
    !(text || blob)
}

/// Whether `sql` has the word FAIL outside an identifier. A FAIL inside a
/// string or a quoted name also counts: a false alarm only costs speed.
fn mentions_fail(sql: &str) -> bool {
    let b = sql.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    (0..b.len().saturating_sub(3)).any(|i| {
        b[i..i + 4].eq_ignore_ascii_case(b"FAIL")
            && (i == 0 || !word(b[i - 1]))
            && b.get(i + 4).is_none_or(|&c| !word(c))
    })
}

/// Checks that a unique index (or the primary key) of `table` covers
/// exactly the `key` columns, which ON CONFLICT needs; a `Config` error
/// saying which index to create otherwise.
pub fn check_upsert_key(
    conn: &Connection,
    path: &Path,
    table: &str,
    columns: &[ColumnSpec],
    key: &[String],
) -> Result<(), SinkError> {
    let config = |detail: String| SinkError::Table {
        class: ErrorClass::Config,
        table: table.to_string(),
        detail,
    };
    if let Some(k) = key
        .iter()
        .find(|k| !columns.iter().any(|c| c.name.eq_ignore_ascii_case(k)))
    {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        return Err(config(format!(
            "upsert key column {k:?} is not among the job's columns ({})",
            names.join(", ")
        )));
    }
    let db_err = |e: rusqlite::Error| SinkError::Table {
        class: classify(&e),
        table: table.to_string(),
        detail: format!(
            "reading its indexes in {}: {}",
            path.display(),
            describe(&e)
        ),
    };
    let same = |cols: &[Option<String>]| {
        cols.len() == key.len()
            && key.iter().all(|k| {
                cols.iter()
                    .any(|c| c.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(k)))
            })
    };
    let mut has_pk_index = false;
    for (name, origin) in unique_indexes(conn, table).map_err(db_err)? {
        has_pk_index |= origin == "pk";
        if same(&index_columns(conn, &name).map_err(db_err)?) {
            return Ok(());
        }
    }
    // An INTEGER PRIMARY KEY is the rowid itself and has no index to list.
    let pk: Vec<(String, String)> = conn
        .prepare_cached("SELECT name, type FROM pragma_table_info(?1) WHERE pk > 0")
        .and_then(|mut s| {
            s.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(db_err)?;
    if let [(name, ty)] = pk.as_slice()
        && !has_pk_index
        && ty.eq_ignore_ascii_case("INTEGER")
        && same(&[Some(name.clone())])
    {
        return Ok(());
    }
    let mut ddl = String::from("CREATE UNIQUE INDEX ");
    sql::push_ident(&mut ddl, &format!("{table}_upsert_key"));
    ddl.push_str(" ON ");
    sql::push_ident(&mut ddl, table);
    ddl.push_str(" (");
    sql::push_ident_list(&mut ddl, key, "");
    ddl.push(')');
    Err(config(format!(
        "mode = \"upsert\" needs a primary key or unique index on exactly the key column(s) \
         ({}) for ON CONFLICT, and {} has none; create one: {ddl}",
        key.join(", "),
        path.display()
    )))
}

/// (name, origin) of every unique, non-partial index of `table`; a partial
/// index cannot serve a bare ON CONFLICT target.
fn unique_indexes(conn: &Connection, table: &str) -> rusqlite::Result<Vec<(String, String)>> {
    conn.prepare_cached(
        "SELECT name, origin FROM pragma_index_list(?1) WHERE \"unique\" AND NOT partial",
    )?
    .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// The columns of an index, in order; `None` for an expression (or the rowid).
fn index_columns(conn: &Connection, index: &str) -> rusqlite::Result<Vec<Option<String>>> {
    conn.prepare_cached("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
        .query_map([index], |r| r.get(0))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_by_declared_type() {
        for ty in [
            "INTEGER",
            "bigint",
            "NUMERIC",
            "decimal(12,2)",
            "REAL",
            "double",
            "DATE",
        ] {
            assert!(takes_real(ty, false), "{ty}");
        }
        assert!(takes_real("ANY", false), "ANY is NUMERIC outside STRICT");
        for ty in ["TEXT", "varchar(3)", "CLOB", "BLOB", "", "  ", "CHARINT"] {
            // "CHARINT" contains INT: INTEGER affinity wins (rule 1 first).
            assert_eq!(takes_real(ty, false), ty == "CHARINT", "{ty:?}");
        }
        assert!(!takes_real("ANY", true));
        assert!(takes_real("INT", true) && takes_real("REAL", true));
    }

    #[test]
    fn fail_as_a_word_only() {
        assert!(mentions_fail("CREATE TABLE t (a UNIQUE ON CONFLICT FAIL)"));
        assert!(mentions_fail("SELECT RAISE(fail, 'x')"));
        assert!(mentions_fail("fail"));
        assert!(!mentions_fail(
            "CREATE TABLE failures (failed INTEGER, x_fail TEXT)"
        ));
        assert!(!mentions_fail("CREATE TABLE t (a)"));
        assert!(!mentions_fail("FAI"));
    }
}
