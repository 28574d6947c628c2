//! The supervisor: reads sources, cuts batches, hands them to worker
//! processes, tracks what is in flight, reaps and restarts workers, writes
//! rejects and logs, talks to systemd. It never opens a database: the sinks
//! are private to `worker`, so no file here can name one; it shares only
//! `config`, `protocol`, `format` and `process` with the workers.
//!
//! ```text
//!  intake/      sources -> identity -> cutter -> batches (one thread per job)
//!  job/         one job: its worker slots, dispatch by credit, redelivery
//!  files/       each input's progress, reject files, fate (archive, set aside)
//!  event_loop   routes events to jobs; signals; the run's phases
//!  reload       what SIGHUP changes
//!  ops/         what operators see: sd_notify, status socket, metrics, rates
//!  probe        `check --connect`: one worker asked about its table
//!  ledger       `ingestd ledger`: one worker lists or forgets ledger rows
//! ```
//!
//! This file owns starting and ending a run.

mod event;
mod event_loop;
mod files;
#[cfg(test)]
mod fixtures;
mod intake;
mod job;
pub mod ledger;
mod ops;
pub mod probe;
mod reload;
mod rests;

pub use intake::sample;

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::unbounded;
use tracing::{error, info};

use crate::config::Config;
use crate::logging::{LogHandle, LogSetup};
use crate::process;

pub use files::{FileReport, Outcome};

use event::Event;
use event_loop::Supervisor;
use job::JobContext;
use ops::metrics::{self, Metrics};

/// Called with the bytes done so far, for a progress bar.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

#[derive(Clone)]
pub struct RunOptions {
    /// Load what the sources hold now, then exit.
    pub once: bool,
    /// A daemon: hold the state directory's lock, serve status (and metrics
    /// when configured). `load` does neither.
    pub daemon: bool,
    /// The configuration file, read again on SIGHUP.
    pub config_path: PathBuf,
    /// Log setup handed to workers.
    pub log: LogSetup,
    /// Reopened on SIGUSR1.
    pub log_handle: Option<LogHandle>,
    pub progress: Option<ProgressFn>,
    /// How long workers retry a failing step before the job stops with that
    /// failure's class (`--give-up-after`); `None`: for ever (the daemon).
    pub give_up_after: Option<std::time::Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another ingestd holds {0}: one daemon per state directory")]
    Locked(PathBuf),
    #[error("installing signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error("starting job {job}: {source}")]
    StartJob {
        job: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    StatusSocket(#[from] ops::status_socket::StatusSocketError),
    #[error("metrics on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub files: Vec<FileReport>,
    /// Jobs stopped by an error: (job, class, message).
    pub failed_jobs: Vec<(String, crate::protocol::ErrorClass, String)>,
    /// Ended by a signal before everything was loaded.
    pub interrupted: bool,
    /// What kept a job from doing everything without stopping it: (job, what).
    pub problems: Vec<(String, String)>,
}

impl RunReport {
    pub fn loaded(&self) -> u64 {
        self.files.iter().map(|f| f.loaded).sum()
    }

    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
}

pub fn run(config: Config, opts: RunOptions) -> Result<RunReport, SupervisorError> {
    let _lock = match opts.daemon {
        true => Some(lock_state_dir(&config.daemon.state_dir)?),
        false => None,
    };
    let (events_tx, events) = unbounded::<Event>();
    let sig_tx = events_tx.clone();
    let signals = process::forward_signals(move |s| sig_tx.send(Event::Signal(s)).is_ok())
        .map_err(SupervisorError::Signals)?;
    let metrics = Metrics::new();
    let _socket = match opts.daemon {
        true => Some(ops::status_socket::serve(
            &config.daemon.runtime_dir,
            &config.daemon.state_dir,
            events_tx.clone(),
        )?),
        false => None,
    };
    if let (true, Some(addr)) = (opts.daemon, config.daemon.metrics_listen) {
        metrics::serve(addr, metrics.clone())
            .map_err(|source| SupervisorError::Metrics { addr, source })?;
    }
    let ctx = Arc::new(JobContext {
        // The kernel resolves this to the running binary even if the file on
        // disk was replaced since (an upgrade): workers always match.
        exe: PathBuf::from("/proc/self/exe"),
        metrics: metrics.clone(),
        log: opts.log.clone(),
        events: events_tx,
        once: opts.once,
        rescan: config.daemon.rescan_interval,
        spool: config.daemon.state_dir.join("spool"),
        give_up_after: opts.give_up_after,
    });
    let jobs: Vec<_> = config.jobs.values().cloned().collect();
    let mut sup = Supervisor::new(
        config,
        opts.config_path.clone(),
        ctx,
        events,
        opts.once,
        opts.progress.clone(),
        opts.log_handle.clone(),
    );
    for job in jobs {
        let name = job.name.clone();
        sup.start_job(job)
            .map_err(|source| SupervisorError::StartJob { job: name, source })?;
    }
    info!(
        jobs = sup.jobs.len(),
        pid = std::process::id(),
        "supervisor started"
    );
    sup.event_loop();
    signals.stop();
    let report = sup.report();
    info!(
        pid = std::process::id(),
        peak_rss_mib = process::peak_rss_mib(),
        cpu_s = process::cpu_seconds(),
        "supervisor stopped"
    );
    if report.interrupted && !report.failed_jobs.is_empty() {
        error!("stopped with {} job(s) in error", report.failed_jobs.len());
    }
    Ok(report)
}

/// One daemon per state directory: two would race for the same files.
fn lock_state_dir(dir: &std::path::Path) -> Result<std::fs::File, SupervisorError> {
    let err = |source| SupervisorError::StateDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let path = dir.join("ingestd.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(err)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(SupervisorError::Locked(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
    }
}
