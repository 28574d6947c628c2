//! Intake: bytes from a source -> record-aligned batches with their
//! positions. Supervisor side only (private to `supervisor`): a worker never
//! reads a source.
//!
//! ```text
//!  Source (dir.rs, listed.rs)   finds inputs, says what becomes of each
//!     | Event::Found(Input)     through the event loop, which tracks files
//!     v
//!  cutter.rs (one thread/job)   Input::identify -> ledger question ->
//!     |                         read once, records.rs finds record ends,
//!     |                         batcher.rs cuts the missing ranges
//!     v
//!  bounded channel of batches   -> the job dispatches them to workers
//! ```
//!
//! Owns finding inputs, their identity (the ledger key), reading them, record
//! boundaries and batch boundaries. Must not talk to workers, write reject
//! files or decide a file's counts: the job and `files` do that.
//!
//! ## How a new source plugs in
//! 1. An `Input` variant for what it reads, with its `name` and its `open`:
//!    a stable ledger key, whether an earlier run may have committed ranges
//!    of it, and its bytes from position 0 (positions are what the ledger's
//!    ranges count), read through one descriptor bounded by what was
//!    identified.
//! 2. A `Source` that finds inputs (`start`, announcing each through the
//!    event loop, then `Found::Exhausted` if it is finite), decides whether
//!    an announced input is read now (`accept`: a rescan announces files
//!    again), says what becomes of a file at its end (`disposal`: archive,
//!    delete, keep, set aside; `files/end.rs` does it off the event loop, to
//!    a file that is still the one that was read), and hears how each input
//!    ended (`settled`).
//! 3. A `config::Source` variant, turned into the `Source` by `Intake::start`.
//!
//! Ledger gaps, batches, credit, redelivery, rejects and exactly once then
//! come for free. A followed file (`tail/`) is an input whose reader waits
//! for growth instead of ending, identified by a fingerprint of its first
//! lines, with batches also closed by time (`batch_linger`); its readers run
//! on up to `max_open_files` cutter threads. What the message stream will
//! add: an input whose positions are message sequence numbers (one message,
//! one position) rather than bytes, and whose committed batches are
//! acknowledged to the stream.

mod batcher;
mod content;
mod cutter;
mod dir;
mod identity;
mod listed;
mod records;
pub mod sample;
mod stream;
mod tail;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::config::{self, Job};
use crate::protocol::Batch;
use crate::supervisor::event::{Event, FileId};

pub use batcher::next_id;
pub use content::{Codec, Content};
use cutter::{Cutter, FileTask};
pub use identity::{Change, Snapshot};
pub use stream::{Figures as StreamFigures, Link as StreamLink, Part as StreamPart, Settle};
pub use tail::fingerprint::PREFIX as TAIL_PREFIX;
pub use tail::{Followed, Progress};

/// One input the cutter reads from start to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file that is complete: its bytes do not change while it is read.
    File(PathBuf),
    /// Standard input, read once; `name` gives it a stable identity.
    Stdin { name: Option<String> },
    /// A file still being written, followed until it is let go (rotated
    /// away, idle, truncated): `tail/`.
    Tail(Followed),
    /// A message stream, read until the job stops: `stream/`.
    Stream(Box<config::NatsSource>),
}

/// An input opened for reading, with what the ledger knows it by.
pub struct Opened {
    /// The ledger key (`source` column).
    pub key: String,
    /// An earlier run may have committed ranges of it: ask the ledger first.
    pub may_be_committed: bool,
    /// For a file: what it was when opened, and the one descriptor every
    /// byte of it is read through (shared, for reads at offsets later).
    pub file: Option<(Snapshot, Arc<File>)>,
    /// What it holds, in the positions ranges count (decompressed), read
    /// through that descriptor up to the snapshot's size.
    pub content: Content,
}

impl Input {
    /// The name used in logs and reject file names.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            Input::Stdin { name } => name.clone().unwrap_or_else(|| "stdin".into()),
            Input::Tail(f) => f.name(),
            Input::Stream(s) => s.stream.clone(),
        }
    }

    /// Whether it is followed as it grows (then its path may name another
    /// file by now, and it is never moved at its end).
    pub fn is_followed(&self) -> bool {
        matches!(self, Input::Tail(_) | Input::Stream(_))
    }

    /// The file behind it, when it can be read again at an offset (for the
    /// bytes of rejected records and `.rest`).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::File(p) => Some(p),
            Input::Tail(f) => Some(&f.path),
            Input::Stdin { .. } | Input::Stream(_) => None,
        }
    }

    /// Opens it and identifies it. A file's key is its name, size and
    /// content hash, so the same file dropped in again is recognised.
    /// Standard input is first copied to an unnamed file in `spool` (so that
    /// it is read like a file, and its rejected records and rest can be read
    /// again); with a name its key is built the same way, without one it gets
    /// a new key on every run.
    /// `compression` says how its bytes are stored (standard input is
    /// plain under `auto`).
    pub fn open(&self, spool: &Path, compression: config::Compression) -> io::Result<Opened> {
        let (f, may_be_committed, codec) = match self {
            Input::File(path) => (
                identity::open_file(path)?,
                true,
                Codec::of(compression, path),
            ),
            Input::Stdin { name } => (
                identity::spool_stdin(spool, name.as_deref())?,
                name.is_some(),
                Codec::of(compression, Path::new("-")),
            ),
            // Opened by its reader, which identifies it as it grows.
            Input::Tail(_) => return Err(io::Error::other("a followed file is read by tail/")),
            Input::Stream(_) => return Err(io::Error::other("a stream is read by stream/")),
        };
        Ok(Opened {
            key: f.key,
            may_be_committed,
            content: Content::new(f.file.clone(), codec, f.snapshot.seen.size),
            file: Some((f.snapshot, f.file)),
        })
    }
}

/// The ledger key of the file at `path` as `Input::open` gives it (name,
/// size, content hash), with that hash and size: for `ingestd ledger
/// forget`, which names a file by its path.
pub fn ledger_key(path: &Path) -> io::Result<(String, [u8; 16], u64)> {
    let f = identity::open_file(path)?;
    Ok((f.key, f.snapshot.hash, f.snapshot.seen.size))
}

/// Where the committed ranges `sorted` (by start) that begin at `from`
/// without a gap end; `from` when none begins there.
pub fn committed_prefix(sorted: impl IntoIterator<Item = (u64, u64)>, from: u64) -> u64 {
    let mut at = from;
    for (start, end) in sorted {
        if start > at {
            break;
        }
        at = at.max(end);
    }
    at
}

/// What a source announces to the event loop.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Input(Input),
    /// The source cannot be read (a landing folder that cannot be listed):
    /// why. Inputs may still come when it can be again.
    Unreadable(String),
    /// No more inputs will come (a `--once` scan is over, a list is given).
    Exhausted,
}

/// Sends one announcement to the loop; false when nobody listens any more.
pub type Announce = Box<dyn FnMut(Found) -> bool + Send>;

/// What became of an input once every record has an answer, or the run gave
/// up on it. The job decides; the source acts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Every record is loaded or rejected (now or by an earlier run).
    Loaded,
    /// To be set aside (too many rejects, an unusable header).
    SetAside { reason: String },
    /// Not finished; it is to be read again later.
    Unfinished,
}

/// Whether an announced input is to be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Accept {
    Take,
    /// Known and unchanged, or not there any more.
    Skip,
    /// A file loaded and kept in place earlier has changed since: it must
    /// not be loaded again whole (its records would be loaded twice).
    Changed(Kept),
}

/// A file loaded and kept in place: what it was, and its preamble.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// Its ledger key.
    pub source: String,
    pub snapshot: Snapshot,
    pub preamble: Vec<u8>,
}

/// What a source does with its files at their end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disposal {
    pub loaded: OnLoaded,
    /// Where a file set aside goes; `None`: it stays where it is.
    pub aside: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnLoaded {
    Keep,
    Delete,
    Archive(PathBuf),
}

impl OnLoaded {
    /// What is done to a loaded file, as in "it cannot be ...".
    pub fn done_word(&self) -> &'static str {
        match self {
            OnLoaded::Keep => "kept",
            OnLoaded::Delete => "deleted",
            OnLoaded::Archive(_) => "archived",
        }
    }
}

/// Where a job's inputs come from.
pub trait Source: Send {
    /// Starts finding inputs; each goes to `announce`.
    fn start(&mut self, announce: Announce) -> io::Result<()>;
    /// Whether an announced input is to be read now.
    fn accept(&mut self, input: &Input) -> Accept;
    /// What to do with a file at its end (done off the event loop, by
    /// `files`, and only to a file that is still the one that was read).
    fn disposal(&self) -> Disposal;
    /// An input ended with `fate`; `kept`: it stays in place, unchanged.
    fn settled(&mut self, input: &Input, fate: &Fate, kept: Option<Kept>);
    /// Stops finding inputs.
    fn stop(&mut self);
}

/// A job's intake: its source, its cutter thread and the batches it cut.
pub struct Intake {
    source: Box<dyn Source>,
    /// `None` once stopped: the cutter thread ends when this closes.
    tasks: Option<Sender<FileTask>>,
    batches: Receiver<(FileId, Batch)>,
    exhausted: bool,
}

impl Intake {
    /// Starts the source and the cutter of job `index`. At most `depth`
    /// batches wait in the channel, so a slow database slows reading down.
    pub fn start(
        index: usize,
        job: Arc<Job>,
        events: Sender<Event>,
        depth: usize,
        (once, rescan, spool): (bool, Duration, PathBuf),
    ) -> io::Result<Intake> {
        let (batch_tx, batches) = bounded(depth.max(1));
        let (tasks, task_rx) = unbounded();
        let mut followed = None;
        let mut source: Box<dyn Source> = match &job.source {
            config::Source::Dir(d) => Box::new(dir::DirSource::new(d, &job, rescan, once)),
            config::Source::Files(list) => Box::new(listed::Listed::files(list)),
            config::Source::Stdin { name } => Box::new(listed::Listed::stdin(name.clone())),
            config::Source::Tail(t) => {
                let s = tail::TailSource::new(&job.name, t, &spool, once)?;
                followed = Some(s.shared());
                Box::new(s)
            }
            config::Source::Nats(n) => Box::new(stream::StreamSource::new(n)),
        };
        // One file at a time, or (followed files never end by themselves)
        // one thread per file followed at once.
        let threads = match &job.source {
            config::Source::Tail(t) => t.max_open_files,
            _ => 1,
        };
        let cutter = Cutter {
            job_index: index,
            job,
            events: events.clone(),
            batches: batch_tx,
            spool,
            once,
            followed,
            queued: task_rx.clone(),
        };
        for n in 0..threads {
            cutter.clone().spawn(n, task_rx.clone())?;
        }
        source.start(Box::new(move |found| {
            events.send(Event::Found { job: index, found }).is_ok()
        }))?;
        Ok(Intake {
            source,
            tasks: Some(tasks),
            batches,
            exhausted: false,
        })
    }

    /// Whether an announced input is to be read now (see `Source::accept`).
    pub fn accept(&mut self, input: &Input) -> Accept {
        match self.tasks {
            Some(_) => self.source.accept(input),
            None => Accept::Skip,
        }
    }

    /// Hands `input` to the cutter as `file`; `stop` cuts it short. False
    /// when the intake is stopped.
    pub fn cut(&self, file: FileId, input: Input, stop: Arc<AtomicBool>) -> bool {
        let Some(tasks) = &self.tasks else {
            return false;
        };
        tasks.send(FileTask { file, input, stop }).is_ok()
    }

    pub fn disposal(&self) -> Disposal {
        self.source.disposal()
    }

    pub fn settled(&mut self, input: &Input, fate: &Fate, kept: Option<Kept>) {
        self.source.settled(input, fate, kept);
    }

    /// The source said no more inputs will come.
    pub fn set_exhausted(&mut self) {
        self.exhausted = true;
    }

    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Where the cutter's batches arrive (for the loop's select).
    pub fn batches(&self) -> &Receiver<(FileId, Batch)> {
        &self.batches
    }

    /// Batches cut and waiting in the channel.
    pub fn waiting(&self) -> usize {
        self.batches.len()
    }

    /// Stops finding and cutting; the cutter thread ends after its file.
    pub fn stop(&mut self) {
        self.source.stop();
        self.tasks = None;
    }
}
