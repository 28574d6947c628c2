//! The ledger every sink keeps in its target (`ingestd_ledger`): one row per
//! committed batch, written in the batch's own transaction. It is the truth
//! about what is loaded; local state is only a cache of it.
//!
//! A row names the job, the target table (as the database tells table
//! names apart: `columns::Limits::identity`), the source and the range.
//! The database is the one the row is in (for PostgreSQL, the sink's
//! schema), so the sink is known without a name that could be changed.
//! Ledgers from before `target` are upgraded in place when a worker opens
//! them (each sink's `open`), their rows marked `LEGACY_TARGET` until their
//! job claims them: nothing is ever loaded twice into the same table.
//!
//! Owns what all sinks share about it: names and layout, the SQL text (with
//! each database's placeholders and types), a row's values (the reject
//! notes, fitted and in `protocol::notes::wire`'s JSON, counts and offsets as
//! the signed integers databases store), the overlap rule, and the errors of
//! reading and checking it. Must not run SQL or know any driver: sinks do
//! that.

use std::fmt::Write as _;

pub mod list;
pub mod runs;

use crate::protocol::notes::{self, wire};
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};
use crate::worker::sink::sql::Placeholder;
use crate::worker::sink::{SinkError, WriteRequest};

/// The ledger table's name, the same in every target.
pub const TABLE: &str = "ingestd_ledger";

/// The `target` of rows written before the ledger recorded one: an
/// upgrade gives them this (the column's default, so rows an older version
/// writes get it too), and the first worker of their job to start after it
/// gives them its table (`claim_sql`). Loading a table of this very name
/// would only make such rows count for it, never load a row twice.
pub const LEGACY_TARGET: &str = "(legacy)";

/// What a sink logs when it has upgraded a ledger.
pub const UPGRADED: &str = "ledger upgraded: it records each batch's target table now; the rows it held count for the table their job names when it next starts";

/// Column types of the ledger in one database's dialect.
#[derive(Clone, Copy, Debug)]
pub struct LedgerTypes {
    /// `job`, `source`: part of the primary key.
    pub key_text: &'static str,
    /// `target`: part of the primary key; holds a table's name.
    pub target_text: &'static str,
    /// Offsets, line numbers, counts, pid: 64-bit integers.
    pub int: &'static str,
    /// `rejects`: the notes' JSON (`encode_rejects`), up to `notes::bound::json`.
    pub json: &'static str,
    pub timestamp: &'static str,
}

/// `CREATE TABLE` for the ledger under `name` (`TABLE`, or a new one an
/// upgrade copies into). Primary key (job, target, source, start_off): one
/// batch per start offset and target table, so a racing second writer of
/// the same range fails even if it skipped the overlap check, and a job
/// pointed at another table loads its sources into that one again.
pub fn create_sql(t: &LedgerTypes, name: &str, if_not_exists: bool) -> String {
    format!(
        "CREATE TABLE {ine}{name} (\n  job {k} NOT NULL,\n  \
         target {tt} DEFAULT '{LEGACY_TARGET}' NOT NULL,\n  source {k} NOT NULL,\n  \
         start_off {i} NOT NULL,\n  end_off {i} NOT NULL,\n  first_line {i} NOT NULL,\n  \
         rows_loaded {i} NOT NULL,\n  rows_rejected {i} NOT NULL,\n  rejects {j} NOT NULL,\n  \
         worker_pid {i} NOT NULL,\n  committed_at {ts} NOT NULL,\n  runs {j},\n  \
         PRIMARY KEY ({KEY})\n)",
        ine = if if_not_exists { "IF NOT EXISTS " } else { "" },
        k = t.key_text,
        tt = t.target_text,
        i = t.int,
        j = t.json,
        ts = t.timestamp,
    )
}

/// The ledger's primary key.
pub const KEY: &str = "job, target, source, start_off";

/// The columns of a ledger written before it had `target`, in order: an
/// upgrade copies these (`upgrade_copy_sql`).
pub const COLUMNS_BEFORE_TARGET: &str = "job, source, start_off, end_off, first_line, \
     rows_loaded, rows_rejected, rejects, worker_pid, committed_at";

/// Copies every row of the ledger `from` (without `target`) into `to`
/// (with it), each row's target `LEGACY_TARGET`.
pub fn upgrade_copy_sql(from: &str, to: &str) -> String {
    format!(
        "INSERT INTO {to} (target, {COLUMNS_BEFORE_TARGET}) \
         SELECT '{LEGACY_TARGET}', {COLUMNS_BEFORE_TARGET} FROM {from}"
    )
}

/// Whether job p1 has rows with no known target (`LEGACY_TARGET`): looked
/// at first, so that a worker start takes no write lock (and needs no
/// UPDATE privilege) when there is nothing to claim, as after the first.
pub fn has_legacy_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT count(*) FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    let _ = write!(s, " AND target = '{LEGACY_TARGET}'");
    s
}

/// Gives the rows of job p1 that have no known target (`LEGACY_TARGET`)
/// the target p2: the job's table when it first starts after an upgrade.
pub fn claim_sql(ph: Placeholder) -> String {
    let mut s = format!("UPDATE {TABLE} SET target = ");
    ph.push(&mut s, 2);
    s.push_str(" WHERE job = ");
    ph.push(&mut s, 1);
    let _ = write!(s, " AND target = '{LEGACY_TARGET}'");
    s
}

/// The columns a ledger read returns, in the order `range_from_row` takes them.
const READ_COLUMNS: &str = "start_off, end_off, first_line, rows_loaded, rows_rejected, rejects";

/// All ranges of (job = p1, target = p2, source = p3), ordered by start.
pub fn select_committed_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT {READ_COLUMNS} FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND target = ");
    ph.push(&mut s, 2);
    s.push_str(" AND source = ");
    ph.push(&mut s, 3);
    s.push_str(" ORDER BY start_off");
    s
}

/// Ranges of (job = p1, target = p2, source = p3) that overlap [p4, p5) or
/// start at p4 (so an empty range is caught too), ordered by start.
pub fn select_overlapping_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT {READ_COLUMNS} FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND target = ");
    ph.push(&mut s, 2);
    s.push_str(" AND source = ");
    ph.push(&mut s, 3);
    s.push_str(" AND ((start_off < ");
    ph.push(&mut s, 5);
    s.push_str(" AND end_off > ");
    ph.push(&mut s, 4);
    s.push_str(") OR start_off = ");
    ph.push(&mut s, 4);
    s.push_str(") ORDER BY start_off");
    s
}

/// Inserts one ledger row: p1..p10 = job, target, source, start_off,
/// end_off, first_line, rows_loaded, rows_rejected, rejects, worker_pid;
/// `now` is the database's own clock expression, so all workers stamp with
/// one clock.
pub fn insert_sql(ph: Placeholder, now: &str) -> String {
    let mut s = format!(
        "INSERT INTO {TABLE} (job, target, source, start_off, end_off, first_line, rows_loaded, \
         rows_rejected, rejects, worker_pid, committed_at) VALUES ("
    );
    for n in 1..=10 {
        ph.push(&mut s, n);
        s.push_str(", ");
    }
    s.push_str(now);
    s.push(')');
    s
}

/// The `rejects` column's text: `{"texts": [...], "notes": [[...], ...]}`,
/// each text once (see `protocol::notes::wire`).
pub fn encode_rejects(notes: &[RejectNote]) -> Result<String, serde_json::Error> {
    serde_json::to_string(&wire::Shared(notes))
}

/// The notes of a `rejects` column, fitted. Rows written before the texts
/// were stored once hold a JSON array of whole notes: read as well, and
/// fitted like new ones, so that no answer built from them outgrows a frame.
pub fn decode_rejects(text: &str) -> Result<Vec<RejectNote>, serde_json::Error> {
    let mut all = match text.trim_start().starts_with('[') {
        true => serde_json::from_str(text)?,
        false => serde_json::from_str::<wire::Owned>(text)?.0,
    };
    notes::fit(&mut all);
    Ok(all)
}

/// Records the notes cover: a verdict note stands for a whole range of records.
pub fn rejected_records(notes: &[RejectNote]) -> u64 {
    notes.iter().map(|n| u64::from(n.records)).sum()
}

/// Parse rejects and database rejects in source order, for the ledger row.
pub fn merge_rejects(parse: &[RejectNote], db: &[RejectNote]) -> Vec<RejectNote> {
    let mut all: Vec<RejectNote> = parse.iter().chain(db).cloned().collect();
    all.sort_by_key(|n| n.offset); // stable: equal offsets keep parse-first
    all
}

/// `v` as a signed 64-bit ledger value; `int` names the database's integer
/// type in the error.
pub fn to_i64(v: u64, what: &str, int: &str) -> Result<i64, SinkError> {
    i64::try_from(v).map_err(|_| SinkError::bad_request(format!("{what} {v} is beyond {int}")))
}

/// The request's `start_off`, `end_off` and `first_line` (see `to_i64`).
pub fn offsets(req: &WriteRequest<'_>, int: &str) -> Result<[i64; 3], SinkError> {
    Ok([
        to_i64(req.start, "start offset", int)?,
        to_i64(req.end, "end offset", int)?,
        to_i64(req.first_line, "first line", int)?,
    ])
}

/// What the ledger row of a batch says besides its key.
#[derive(Debug)]
pub struct Outcome {
    /// The request's parse rejects and the database's, in source order,
    /// fitted: what the row holds and the worker answers, note for note.
    pub notes: Vec<RejectNote>,
    /// `notes` as the `rejects` column's text.
    pub json: String,
    /// `[rows_loaded, rows_rejected]` (see `to_i64`).
    pub counts: [i64; 2],
}

/// The row's notes (the request's parse rejects and the database's
/// `db_rejects`), its `rejects` text and its counts.
pub fn outcome(
    req: &WriteRequest<'_>,
    loaded: u64,
    db_rejects: &[RejectNote],
    int: &str,
) -> Result<Outcome, SinkError> {
    let mut all = merge_rejects(req.rejects, db_rejects);
    notes::fit(&mut all);
    let json = encode_rejects(&all)
        .map_err(|e| SinkError::bad_request(format!("encoding the reject notes: {e}")))?;
    let counts = [
        to_i64(loaded, "rows loaded", int)?,
        to_i64(rejected_records(&all), "rows rejected", int)?,
    ];
    Ok(Outcome {
        notes: all,
        json,
        counts,
    })
}

/// The error of `Sink::committed` for `job` and `source`, from a class and
/// what failed.
pub fn committed_err<'a>(
    job: &'a str,
    source: &'a str,
) -> impl Fn(ErrorClass, String) -> SinkError + 'a {
    move |class, detail| SinkError::Ledger {
        class,
        detail: format!("reading the committed ranges of {source:?} (job {job:?}): {detail}"),
    }
}

/// The error of `Sink::claim_legacy` for `job` and the target identity
/// `target`, from a class and what failed.
pub fn claim_err<'a>(
    job: &'a str,
    target: &'a str,
) -> impl Fn(ErrorClass, String) -> SinkError + 'a {
    move |class, detail| SinkError::Ledger {
        class,
        detail: format!(
            "giving the ledger rows of job {job:?} written before targets were recorded the \
             target {target:?}: {detail}"
        ),
    }
}

/// A ledger row as the database returns it (integers are signed there).
pub fn range_from_row(ints: [i64; 5], rejects: &str) -> Result<LedgerRange, String> {
    let [start, end, first_line, loaded, rejected] = ints.map(u64::try_from);
    let bad = |what: &str| format!("the ledger holds a negative {what}");
    Ok(LedgerRange {
        start: start.map_err(|_| bad("start_off"))?,
        end: end.map_err(|_| bad("end_off"))?,
        first_line: first_line.map_err(|_| bad("first_line"))?,
        loaded: loaded.map_err(|_| bad("rows_loaded"))?,
        rejected: rejected.map_err(|_| bad("rows_rejected"))?,
        rejects: decode_rejects(rejects).map_err(|e| {
            format!("the ledger's rejects column is not the JSON of reject notes: {e}")
        })?,
    })
}

/// A requested range that partly overlaps what the ledger holds. Never a
/// redelivery: batches are cut on the same boundaries every time, so this
/// means two daemons load the same target, or the source changed under the
/// same identity. Loading it could duplicate or lose rows, so the job stops.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "ledger conflict: job {job:?}, source {source_id:?}: the requested range [{start}, {end}) \
     partly overlaps the committed {held}; another daemon is loading this target, or the \
     source's data changed since it was loaded"
)]
pub struct LedgerConflict {
    pub job: String,
    /// The source's identity (named so thiserror does not take it for a cause).
    pub source_id: String,
    pub start: u64,
    pub end: u64,
    /// The stored ranges in conflict, as text: `[a, b), [c, d)`.
    pub held: String,
}

impl From<LedgerConflict> for SinkError {
    fn from(c: LedgerConflict) -> Self {
        SinkError::bad_request(c.to_string())
    }
}

/// The overlap rule. `stored` are the ledger's ranges for the same job,
/// target and source that may overlap [start, end). Returns the stored range when it is
/// exactly this one (a redelivery: skip it), `None` when nothing overlaps
/// (write it), and a conflict otherwise.
pub fn check_overlap(
    job: &str,
    source: &str,
    start: u64,
    end: u64,
    stored: Vec<LedgerRange>,
) -> Result<Option<LedgerRange>, LedgerConflict> {
    let mut hits: Vec<LedgerRange> = stored
        .into_iter()
        .filter(|r| (r.start < end && r.end > start) || r.start == start)
        .collect();
    match hits.as_slice() {
        [] => Ok(None),
        [only] if only.start == start && only.end == end => Ok(hits.pop()),
        _ => {
            let mut held = String::new();
            for (i, r) in hits.iter().enumerate() {
                let sep = if i > 0 { ", " } else { "" };
                let _ = write!(held, "{sep}[{}, {})", r.start, r.end);
            }
            Err(LedgerConflict {
                job: job.to_string(),
                source_id: source.to_string(),
                start,
                end,
                held,
            })
        }
    }
}

#[cfg(test)]
mod tests;
