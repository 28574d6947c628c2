//! Sending answers to the supervisor so that each one fits a frame: a
//! batch's answer is bounded already (its notes are fitted, see
//! `protocol::notes::bound`); a ledger answer is cut into parts of about
//! `LEDGER_PART` bytes, whole ranges each, and so is the listing of
//! `ingestd ledger` (one source's ranges, when they alone are over, cut into
//! summaries of the same source that the supervisor joins); texts of `Fatal` and `Checked`
//! are cut to `MESSAGE_MAX`, the reason of `Refused` to a reject's.
//!
//! An answer that still does not fit is a bug. It must not kill the worker:
//! the supervisor would restart it and hand it the same batch, which the
//! ledger already holds, so it would give the same answer and die again,
//! for ever (a quarantine cannot help: the range is committed). Instead the
//! caller gets `ReplyError::TooLarge` and answers with a small `Fatal`,
//! which stops the job with the reason.
//!
//! Owns the splitting and the size checks; must not decide what to answer
//! (`answer` in `mod.rs` does) or touch the sink.

use std::io::Write;

use crate::protocol::notes::{self, bound::LEDGER_PART};
use crate::protocol::{ErrorClass, FrameError, FrameWriter, FromWorker, LedgerRange, LedgerSource};

/// Longest text of a `Fatal` or `Checked` answer (a database message can
/// quote a whole row).
pub const MESSAGE_MAX: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("answering the supervisor: {0}")]
    Write(#[source] FrameError),
    #[error(
        "the answer to {what} is {len} bytes, over the {limit}-byte frame limit. This is a \
         bug in bounding answers (protocol::notes); the job stops so that workers do not \
         die on it one after the other. What was committed stays committed, with its reject \
         notes in the ledger row"
    )]
    TooLarge {
        what: String,
        len: usize,
        limit: usize,
    },
}

/// Writes `answer`; `what` names what it answers, for the error.
pub fn send<W: Write>(
    tx: &mut FrameWriter<W>,
    answer: &FromWorker,
    what: impl Fn() -> String,
) -> Result<(), ReplyError> {
    match tx.write(answer) {
        Ok(()) => Ok(()),
        Err(FrameError::TooLarge { len, limit }) => Err(ReplyError::TooLarge {
            what: what(),
            len,
            limit,
        }),
        Err(e) => Err(ReplyError::Write(e)),
    }
}

/// Answers ledger question `query` about `source` with `ranges`: whole
/// ranges in parts of about `LEDGER_PART` bytes (one larger range alone),
/// `LedgerPart` frames and a last `Ledger`.
pub fn ledger<W: Write>(
    tx: &mut FrameWriter<W>,
    query: u64,
    source: &str,
    ranges: Vec<LedgerRange>,
) -> Result<(), ReplyError> {
    let what = || format!("the ledger question about {source:?}");
    let mut part = Vec::new();
    let mut size = 0;
    for r in ranges {
        let len = postcard::serialize_with_flavor(&r, postcard::ser_flavors::Size::default())
            .map_err(|e| ReplyError::Write(FrameError::Encode(e)))?;
        if !part.is_empty() && size + len > LEDGER_PART {
            let ranges = std::mem::take(&mut part);
            send(tx, &FromWorker::LedgerPart { query, ranges }, what)?;
            size = 0;
        }
        size += len;
        part.push(r);
    }
    send(
        tx,
        &FromWorker::Ledger {
            query,
            ranges: part,
        },
        what,
    )
}

/// Merged ranges of one source per summary sent: `LEDGER_PART` bytes of
/// ranges at their widest (two 10-byte varints each).
const RANGES_PER_PART: usize = LEDGER_PART / 20;

/// Answers `LedgerList` question `query` with `sources`: summaries in parts
/// of about `LEDGER_PART` bytes, `LedgerListPart` frames and a last
/// `LedgerList` naming the job's `target`. A source with more than `RANGES_PER_PART` ranges goes as
/// several summaries of it, its counts on the first (see
/// `protocol::ledger::join_parts`).
pub fn ledger_list<W: Write>(
    tx: &mut FrameWriter<W>,
    query: u64,
    target: String,
    sources: Vec<LedgerSource>,
) -> Result<(), ReplyError> {
    let what = || "the ledger listing".to_string();
    let mut part = Vec::new();
    let mut size = 0;
    for piece in sources.into_iter().flat_map(split) {
        let len = postcard::serialize_with_flavor(&piece, postcard::ser_flavors::Size::default())
            .map_err(|e| ReplyError::Write(FrameError::Encode(e)))?;
        if !part.is_empty() && size + len > LEDGER_PART {
            let sources = std::mem::take(&mut part);
            send(tx, &FromWorker::LedgerListPart { query, sources }, what)?;
            size = 0;
        }
        size += len;
        part.push(piece);
    }
    let sources = part;
    send(
        tx,
        &FromWorker::LedgerList {
            query,
            target,
            sources,
        },
        what,
    )
}

/// `s` as summaries of at most `RANGES_PER_PART` ranges, its counts and
/// times on the first.
fn split(mut s: LedgerSource) -> Vec<LedgerSource> {
    if s.ranges.len() <= RANGES_PER_PART {
        return vec![s];
    }
    let rest: Vec<(u64, u64)> = s.ranges.split_off(RANGES_PER_PART);
    let mut out = Vec::with_capacity(rest.len() / RANGES_PER_PART + 2);
    let more = rest.chunks(RANGES_PER_PART).map(|c| LedgerSource {
        ranges: c.to_vec(),
        batches: 0,
        loaded: 0,
        rejected: 0,
        first_commit: String::new(),
        last_commit: String::new(),
        target: s.target.clone(),
        source: s.source.clone(),
        stream: s.stream,
    });
    let more: Vec<LedgerSource> = more.collect();
    out.push(s);
    out.extend(more);
    out
}

/// A `Fatal` answer with its message cut to `MESSAGE_MAX`.
pub fn fatal(class: ErrorClass, mut message: String) -> FromWorker {
    notes::cut(&mut message, MESSAGE_MAX);
    FromWorker::Fatal { class, message }
}

/// A `Refused` answer for batch `id`, its reason cut like a reject's (it
/// becomes the file's note in `.bad.jsonl`).
pub fn refused(id: u64, mut reason: String) -> FromWorker {
    notes::cut(&mut reason, notes::REASON_MAX);
    FromWorker::Refused { id, reason }
}

/// A `Checked` answer with its problem cut to `MESSAGE_MAX`.
pub fn checked(mut problem: Option<String>) -> FromWorker {
    if let Some(p) = &mut problem {
        notes::cut(p, MESSAGE_MAX);
    }
    FromWorker::Checked { problem }
}

#[cfg(test)]
mod tests;
