//! Sinks: the only code that talks to databases. Private to `worker`, so
//! only a worker process can reach it: the supervisor cannot name it.
//!
//! Owns opening/closing a worker's pool, the ledger table, table creation,
//! writing a batch together with its ledger row in one transaction (its
//! shape and rules in `deliver`, each sink's own steps in its folder), and
//! classifying every database error once (`ErrorClass`). Here: the request
//! and outcome types and the error classes all sinks give a refused batch or
//! a failed whole step.

pub mod columns;
pub mod deliver;
pub mod ledger;
pub mod oracle;
pub mod postgres;
pub mod sql;
pub mod sqlite;

use crate::config::{self, WriteMode};
use crate::format::{ColumnSpec, Rows};
use crate::protocol::{ErrorClass, Forgot, LedgerRange, RejectNote};
use ledger::list::ListedRow;

/// Who is connecting, for session tags (application_name, client identifier).
#[derive(Clone, Debug)]
pub struct Session {
    pub job: String,
    pub worker: u32,
    pub pid: u32,
}

/// One batch to write: its good rows, the rejects found while parsing, and the
/// ledger key. Written in one transaction with the ledger row.
pub struct WriteRequest<'a> {
    pub job: &'a str,
    pub table: &'a str,
    pub mode: &'a WriteMode,
    pub columns: &'a [ColumnSpec],
    pub rows: &'a Rows,
    pub source: &'a str,
    pub start: u64,
    pub end: u64,
    pub first_line: u64,
    /// Rejects found before the database (parse/convert); stored in the ledger row.
    pub rejects: &'a [RejectNote],
}

impl WriteRequest<'_> {
    /// A malformed request is a bug upstream; every sink refuses it (as a
    /// configuration-class error) before it can panic in `Rows::row` or
    /// write a range the ledger cannot hold.
    pub fn check_shape(&self) -> Result<(), String> {
        let rows = self.rows;
        let shaped = rows.cells.len() == rows.width * rows.len()
            && (rows.is_empty() || rows.width == self.columns.len());
        if shaped && self.end >= self.start {
            return Ok(());
        }
        Err(format!(
            "malformed batch: {} cells in {} rows of {} for {} columns, range [{}, {})",
            rows.cells.len(),
            rows.len(),
            rows.width,
            self.columns.len(),
            self.start,
            self.end
        ))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed now. `rejects` are every note of the batch (the request's
    /// parse rejects and the database's own, in source order), fitted to
    /// `protocol::notes`' limits: exactly what its ledger row holds.
    Committed {
        loaded: u64,
        rejects: Vec<RejectNote>,
    },
    /// The ledger already held exactly this range; nothing was written.
    AlreadyCommitted(LedgerRange),
}

/// A failed step, with its class. Variants are named after the step.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("opening the database: {detail}")]
    Open { class: ErrorClass, detail: String },
    #[error("preparing the ledger table: {detail}")]
    Ledger { class: ErrorClass, detail: String },
    #[error("table {table}: {detail}")]
    Table {
        class: ErrorClass,
        table: String,
        detail: String,
    },
    /// The job's columns cannot map onto the table (`columns`): a column
    /// it lacks, a name that matches ambiguously, a name or a number of
    /// columns the database cannot hold. Where the columns come from each
    /// file's header, that file's problem: the worker refuses the batch and
    /// the supervisor sets the file aside (see `worker::load`).
    #[error("table {table}: {detail}")]
    Columns { table: String, detail: String },
    #[error("writing a batch: {detail}")]
    Write { class: ErrorClass, detail: String },
    #[error("closing the database: {detail}")]
    Close { class: ErrorClass, detail: String },
    /// The database's client library could not be loaded (Oracle's
    /// DPI-1047). Such a failure sticks for the life of the process.
    #[error("loading the database client library: {detail}")]
    ClientLibrary { detail: String },
    /// The database reported an internal error (Oracle's ORA-00600): the
    /// same call on the same session may fail so for ever, so it is not
    /// retried in place.
    #[error("the database reported an internal error: {detail}")]
    Internal { detail: String },
}

impl SinkError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Open { class, .. }
            | SinkError::Ledger { class, .. }
            | SinkError::Table { class, .. }
            | SinkError::Write { class, .. }
            | SinkError::Close { class, .. } => *class,
            SinkError::Columns { .. } => ErrorClass::Config,
            // An operator must act (install the library)...
            SinkError::ClientLibrary { .. } | SinkError::Internal { .. } => ErrorClass::Config,
        }
    }

    /// ...but not on the job's configuration: only a new process can load
    /// the library once it is there. The worker exits without `Fatal`, and
    /// the supervisor restarts it with back-off while other jobs go on. An
    /// internal error of the database is handled alike, so that a batch
    /// that keeps causing one is blamed and quarantined by the supervisor
    /// (`max_batch_attempts`) instead of being retried for ever.
    pub fn needs_new_process(&self) -> bool {
        matches!(
            self,
            SinkError::ClientLibrary { .. } | SinkError::Internal { .. }
        )
    }

    /// What a new process changes, for the log line of a worker that exits
    /// because `needs_new_process`.
    pub fn why_new_process(&self) -> &'static str {
        match self {
            SinkError::Internal { .. } => {
                "on a new session; a batch that keeps causing this is quarantined after                  max_batch_attempts"
            }
            _ => "so loading starts once the library can be loaded, without restarting ingestd",
        }
    }

    /// A batch the sink refuses whatever the database says (malformed, beyond
    /// the ledger's integers, in conflict with the ledger): retrying cannot
    /// help, so the job stops with the message.
    pub fn bad_request(detail: String) -> SinkError {
        SinkError::Write {
            class: ErrorClass::Config,
            detail,
        }
    }

    /// A write step that failed as a whole (BEGIN, the ledger row, COMMIT).
    /// A data-class code there (the ledger row refused, a deferred constraint
    /// at COMMIT) is not one record's fault and cannot be rejected record by
    /// record: the job stops with the message instead.
    pub fn whole_step(what: &str, class: ErrorClass, detail: impl std::fmt::Display) -> SinkError {
        let class = match class {
            ErrorClass::Data => ErrorClass::Config,
            c => c,
        };
        SinkError::Write {
            class,
            detail: format!("{what}: {detail}"),
        }
    }
}

/// A worker's connection(s) to one target.
pub trait Sink {
    /// Makes sure `table` exists with `columns` (creating it when `create` is
    /// set, with a unique key on the upsert key columns) and that every column
    /// exists; returns the table's own name of each column, in order
    /// (`columns::map`), which is what writes then name. A missing table, a
    /// missing privilege or a mode the sink cannot do is a `Config` error
    /// that names it; columns that cannot map onto the table are
    /// `SinkError::Columns`.
    fn ensure_table(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        create: bool,
        mode: &WriteMode,
    ) -> Result<Vec<String>, SinkError>;

    /// The committed ranges of `source` for `job` into `table`, ordered by
    /// start.
    fn committed(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
    ) -> Result<Vec<LedgerRange>, SinkError>;

    /// Gives the ledger rows of `job` that an older version wrote without
    /// a target (`ledger::LEGACY_TARGET`) the target `table`: the table the
    /// job names when it first starts after the upgrade. Returns how many.
    fn claim_legacy(&mut self, job: &str, table: &str) -> Result<u64, SinkError>;

    /// The `target` the ledger names `table` by (`columns::Limits::identity`).
    fn target(&self, table: &str) -> String;

    /// `ingestd ledger`: every ledger row of `job` (of `source` only, when
    /// given), in `ledger::list::list_sql`'s order, handed to `each`; an
    /// error from `each` (a row that cannot be a ledger row) stops it.
    fn list_ledger(
        &mut self,
        job: &str,
        source: Option<&str>,
        each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
    ) -> Result<(), SinkError>;

    /// `ingestd ledger forget`: deletes the ledger rows of `source` for
    /// `job` into `table`, in one transaction, only if there are `expected`
    /// of them (else nothing is deleted: `Forgot::Changed`).
    fn forget(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
        expected: u64,
    ) -> Result<Forgot, SinkError>;

    /// Writes the rows and the ledger row in one transaction, unless the ledger
    /// already holds this range. Data errors on single rows become rejects; the
    /// rest commits.
    fn write(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError>;

    /// Writes a stream's batch (`deliver::stream`): the records of `req`
    /// whose message sequences (`seqs`; the records' offsets) the ledger
    /// does not hold yet, with one ledger row naming them.
    fn write_stream(
        &mut self,
        req: &WriteRequest<'_>,
        seqs: &[u64],
    ) -> Result<deliver::stream::StreamOutcome, SinkError> {
        let _ = (req, seqs);
        Err(SinkError::bad_request(
            "this database does not take a stream's batches (nats sources load into \
             PostgreSQL and SQLite)"
                .into(),
        ))
    }

    /// Closes the pool; called before the worker exits.
    fn close(self: Box<Self>) -> Result<(), SinkError>;
}

/// Opens a pool for `sink` (creating the ledger table when missing).
pub fn open(sink: &config::Sink, session: &Session) -> Result<Box<dyn Sink>, SinkError> {
    match sink {
        config::Sink::Sqlite(cfg) => Ok(Box::new(sqlite::SqliteTarget::open(cfg, session)?)),
        config::Sink::Postgres(cfg) => Ok(Box::new(postgres::PgTarget::open(cfg, session)?)),
        config::Sink::Oracle(cfg) => Ok(Box::new(oracle::OracleTarget::open(cfg, session)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_step_failing_on_data_stops_the_job() {
        let e = SinkError::whole_step("COMMIT", ErrorClass::Data, "check violated");
        assert_eq!(e.class(), ErrorClass::Config);
        assert_eq!(e.to_string(), "writing a batch: COMMIT: check violated");
        let e = SinkError::whole_step("COMMIT", ErrorClass::Transient, "lost");
        assert_eq!(e.class(), ErrorClass::Transient);
        assert_eq!(
            SinkError::bad_request("x".into()).class(),
            ErrorClass::Config
        );
    }
}
