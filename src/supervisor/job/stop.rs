//! A job's stopping: on a configuration error or a worker that gave up
//! (`fail`), on drain (SIGTERM, reload), and at the end of the run (what
//! is still in progress is reported and left for the next start).
//!
//! Owns those transitions; dispatch and inputs' ends are `mod.rs`'s.

use tracing::error;

use super::JobRun;
use crate::protocol::ErrorClass;

impl JobRun {
    /// Stops the job: a configuration error no retry can fix, or a worker
    /// that gave up retrying (`give_up_after`).
    pub fn fail(&mut self, class: ErrorClass, message: String) {
        if self.failed.is_some() {
            return;
        }
        error!(job = %self.cfg.name, class = %class, "job stopped: {message}");
        self.failed = Some((class, message));
        self.stop_intake();
        self.workers.shut_down();
    }

    /// Stops taking inputs and cutting; batches not yet sent are dropped (the
    /// ledger has them as missing, so the next start loads them).
    fn stop_intake(&mut self) {
        self.intake.stop();
        self.files.stop_all();
        self.queue.clear();
    }

    pub fn begin_drain(&mut self) {
        if !self.draining {
            self.draining = true;
            self.stop_intake();
        }
    }

    pub fn shut_down_workers(&mut self) {
        self.workers.shut_down();
    }

    /// See `Workers::kill`.
    pub fn kill_workers(&mut self, signal: nix::sys::signal::Signal) {
        self.workers.kill(signal);
    }

    pub fn reopen_logs(&self) {
        self.workers.reopen_logs();
    }

    /// Worker processes not yet reaped.
    pub fn workers_alive(&self) -> usize {
        self.workers.alive()
    }

    pub fn in_flight(&self) -> usize {
        self.workers.in_flight()
    }

    /// `--once`: everything there was to load has an answer.
    pub fn finished(&self) -> bool {
        (self.failed.is_some()
            || (self.intake.is_exhausted()
                && self.files.is_empty()
                && self.queue.batches() == 0
                && self.in_flight() == 0))
            && self.ending == 0
    }

    /// Inputs still in progress when the run ends: reported, left for next
    /// time (nothing is moved: this runs on the loop).
    pub fn abandon_files(&mut self, reason: &str) {
        for f in self.files.take_all() {
            let end = f.into_end(&self.cfg, Some(reason.to_string()), self.intake.disposal());
            self.ended(Box::new(end.run()));
        }
    }
}
