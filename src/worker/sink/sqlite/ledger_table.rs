//! SQLite's ledger table: created when missing, and upgraded in place when
//! an older version made it without `target`. SQLite cannot change a
//! primary key, so the upgrade rebuilds the table: a new one with the new
//! key, every row copied with target `ledger::LEGACY_TARGET`, the old one
//! dropped, the new one renamed, all in one IMMEDIATE transaction (a crash
//! leaves the old ledger whole; the other workers opening the file wait
//! for the lock and find it upgraded). Also the claim of those rows by
//! their job, and `ingestd ledger`'s listing and forgetting. Must not
//! touch any other table.

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tracing::info;

use super::LEDGER_TYPES;
use super::classify::{classify, describe};
use crate::protocol::{ErrorClass, Forgot};
use crate::worker::sink::SinkError;
use crate::worker::sink::ledger::list::{self, ListedRow};
use crate::worker::sink::ledger::{self, TABLE};
use crate::worker::sink::sql::Placeholder;

/// Where an upgrade copies the rows before the new table takes the name.
const UPGRADING: &str = "ingestd_ledger_upgrading";

/// Makes sure the ledger exists with `target` (`shown`: the file, for
/// messages).
pub fn open(conn: &Connection, shown: &str) -> Result<(), SinkError> {
    let err = |what: &str, e: rusqlite::Error| SinkError::Ledger {
        class: classify(&e),
        detail: format!("{shown}: {what} {TABLE}: {}", describe(&e)),
    };
    // Looked at first without the write lock: every worker opens the file.
    if has_columns(conn).map_err(|e| err("reading", e))? == Some((true, true)) {
        return Ok(());
    }
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(|e| err("locking the file to create", e))?;
    match has_columns(&tx).map_err(|e| err("reading", e))? {
        Some((true, _)) => {}
        None => tx
            .execute_batch(&ledger::create_sql(&LEDGER_TYPES, TABLE, false))
            .map_err(|e| err("creating", e))?,
        Some((false, _)) => {
            let rows = upgrade(&tx).map_err(|e| err("upgrading", e))?;
            info!(file = %shown, rows, "{}", ledger::UPGRADED);
        }
    }
    // A stream's sequences: added to ledgers made before them.
    if has_columns(&tx).map_err(|e| err("reading", e))? == Some((true, false)) {
        tx.execute_batch(&format!(
            "ALTER TABLE {TABLE} ADD COLUMN runs {}",
            LEDGER_TYPES.json
        ))
        .map_err(|e| err("adding runs to", e))?;
    }
    tx.commit().map_err(|e| err("committing", e))
}

/// `None` when there is no ledger; else whether it has `target` and `runs`.
fn has_columns(conn: &Connection) -> rusqlite::Result<Option<(bool, bool)>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")?
        .query_map([TABLE], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let has = |c: &str| names.iter().any(|n| n == c);
    Ok((!names.is_empty()).then(|| (has("target"), has("runs"))))
}

/// Rebuilds the ledger with `target` (inside the caller's transaction);
/// returns the rows copied.
fn upgrade(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(&ledger::create_sql(&LEDGER_TYPES, UPGRADING, false))?;
    let rows = conn.execute(&ledger::upgrade_copy_sql(TABLE, UPGRADING), [])?;
    conn.execute_batch(&format!(
        "DROP TABLE {TABLE}; ALTER TABLE {UPGRADING} RENAME TO {TABLE}"
    ))?;
    Ok(rows)
}

/// `ledger::claim_sql` for `job` and the target identity `target`.
pub fn claim(conn: &Connection, job: &str, target: &str) -> Result<u64, SinkError> {
    let has = ledger::has_legacy_sql(Placeholder::Question);
    conn.query_row(&has, [job], |r| r.get::<_, i64>(0))
        .and_then(|n| match n {
            0 => Ok(0),
            _ => conn
                .prepare_cached(&ledger::claim_sql(Placeholder::Question))
                .and_then(|mut s| s.execute(params![job, target])),
        })
        .map(|n| n as u64)
        .map_err(|e| ledger::claim_err(job, target)(classify(&e), describe(&e)))
}

/// `Sink::list_ledger` (`committed_at` is ISO 8601 text already).
pub fn list(
    conn: &Connection,
    job: &str,
    source: Option<&str>,
    each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
) -> Result<(), SinkError> {
    let err = list::list_err(job);
    let db_err = |e: rusqlite::Error| err(classify(&e), describe(&e));
    let sql = list::list_sql(
        Placeholder::Question,
        "committed_at",
        "runs",
        source.is_some(),
    );
    let mut stmt = conn.prepare(&sql).map_err(db_err)?;
    let read = |r: &rusqlite::Row<'_>| {
        Ok(ListedRow {
            target: r.get(0)?,
            source: r.get(1)?,
            start: r.get(2)?,
            end: r.get(3)?,
            loaded: r.get(4)?,
            rejected: r.get(5)?,
            runs: r.get(6)?,
            committed_at: r.get(7)?,
        })
    };
    let rows = match source {
        Some(s) => stmt.query_map(params![job, s], read),
        None => stmt.query_map(params![job], read),
    }
    .map_err(db_err)?;
    for row in rows {
        each(row.map_err(db_err)?).map_err(|m| err(ErrorClass::Config, m))?;
    }
    Ok(())
}

/// `Sink::forget`: one IMMEDIATE transaction, rolled back when the rows
/// deleted are not the `expected` ones.
pub fn forget(
    conn: &Connection,
    job: &str,
    target: &str,
    source: &str,
    expected: u64,
) -> Result<Forgot, SinkError> {
    let err = list::forget_err(job, source);
    let db_err = |e: rusqlite::Error| err(classify(&e), describe(&e));
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(db_err)?;
    let found = tx
        .execute(
            &list::forget_sql(Placeholder::Question),
            params![job, target, source],
        )
        .map_err(db_err)? as u64;
    if found != expected {
        tx.rollback().map_err(db_err)?;
        return Ok(Forgot::Changed { expected, found });
    }
    tx.commit().map_err(db_err)?;
    Ok(Forgot::Deleted { rows: found })
}
