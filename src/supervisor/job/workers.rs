//! A job's worker processes: the slots, starting them when their restart
//! time comes, choosing the least loaded one, what happens when one dies (its
//! batches go back, the one it was loading is blamed and quarantined after
//! `max_batch_attempts`, or for a stream's batch of several messages cut in
//! halves until the one message is found), stopping, killing and reaping them.
//!
//! Owns the slots and the blame; what to send is the job's choice.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use tracing::{error, info, warn};

use crate::process::ExitCause;
use crate::protocol::{Batch, ToWorker, Verdict, WorkerSetup};
use crate::status::WorkerStatus;
use crate::supervisor::event::{Event, FileId};
use crate::supervisor::intake::next_id;

use super::slot::{Slot, SlotState};

/// What a dead worker had: to be handed to the others.
pub struct Orphans {
    /// Oldest first; the first may now carry a quarantine verdict.
    pub batches: VecDeque<(FileId, Arc<Batch>)>,
    pub questions: Vec<u64>,
    /// Whether the process ended unasked (a crash, a kill).
    pub unexpected: bool,
    /// The first batch was cut in two (of this input): one more to answer.
    pub split: Option<FileId>,
}

/// A batch's answer, as the slots saw it.
pub struct Answered {
    pub file: FileId,
    pub batch: Arc<Batch>,
    /// Since it was sent.
    pub seconds: f64,
    /// It was in flight on a worker that died: that worker may have
    /// committed it, so the ledger holding it is no sign of another run.
    pub redelivered: bool,
}

pub struct Workers {
    job: String,
    slots: Vec<Slot>,
    /// Worker deaths per batch id, for quarantine.
    attempts: HashMap<u64, u32>,
    /// Batches that were in flight on a worker that died.
    redelivered: HashSet<u64>,
    max_attempts: u32,
}

impl Workers {
    pub fn new(job: &str, count: u32, max_attempts: u32) -> Self {
        Workers {
            job: job.to_string(),
            slots: (1..=count).map(Slot::new).collect(),
            attempts: HashMap::new(),
            redelivered: HashSet::new(),
            max_attempts,
        }
    }

    /// Starts the workers whose restart time has come; `setup(number)` is
    /// what each gets as its first frame.
    pub fn start_due(
        &mut self,
        now: Instant,
        (exe, job_index, events): (&Path, usize, &Sender<Event>),
        setup: impl Fn(u32) -> WorkerSetup,
    ) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if !slot.due(now) {
                continue;
            }
            match slot.start(exe, setup(slot.number()), job_index, i, events) {
                Ok(pid) => info!(job = %self.job, worker = slot.number(), pid, "worker started"),
                Err(e) => {
                    error!(job = %self.job, worker = slot.number(), "{e}");
                    slot.died(false);
                }
            }
        }
    }

    /// Whether a message of `generation` from `slot` is from its current process.
    pub fn is_current(&self, slot: usize, generation: u64) -> bool {
        self.slots[slot].is(generation)
    }

    pub fn ready(&mut self, slot: usize, pid: u32) {
        let s = &mut self.slots[slot];
        s.ready();
        info!(job = %self.job, worker = s.number(), pid, "worker ready");
    }

    /// The ready slot with the fewest batches in flight, among those with
    /// credit left when `credit` is given.
    pub fn least_loaded(&self, credit: Option<u32>) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| match credit {
                Some(c) => self.slots[i].has_credit(c),
                None => self.slots[i].state() == SlotState::Ready,
            })
            .min_by_key(|&i| self.slots[i].in_flight())
    }

    pub fn send_batch(&mut self, slot: usize, file: FileId, batch: Arc<Batch>) {
        self.slots[slot].send_batch(file, batch);
    }

    pub fn ask(&mut self, slot: usize, id: u64, source: &str) {
        self.slots[slot].ask(id, source);
    }

    pub fn answered(&mut self, slot: usize, id: u64) {
        self.slots[slot].answered(id);
    }

    /// Batch `id` was answered by `slot`: see `Slot::batch_done`.
    pub fn batch_done(&mut self, slot: usize, id: u64) -> Option<Answered> {
        let (file, batch, seconds) = self.slots[slot].batch_done(id)?;
        self.attempts.remove(&id);
        Some(Answered {
            file,
            batch,
            seconds,
            redelivered: self.redelivered.remove(&id),
        })
    }

    /// The pipe of `slot`'s process `generation` ended. `restart`: the job
    /// still runs, so a process that ended unasked is started again. The
    /// batch it was loading (the oldest) is blamed, and quarantined once it
    /// has been fatal `max_attempts` times.
    pub fn gone(&mut self, slot: usize, generation: u64, restart: bool) -> Option<Orphans> {
        let s = &mut self.slots[slot];
        if !s.is(generation) || !s.is_alive() {
            return None;
        }
        let expected = s.stopping();
        let (pid, number) = (s.pid(), s.number());
        let (mut batches, questions) = s.died(expected || !restart);
        if !expected || !batches.is_empty() {
            let restart_in = s
                .restart_at()
                .map(|t| t.saturating_duration_since(Instant::now()));
            warn!(
                job = %self.job, worker = number, pid = pid.unwrap_or(0),
                in_flight = batches.len(), restart_in = ?restart_in,
                "worker died; its batches go to other workers"
            );
        }
        self.redelivered.extend(batches.iter().map(|(_, b)| b.id));
        let mut split = None;
        if let Some((file, b)) = batches.front_mut()
            && let Some(halves) = self.blame(b)
        {
            let file = *file;
            batches.pop_front();
            for h in halves.into_iter().rev() {
                self.redelivered.insert(h.id);
                batches.push_front((file, Arc::new(h)));
            }
            split = Some(file);
        }
        Some(Orphans {
            batches,
            questions,
            unexpected: !expected,
            split,
        })
    }

    /// Counts a worker death against `b`; once it has been fatal
    /// `max_attempts` times, a stream's batch of several messages is cut in
    /// halves (returned, each with attempts of its own), anything else is
    /// quarantined.
    fn blame(&mut self, b: &mut Arc<Batch>) -> Option<[Batch; 2]> {
        let n = self.attempts.entry(b.id).or_insert(0);
        *n += 1;
        if *n < self.max_attempts || b.verdict.is_some() {
            return None;
        }
        let n = *n;
        if let Some(halves) = b.halves([next_id(), next_id()]) {
            self.attempts.remove(&b.id);
            warn!(
                job = %self.job, stream = %b.file, first = b.start, records = b.records,
                "{n} workers died while loading a batch: its halves are loaded apart, to find the message that kills them"
            );
            return Some(halves);
        }
        error!(
            job = %self.job, file = %b.file, first_line = b.first_line, records = b.records,
            "quarantining a batch: {n} workers died while loading it"
        );
        let mut q = (**b).clone();
        q.verdict = Some(Verdict {
            code: "quarantined".into(),
            reason: format!("{n} worker processes died while loading these records"),
        });
        *b = Arc::new(q);
        None
    }

    /// Asks every worker to finish what it has and exit; none is restarted.
    pub fn shut_down(&mut self) {
        for s in &mut self.slots {
            s.shut_down();
            s.retire();
        }
    }

    /// Ends the workers with `signal` (SIGTERM: they die at once, their
    /// transaction rolls back) and restarts none.
    pub fn kill(&mut self, signal: nix::sys::signal::Signal) {
        for s in &mut self.slots {
            if let Some(pid) = s.pid() {
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

    /// Logs how a reaped process ended; true if it was one of ours.
    pub fn reaped(&mut self, pid: u32, cause: ExitCause) -> bool {
        let Some(s) = self.slots.iter_mut().find(|s| s.owns(pid)) else {
            return false;
        };
        s.reaped(pid);
        match cause {
            ExitCause::Code(0) => info!(job = %self.job, worker = s.number(), pid, "worker exited"),
            cause => warn!(job = %self.job, worker = s.number(), pid, "worker ended: {cause}"),
        }
        true
    }

    /// Processes not yet reaped (live or exiting).
    pub fn alive(&self) -> usize {
        self.slots.iter().map(Slot::processes).sum()
    }

    pub fn in_flight(&self) -> usize {
        self.slots.iter().map(Slot::in_flight).sum()
    }

    pub fn count(&self) -> usize {
        self.slots.len()
    }

    pub fn ready_count(&self) -> usize {
        let ready = |s: &&Slot| s.state() == SlotState::Ready;
        self.slots.iter().filter(ready).count()
    }

    pub fn statuses(&self) -> Vec<WorkerStatus> {
        let now = Instant::now();
        self.slots.iter().map(|s| s.status(now)).collect()
    }
}
