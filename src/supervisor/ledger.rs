//! `ingestd ledger`: one worker per job, started the way the daemon starts
//! them (fork+exec, configuration as the first frame), answers questions
//! about the job's ledger (`list`) and deletes one source's rows
//! (`forget`); this process itself never touches a database. Opening the
//! pool creates the ledger table when it is missing, as on a first load
//! (and, for SQLite, the database file), never the job's table.
//!
//! Every answer has a deadline, as in `probe`: the pool's within the sink's
//! open timeout plus `OPEN_MARGIN`, each answer within `ANSWER_TIME`. A
//! worker past its deadline, or left when this ends early, is killed.
//!
//! Also: which ledger key a landing file has (`source_key`), computed as
//! the directory source does. Owns the conversation and that key;
//! rendering and confirmation are the caller's.

use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{intake, rests};
use crate::config::Job;
use crate::logging::LogSetup;
use crate::process;
use crate::protocol::ledger::join_parts;
use crate::protocol::{
    ErrorClass, Forgot, FrameError, FrameReader, FrameWriter, FromWorker, LedgerSource, ToWorker,
    WorkerSetup,
};

/// Time on top of the sink's open timeout for the worker to start.
const OPEN_MARGIN: Duration = Duration::from_secs(3);
/// The open deadline of a sink without an open timeout of its own (Oracle).
const OPEN_DEFAULT: Duration = Duration::from_secs(120);
/// For one answer once the pool is open (a long ledger is read whole).
const ANSWER_TIME: Duration = Duration::from_secs(300);
/// For the worker to close its pool and exit after `Shutdown`.
const EXIT_TIME: Duration = Duration::from_secs(30);

/// A failed step of the conversation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("starting a worker: {0}")]
    Spawn(String),
    #[error("talking to the worker: {0}")]
    Send(#[source] FrameError),
    #[error("reading the worker's answer: {0}")]
    Receive(#[source] FrameError),
    /// The worker's own failure (the database's, mostly), with its class.
    #[error("{message}")]
    Fatal { class: ErrorClass, message: String },
    #[error("the worker ended without an answer (see its log lines)")]
    Ended,
    #[error("no answer {what} within {}", crate::config::show_duration(*.after))]
    Late { what: &'static str, after: Duration },
    #[error("the worker answered something else than asked: {0}")]
    Unexpected(String),
    #[error(
        "the worker did not exit within {} of being asked to",
        crate::config::show_duration(EXIT_TIME)
    )]
    Exit,
}

impl LedgerError {
    /// The class of the failure, when the database gave one (no answer in
    /// time counts as transient: the database may be slow or unreachable).
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            LedgerError::Fatal { class, .. } => Some(*class),
            LedgerError::Late { .. } => Some(ErrorClass::Transient),
            _ => None,
        }
    }
}

/// What the ledger holds for a job.
#[derive(Debug)]
pub struct Listing {
    /// The `target` the ledger names the job's table by.
    pub target: String,
    pub sources: Vec<LedgerSource>,
}

/// A worker of one job, ready for ledger questions.
pub struct LedgerWorker {
    pid: u32,
    tx: FrameWriter<std::fs::File>,
    rx: FrameReader<BufReader<std::fs::File>>,
    query: u64,
    /// Shut down cleanly: nothing to kill on drop.
    done: bool,
}

impl LedgerWorker {
    /// Starts a worker of `job` from `exe` and waits until its pool is open.
    pub fn start(exe: &Path, job: &Job, log: &LogSetup) -> Result<LedgerWorker, LedgerError> {
        let proc = process::spawn_worker(exe).map_err(|e| LedgerError::Spawn(e.to_string()))?;
        let mut w = LedgerWorker {
            pid: proc.pid,
            tx: FrameWriter::new(proc.to_worker),
            rx: FrameReader::new(BufReader::new(proc.from_worker)),
            query: 0,
            done: false,
        };
        // One attempt at each step: a command answers now or says why not.
        let setup = WorkerSetup {
            create_table: false,
            give_up_after: Some(Duration::ZERO),
            ..WorkerSetup::for_job(job, 0, log.clone())
        };
        w.tx.write(&ToWorker::Hello(Box::new(setup)))
            .map_err(LedgerError::Send)?;
        let open = job.sink.open_timeout();
        let within = open.map_or(OPEN_DEFAULT, |(_, t)| t + OPEN_MARGIN);
        match w.next("opening the pool", within)? {
            FromWorker::Ready { .. } => Ok(w),
            other => Err(LedgerError::Unexpected(format!("{other:?}"))),
        }
    }

    /// What the ledger holds for the job (of `source` only, when given).
    pub fn list(&mut self, source: Option<&str>) -> Result<Listing, LedgerError> {
        self.query += 1;
        let query = self.query;
        let ask = ToWorker::LedgerList {
            query,
            source: source.map(str::to_string),
        };
        self.tx.write(&ask).map_err(LedgerError::Send)?;
        let mut parts = Vec::new();
        loop {
            match self.next("listing the ledger", ANSWER_TIME)? {
                FromWorker::LedgerListPart { query: q, sources } if q == query => {
                    parts.extend(sources)
                }
                FromWorker::LedgerList {
                    query: q,
                    target,
                    sources,
                } if q == query => {
                    parts.extend(sources);
                    let sources = join_parts(parts);
                    return Ok(Listing { target, sources });
                }
                other => return Err(LedgerError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Deletes the job's ledger rows of `source` for its table, if there
    /// are `batches` of them.
    pub fn forget(&mut self, source: &str, batches: u64) -> Result<Forgot, LedgerError> {
        self.query += 1;
        let query = self.query;
        let ask = ToWorker::Forget {
            query,
            source: source.to_string(),
            batches,
        };
        self.tx.write(&ask).map_err(LedgerError::Send)?;
        match self.next("forgetting the source", ANSWER_TIME)? {
            FromWorker::Forgotten { query: q, outcome } if q == query => Ok(outcome),
            other => Err(LedgerError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Asks the worker to close its pool and waits for it to exit.
    pub fn finish(mut self) -> Result<(), LedgerError> {
        self.tx
            .write(&ToWorker::Shutdown)
            .map_err(LedgerError::Send)?;
        let t0 = Instant::now();
        while t0.elapsed() < EXIT_TIME {
            if process::reap_children().iter().any(|(p, _)| *p == self.pid) {
                self.done = true;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(LedgerError::Exit)
    }

    /// The next answer within `within`; `Fatal` is the worker's failure.
    fn next(&mut self, what: &'static str, within: Duration) -> Result<FromWorker, LedgerError> {
        match self.rx.wait(within) {
            Ok(true) => {}
            Ok(false) => {
                return Err(LedgerError::Late {
                    what,
                    after: within,
                });
            }
            Err(e) => return Err(LedgerError::Receive(e)),
        }
        match self.rx.read::<FromWorker>() {
            Ok(Some(FromWorker::Fatal { class, message })) => {
                Err(LedgerError::Fatal { class, message })
            }
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err(LedgerError::Ended),
            Err(e) => Err(LedgerError::Receive(e)),
        }
    }
}

impl Drop for LedgerWorker {
    /// A worker left behind (an error, no answer in time) is killed and reaped.
    fn drop(&mut self) {
        if !self.done {
            process::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
            let pid = nix::unistd::Pid::from_raw(self.pid as i32);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// The ledger key of the file at `path` for `job`, as the directory source
/// computes it: name, size and content hash; a `.rest` file this job wrote
/// (found in its reject folder's registry by content) has the key of its own
/// that loading it uses. `None`: nothing at `path`.
pub fn source_key(job: &Job, path: &Path) -> std::io::Result<Option<String>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let (key, hash, size) = intake::ledger_key(path)?;
    match rests::find(&job.reject_dir, &rests::hex(&hash), size) {
        Some(rest) => Ok(Some(rest.key())),
        None => Ok(Some(key)),
    }
}

/// The `.rest` files written of the source `key` (their names): loaded,
/// they count for it, so forgetting it alone does not reload what they hold.
pub fn rests_of(job: &Job, key: &str) -> Vec<String> {
    rests::of_origin(&job.reject_dir, key)
        .into_iter()
        .map(|r| r.path.display().to_string())
        .collect()
}
