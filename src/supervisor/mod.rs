//! The supervisor: reads sources, cuts batches, hands them to worker
//! processes, tracks what is in flight, reaps and restarts workers, writes
//! rejects and logs. It never opens a database: it does not import `sink`
//! or `worker`, only the protocol and config types both sides share.
//!
//! This file owns the event loop: signals, routing events to jobs, and the
//! end of a run (`--once` completion, drain on SIGTERM/SIGINT).

mod cutter;
mod event;
mod files;
mod job;
mod rejects;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, unbounded};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::logging::LogSetup;
use crate::process;

pub use files::{FileReport, Outcome};
pub use rejects::RejectLine;

use event::Event;
use job::{JobContext, JobRun};

/// How long workers get to exit after being told to, before SIGKILL.
const EXIT_GRACE: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct RunOptions {
    /// Load what the sources hold now, then exit.
    pub once: bool,
    /// Hold the state directory's lock (a daemon); `load` does not.
    pub lock_state: bool,
    /// Log setup handed to workers.
    pub log: LogSetup,
    /// Called with (bytes done) after each batch, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
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
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub files: Vec<FileReport>,
    /// Jobs stopped by an error: (job, class, message).
    pub failed_jobs: Vec<(String, crate::protocol::ErrorClass, String)>,
    /// Ended by a signal before everything was loaded.
    pub interrupted: bool,
}

impl RunReport {
    pub fn loaded(&self) -> u64 {
        self.files.iter().map(|f| f.loaded).sum()
    }

    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }
}

enum Phase {
    Running,
    /// Waiting for batches in flight to be answered.
    Draining,
    /// Workers told to exit at this instant.
    Exiting(Instant),
}

pub fn run(config: &Config, opts: RunOptions) -> Result<RunReport, SupervisorError> {
    let _lock = if opts.lock_state {
        Some(lock_state_dir(&config.daemon.state_dir)?)
    } else {
        None
    };
    let (events_tx, events) = unbounded::<Event>();
    let sig_tx = events_tx.clone();
    let signals = process::forward_signals(move |s| sig_tx.send(Event::Signal(s)).is_ok())
        .map_err(SupervisorError::Signals)?;
    let ctx = Arc::new(JobContext {
        // The kernel resolves this to the running binary even if the file on
        // disk was replaced since (an upgrade): workers always match.
        exe: PathBuf::from("/proc/self/exe"),
        log: opts.log.clone(),
        events: events_tx,
        once: opts.once,
        rescan: config.daemon.rescan_interval,
    });
    let mut jobs = Vec::new();
    for (i, job) in config.jobs.values().enumerate() {
        let run = JobRun::new(i, job.clone(), ctx.clone()).map_err(|source| {
            SupervisorError::StartJob {
                job: job.name.clone(),
                source,
            }
        })?;
        jobs.push(run);
    }
    info!(
        jobs = jobs.len(),
        pid = std::process::id(),
        "supervisor started"
    );
    let mut sup = Supervisor {
        jobs,
        events,
        phase: Phase::Running,
        interrupted: false,
        progress: opts.progress.clone(),
        once: opts.once,
    };
    sup.event_loop();
    signals.stop();
    info!(
        pid = std::process::id(),
        peak_rss_mib = process::peak_rss_mib(),
        "supervisor stopped"
    );
    Ok(sup.report())
}

struct Supervisor {
    jobs: Vec<JobRun>,
    events: Receiver<Event>,
    phase: Phase,
    interrupted: bool,
    progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    once: bool,
}

impl Supervisor {
    fn event_loop(&mut self) {
        loop {
            let now = Instant::now();
            for j in &mut self.jobs {
                j.tick(now);
            }
            self.wait_and_handle();
            if let Some(p) = &self.progress {
                p(self.jobs.iter().map(|j| j.bytes_done).sum());
            }
            if self.advance_phase() {
                return;
            }
        }
    }

    /// Waits for one event (or a batch for a job that has a free worker).
    fn wait_and_handle(&mut self) {
        let mut sel = Select::new();
        sel.recv(&self.events);
        let wanting: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].wants_batches())
            .collect();
        let receivers: Vec<_> = wanting
            .iter()
            .map(|&i| self.jobs[i].batches.clone())
            .collect();
        for r in &receivers {
            sel.recv(r);
        }
        let Ok(op) = sel.select_timeout(TICK) else {
            return;
        };
        let index = op.index();
        if index == 0 {
            if let Ok(ev) = op.recv(&self.events) {
                self.handle(ev);
            }
            // Drain whatever else is queued before selecting again.
            while let Ok(ev) = self.events.try_recv() {
                self.handle(ev);
            }
        } else if let Ok((file, batch)) = op.recv(&receivers[index - 1]) {
            self.jobs[wanting[index - 1]].batch_arrived(file, batch);
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Signal(s) => self.signal(s),
            Event::Worker {
                job,
                slot,
                generation,
                msg,
            } => self.jobs[job].worker_message(slot, generation, msg),
            Event::WorkerGone {
                job,
                slot,
                generation,
            } => self.jobs[job].worker_gone(slot, generation),
            Event::FileFound { job, path } => self.jobs[job].file_found(path),
            Event::ScanDone { job } => self.jobs[job].scan_done(),
            Event::Cut { job, file, ev } => self.jobs[job].cut_event(file, ev),
        }
    }

    fn signal(&mut self, sig: i32) {
        match sig {
            SIGCHLD => {
                for (pid, cause) in process::reap_children() {
                    if !self.jobs.iter_mut().any(|j| j.reaped(pid, cause)) {
                        info!(pid, "reaped a child: {cause}");
                    }
                }
            }
            SIGTERM | SIGINT => {
                self.interrupted = true;
                match self.phase {
                    Phase::Running => {
                        info!(signal = sig, "stopping: finishing the batches in flight");
                        for j in &mut self.jobs {
                            j.begin_drain();
                        }
                        self.phase = Phase::Draining;
                    }
                    _ => {
                        warn!(
                            signal = sig,
                            "second stop signal: killing workers; their batches load next time"
                        );
                        for j in &mut self.jobs {
                            j.kill_workers();
                        }
                    }
                }
            }
            SIGHUP => warn!("SIGHUP: configuration reload is not supported yet; ignored"),
            _ => {}
        }
    }

    /// Moves towards the end of the run; true when it is over.
    fn advance_phase(&mut self) -> bool {
        match self.phase {
            Phase::Running => {
                if self.once && self.jobs.iter().all(|j| j.finished()) {
                    self.exit_workers();
                }
                false
            }
            Phase::Draining => {
                if self.jobs.iter().all(|j| j.in_flight() == 0) {
                    self.exit_workers();
                }
                false
            }
            Phase::Exiting(since) => {
                let alive: usize = self.jobs.iter().map(|j| j.workers_alive()).sum();
                if alive == 0 {
                    return true;
                }
                if since.elapsed() > EXIT_GRACE {
                    error!(alive, "workers did not exit in time: killing them");
                    for j in &mut self.jobs {
                        j.kill_workers();
                    }
                    return true;
                }
                false
            }
        }
    }

    fn exit_workers(&mut self) {
        for j in &mut self.jobs {
            j.shut_down_workers();
        }
        self.phase = Phase::Exiting(Instant::now());
    }

    fn report(&mut self) -> RunReport {
        // Last reaping, so exits are logged.
        for (pid, cause) in process::reap_children() {
            self.jobs.iter_mut().any(|j| j.reaped(pid, cause));
        }
        let mut report = RunReport {
            interrupted: self.interrupted,
            ..RunReport::default()
        };
        for j in &mut self.jobs {
            let reason = if j.failed.is_some() {
                "the job stopped"
            } else {
                "the daemon stopped"
            };
            j.abandon_files(reason);
            report.files.append(&mut j.reports);
            if let Some((class, msg)) = &j.failed {
                report
                    .failed_jobs
                    .push((j.cfg.name.clone(), *class, msg.clone()));
            }
        }
        report
    }
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
