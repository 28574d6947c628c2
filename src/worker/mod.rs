//! A worker process: `Hello` -> open its own pool -> `Ready` -> batches ->
//! close the pool -> exit. Started by the supervisor with fork+exec, so no
//! database client state ever crosses a fork.
//!
//! Owns the worker's side of the protocol (`inbox` reads it), the retry
//! policy (`retry`: until `give_up_after`, and a stop request ends its
//! waits) and, privately, the sinks (`sink/`): nothing outside this module
//! can name a sink, so the supervisor cannot open a database by mistake. Must not read
//! configuration files or sources (everything arrives in frames); the
//! sources are private to `supervisor`, so it cannot.

mod inbox;
mod load;
mod messages;
mod reply;
mod retry;
mod sink;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufReader, Write};

use tracing::{error, info, info_span, warn};

use crate::logging::LogHandle;
use crate::process;
use crate::protocol::{ErrorClass, FrameReader, FrameWriter, FromWorker, ToWorker, WorkerSetup};
use sink::{Session, Sink, SinkError};

use inbox::Inbox;
use load::{Loaded, Loader};
use reply::ReplyError;
use retry::{Pause, RetryError, retrying};

/// Exit codes of a worker, read by the supervisor when it reaps.
pub mod exit {
    /// Finished cleanly (Shutdown or end of input).
    pub const OK: i32 = 0;
    /// The pipes or the first frame were wrong: a bug or a hand-started worker.
    pub const PROTOCOL: i32 = 70;
    /// The job cannot run (a `Fatal` frame was sent first).
    pub const FATAL: i32 = 71;
    /// This process cannot go on, but a new one may (a client library that
    /// failed to load, see `SinkError::needs_new_process`). No `Fatal` frame:
    /// the supervisor restarts the worker with back-off, the job goes on.
    pub const NEW_PROCESS: i32 = 72;
}

#[derive(Debug, thiserror::Error)]
enum WorkerError {
    #[error("reading from the supervisor: {0}")]
    Receive(#[source] crate::protocol::FrameError),
    #[error("{0}")]
    Answer(#[from] ReplyError),
    #[error("the first frame was not Hello")]
    NoHello,
    #[error("{0}")]
    Sink(#[from] SinkError),
    /// Still failing at the run's `give_up_after` (always
    /// `RetryError::GaveUp`): the job stops with the failure's class.
    #[error(transparent)]
    GaveUp(RetryError),
    /// The supervisor asked it to stop while it waited to retry.
    #[error("asked to stop while waiting to retry")]
    Stopped,
}

impl From<RetryError> for WorkerError {
    fn from(e: RetryError) -> Self {
        match e {
            RetryError::Sink(e) => WorkerError::Sink(e),
            RetryError::Stopped => WorkerError::Stopped,
            gave_up @ RetryError::GaveUp { .. } => WorkerError::GaveUp(gave_up),
        }
    }
}

type Tx = FrameWriter<File>;

/// Entry point of `ingestd worker`; returns the process exit code.
pub fn run() -> i32 {
    let (input, output) = match process::worker_pipes() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ingestd worker: {e}");
            return exit::PROTOCOL;
        }
    };
    let mut rx = FrameReader::new(BufReader::with_capacity(1 << 20, input));
    let mut tx = FrameWriter::new(output);
    let setup = match rx.read::<ToWorker>() {
        Ok(Some(ToWorker::Hello(setup))) => *setup,
        Ok(None) => return exit::OK, // supervisor gone before saying anything
        Ok(Some(_)) => {
            eprintln!("ingestd worker: {}", WorkerError::NoHello);
            return exit::PROTOCOL;
        }
        Err(e) => {
            eprintln!("ingestd worker: {}", WorkerError::Receive(e));
            return exit::PROTOCOL;
        }
    };
    let (log, log_failed) = crate::logging::init(&setup.log);
    let pid = std::process::id();
    let span = info_span!("worker", job = %setup.job, worker = setup.worker, pid);
    let _entered = span.enter();
    if let Some(e) = log_failed {
        warn!("cannot open the log file, logging to stderr: {e}");
    }
    let mut inbox = Inbox::new(rx);
    match serve(&setup, pid, &mut inbox, &mut tx, &log) {
        Ok(()) => exit::OK,
        Err(WorkerError::Stopped) => {
            info!("stopped while waiting to retry, as the supervisor asked");
            exit::OK
        }
        Err(WorkerError::Sink(e)) if e.needs_new_process() => {
            error!(
                class = %e.class(),
                "{e}. This worker exits and is started again with back-off, {}",
                e.why_new_process()
            );
            // Exit with the pipes still open: the supervisor sees their end
            // only as this process ends, and reaps code 72. Returning would
            // close them first, and a supervisor that sees the end of a
            // worker it did not stop kills it, hiding the code.
            std::process::exit(exit::NEW_PROCESS)
        }
        Err(e) => {
            match class_of(&e) {
                Some(class) => error!(class = %class, "{e}"),
                None => error!("{e}"),
            }
            match last_words(&e) {
                Some(fatal) => {
                    let _ = tx.write(&fatal);
                    exit::FATAL
                }
                None => exit::PROTOCOL,
            }
        }
    }
}

/// The `Fatal` answer that stops the job after `e`, if it is one that must:
/// a sink failure no retry fixes, or an answer that does not fit a frame
/// (which a new worker would only give again: see `reply`).
fn last_words(e: &WorkerError) -> Option<FromWorker> {
    match e {
        WorkerError::Sink(_) | WorkerError::GaveUp(_) => {
            class_of(e).map(|class| reply::fatal(class, e.to_string()))
        }
        WorkerError::Answer(e @ ReplyError::TooLarge { .. }) => {
            Some(reply::fatal(ErrorClass::Data, e.to_string()))
        }
        _ => None,
    }
}

/// The class of a database failure (`None` for the others).
fn class_of(e: &WorkerError) -> Option<ErrorClass> {
    match e {
        WorkerError::Sink(s) => Some(s.class()),
        WorkerError::GaveUp(RetryError::GaveUp { last, .. }) => Some(last.class()),
        _ => None,
    }
}

fn serve(
    setup: &WorkerSetup,
    pid: u32,
    inbox: &mut Inbox,
    tx: &mut Tx,
    log: &LogHandle,
) -> Result<(), WorkerError> {
    let session = Session {
        job: setup.job.clone(),
        worker: setup.worker,
        pid,
    };
    let sink = open_pool(setup, &session, inbox)?;
    info!(sink = %setup.sink_name, kind = setup.sink.kind(), "pool open");
    let mut loader = Loader::new(setup, sink);
    let served = loader
        .claim_legacy(inbox)
        .map_err(WorkerError::from)
        .and_then(|()| {
            Ok(reply::send(tx, &FromWorker::Ready { pid }, || {
                "Hello".into()
            })?)
        })
        .and_then(|()| serve_frames(&mut loader, inbox, tx, log));
    // Close the pool whatever happened: never leave sessions behind.
    let closed = loader.into_sink().close();
    match &closed {
        Ok(()) => info!(
            peak_rss_mib = process::peak_rss_mib(),
            cpu_s = process::cpu_seconds(),
            "pool closed"
        ),
        Err(e) => warn!("pool closed with an error: {e}"),
    }
    served?;
    Ok(())
}

fn serve_frames(
    loader: &mut Loader,
    inbox: &mut Inbox,
    tx: &mut Tx,
    log: &LogHandle,
) -> Result<(), WorkerError> {
    loop {
        let msg = match inbox.next().map_err(WorkerError::Receive)? {
            // End of input: the supervisor closed the pipe or died.
            None | Some(ToWorker::Shutdown) => return Ok(()),
            Some(m) => m,
        };
        match msg {
            ToWorker::ReopenLog => {
                if let Err(e) = log.reopen() {
                    warn!("cannot reopen the log file: {e}");
                }
            }
            ToWorker::Hello(_) => return Err(WorkerError::NoHello),
            work => answer(loader, work, tx, inbox)?,
        }
    }
}

/// Does the work `msg` asks for and answers it.
/// Waits between attempts go through `pause`.
fn answer<W: Write>(
    loader: &mut Loader,
    msg: ToWorker,
    tx: &mut FrameWriter<W>,
    pause: &mut dyn Pause,
) -> Result<(), WorkerError> {
    match msg {
        ToWorker::Batch(batch) => {
            let done = match loader.load(&batch, pause)? {
                Loaded::Done(done) => FromWorker::Done(done),
                Loaded::Refused(reason) => reply::refused(batch.id, reason),
            };
            let what = || {
                format!(
                    "batch {} of {} (line {}, {} records)",
                    batch.id, batch.file, batch.first_line, batch.records
                )
            };
            reply::send(tx, &done, what)?;
        }
        ToWorker::Ledger { query, source } => {
            let ranges = loader.committed(&source, pause)?;
            reply::ledger(tx, query, &source, ranges)?;
        }
        ToWorker::LedgerList { query, source } => {
            let sources = loader.list_ledger(source.as_deref(), pause)?;
            reply::ledger_list(tx, query, loader.target(), sources)?;
        }
        ToWorker::Forget {
            query,
            source,
            batches,
        } => {
            let outcome = loader.forget(&source, batches, pause)?;
            let what = || format!("forgetting {source:?}");
            reply::send(tx, &FromWorker::Forgotten { query, outcome }, what)?;
        }
        ToWorker::Check { columns } => {
            let problem = loader.check(&columns).err().map(|e| e.to_string());
            reply::send(tx, &reply::checked(problem), || "the table check".into())?;
        }
        // `serve_frames` handles these itself.
        ToWorker::Hello(_) | ToWorker::ReopenLog | ToWorker::Shutdown => {}
    }
    Ok(())
}

/// Opens the pool, retrying transient and capacity failures with back-off
/// (the database may be restarting) until `give_up_after`, and only as long
/// as the supervisor does not ask it to stop; configuration failures end
/// the worker, and so does a failure only a new process can get past.
fn open_pool(
    setup: &WorkerSetup,
    session: &Session,
    inbox: &mut Inbox,
) -> Result<Box<dyn Sink>, WorkerError> {
    Ok(retrying(setup.give_up_after, inbox, || {
        sink::open(&setup.sink, session)
    })?)
}
