//! What a job tells operators: its totals since the daemon started, its
//! status report, its progress line, its metrics levels, and whether its
//! workers are all up (for READY=1). Reads the job; changes only `Totals`.

use std::time::Instant;

use tracing::info;

use crate::status::JobStatus;
use crate::supervisor::ops::rate::Rate;

use super::JobRun;

/// What a job did since the daemon started.
#[derive(Default)]
pub struct Totals {
    bytes_done: u64,
    loaded: u64,
    rejected: u64,
    rate: Rate,
}

impl Totals {
    pub fn batch_done(&mut self, bytes: u64, loaded: u64, rejected: u64) {
        self.bytes_done += bytes;
        self.loaded += loaded;
        self.rejected += rejected;
    }
}

impl JobRun {
    /// Inputs found and not started; batches cut and not yet sent.
    pub fn backlog(&self) -> (usize, usize) {
        let (_, waiting) = self.files.counts();
        (waiting, self.queue.batches() + self.intake.waiting())
    }

    /// Every worker has its pool open (or the job has stopped for good).
    pub fn all_ready(&self) -> bool {
        self.failed.is_some() || self.workers.ready_count() == self.workers.count()
    }

    pub fn workers_ready(&self) -> usize {
        self.workers.ready_count()
    }

    pub fn worker_count(&self) -> usize {
        self.workers.count()
    }

    /// Bytes of input committed (or rejected) since the daemon started.
    pub fn bytes_done(&self) -> u64 {
        self.totals.bytes_done
    }

    pub fn rejected_total(&self) -> u64 {
        self.totals.rejected
    }

    pub fn rows_per_second(&self) -> f64 {
        self.totals.rate.per_second()
    }

    fn state(&self) -> String {
        match (&self.failed, self.draining) {
            (Some((class, msg)), _) => format!("stopped ({class} error): {msg}"),
            (None, true) => "draining".into(),
            (None, false) => "running".into(),
        }
    }

    /// Samples the rate and updates the metrics levels; called every tick.
    pub fn observe(&mut self, now: Instant) {
        self.totals.rate.sample(now, self.totals.loaded);
        self.files.observe(now);
        let (files, batches) = self.backlog();
        let metrics = &self.ctx.metrics;
        metrics.levels(&self.cfg.name, self.in_flight(), files, batches);
        if self.cfg.source.is_followed() {
            metrics.followed(&self.cfg.name, &self.files.followed());
        }
        if let Some(s) = self.files.stream_status() {
            metrics.stream(&self.cfg.name, &s);
        }
    }

    pub fn progress(&self) {
        let (reading, waiting) = self.files.counts();
        let (_, batches) = self.backlog();
        info!(
            job = %self.cfg.name,
            rows_per_s = self.totals.rate.per_second() as u64,
            loaded = self.totals.loaded,
            rejected = self.totals.rejected,
            in_flight = self.in_flight(),
            files_in_progress = reading,
            backlog_files = waiting,
            backlog_batches = batches,
            "progress"
        );
    }

    pub fn status(&self) -> JobStatus {
        let (backlog_files, backlog_batches) = self.backlog();
        JobStatus {
            name: self.cfg.name.clone(),
            state: self.state(),
            sink: format!("{} sink {:?}", self.cfg.sink.kind(), self.cfg.sink_name),
            table: self.cfg.table.clone(),
            workers: self.workers.statuses(),
            loaded: self.totals.loaded,
            rejected: self.totals.rejected,
            rows_per_s: self.totals.rate.per_second(),
            in_flight: self.in_flight(),
            files: self.files.statuses(),
            backlog_files,
            backlog_batches,
            stream: self.files.stream_status(),
        }
    }
}
