//! A worker process: `Hello` -> open its own pool -> `Ready` -> batches ->
//! close the pool -> exit. Started by the supervisor with fork+exec, so no
//! database client state ever crosses a fork.
//!
//! Owns the worker's side of the protocol, the retry policy and, privately,
//! the sinks (`sink/`): nothing outside this module can name a sink, so the
//! supervisor cannot open a database by mistake. Must not read
//! configuration files or sources (everything arrives in frames); the
//! sources are private to `supervisor`, so it cannot.

mod load;
mod retry;
mod sink;

use std::fs::File;
use std::io::BufReader;

use tracing::{error, info, info_span, warn};

use crate::logging::LogHandle;
use crate::process;
use crate::protocol::{ErrorClass, FrameReader, FrameWriter, FromWorker, ToWorker, WorkerSetup};
use sink::{Session, Sink, SinkError};

use load::Loader;
use retry::Backoff;

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
    #[error("answering the supervisor: {0}")]
    Answer(#[source] crate::protocol::FrameError),
    #[error("the first frame was not Hello")]
    NoHello,
    #[error("{0}")]
    Sink(#[from] SinkError),
}

type Rx = FrameReader<BufReader<File>>;
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
    match serve(&setup, pid, &mut rx, &mut tx, &log) {
        Ok(()) => exit::OK,
        Err(WorkerError::Sink(e)) if e.needs_new_process() => {
            error!(class = %e.class(), "{e}. This worker exits and is started again with back-off, so loading starts once the library can be loaded, without restarting ingestd");
            // Exit with the pipes still open: the supervisor sees their end
            // only as this process ends, and reaps code 72. Returning would
            // close them first, and a supervisor that sees the end of a
            // worker it did not stop kills it, hiding the code.
            std::process::exit(exit::NEW_PROCESS)
        }
        Err(WorkerError::Sink(e)) => {
            error!(class = %e.class(), "{e}");
            let _ = tx.write(&FromWorker::Fatal {
                class: e.class(),
                message: e.to_string(),
            });
            exit::FATAL
        }
        Err(e) => {
            error!("{e}");
            exit::PROTOCOL
        }
    }
}

fn serve(
    setup: &WorkerSetup,
    pid: u32,
    rx: &mut Rx,
    tx: &mut Tx,
    log: &LogHandle,
) -> Result<(), WorkerError> {
    let session = Session {
        job: setup.job.clone(),
        worker: setup.worker,
        pid,
    };
    let sink = open_pool(setup, &session)?;
    info!(sink = %setup.sink_name, kind = setup.sink.kind(), "pool open");
    tx.write(&FromWorker::Ready { pid })
        .map_err(WorkerError::Answer)?;
    let mut loader = Loader::new(setup, sink);
    let served = serve_frames(&mut loader, rx, tx, log);
    // Close the pool whatever happened: never leave sessions behind.
    let closed = loader.into_sink().close();
    match &closed {
        Ok(()) => info!(peak_rss_mib = process::peak_rss_mib(), "pool closed"),
        Err(e) => warn!("pool closed with an error: {e}"),
    }
    served?;
    Ok(())
}

fn serve_frames(
    loader: &mut Loader,
    rx: &mut Rx,
    tx: &mut Tx,
    log: &LogHandle,
) -> Result<(), WorkerError> {
    loop {
        let msg = match rx.read::<ToWorker>().map_err(WorkerError::Receive)? {
            // End of input: the supervisor closed the pipe or died.
            None | Some(ToWorker::Shutdown) => return Ok(()),
            Some(m) => m,
        };
        let answer = match msg {
            ToWorker::Batch(batch) => FromWorker::Done(loader.load(&batch)?),
            ToWorker::Ledger { query, source } => FromWorker::Ledger {
                query,
                ranges: loader.committed(&source)?,
            },
            ToWorker::Check { columns } => FromWorker::Checked {
                problem: loader.check(&columns).err().map(|e| e.to_string()),
            },
            ToWorker::ReopenLog => {
                if let Err(e) = log.reopen() {
                    warn!("cannot reopen the log file: {e}");
                }
                continue;
            }
            ToWorker::Hello(_) => return Err(WorkerError::NoHello),
            ToWorker::Shutdown => unreachable!("handled above"),
        };
        tx.write(&answer).map_err(WorkerError::Answer)?;
    }
}

/// Opens the pool, retrying transient and capacity failures with back-off
/// (the database may be restarting); configuration failures end the worker,
/// and so does a failure only a new process can get past.
fn open_pool(setup: &WorkerSetup, session: &Session) -> Result<Box<dyn Sink>, SinkError> {
    let mut backoff = Backoff::new();
    loop {
        match sink::open(&setup.sink, session) {
            Ok(s) => return Ok(s),
            Err(e) if e.class() == ErrorClass::Config || e.needs_new_process() => return Err(e),
            Err(e) => {
                let wait = backoff.next(e.class());
                warn!(class = %e.class(), retry_in = ?wait, "{e}");
                std::thread::sleep(wait);
            }
        }
    }
}
