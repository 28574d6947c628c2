//! The delivery of a stream's batch: the same transaction as a file's, but
//! its positions are a set of message sequences, shared out among several
//! daemons by one consumer, and a message can come again (redelivered after
//! a host died). So the ledger is asked which of the batch's sequences it
//! holds already; those records are left out; the rest is written with one
//! ledger row naming the sequences it holds (`ledger::runs`).
//!
//! Two daemons can hold the same message at once (one was slow past
//! AckWait). The rows are written first; then the sink takes a lock on the
//! source (`StreamSteps::lock_source`: held to the commit, so the look-up
//! and insert that follow see every commit before theirs), asks the ledger
//! again, and inserts its row only if nothing of it was committed
//! meanwhile; else it rolls back and the sink tries again without those.
//!
//! Owns the split of a batch into held and new, and that transaction's
//! steps. Must not know any database.

use super::{Care, Key, LedgerInsert, LedgerRow, Steps, Written, whole};
use crate::format::Rows;
use crate::protocol::RejectNote;
use crate::worker::sink::ledger::{self, runs};
use crate::worker::sink::{SinkError, WriteRequest};

/// A sink's steps for a stream's batch, beside the file ones.
pub trait StreamSteps: Steps {
    /// Holds off every other writer of this source's ledger rows until
    /// this transaction ends (a no-op where transactions that write are
    /// serialised anyway).
    fn lock_source(&mut self, key: &Key<'_>) -> Result<(), SinkError>;
    /// The runs of every ledger row of the key's job, target and source
    /// whose span overlaps [start, end) (`runs::select_sql`), merged.
    fn held_runs(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError>;
    /// Inserts the row with its `runs` text (`runs::insert_sql`).
    fn insert_runs(&mut self, row: &LedgerRow<'_>, runs: &str) -> Result<LedgerInsert, SinkError>;
}

/// What is left of a stream's batch once what the ledger holds is left out.
pub struct Part {
    pub rows: Rows,
    pub rejects: Vec<RejectNote>,
    /// The sequences it holds.
    pub runs: Vec<(u64, u64)>,
}

impl Part {
    /// The records of `req` (their offsets are sequences) whose message
    /// `seqs` are not in `held` (merged runs).
    pub fn new(req: &WriteRequest<'_>, seqs: &[u64], held: &[(u64, u64)]) -> Part {
        let new = |s: u64| !runs::contains(held, s);
        let runs = runs::runs_of(seqs.iter().copied().filter(|&s| new(s)));
        let rejects = req
            .rejects
            .iter()
            .filter(|n| new(n.offset))
            .cloned()
            .collect();
        let rows = if held.is_empty() {
            req.rows.clone()
        } else {
            let mut rows = Rows::new(req.rows.width);
            rows.text = req.rows.text.clone();
            for (i, o) in req.rows.origins.iter().enumerate() {
                if new(o.offset) {
                    rows.cells.extend_from_slice(req.rows.row(i));
                    rows.origins.push(*o);
                }
            }
            rows
        };
        Part {
            rows,
            rejects,
            runs,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// `[lowest, highest + 1)`.
    pub fn span(&self) -> (u64, u64) {
        match (self.runs.first(), self.runs.last()) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => (0, 0),
        }
    }
}

/// How one try of a part's transaction ended.
#[derive(Debug)]
pub enum Try {
    Committed {
        loaded: u64,
        rejects: Vec<RejectNote>,
    },
    /// Another writer committed some of its sequences meanwhile: these are
    /// the runs held now (merged); nothing was kept.
    Raced(Vec<(u64, u64)>),
}

/// Writes `req` (a `Part`'s rows and rejects, key spanning its runs) and its
/// ledger row in one transaction. `int` names the database's integers.
pub fn attempt(
    steps: &mut impl StreamSteps,
    req: &WriteRequest<'_>,
    key: &Key<'_>,
    part_runs: &[(u64, u64)],
    int: &str,
) -> Result<Try, SinkError> {
    let r = try_once(steps, req, key, part_runs, int);
    if let Err(e) = &r {
        steps.abort(e);
    }
    r
}

fn try_once(
    steps: &mut impl StreamSteps,
    req: &WriteRequest<'_>,
    key: &Key<'_>,
    part_runs: &[(u64, u64)],
    int: &str,
) -> Result<Try, SinkError> {
    let mut care = Care::Fast;
    let (loaded, db_rejects) = loop {
        whole(steps.begin())?;
        if req.rows.is_empty() {
            break (0, Vec::new());
        }
        match steps.write_rows(req, care)? {
            Written::Rows { loaded, rejects } => break (loaded, rejects),
            Written::Redo if care == Care::Fast => {
                whole(steps.rollback())?;
                care = Care::Careful;
            }
            Written::Redo => return Err(super::DeliverError::CarefulRows.into()),
        }
    };
    whole(steps.lock_source(key))?;
    let held = whole(steps.held_runs(key))?;
    if overlaps(&held, part_runs) {
        whole(steps.rollback())?;
        return Ok(Try::Raced(held));
    }
    let out = ledger::outcome(req, loaded, &db_rejects, int)?;
    let [loaded_i, rejected_i] = out.counts;
    let row = LedgerRow {
        key,
        loaded: loaded_i,
        rejected: rejected_i,
        rejects: &out.json,
    };
    let text = runs::encode(part_runs);
    if whole(steps.insert_runs(&row, &text))? == LedgerInsert::DuplicateKey {
        whole(steps.rollback())?;
        let held = whole(steps.held_runs(key))?;
        return match overlaps(&held, part_runs) {
            true => Ok(Try::Raced(held)),
            false => Err(super::DeliverError::LedgerRow.into()),
        };
    }
    whole(steps.commit())?;
    Ok(Try::Committed {
        loaded,
        rejects: out.notes,
    })
}

/// What a sink does for `deliver`.
pub trait StreamSink {
    /// `StreamSteps::held_runs`, outside any transaction.
    fn held(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError>;
    /// `attempt` with the sink's steps, for `req` (a part) under `key`.
    fn try_part(
        &mut self,
        req: &WriteRequest<'_>,
        key: &Key<'_>,
        runs: &[(u64, u64)],
    ) -> Result<Try, SinkError>;
}

/// What became of a stream's batch.
#[derive(Debug, PartialEq, Eq)]
pub struct StreamOutcome {
    pub loaded: u64,
    /// Of the records written now, fitted as the ledger row holds them.
    pub rejects: Vec<RejectNote>,
    /// Runs of the batch's sequences the ledger held already.
    pub held: Vec<(u64, u64)>,
}

/// Races lost in a row before the batch is given back as a transient
/// failure (each one means another writer committed part of it).
const RACES: usize = 16;

/// Writes the records of `req` (offsets are the sequences of `seqs`) that
/// the ledger does not hold yet, with their ledger row, into `target`.
pub fn deliver(
    sink: &mut impl StreamSink,
    req: &WriteRequest<'_>,
    seqs: &[u64],
    target: &str,
) -> Result<StreamOutcome, SinkError> {
    req.check_shape().map_err(SinkError::bad_request)?;
    let (Some(&first), Some(&last)) = (seqs.iter().min(), seqs.iter().max()) else {
        return Err(SinkError::bad_request(
            "a stream batch without messages".into(),
        ));
    };
    let int = |v: u64| ledger::to_i64(v, "sequence", "a 64-bit integer");
    if last - first >= runs::SPAN_MAX {
        return Err(SinkError::bad_request(format!(
            "a stream batch spans sequences {first} to {last}, wider than {}",
            runs::SPAN_MAX
        )));
    }
    let whole_key = Key {
        job: req.job,
        target,
        source: req.source,
        start: int(first)?,
        end: int(last + 1)?,
        first_line: 1,
    };
    let mut held = sink.held(&whole_key)?;
    for _ in 0..RACES {
        let part = Part::new(req, seqs, &held);
        if part.is_empty() {
            return Ok(outcome(0, Vec::new(), seqs, &held));
        }
        let (a, b) = part.span();
        let key = Key {
            start: int(a)?,
            end: int(b)?,
            ..whole_key
        };
        let sub = WriteRequest {
            rows: &part.rows,
            rejects: &part.rejects,
            start: a,
            end: b,
            ..*req
        };
        match sink.try_part(&sub, &key, &part.runs)? {
            Try::Committed { loaded, rejects } => {
                return Ok(outcome(loaded, rejects, seqs, &held));
            }
            Try::Raced(now) => held = runs::merge(held.into_iter().chain(now).collect()),
        }
    }
    Err(SinkError::Write {
        class: crate::protocol::ErrorClass::Transient,
        detail: format!(
            "another writer kept committing messages of this batch ({RACES} times in a row);              retrying"
        ),
    })
}

fn outcome(
    loaded: u64,
    rejects: Vec<RejectNote>,
    seqs: &[u64],
    held: &[(u64, u64)],
) -> StreamOutcome {
    StreamOutcome {
        loaded,
        rejects,
        held: runs::runs_of(seqs.iter().copied().filter(|&s| runs::contains(held, s))),
    }
}

/// Whether any sequence of `ours` is in `held` (both merged).
fn overlaps(held: &[(u64, u64)], ours: &[(u64, u64)]) -> bool {
    ours.iter().any(|&(a, b)| {
        let i = held.partition_point(|&(_, end)| end <= a);
        held.get(i).is_some_and(|&(s, _)| s < b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_of_runs() {
        let held = [(1, 4), (10, 12)];
        assert!(overlaps(&held, &[(3, 5)]));
        assert!(overlaps(&held, &[(5, 6), (11, 13)]));
        assert!(!overlaps(&held, &[(4, 10), (12, 20)]));
        assert!(!overlaps(&[], &[(1, 2)]));
    }
}
