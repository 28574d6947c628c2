//! The SQLite sink: one connection per worker process, opened after the
//! worker starts and closed before it exits.
//!
//! Several workers (processes) share one database file. WAL lets readers go
//! on while one writer holds the lock; each batch takes the write lock up front
//! (`BEGIN IMMEDIATE`), so a waiting worker waits in `busy_timeout` rather than
//! failing half-way, and SQLITE_BUSY after that is `Transient`.
//!
//! Owns the connection's settings, table checks and creation, and SQLite's
//! steps of the batch transaction (`steps.rs`; its shape and the ledger's
//! rules are `deliver`'s). Must not touch files other than the database
//! (and its folder), pipes, or the supervisor's state.

mod bind;
mod classify;
mod insert;
mod ledger_table;
mod schema;
mod steps;
mod stream;
mod table;
#[cfg(test)]
mod tests;
mod text;

use std::path::PathBuf;

use rusqlite::{Connection, OpenFlags};

pub use self::classify::{classify, describe};
use self::insert::Plan;
use self::steps::Tx;
use super::deliver;
use super::ledger::list::ListedRow;
use super::ledger::{self, LedgerTypes};
use super::sql::Placeholder;
use super::{Session, Sink, SinkError, WriteOutcome, WriteRequest};
use crate::config::{SqliteSink, SqliteSynchronous, WriteMode};
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, Forgot, LedgerRange};

const LEDGER_TYPES: LedgerTypes = LedgerTypes {
    key_text: "TEXT",
    target_text: "TEXT",
    int: "INTEGER",
    json: "TEXT",
    timestamp: "TEXT",
};

/// `committed_at`: UTC, ISO 8601 with milliseconds, from SQLite's clock.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// The page size of database files the sink creates (measured in
/// `tests/bench.rs`: about +20% rows/s over SQLite's 4096 on the benchmark's rows).
const NEW_FILE_PAGE_SIZE: u32 = 16384;

/// A worker's connection to one SQLite file.
pub struct SqliteTarget {
    conn: Connection,
    path: PathBuf,
    pid: u32,
    /// The statements for the table last written; rebuilt when table,
    /// columns or mode change.
    plan: Option<Plan>,
    ledger_overlapping: String,
    ledger_committed: String,
    ledger_insert: String,
}

impl SqliteTarget {
    /// Opens (creating when missing) the file and its folder, sets WAL,
    /// `synchronous` and `busy_timeout`, and creates (or upgrades) the ledger
    /// table.
    pub fn open(cfg: &SqliteSink, session: &Session) -> Result<Self, SinkError> {
        let path = cfg.path.clone();
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| SinkError::Open {
                class: io_class(&e),
                detail: format!("creating the folder {}: {e}", dir.display()),
            })?;
        }
        let open_err = |what: &str, e: rusqlite::Error| SinkError::Open {
            class: classify(&e),
            detail: format!("{shown}: {what}: {}", describe(&e)),
        };
        // No SQLITE_OPEN_URI: the configured path is a path, never a `file:` URI.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| open_err("open", e))?;
        // Before anything that locks: switching to WAL and creating the ledger
        // contend with the other workers opening the same file.
        conn.busy_timeout(cfg.busy_timeout)
            .map_err(|e| open_err("busy_timeout", e))?;
        // Only a file this creates takes it (the first write fixes the page
        // size; WAL cannot change it later): 16 KiB pages mean a quarter of
        // the WAL frames, page splits and syscalls per row of 4 KiB ones.
        conn.pragma_update(None, "page_size", NEW_FILE_PAGE_SIZE)
            .map_err(|e| open_err("page_size", e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| open_err("journal_mode=WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SinkError::Open {
                class: ErrorClass::Config,
                detail: format!(
                    "{shown}: journal_mode=WAL answered {mode:?}; several workers need WAL \
                     (a local file system with shared memory, not a network mount)"
                ),
            });
        }
        let sync = match cfg.synchronous {
            SqliteSynchronous::Off => "OFF",
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(|e| open_err("synchronous", e))?;
        ledger_table::open(&conn, &shown)?;
        tracing::debug!(path = %shown, job = %session.job, worker = session.worker, "sqlite open");
        Ok(SqliteTarget {
            conn,
            path,
            pid: session.pid,
            plan: None,
            ledger_overlapping: ledger::select_overlapping_sql(Placeholder::Question),
            ledger_committed: ledger::select_committed_sql(Placeholder::Question),
            ledger_insert: ledger::insert_sql(Placeholder::Question, NOW),
        })
    }
}

fn io_class(e: &std::io::Error) -> ErrorClass {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => ErrorClass::Capacity,
        _ => ErrorClass::Config,
    }
}

/// A write step that failed as a whole (see `SinkError::whole_step`).
pub(super) fn write_err(what: &str, e: &rusqlite::Error) -> SinkError {
    SinkError::whole_step(what, classify(e), describe(e))
}

/// How `ledger::to_i64` names SQLite's integers.
const INT: &str = "SQLite's integers";

/// One ledger row as `ledger::range_from_row` takes it.
pub(super) fn read_range(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<LedgerRange, String>> {
    let ints = [
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ];
    let rejects: String = row.get(5)?;
    Ok(ledger::range_from_row(ints, &rejects))
}

impl Sink for SqliteTarget {
    fn ensure_table(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        create: bool,
        mode: &WriteMode,
    ) -> Result<Vec<String>, SinkError> {
        let key = match mode {
            WriteMode::Insert => None,
            WriteMode::Upsert { key } => Some(key.as_slice()),
        };
        table::ensure(&self.conn, &self.path, table, columns, create, key)
    }

    fn committed(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
    ) -> Result<Vec<LedgerRange>, SinkError> {
        let ledger_err = ledger::committed_err(job, source);
        let db_err = |e: rusqlite::Error| ledger_err(classify(&e), describe(&e));
        let target = table::LIMITS.identity(table);
        let mut stmt = self
            .conn
            .prepare_cached(&self.ledger_committed)
            .map_err(db_err)?;
        let rows = stmt
            .query_map([job, &target, source], read_range)
            .map_err(db_err)?;
        let mut ranges = Vec::new();
        for row in rows {
            ranges.push(
                row.map_err(db_err)?
                    .map_err(|m| ledger_err(ErrorClass::Config, m))?,
            );
        }
        Ok(ranges)
    }

    fn claim_legacy(&mut self, job: &str, table: &str) -> Result<u64, SinkError> {
        ledger_table::claim(&self.conn, job, &table::LIMITS.identity(table))
    }

    fn target(&self, table: &str) -> String {
        table::LIMITS.identity(table)
    }

    fn list_ledger(
        &mut self,
        job: &str,
        source: Option<&str>,
        each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
    ) -> Result<(), SinkError> {
        ledger_table::list(&self.conn, job, source, each)
    }

    fn forget(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
        expected: u64,
    ) -> Result<Forgot, SinkError> {
        let target = table::LIMITS.identity(table);
        ledger_table::forget(&self.conn, job, &target, source, expected)
    }

    fn write(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        let batch = deliver::check(req, INT, &target)?;
        let mut tx = Tx {
            conn: &self.conn,
            tx: None,
            plan: Plan::for_request(&mut self.plan, req),
            ledger_overlapping: &self.ledger_overlapping,
            ledger_insert: &self.ledger_insert,
            pid: self.pid,
        };
        deliver::run(&mut tx, &batch)
    }

    fn write_stream(
        &mut self,
        req: &WriteRequest<'_>,
        seqs: &[u64],
    ) -> Result<deliver::stream::StreamOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        deliver::stream::deliver(&mut stream::SqliteStream(self), req, seqs, &target)
    }

    fn close(self: Box<Self>) -> Result<(), SinkError> {
        let shown = self.path.display().to_string();
        // Closing finalizes the cached statements; the last connection out
        // checkpoints the WAL into the main file.
        self.conn.close().map_err(|(_, e)| SinkError::Close {
            class: classify(&e),
            detail: format!("{shown}: {}", describe(&e)),
        })
    }
}
