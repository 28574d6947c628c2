//! The supervisor <-> worker protocol: two pipes per worker, one message enum
//! per direction, length-prefixed frames.
//!
//! ```text
//!  supervisor                                   worker (fd 3 in, fd 4 out)
//!      | --- Hello(WorkerSetup) ----------------------> |  first frame, always
//!      | <-------------------------------- Ready ------ |  pool open
//!      | --- Batch / Ledger / Shutdown ----------------> |
//!      | <-- Done / Refused / LedgerPart.. Ledger / Fatal |
//!      | --- LedgerList / Forget (`ingestd ledger`) ---> |
//!      | <-- LedgerListPart.. LedgerList / Forgotten --- |
//!
//!  frame:  +----------------+---------------------------+
//!          | u32 LE length  | postcard payload (length) |
//!          +----------------+---------------------------+
//! ```
//!
//! The length is checked against `MAX_FRAME` before anything is allocated.
//! Batches carry raw record bytes (no per-field encoding): the worker parses.
//! Answers are bounded so that they always fit a frame: a batch's reject
//! notes are fitted to the limits of `notes` (`notes/bound.rs` has the
//! proof), and a ledger answer comes in parts (`LedgerPart`..., `Ledger`).
//! Owns message types, framing and those limits; no process or database
//! knowledge.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{Sink, WriteMode};
use crate::format::{Format, Layout};

mod frame;
pub mod ledger;
pub mod notes;

pub use frame::{FrameError, FrameReader, FrameWriter, MAX_FRAME};
pub use ledger::{Forgot, LedgerSource};

/// How a failure is handled; every sink error is classified once, in the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorClass {
    /// Bad value, constraint: the record is rejected, the rest commits.
    Data,
    /// Connection lost, server restarting, busy: retry with back-off.
    Transient,
    /// Disk or tablespace full: pause, retry slowly.
    Capacity,
    /// No such table, no privilege, bad password: stop the job.
    Config,
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorClass::Data => "data",
            ErrorClass::Transient => "transient",
            ErrorClass::Capacity => "capacity",
            ErrorClass::Config => "configuration",
        })
    }
}

/// Everything a worker needs; sent as its first frame so it never reads config files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerSetup {
    pub job: String,
    /// Slot number of this worker within its job (1-based), for logs and sessions.
    pub worker: u32,
    pub sink_name: String,
    pub sink: Sink,
    pub table: String,
    pub create_table: bool,
    pub mode: WriteMode,
    pub format: Format,
    /// The job's columns come from each file's header (none configured):
    /// a header that does not fit the table is that file's problem
    /// (`FromWorker::Refused`), not the job's.
    pub header_columns: bool,
    pub log: crate::logging::LogSetup,
    /// How long after a step first fails (transient, capacity) the worker
    /// stops retrying it and ends the job with that class; `None`: never
    /// (the daemon). `load` and `run --once` set it (`--give-up-after`), the
    /// probe of `check --connect` sets zero: one attempt.
    pub give_up_after: Option<std::time::Duration>,
}

impl WorkerSetup {
    /// The setup of worker `number` of `job`.
    pub fn for_job(job: &crate::config::Job, number: u32, log: crate::logging::LogSetup) -> Self {
        WorkerSetup {
            job: job.name.clone(),
            worker: number,
            sink_name: job.sink_name.clone(),
            sink: job.sink.clone(),
            table: job.table.clone(),
            create_table: job.create_table,
            mode: job.mode.clone(),
            format: job.format.clone(),
            header_columns: job.columns.is_none(),
            log,
            give_up_after: None,
        }
    }
}

/// A run of whole records from one source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: u64,
    /// Identity of the source (see `supervisor::intake`): the ledger key.
    pub source: String,
    /// File name (or `-` for stdin), for reject notes and logs.
    pub file: String,
    /// Byte range `[start, end)` of these records in the source.
    pub start: u64,
    pub end: u64,
    /// Physical line (1-based) where the first record starts.
    pub first_line: u64,
    /// Number of records the supervisor counted in `data`.
    pub records: u32,
    pub layout: Layout,
    /// When set, the worker does not parse `data`: every record in the range is
    /// recorded as rejected with this reason (quarantine, unparseable tail).
    pub verdict: Option<Verdict>,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// A stream's batch: its positions are message sequence numbers, not
    /// bytes (`start`/`end` then span the lowest and highest).
    pub stream: Option<Box<Messages>>,
}

impl Batch {
    /// A stream's batch of more than one message cut in two halves (ids
    /// `ids`), each a batch of its own: how a message that kills workers is
    /// found without quarantining the messages batched with it.
    pub fn halves(&self, ids: [u64; 2]) -> Option<[Batch; 2]> {
        let msgs = self.stream.as_deref().filter(|m| m.seqs.len() > 1)?;
        let mid = msgs.seqs.len() / 2;
        let half = |id, range| {
            let (m, data) = msgs.part(&self.data, range);
            let records = (0..m.seqs.len())
                .map(|i| {
                    memchr::memchr_iter(b'\n', m.payload(&data, i))
                        .count()
                        .max(1) as u32
                })
                .sum();
            Batch {
                id,
                start: m.seqs[0],
                end: m.seqs[m.seqs.len() - 1] + 1,
                records,
                data,
                stream: Some(Box::new(m)),
                ..self.clone_meta()
            }
        };
        Some([half(ids[0], 0..mid), half(ids[1], mid..msgs.seqs.len())])
    }

    /// This batch without its data.
    fn clone_meta(&self) -> Batch {
        Batch {
            id: self.id,
            source: self.source.clone(),
            file: self.file.clone(),
            start: self.start,
            end: self.end,
            first_line: self.first_line,
            records: self.records,
            layout: self.layout.clone(),
            verdict: self.verdict.clone(),
            data: Vec::new(),
            stream: None,
        }
    }
}

/// The messages of a stream's batch, in order of sequence: message `i` has
/// sequence `seqs[i]` and its payload ends at `ends[i]` in `data` (it
/// starts where the one before ends). Each payload ends with a newline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messages {
    pub seqs: Vec<u64>,
    pub ends: Vec<u32>,
    /// The values the layout's `Field::Message(k)` columns take:
    /// `values[k][i]` for message `i` (`None`: it has no such header).
    pub values: Vec<Vec<Option<String>>>,
    /// The reader's batch these messages were sent in, and the index of
    /// the first of them there: a batch split to find a message that kills
    /// workers is settled part by part.
    pub origin: u64,
    pub first: u32,
    /// Each message's subject, for the supervisor's reject notes only: not
    /// sent to workers.
    #[serde(skip)]
    pub subjects: Vec<std::sync::Arc<str>>,
}

impl Messages {
    /// The message holding byte `offset` of the batch's data.
    pub fn at(&self, offset: u64) -> usize {
        self.ends.partition_point(|&e| u64::from(e) <= offset)
    }

    /// The bytes of message `i` in `data`.
    pub fn payload<'d>(&self, data: &'d [u8], i: usize) -> &'d [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &data[start..self.ends[i] as usize]
    }

    /// Messages `range` (their data taken from `data`), as a part of the
    /// same reader's batch.
    pub fn part(&self, data: &[u8], range: std::ops::Range<usize>) -> (Messages, Vec<u8>) {
        let base = if range.start == 0 {
            0
        } else {
            self.ends[range.start - 1]
        };
        let end = self.ends[range.end - 1];
        let msgs = Messages {
            seqs: self.seqs[range.clone()].to_vec(),
            ends: self.ends[range.clone()].iter().map(|e| e - base).collect(),
            values: (self.values.iter())
                .map(|v| v[range.clone()].to_vec())
                .collect(),
            origin: self.origin,
            first: self.first + range.start as u32,
            subjects: self
                .subjects
                .get(range.clone())
                .unwrap_or_default()
                .to_vec(),
        };
        (msgs, data[base as usize..end as usize].to_vec())
    }
}

/// A whole range rejected by the supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub code: String,
    pub reason: String,
}

/// One rejected record (or, for a verdict, a rejected range of records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectNote {
    /// Absolute byte offset in the source.
    pub offset: u64,
    pub len: u64,
    /// Physical line (1-based) where it starts.
    pub line: u64,
    /// Records covered (1 unless a whole range was rejected).
    pub records: u32,
    pub column: Option<String>,
    /// Short machine-readable cause: `field_count`, `bad_decimal`, a SQLSTATE, an ORA code...
    pub code: String,
    pub reason: String,
}

/// A committed range as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRange {
    pub start: u64,
    pub end: u64,
    pub first_line: u64,
    pub loaded: u64,
    pub rejected: u64,
    #[serde(with = "notes::wire")]
    pub rejects: Vec<RejectNote>,
}

/// The outcome of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchDone {
    pub id: u64,
    pub loaded: u64,
    /// Fitted (`notes::fit`): exactly what the batch's ledger row holds.
    #[serde(with = "notes::wire")]
    pub rejects: Vec<RejectNote>,
    /// The ledger already held this range (a redelivery): nothing was written.
    pub already: bool,
    /// A stream's batch: runs `[first, end)` of its sequences that the
    /// ledger held already (redelivered): they were not written again.
    pub held: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    Hello(Box<WorkerSetup>),
    /// Shared with the supervisor's in-flight table, which keeps it for redelivery.
    Batch(Arc<Batch>),
    /// Which ranges of `source` are committed? Answered by `FromWorker::Ledger`.
    Ledger {
        query: u64,
        source: String,
    },
    /// Reopen the log file (logrotate moved it away).
    ReopenLog,
    /// `ingestd check --connect`: does the table exist with these columns
    /// (none: just the table)? The table is not created. Answered by `Checked`.
    Check {
        columns: Vec<crate::format::ColumnSpec>,
    },
    /// `ingestd ledger`: what the ledger holds for the job (every target
    /// table), per source; only `source` when given. Answered by
    /// `LedgerListPart`... and `LedgerList`.
    LedgerList {
        query: u64,
        source: Option<String>,
    },
    /// `ingestd ledger forget`: delete the job's ledger rows of `source`
    /// for its table, in one transaction, if there are exactly `batches`
    /// of them (what the summary showed). Answered by `Forgotten`.
    Forget {
        query: u64,
        source: String,
        batches: u64,
    },
    /// Finish, close the pool, exit 0.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The pool is open and the ledger table exists.
    Ready {
        pid: u32,
    },
    Done(BatchDone),
    /// The answer to `ToWorker::Ledger`: its last (often only) part, in
    /// order of start.
    Ledger {
        query: u64,
        ranges: Vec<LedgerRange>,
    },
    /// The answer to `Check`: `None` when the table is usable.
    Checked {
        problem: Option<String>,
    },
    /// The job cannot go on (configuration class, or a failure the worker cannot
    /// retry); the worker exits after sending this.
    Fatal {
        class: ErrorClass,
        message: String,
    },
    /// Batch `id` was not written, and no batch of its file can be: the
    /// file's header does not fit the table (the reason names the fields).
    /// The supervisor sets that file aside and the job goes on. Only for a
    /// job whose columns come from the header (`WorkerSetup::header_columns`).
    Refused {
        id: u64,
        reason: String,
    },
    /// Ranges of the answer to `query` that come before the rest: a source
    /// with many committed ranges is answered in parts of about
    /// `notes::bound::LEDGER_PART` bytes, each a frame, then `Ledger`.
    LedgerPart {
        query: u64,
        ranges: Vec<LedgerRange>,
    },
    /// Sources of the answer to `LedgerList` that come before the rest, in
    /// parts of about `notes::bound::LEDGER_PART` bytes like `LedgerPart`.
    LedgerListPart {
        query: u64,
        sources: Vec<LedgerSource>,
    },
    /// The last (often only) part of the answer to `LedgerList`, with the
    /// `target` the job's table is in the ledger (as the database tells
    /// table names apart): what `Forget` deletes the rows of.
    LedgerList {
        query: u64,
        target: String,
        sources: Vec<LedgerSource>,
    },
    /// The answer to `Forget`.
    Forgotten {
        query: u64,
        outcome: Forgot,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_batch() -> Batch {
        let payloads: [&[u8]; 5] = [b"a\n", b"bb\n", b"c1\nc2\n", b"d\n", b"e\n"];
        let mut msgs = Messages {
            origin: 7,
            first: 10,
            values: vec![Vec::new()],
            ..Messages::default()
        };
        let mut data = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            data.extend_from_slice(p);
            msgs.seqs.push(100 + i as u64 * 2);
            msgs.ends.push(data.len() as u32);
            msgs.values[0].push(Some(format!("h{i}")));
        }
        Batch {
            id: 7,
            source: "nats:S:1".into(),
            file: "S".into(),
            start: 100,
            end: 109,
            first_line: 1,
            records: 6,
            layout: crate::format::Layout {
                columns: Vec::new(),
                fields: Vec::new(),
                field_count: 0,
            },
            verdict: None,
            data,
            stream: Some(Box::new(msgs)),
        }
    }

    #[test]
    fn a_stream_batch_splits_into_halves_that_keep_their_place_in_the_reader_batch() {
        let b = stream_batch();
        let [x, y] = b.halves([21, 22]).expect("five messages split");
        let (mx, my) = (x.stream.as_deref().unwrap(), y.stream.as_deref().unwrap());
        assert_eq!((x.id, x.start, x.end, x.records), (21, 100, 103, 2));
        assert_eq!((y.id, y.start, y.end, y.records), (22, 104, 109, 4));
        assert_eq!(x.data, b"a\nbb\n");
        assert_eq!(y.data, b"c1\nc2\nd\ne\n");
        assert_eq!(mx.ends, [2, 5]);
        assert_eq!(my.ends, [6, 8, 10]);
        assert_eq!(my.payload(&y.data, 0), b"c1\nc2\n");
        assert_eq!((mx.origin, mx.first, my.origin, my.first), (7, 10, 7, 12));
        assert_eq!(
            my.values[0],
            [Some("h2".into()), Some("h3".into()), Some("h4".into())]
        );
        // Halves of a half still name their place in the reader's batch.
        let [_, yy] = y.halves([23, 24]).unwrap();
        let m = yy.stream.as_deref().unwrap();
        assert_eq!(
            (m.origin, m.first, m.seqs.as_slice()),
            (7, 13, &[106, 108][..])
        );
        let [one, _] = x.halves([25, 26]).unwrap();
        assert!(one.halves([27, 28]).is_none(), "one message is not split");
        let file = Batch {
            stream: None,
            ..stream_batch()
        };
        assert!(file.halves([1, 2]).is_none(), "a file's batch is not split");
    }
}
