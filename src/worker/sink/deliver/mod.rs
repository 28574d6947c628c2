//! The delivery driver: the one shape of a batch's transaction, whatever the
//! database. Begin; read the ledger rows that may overlap the range; skip a
//! range the ledger holds exactly, stop the job on a partial overlap; write
//! the rows (bad rows rejected, the rest kept); insert the ledger row; commit.
//!
//! The duplicate-range race (two workers committing the same range at once)
//! has one rule here: a ledger insert refused as a duplicate key means
//! someone committed a range with this start meanwhile, so the transaction
//! is rolled back and the ledger read again: exactly this range is already
//! committed, a partial overlap is a conflict, and nothing at all (the other
//! writer rolled back) is worth a retry.
//!
//! Owns the order of the steps, the rules between them, the ledger row's
//! values and the errors of those rules. Must not know any database or
//! driver: each sink supplies its `Steps` and classifies its own errors.

pub mod stream;

#[cfg(test)]
mod race;
#[cfg(test)]
mod tests;

use super::ledger;
use super::{SinkError, WriteOutcome, WriteRequest};
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};

/// A batch's ledger key and first line, as the ledger stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    pub job: &'a str,
    /// The target table's identity (`columns::Limits::identity`).
    pub target: &'a str,
    pub source: &'a str,
    pub start: i64,
    pub end: i64,
    pub first_line: i64,
}

/// The ledger row the driver asks a sink to insert.
#[derive(Debug, PartialEq, Eq)]
pub struct LedgerRow<'a> {
    pub key: &'a Key<'a>,
    pub loaded: i64,
    pub rejected: i64,
    /// The reject notes (parse and database), as the ledger's JSON text.
    pub rejects: &'a str,
}

/// Which try of the transaction this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Care {
    /// The first: a sink may write all rows in one go and answer
    /// `Written::Redo` if one is refused, rather than pay for isolating
    /// bad rows on every batch.
    Fast,
    /// After a `Redo`: the sink isolates and rejects the bad rows.
    Careful,
}

/// What `Steps::write_rows` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The rows stored, and the notes of the rows the database refused.
    Rows {
        loaded: u64,
        rejects: Vec<RejectNote>,
    },
    /// A row was refused on the fast try: roll back and do it all again
    /// carefully.
    Redo,
}

/// What `Steps::insert_ledger` met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerInsert {
    Inserted,
    /// The ledger's primary key (job, target, source, start) is taken.
    DuplicateKey,
}

/// A sink's database-specific steps of one batch's transaction. Every error
/// is already classified by the sink (its `classify`).
pub trait Steps {
    /// Starts the transaction (or takes the session it will run on).
    fn begin(&mut self) -> Result<(), SinkError>;
    /// The ledger's rows of the key's job, target and source that overlap
    /// [start, end) or start at start (`ledger::select_overlapping_sql`).
    fn overlapping(&mut self, key: &Key<'_>) -> Result<Vec<LedgerRange>, SinkError>;
    /// Writes the request's rows (never called when it has none). Rows the
    /// database refuses for their values are rejected, the others kept;
    /// any other failure is an error.
    fn write_rows(&mut self, req: &WriteRequest<'_>, care: Care) -> Result<Written, SinkError>;
    fn insert_ledger(&mut self, row: &LedgerRow<'_>) -> Result<LedgerInsert, SinkError>;
    fn commit(&mut self) -> Result<(), SinkError>;
    /// Ends the transaction, keeping nothing; a no-op when none is open.
    fn rollback(&mut self) -> Result<(), SinkError>;
    /// Ends the transaction after `failed`, as well as it can: its own
    /// failure would only hide `failed`. A sink may also drop a session
    /// that `failed` says is unusable.
    fn abort(&mut self, failed: &SinkError) {
        let _ = failed;
        let _ = self.rollback();
    }
}

/// The driver's own refusals, named after the step that met them.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    #[error(
        "writing the ledger row: the ledger refused it as a duplicate key, but holds no such \
         range now (the other writer rolled back); retrying"
    )]
    LedgerRow,
    #[error("writing the rows: a row was refused again while the bad rows were isolated (a bug)")]
    CarefulRows,
}

impl From<DeliverError> for SinkError {
    fn from(e: DeliverError) -> Self {
        let class = match e {
            DeliverError::LedgerRow => ErrorClass::Transient,
            DeliverError::CarefulRows => ErrorClass::Config,
        };
        SinkError::Write {
            class,
            detail: e.to_string(),
        }
    }
}

/// A request that passed `WriteRequest::check_shape`, with its ledger key.
/// Only `check` makes one, so `run` never sees a malformed batch.
pub struct Checked<'r, 'a> {
    req: &'r WriteRequest<'a>,
    key: Key<'r>,
    /// How `ledger::to_i64` names the database's integers.
    int: &'static str,
}

/// Refuses a malformed request, or one whose offsets the ledger's integers
/// (named `int`) cannot hold, before anything reaches the database.
/// `target` is the identity of the request's table in the ledger.
pub fn check<'r, 'a>(
    req: &'r WriteRequest<'a>,
    int: &'static str,
    target: &'r str,
) -> Result<Checked<'r, 'a>, SinkError> {
    req.check_shape().map_err(SinkError::bad_request)?;
    let [start, end, first_line] = ledger::offsets(req, int)?;
    let key = Key {
        job: req.job,
        target,
        source: req.source,
        start,
        end,
        first_line,
    };
    Ok(Checked { req, key, int })
}

/// Writes the batch and its ledger row in one transaction with `steps`.
/// After any failure once the transaction was begun, `Steps::abort`.
pub fn run(steps: &mut impl Steps, batch: &Checked<'_, '_>) -> Result<WriteOutcome, SinkError> {
    let mut care = Care::Fast;
    loop {
        match attempt(steps, batch, care) {
            Ok(Some(outcome)) => return Ok(outcome),
            // Only a fast try answers `None`: this loops at most twice.
            Ok(None) => care = Care::Careful,
            Err(e) => {
                steps.abort(&e);
                return Err(e);
            }
        }
    }
}

/// One try of the transaction; `None`: roll back, try again carefully.
fn attempt(
    steps: &mut impl Steps,
    batch: &Checked<'_, '_>,
    care: Care,
) -> Result<Option<WriteOutcome>, SinkError> {
    let (req, key) = (batch.req, &batch.key);
    whole(steps.begin())?;
    if let Some(range) = held(steps, batch)? {
        // Nothing was written; end the transaction's reads.
        whole(steps.rollback())?;
        return Ok(Some(WriteOutcome::AlreadyCommitted(range)));
    }
    // A batch rejected whole has no rows: only its ledger row is written.
    let (loaded, rejects) = if req.rows.is_empty() {
        (0, Vec::new())
    } else {
        match steps.write_rows(req, care)? {
            Written::Rows { loaded, rejects } => (loaded, rejects),
            Written::Redo if care == Care::Fast => {
                whole(steps.rollback())?;
                return Ok(None);
            }
            Written::Redo => return Err(DeliverError::CarefulRows.into()),
        }
    };
    let out = ledger::outcome(req, loaded, &rejects, batch.int)?;
    let [loaded_i, rejected_i] = out.counts;
    let row = LedgerRow {
        key,
        loaded: loaded_i,
        rejected: rejected_i,
        rejects: &out.json,
    };
    if whole(steps.insert_ledger(&row))? == LedgerInsert::DuplicateKey {
        // Someone committed this start meanwhile: what is there now decides.
        whole(steps.rollback())?;
        return match held(steps, batch)? {
            Some(range) => Ok(Some(WriteOutcome::AlreadyCommitted(range))),
            None => Err(DeliverError::LedgerRow.into()),
        };
    }
    whole(steps.commit())?;
    Ok(Some(WriteOutcome::Committed {
        loaded,
        rejects: out.notes,
    }))
}

/// The overlap rule on what the ledger holds now: the stored range when it
/// is exactly this one, `None` when nothing overlaps, else a conflict.
fn held(steps: &mut impl Steps, batch: &Checked<'_, '_>) -> Result<Option<LedgerRange>, SinkError> {
    let stored = whole(steps.overlapping(&batch.key))?;
    let req = batch.req;
    ledger::check_overlap(req.job, req.source, req.start, req.end, stored).map_err(SinkError::from)
}

/// A step that failed as a whole (begin, the ledger, commit) is not one
/// record's fault and cannot be rejected record by record: a data-class
/// failure there stops the job (as `SinkError::whole_step` does), whatever
/// the sink called it.
pub(super) fn whole<T>(step: Result<T, SinkError>) -> Result<T, SinkError> {
    step.map_err(|e| match e {
        SinkError::Write {
            class: ErrorClass::Data,
            detail,
        } => SinkError::Write {
            class: ErrorClass::Config,
            detail,
        },
        e => e,
    })
}
