//! What a job tells operators: its status report, its progress line, its
//! metrics levels, and whether its workers are all up (for READY=1).

use std::time::Instant;

use tracing::info;

use crate::status::{FileStatus, JobStatus, WorkerStatus};

use super::JobRun;
use super::slot::SlotState;

impl JobRun {
    /// Files found and not started; batches cut and not yet sent.
    pub fn backlog(&self) -> (usize, usize) {
        let files = self.files.values().filter(|f| f.start.is_none()).count();
        (files, self.pending.len() + self.batches.len())
    }

    /// Every worker has its pool open (or the job has stopped for good).
    pub fn all_ready(&self) -> bool {
        self.failed.is_some() || self.slots.iter().all(|s| s.state == SlotState::Ready)
    }

    pub fn workers_ready(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Ready)
            .count()
    }

    pub fn state(&self) -> String {
        match (&self.failed, self.draining) {
            (Some((class, msg)), _) => format!("stopped ({class} error): {msg}"),
            (None, true) => "draining".into(),
            (None, false) => "running".into(),
        }
    }

    /// Samples the rate and updates the metrics levels; called every tick.
    pub fn observe(&mut self, now: Instant) {
        self.rate.sample(now, self.loaded_total);
        let (files, batches) = self.backlog();
        self.ctx_metrics()
            .levels(&self.cfg.name, self.in_flight(), files, batches);
    }

    pub fn progress(&self) {
        let (files, batches) = self.backlog();
        info!(
            job = %self.cfg.name,
            rows_per_s = self.rate.per_second() as u64,
            loaded = self.loaded_total,
            rejected = self.rejected_total,
            in_flight = self.in_flight(),
            files_in_progress = self.files.len() - files,
            backlog_files = files,
            backlog_batches = batches,
            "progress"
        );
    }

    pub fn status(&self) -> JobStatus {
        let (backlog_files, backlog_batches) = self.backlog();
        let now = Instant::now();
        JobStatus {
            name: self.cfg.name.clone(),
            state: self.state(),
            sink: format!("{} sink {:?}", self.cfg.sink.kind(), self.cfg.sink_name),
            table: self.cfg.table.clone(),
            workers: self
                .slots
                .iter()
                .map(|s| WorkerStatus {
                    slot: s.number,
                    pid: s.pid,
                    state: match s.state {
                        SlotState::Down => "down",
                        SlotState::Starting => "starting",
                        SlotState::Ready => "ready",
                        SlotState::Stopping => "stopping",
                    }
                    .into(),
                    uptime_s: if s.pid.is_some() {
                        now.duration_since(s.started).as_secs_f64()
                    } else {
                        0.0
                    },
                    batches: s.batches_done,
                    in_flight: s.in_flight.len(),
                })
                .collect(),
            loaded: self.loaded_total,
            rejected: self.rejected_total,
            rows_per_s: self.rate.per_second(),
            in_flight: self.in_flight(),
            files: self
                .files
                .values()
                .filter(|f| f.start.is_some())
                .map(|f| FileStatus {
                    file: f.name.clone(),
                    bytes_done: f.bytes_done,
                    size: f
                        .path()
                        .and_then(|p| std::fs::metadata(p).ok())
                        .map(|m| m.len()),
                    loaded: f.loaded,
                    rejected: f.rejected,
                })
                .collect(),
            backlog_files,
            backlog_batches,
        }
    }
}
