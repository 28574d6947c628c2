//! The event loop: routes events to jobs, handles signals (SIGTERM drains,
//! SIGINT stops fast, SIGHUP reloads, SIGUSR1 reopens the log file, SIGCHLD
//! reaps), keeps systemd informed, logs progress, and ends the run.
//!
//! Owns the run's phases and the set of jobs (which a reload changes); a job's
//! own work is in `job`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use tracing::{error, info, warn};

use crate::config::{Config, Job};
use crate::logging::LogHandle;
use crate::process;
use crate::protocol::ErrorClass;
use crate::status::StatusReport;

use super::event::Event;
use super::files::FileReport;
use super::job::{JobContext, JobRun};
use super::ops::notify::Notifier;
use super::{ProgressFn, RunReport};

/// How long workers get to exit after being told to, before SIGKILL.
const EXIT_GRACE: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(100);
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// READY=1 is sent at the latest this long after start, naming the jobs whose
/// workers are not up (a database still down must not fail the whole service).
const READY_AT_LATEST: Duration = Duration::from_secs(60);

enum Phase {
    Running,
    /// SIGTERM: waiting for batches in flight, until the deadline.
    Draining(Instant),
    /// Workers told to exit at this instant.
    Exiting(Instant),
}

pub(super) struct Supervisor {
    pub config: Config,
    pub config_path: PathBuf,
    pub ctx: Arc<JobContext>,
    /// Indices are stable for the whole run (events name jobs by index); a
    /// job dropped by a reload leaves `None`.
    pub jobs: Vec<Option<JobRun>>,
    /// Jobs draining because a reload stopped or changed them, with the
    /// settings to start once they are gone.
    pub(super) retiring: Vec<(usize, Option<Job>)>,
    pub events: Receiver<Event>,
    phase: Phase,
    interrupted: bool,
    pub once: bool,
    pub progress: Option<ProgressFn>,
    pub(super) notify: Notifier,
    pub log: Option<LogHandle>,
    pub(super) reports: Vec<FileReport>,
    failed_jobs: Vec<(String, ErrorClass, String)>,
    started: Instant,
    next_status: Instant,
    next_progress: Instant,
}

impl Supervisor {
    pub fn new(
        config: Config,
        config_path: PathBuf,
        ctx: Arc<JobContext>,
        events: Receiver<Event>,
        once: bool,
        progress: Option<ProgressFn>,
        log: Option<LogHandle>,
    ) -> Self {
        let now = Instant::now();
        Supervisor {
            next_progress: now + config.daemon.progress_interval,
            config,
            config_path,
            ctx,
            jobs: Vec::new(),
            retiring: Vec::new(),
            events,
            phase: Phase::Running,
            interrupted: false,
            once,
            progress,
            notify: Notifier::new(),
            log,
            reports: Vec::new(),
            failed_jobs: Vec::new(),
            started: now,
            next_status: now,
        }
    }

    pub fn start_job(&mut self, job: Job) -> std::io::Result<()> {
        let index = self.jobs.len();
        let run = JobRun::new(index, job, self.ctx.clone())?;
        self.jobs.push(Some(run));
        Ok(())
    }

    fn live(&mut self) -> impl Iterator<Item = &mut JobRun> {
        self.jobs.iter_mut().flatten()
    }

    pub fn event_loop(&mut self) {
        loop {
            let now = Instant::now();
            for j in self.live() {
                j.tick(now);
                j.observe(now);
            }
            self.wait_and_handle();
            if let Some(p) = &self.progress {
                p(self.jobs.iter().flatten().map(|j| j.bytes_done()).sum());
            }
            self.retire_finished();
            self.report_to_operators();
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
            .filter(|&i| self.jobs[i].as_ref().is_some_and(|j| j.wants_batches()))
            .collect();
        let receivers: Vec<_> = wanting
            .iter()
            .filter_map(|&i| self.jobs[i].as_ref().map(|j| j.batch_channel().clone()))
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
        } else if let Ok((file, batch)) = op.recv(&receivers[index - 1])
            && let Some(j) = self.jobs[wanting[index - 1]].as_mut()
        {
            j.batch_arrived(file, batch);
        }
    }

    fn handle(&mut self, ev: Event) {
        fn job(jobs: &mut [Option<JobRun>], i: usize) -> Option<&mut JobRun> {
            jobs.get_mut(i).and_then(Option::as_mut)
        }
        match ev {
            Event::Signal(s) => self.signal(s),
            Event::Worker {
                job: i,
                slot,
                generation,
                msg,
            } => {
                if let Some(j) = job(&mut self.jobs, i) {
                    j.worker_message(slot, generation, msg);
                }
            }
            Event::WorkerGone {
                job: i,
                slot,
                generation,
            } => {
                if let Some(j) = job(&mut self.jobs, i) {
                    j.worker_gone(slot, generation);
                }
            }
            Event::Found { job: i, found } => {
                if let Some(j) = job(&mut self.jobs, i) {
                    j.found(found);
                }
            }
            Event::Cut { job: i, file, ev } => {
                if let Some(j) = job(&mut self.jobs, i) {
                    j.cut_event(file, ev);
                }
            }
            Event::Ended { job: i, ended } => match job(&mut self.jobs, i) {
                Some(j) => j.end_returned(ended),
                // A job dropped by a reload: its report still counts.
                None => self.reports.push(ended.report),
            },
            Event::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn signal(&mut self, sig: i32) {
        match sig {
            SIGCHLD => {
                for (pid, cause) in process::reap_children() {
                    if !self.live().any(|j| j.reaped(pid, cause)) {
                        info!(pid, "reaped a child: {cause}");
                    }
                }
            }
            SIGTERM => {
                self.interrupted = true;
                match self.phase {
                    Phase::Running => {
                        let limit = self.config.daemon.drain_timeout;
                        info!(?limit, "SIGTERM: stopping; finishing the batches in flight");
                        self.notify.stopping();
                        for j in self.live() {
                            j.begin_drain();
                        }
                        self.phase = Phase::Draining(Instant::now() + limit);
                    }
                    _ => self.stop_fast("second stop signal"),
                }
            }
            SIGINT => {
                self.interrupted = true;
                self.notify.stopping();
                self.stop_fast("SIGINT");
            }
            SIGHUP => self.reload(),
            SIGUSR1 => self.reopen_log(),
            _ => {}
        }
    }

    /// Stops workers at once: what they were loading rolls back and is loaded
    /// again on the next start (the ledger knows it is missing).
    fn stop_fast(&mut self, why: &str) {
        warn!("{why}: stopping now; batches in flight will be loaded on the next start");
        for j in self.live() {
            j.begin_drain();
            j.kill_workers(nix::sys::signal::Signal::SIGTERM);
        }
        self.phase = Phase::Exiting(Instant::now());
    }

    fn reopen_log(&mut self) {
        if let Some(log) = &self.log
            && let Err(e) = log.reopen()
        {
            error!("SIGUSR1: cannot reopen the log file: {e}");
        }
        for j in self.live() {
            j.reopen_logs();
        }
        info!("log file reopened");
    }

    fn report_to_operators(&mut self) {
        let now = Instant::now();
        self.notify.tick();
        if !self.notify.is_ready() && matches!(self.phase, Phase::Running) {
            let all = self.jobs.iter().flatten().all(|j| j.all_ready());
            if all || now.duration_since(self.started) >= READY_AT_LATEST {
                if !all {
                    let late: Vec<&str> = self
                        .jobs
                        .iter()
                        .flatten()
                        .filter(|j| !j.all_ready())
                        .map(|j| j.name())
                        .collect();
                    warn!(jobs = ?late, "ready, although some workers are not up yet");
                }
                info!("ready");
                let line = self.status_line();
                self.notify.ready(&line);
            }
        }
        if now >= self.next_status {
            self.next_status = now + STATUS_EVERY;
            let line = self.status_line();
            self.notify.status(&line);
        }
        let every = self.config.daemon.progress_interval;
        if !every.is_zero() && now >= self.next_progress {
            self.next_progress = now + every;
            for j in self.jobs.iter().flatten() {
                j.progress();
            }
        }
    }

    /// STATUS= for systemd: one short line.
    pub(super) fn status_line(&self) -> String {
        let jobs: Vec<&JobRun> = self.jobs.iter().flatten().collect();
        let workers: usize = jobs.iter().map(|j| j.worker_count()).sum();
        let ready: usize = jobs.iter().map(|j| j.workers_ready()).sum();
        let rate: f64 = jobs.iter().map(|j| j.rows_per_second()).sum();
        let rejected: u64 = jobs.iter().map(|j| j.rejected_total()).sum();
        let (files, batches) = jobs.iter().fold((0, 0), |acc, j| {
            let (f, b) = j.backlog();
            (acc.0 + f, acc.1 + b)
        });
        let stopped = jobs.iter().filter(|j| j.failure().is_some()).count();
        let mut line = format!(
            "{} jobs, {ready}/{workers} workers, {rate:.0} rows/s, {rejected} rejected, backlog {files} files/{batches} batches",
            jobs.len()
        );
        if stopped > 0 {
            line.push_str(&format!(", {stopped} job(s) stopped"));
        }
        line
    }

    pub fn status(&self) -> StatusReport {
        StatusReport {
            pid: std::process::id(),
            uptime_s: self.started.elapsed().as_secs_f64(),
            config: self.config_path.clone(),
            jobs: self.jobs.iter().flatten().map(|j| j.status()).collect(),
        }
    }

    /// Moves towards the end of the run; true when it is over.
    fn advance_phase(&mut self) -> bool {
        match self.phase {
            Phase::Running => {
                if self.once
                    && self.jobs.iter().flatten().all(|j| j.finished())
                    && self.retiring.is_empty()
                {
                    self.exit_workers();
                }
                false
            }
            Phase::Draining(deadline) => {
                if self.jobs.iter().flatten().all(|j| j.in_flight() == 0) {
                    self.exit_workers();
                } else if Instant::now() >= deadline {
                    let left: usize = self.jobs.iter().flatten().map(|j| j.in_flight()).sum();
                    warn!(
                        batches = left,
                        "drain_timeout reached: stopping workers; these batches load on the next start"
                    );
                    for j in self.live() {
                        j.kill_workers(nix::sys::signal::Signal::SIGKILL);
                    }
                    self.phase = Phase::Exiting(Instant::now());
                }
                false
            }
            Phase::Exiting(since) => {
                let alive: usize = self.jobs.iter().flatten().map(|j| j.workers_alive()).sum();
                if alive == 0 {
                    return true;
                }
                if since.elapsed() > EXIT_GRACE {
                    error!(alive, "workers did not exit in time: killing them");
                    for j in self.live() {
                        j.kill_workers(nix::sys::signal::Signal::SIGKILL);
                    }
                    return true;
                }
                false
            }
        }
    }

    fn exit_workers(&mut self) {
        for j in self.live() {
            j.shut_down_workers();
        }
        self.phase = Phase::Exiting(Instant::now());
    }

    pub fn report(&mut self) -> RunReport {
        // Last reaping, so exits are logged.
        for (pid, cause) in process::reap_children() {
            self.live().any(|j| j.reaped(pid, cause));
        }
        // Ends under way (a copy to the archive) finish and are reported.
        for j in self.live() {
            j.close_ender();
        }
        while let Ok(ev) = self.events.try_recv() {
            if let Event::Ended { .. } = ev {
                self.handle(ev);
            }
        }
        let mut report = RunReport {
            interrupted: self.interrupted,
            ..RunReport::default()
        };
        report.files.append(&mut self.reports);
        report.failed_jobs.append(&mut self.failed_jobs);
        for j in self.jobs.iter_mut().flatten() {
            let reason = match j.failure() {
                Some((ErrorClass::Transient | ErrorClass::Capacity, _)) => {
                    "the job stopped: its target stayed unavailable; the file stays where it is"
                }
                Some(_) => "the job stopped",
                None => "the daemon stopped",
            };
            j.abandon_files(reason);
            report.files.extend(j.take_reports());
            let name = j.name().to_string();
            let problems = j.take_problems().into_iter().map(|p| (name.clone(), p));
            report.problems.extend(problems);
            if let Some((class, msg)) = j.failure() {
                report
                    .failed_jobs
                    .push((j.name().to_string(), *class, msg.clone()));
            }
        }
        report
    }
}
