//! Everything the supervisor's event loop reacts to. Threads (signal
//! forwarder, pipe readers, sources' watchers, cutters) only send these; the
//! loop does the work.

use crossbeam_channel::Sender;

use std::fs::File;
use std::sync::Arc;

use crate::protocol::{FromWorker, LedgerRange, RejectNote};
use crate::supervisor::files::Ended;
use crate::supervisor::intake::{Content, Found, Progress, Snapshot};

/// Identifies one file (or one read of stdin) within this run.
pub type FileId = u64;

pub enum Event {
    Signal(i32),
    Worker {
        job: usize,
        slot: usize,
        generation: u64,
        msg: FromWorker,
    },
    /// The worker's pipe reached end of file: it exited or is about to.
    WorkerGone {
        job: usize,
        slot: usize,
        generation: u64,
    },
    /// A job's source found an input (or has no more to give).
    Found {
        job: usize,
        found: Found,
    },
    Cut {
        job: usize,
        file: FileId,
        ev: CutEvent,
    },
    /// An input's end was run off the loop (see `files::end`).
    Ended {
        job: usize,
        ended: Box<Ended>,
    },
    /// `ingestd status` asks; answer on the channel.
    Status(Sender<crate::status::StatusReport>),
}

/// What a cutter thread reports about the file it is reading.
pub enum CutEvent {
    /// Which ranges of this source are committed? Answer on `reply`.
    NeedLedger {
        source: String,
        reply: Sender<Vec<LedgerRange>>,
    },
    /// The file is open and its layout known; batches follow.
    Started(Box<FileStart>),
    /// Every batch of the file has been handed over (`stopped`: cut short on
    /// request, e.g. after too many rejects).
    Finished {
        batches: u64,
        records: u64,
        stopped: bool,
    },
    /// The file cannot be loaded (unreadable, header does not match);
    /// `batches` were handed over before that.
    Failed {
        reason: String,
        set_aside: bool,
        batches: u64,
        /// A configuration error of the job: it stops.
        config: bool,
    },
}

pub struct FileStart {
    pub source: String,
    /// For a file: what it was when taken, and the descriptor it is read
    /// through (for the bytes of rejected records, `.rest`, and the check
    /// that it is unchanged at its end).
    pub file: Option<(Snapshot, Arc<File>)>,
    /// What it holds, to read records again at their positions.
    pub content: Content,
    /// The bytes before the first record (BOM, skipped lines, header): they
    /// head every `.bad`/`.rest` file so it can be dropped back in as is.
    pub preamble: Vec<u8>,
    /// Ranges committed by earlier runs.
    pub prior: Vec<LedgerRange>,
    /// Their reject notes with the records' bytes, to rebuild the reject files.
    pub prior_rejects: Vec<(RejectNote, Vec<u8>)>,
    /// A followed file: how far it is read, and its size, as it grows.
    pub progress: Option<Arc<Progress>>,
    /// A stream: where its batches' settlements go, and its figures.
    pub stream: Option<crate::supervisor::intake::StreamLink>,
}
