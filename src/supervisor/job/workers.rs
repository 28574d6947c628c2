//! A job's worker processes: starting them when their restart time comes,
//! what happens when one dies (its batches go back to the queue, the one it
//! was loading is blamed and quarantined after `max_batch_attempts`),
//! stopping them, reaping them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use tracing::{error, info, warn};

use crate::process::ExitCause;
use crate::protocol::{Batch, ToWorker, Verdict, WorkerSetup};

use super::JobRun;
use super::slot::SlotState;
use crate::supervisor::event::FileId;

impl JobRun {
    /// Starts the workers whose restart time has come.
    pub fn tick(&mut self, now: Instant) {
        if !self.active() {
            return;
        }
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.state != SlotState::Down || slot.restart_at.is_none_or(|t| t > now) {
                continue;
            }
            let setup = self.setup(slot.number);
            let slot = &mut self.slots[i];
            match slot.start(&self.ctx.exe, setup, self.index, i, &self.ctx.events) {
                Ok(pid) => info!(job = %self.cfg.name, worker = slot.number, pid, "worker started"),
                Err(e) => {
                    error!(job = %self.cfg.name, worker = slot.number, "{e}");
                    slot.died();
                }
            }
        }
    }

    pub(super) fn setup(&self, worker: u32) -> WorkerSetup {
        WorkerSetup {
            job: self.cfg.name.clone(),
            worker,
            sink_name: self.cfg.sink_name.clone(),
            sink: self.cfg.sink.clone(),
            table: self.cfg.table.clone(),
            create_table: self.cfg.create_table,
            mode: self.cfg.mode.clone(),
            format: self.cfg.format.clone(),
            log: self.ctx.log.clone(),
        }
    }

    pub fn worker_gone(&mut self, slot: usize, generation: u64) {
        let active = self.active();
        let s = &mut self.slots[slot];
        if s.generation != generation || !s.is_alive() {
            return;
        }
        let expected = s.state == SlotState::Stopping;
        let (pid, number) = (s.pid, s.number);
        let (in_flight, queries) = s.died();
        if expected || !active {
            s.retire();
            s.failures = 0;
        }
        let restart = s.restart_at;
        if !expected {
            self.restarts += 1;
            self.ctx.metrics.worker_restart(&self.cfg.name);
        }
        for (_, b) in &in_flight {
            self.sent_at.remove(&b.id);
        }
        if !expected || !in_flight.is_empty() {
            warn!(
                job = %self.cfg.name, worker = number, pid = pid.unwrap_or(0),
                in_flight = in_flight.len(), restart_in = ?restart.map(|t| t.saturating_duration_since(Instant::now())),
                "worker died; its batches go to other workers"
            );
        }
        self.requeue(in_flight);
        for id in queries.into_iter().rev() {
            if let Some(q) = self.queries_sent.remove(&id) {
                self.queries_waiting.push_front((id, q));
            }
        }
        self.dispatch();
    }

    /// Puts a dead worker's batches back at the front of the queue. The oldest
    /// one was being loaded when it died: it is blamed, and quarantined once it
    /// has been fatal `max_batch_attempts` times.
    pub(super) fn requeue(&mut self, mut in_flight: VecDeque<(FileId, Arc<Batch>)>) {
        if let Some((_, b)) = in_flight.front_mut() {
            let n = self.attempts.entry(b.id).or_insert(0);
            *n += 1;
            if *n >= self.cfg.max_batch_attempts && b.verdict.is_none() {
                error!(
                    job = %self.cfg.name, file = %b.file, first_line = b.first_line, records = b.records,
                    "quarantining a batch: {n} workers died while loading it"
                );
                let mut q = (**b).clone();
                q.verdict = Some(Verdict {
                    code: "quarantined".into(),
                    reason: format!("{n} worker processes died while loading these records"),
                });
                *b = Arc::new(q);
            }
        }
        while let Some(b) = in_flight.pop_back() {
            self.pending.push_front(b);
        }
    }

    pub fn shut_down_workers(&mut self) {
        for s in &mut self.slots {
            s.shut_down();
            s.retire();
        }
    }

    /// Ends the workers with `signal` (SIGTERM: they die at once, their
    /// transaction rolls back) and restarts none.
    pub fn kill_workers(&mut self, signal: nix::sys::signal::Signal) {
        for s in &mut self.slots {
            if let Some(pid) = s.pid {
                crate::process::kill(pid, signal);
            }
            s.retire();
        }
    }

    pub fn reopen_logs(&self) {
        for s in &self.slots {
            s.send(ToWorker::ReopenLog);
        }
    }

    /// Worker processes not yet reaped.
    pub fn workers_alive(&self) -> usize {
        self.slots.iter().map(|s| s.processes()).sum()
    }

    /// Logs how a reaped worker ended; true if it was one of ours.
    pub fn reaped(&mut self, pid: u32, cause: ExitCause) -> bool {
        let Some(s) = self.slots.iter_mut().find(|s| s.unreaped.contains(&pid)) else {
            return false;
        };
        s.reaped(pid);
        match cause {
            ExitCause::Code(0) => {
                info!(job = %self.cfg.name, worker = s.number, pid, "worker exited")
            }
            cause => warn!(job = %self.cfg.name, worker = s.number, pid, "worker ended: {cause}"),
        }
        true
    }
}
