//! One job at run time, reacting to the events the loop routes to it. Its
//! parts, each changed only through its own methods:
//!
//! ```text
//!  intake    Intake    its source and cutter thread (supervisor/intake)
//!  files     Files     the inputs in progress (supervisor/files)
//!  queue     Queue     batches and ledger questions waiting for a worker
//!  keys      Keys      which input reads which ledger key (keys.rs)
//!  workers   Workers   the worker slots, blame and quarantine
//!  totals    Totals    what it did since the daemon started (totals.rs)
//! ```
//!
//! Owns dispatch (credit-based: at most `in_flight` batches per worker),
//! redelivery of a dead worker's batches, the end of each input, and the
//! job's stop on a configuration error, drain and the run's end (`stop.rs`).

mod keys;
mod queue;
mod slot;
mod stop;
mod totals;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use tracing::{debug, error, warn};

use crate::config::Job;
use crate::logging::LogSetup;
use crate::process::ExitCause;
use crate::protocol::{Batch, BatchDone, ErrorClass, FromWorker, WorkerSetup};

use super::event::{CutEvent, Event, FileId};
use super::files::{End, Ended, FileReport, Files};
use super::intake::{Accept, Found, Input, Intake, Settle, StreamPart};
use super::ops::metrics::Metrics;
use keys::Keys;
use queue::Queue;
use totals::Totals;
use workers::Workers;

/// What a job needs from the supervisor.
#[derive(Clone)]
pub struct JobContext {
    pub exe: PathBuf,
    pub metrics: Arc<Metrics>,
    pub log: LogSetup,
    pub events: Sender<Event>,
    pub once: bool,
    pub rescan: std::time::Duration,
    /// Where standard input is copied before it is read.
    pub spool: PathBuf,
    /// Handed to every worker (`WorkerSetup::give_up_after`).
    pub give_up_after: Option<std::time::Duration>,
}

pub struct JobRun {
    index: usize,
    cfg: Arc<Job>,
    ctx: Arc<JobContext>,
    intake: Intake,
    files: Files,
    queue: Queue,
    keys: Keys,
    workers: Workers,
    totals: Totals,
    /// Where inputs' ends run, off the loop; `None` once closed.
    ender: Option<(Sender<End>, std::thread::JoinHandle<()>)>,
    /// Ends sent and not yet back.
    ending: usize,
    /// Inputs that ended, for the run's report.
    reports: Vec<FileReport>,
    failed: Option<(ErrorClass, String)>,
    /// What kept it from doing everything without stopping it (a source
    /// that cannot be read), for the run's report.
    problems: Vec<String>,
    draining: bool,
}

impl JobRun {
    pub fn new(index: usize, cfg: Job, ctx: Arc<JobContext>) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        ctx.metrics.add_job(&cfg.name);
        let depth = (cfg.workers * cfg.in_flight) as usize;
        let intake = Intake::start(
            index,
            cfg.clone(),
            ctx.events.clone(),
            depth,
            (ctx.once, ctx.rescan, ctx.spool.clone()),
        )?;
        let ender = super::files::spawn_ender(index, ctx.events.clone())?;
        Ok(JobRun {
            index,
            ender: Some(ender),
            ending: 0,
            workers: Workers::new(&cfg.name, cfg.workers, cfg.max_batch_attempts),
            cfg,
            ctx,
            intake,
            files: Files::default(),
            queue: Queue::default(),
            keys: Keys::default(),
            totals: Totals::default(),
            reports: Vec::new(),
            failed: None,
            problems: Vec::new(),
            draining: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Job {
        &self.cfg
    }

    /// Stopped by an error: its class and message.
    pub fn failure(&self) -> Option<&(ErrorClass, String)> {
        self.failed.as_ref()
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    fn active(&self) -> bool {
        self.failed.is_none() && !self.draining
    }

    /// What kept it from doing everything, since the last call.
    pub fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    /// The reports of inputs that ended since the last call.
    pub fn take_reports(&mut self) -> Vec<FileReport> {
        std::mem::take(&mut self.reports)
    }

    /// Where the cutter's batches arrive (for the loop's select).
    pub fn batch_channel(&self) -> &crossbeam_channel::Receiver<(FileId, Batch)> {
        self.intake.batches()
    }

    /// Starts the workers whose restart time has come.
    pub fn tick(&mut self, now: Instant) {
        if !self.active() {
            return;
        }
        let (cfg, ctx) = (&self.cfg, &self.ctx);
        let setup = |number| WorkerSetup {
            give_up_after: ctx.give_up_after,
            ..WorkerSetup::for_job(cfg, number, ctx.log.clone())
        };
        self.workers
            .start_due(now, (&ctx.exe, self.index, &ctx.events), setup);
    }

    /// A source announced something.
    pub fn found(&mut self, found: Found) {
        match found {
            Found::Exhausted => self.intake.set_exhausted(),
            Found::Unreadable(reason) => self.problems.push(reason),
            Found::Input(input) => self.take(input),
        }
    }

    fn take(&mut self, input: Input) {
        // A followed file's source tells files apart by inode, not path.
        let busy = !input.is_followed() && input.path().is_some_and(|p| self.files.reading(p));
        if !self.active() || busy {
            return;
        }
        match self.intake.accept(&input) {
            Accept::Skip => {}
            Accept::Take => {
                let (id, stop) = self.files.open(input.clone());
                if !self.intake.cut(id, input, stop) {
                    self.files.forget(id);
                }
            }
            Accept::Changed(kept) => {
                let Some(path) = input.path() else { return };
                match End::of_kept(&self.cfg, path, kept, self.intake.disposal()) {
                    Some(end) => self.end(end),
                    // Another file at the path: new.
                    None => self
                        .intake
                        .settled(&input, &super::intake::Fate::Unfinished, None),
                }
            }
        }
    }

    /// Runs `end` off the loop; `ended` follows.
    fn end(&mut self, end: End) {
        let end = match &self.ender {
            Some((tx, _)) => match tx.send(end) {
                Ok(()) => {
                    self.ending += 1;
                    return;
                }
                Err(e) => e.0,
            },
            None => end,
        };
        // The loop is ending: done here.
        self.ended(Box::new(end.run()));
    }

    /// An input's end is done: its source hears of it, the run's report too.
    pub fn ended(&mut self, ended: Box<Ended>) {
        let Ended {
            report,
            input,
            fate,
            kept,
            retake,
        } = *ended;
        self.intake.settled(&input, &fate, kept);
        self.reports.push(report);
        if retake {
            self.take(input);
        }
    }

    /// An end sent off the loop came back.
    pub fn end_returned(&mut self, ended: Box<Ended>) {
        self.ending = self.ending.saturating_sub(1);
        self.ended(ended);
    }

    /// Ends sent off the loop and not back yet.
    pub fn ending(&self) -> usize {
        self.ending
    }

    /// Waits for the ends already sent off the loop; later ones run inline.
    pub fn close_ender(&mut self) {
        if let Some((tx, thread)) = self.ender.take() {
            drop(tx);
            let _ = thread.join();
        }
    }

    /// Whether the loop should take batches from the cutter for this job now.
    pub fn wants_batches(&self) -> bool {
        self.active()
            && self.queue.batches() == 0
            && self
                .workers
                .least_loaded(Some(self.cfg.in_flight))
                .is_some()
    }

    pub fn batch_arrived(&mut self, file: FileId, batch: Batch) {
        self.queue.push(file, batch);
        self.dispatch();
    }

    /// Hands waiting ledger questions and batches to ready workers.
    pub fn dispatch(&mut self) {
        if !self.active() {
            return;
        }
        while let Some((id, q)) = self.queue.next_question() {
            let Some(i) = self.workers.least_loaded(None) else {
                self.queue.unsent(id, q);
                break;
            };
            self.workers.ask(i, id, &q.source);
            self.queue.sent(id, q);
        }
        while let Some(i) = self.workers.least_loaded(Some(self.cfg.in_flight)) {
            let (file, batch) = match self.queue.pop() {
                Some(b) => b,
                None => match self.intake.batches().try_recv() {
                    Ok((f, b)) => (f, Arc::new(b)),
                    Err(_) => break,
                },
            };
            if !self.files.wants(file) {
                self.dropped(file, 1);
                continue;
            }
            self.workers.send_batch(i, file, batch);
        }
    }

    pub fn worker_message(&mut self, slot: usize, generation: u64, msg: FromWorker) {
        if !self.workers.is_current(slot, generation) {
            return;
        }
        match msg {
            FromWorker::Ready { pid } => self.workers.ready(slot, pid),
            FromWorker::Done(done) => self.batch_done(slot, done),
            FromWorker::Refused { id, reason } => self.batch_refused(slot, id, reason),
            FromWorker::LedgerPart { query, ranges } => self.queue.part(query, ranges),
            FromWorker::Ledger { query, ranges } => {
                self.workers.answered(slot, query);
                self.queue.answer(query, ranges);
            }
            FromWorker::Fatal { class, message } => self.fail(class, message),
            // Only `check --connect` and `ingestd ledger` ask these.
            FromWorker::Checked { .. }
            | FromWorker::LedgerListPart { .. }
            | FromWorker::LedgerList { .. }
            | FromWorker::Forgotten { .. } => {}
        }
        self.dispatch();
    }

    fn batch_done(&mut self, slot: usize, done: BatchDone) {
        let Some(answered) = self.workers.batch_done(slot, done.id) else {
            warn!(job = %self.cfg.name, batch = done.id, "answer for a batch that is not in flight");
            return;
        };
        let (file, batch) = (answered.file, answered.batch);
        // Found committed, and not by a worker of ours that died with it:
        // another run loaded it (two loads of one file at once).
        let elsewhere = done.already && !answered.redelivered;
        let (loaded, rejected) = match elsewhere {
            true => (0, 0),
            false => (
                done.loaded,
                done.rejects.iter().map(|r| u64::from(r.records)).sum(),
            ),
        };
        self.totals
            .batch_done(batch.end - batch.start, loaded, rejected);
        let metrics = &self.ctx.metrics;
        metrics.batch_done(&self.cfg.name, answered.seconds, loaded, rejected);
        let Some(f) = self.files.get_mut(file) else {
            return;
        };
        if let (Some(link), Some(msgs)) = (f.stream(), &batch.stream) {
            let terminated = batch
                .verdict
                .as_ref()
                .is_some_and(|v| v.code == "quarantined");
            let part = StreamPart::of(msgs);
            let settle = match terminated {
                true => Settle::Terminated(part),
                false => Settle::Done(part),
            };
            let _ = link.settle.send(settle);
            if !done.held.is_empty() {
                let held: u64 = done.held.iter().map(|(a, b)| b - a).sum();
                debug!(job = %self.cfg.name, batch = batch.id, held, "messages found committed already (redelivered): acked, not loaded again");
            }
        }
        if let Err(e) = f.batch_done(&self.cfg, &batch, done.loaded, &done.rejects, elsewhere) {
            error!(job = %self.cfg.name, file = %f.name(), "cannot write the reject files ({e}): the file is kept where it is until they are written");
        }
        if let Some(reason) = f.stop_if_over(self.cfg.max_errors) {
            warn!(job = %self.cfg.name, file = %f.name(), "stopping the file: {reason}");
            f.dropped(self.queue.drop_file(file));
        }
        self.check_complete(file);
    }

    /// A worker refused a batch for its file's header: that file is set
    /// aside (its other batches are not sent, those in flight come back
    /// refused too) and the job goes on with the next.
    fn batch_refused(&mut self, slot: usize, id: u64, reason: String) {
        let Some(answered) = self.workers.batch_done(slot, id) else {
            warn!(job = %self.cfg.name, batch = id, "refusal of a batch that is not in flight");
            return;
        };
        let file = answered.file;
        let Some(f) = self.files.get_mut(file) else {
            return;
        };
        if f.refused(reason.clone()) {
            warn!(job = %self.cfg.name, file = %f.name(), "stopping the file: {reason}");
            f.dropped(self.queue.drop_file(file));
        }
        self.check_complete(file);
    }

    /// `batches` of `file` that will not be sent.
    fn dropped(&mut self, file: FileId, batches: u64) {
        if let Some(f) = self.files.get_mut(file) {
            f.dropped(batches);
        }
        self.check_complete(file);
    }

    /// Ends `file` if every batch of it has an answer.
    fn check_complete(&mut self, file: FileId) {
        if let Some(f) = self.files.take_complete(file) {
            let end = f.into_end(&self.cfg, None, self.intake.disposal());
            self.end(end);
            let now = self.keys.release(file);
            let asked = !now.is_empty();
            for (source, reply) in now {
                self.queue.ask(source, reply);
            }
            // Nothing else may come to send them (the job is quiet).
            if asked {
                self.dispatch();
            }
        }
    }

    pub fn cut_event(&mut self, file: FileId, ev: CutEvent) {
        match ev {
            CutEvent::NeedLedger { source, reply } => match self.keys.ask(file, source, reply) {
                Ok((source, reply)) => {
                    self.queue.ask(source, reply);
                    self.dispatch();
                }
                Err(holder) => self.files.same_key(&self.cfg.name, file, holder),
            },
            CutEvent::Started(start) => {
                if let Some(f) = self.files.get_mut(file)
                    && let Err(e) = f.started(&self.cfg, start)
                {
                    error!(job = %self.cfg.name, file = %f.name(), "cannot write the reject files ({e}): the file is kept where it is until they are written");
                }
            }
            CutEvent::Finished {
                batches,
                records,
                stopped,
            } => {
                if let Some(f) = self.files.get_mut(file) {
                    f.cut(batches);
                    debug!(job = %self.cfg.name, file = %f.name(), batches, records, stopped, "file cut");
                }
                self.check_complete(file);
            }
            CutEvent::Failed {
                reason,
                set_aside,
                batches,
                config,
            } => {
                if let Some(f) = self.files.get_mut(file) {
                    error!(job = %self.cfg.name, file = %f.name(), "{reason}");
                    f.cut_failed(reason.clone(), set_aside, batches);
                }
                self.check_complete(file);
                if config {
                    self.fail(ErrorClass::Config, reason);
                }
            }
        }
    }

    /// The pipe of a worker ended: its batches and questions go to others.
    pub fn worker_gone(&mut self, slot: usize, generation: u64) {
        let restart = self.active();
        let Some(orphans) = self.workers.gone(slot, generation, restart) else {
            return;
        };
        if orphans.unexpected {
            self.ctx.metrics.worker_restart(&self.cfg.name);
        }
        if let Some(f) = orphans.split.and_then(|f| self.files.get_mut(f)) {
            f.split();
        }
        self.queue.put_back(orphans.batches);
        self.queue.ask_again(orphans.questions);
        self.dispatch();
    }

    /// Logs how a reaped process ended; true if it was one of this job's.
    pub fn reaped(&mut self, pid: u32, cause: ExitCause) -> bool {
        self.workers.reaped(pid, cause)
    }
}
