//! One job at run time: its worker slots, the batches waiting for a worker,
//! the files in progress, and the ledger questions of its cutter. Reacts to
//! the events the loop routes to it.
//!
//! Owns dispatch (credit-based: at most `in_flight` batches per worker),
//! redelivery of a dead worker's batches, quarantine of batches that kill
//! workers, and the job's stop on a configuration error.

mod report;
mod slot;
mod workers;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use tracing::{error, info, warn};

use super::event::{CutEvent, Event, FileId};
use super::files::{FileReport, FileState};
use super::intake::dir::{self, DirEvent, DirWatch};
use super::intake::{Cutter, FileFingerprint, FileTask, Input};
use super::ops::metrics::Metrics;
use super::ops::rate::Rate;
use crate::config::{Job, Source};
use crate::logging::LogSetup;
use crate::protocol::{Batch, BatchDone, ErrorClass, FromWorker, LedgerRange, ToWorker};
use slot::{Slot, SlotState};

/// What a job needs from the supervisor.
#[derive(Clone)]
pub struct JobContext {
    pub exe: PathBuf,
    pub metrics: Arc<Metrics>,
    pub log: LogSetup,
    pub events: Sender<Event>,
    pub once: bool,
    pub rescan: std::time::Duration,
}

pub(super) struct Query {
    source: String,
    reply: Sender<Vec<LedgerRange>>,
}

pub struct JobRun {
    pub index: usize,
    pub cfg: Arc<Job>,
    pub(super) ctx: Arc<JobContext>,
    pub slots: Vec<Slot>,
    /// Batches waiting for a worker: redeliveries first, then the cutter's.
    pub(super) pending: VecDeque<(FileId, Arc<Batch>)>,
    pub batches: Receiver<(FileId, Batch)>,
    tasks: Option<Sender<FileTask>>,
    pub(super) files: BTreeMap<FileId, FileState>,
    next_file: FileId,
    /// Files taken and kept in place: a rescan that finds one unchanged skips it.
    known: HashMap<PathBuf, FileFingerprint>,
    pub(super) queries_waiting: VecDeque<(u64, Query)>,
    pub(super) queries_sent: HashMap<u64, Query>,
    next_query: u64,
    /// Worker deaths per batch id, for quarantine.
    pub(super) attempts: HashMap<u64, u32>,
    pub failed: Option<(ErrorClass, String)>,
    /// No more files will come (run --once, load).
    pub source_done: bool,
    pub draining: bool,
    watch: Option<DirWatch>,
    pub reports: Vec<FileReport>,
    pub bytes_done: u64,
    /// Since the daemon started (for status, progress and metrics).
    pub loaded_total: u64,
    pub rejected_total: u64,
    pub restarts: u64,
    /// When each batch in flight was sent, for its latency.
    pub(super) sent_at: HashMap<u64, Instant>,
    pub(super) rate: Rate,
}

impl JobRun {
    pub fn new(index: usize, cfg: Job, ctx: Arc<JobContext>) -> std::io::Result<Self> {
        let cfg = Arc::new(cfg);
        ctx.metrics.add_job(&cfg.name);
        let depth = (cfg.workers * cfg.in_flight) as usize;
        let (batch_tx, batch_rx) = bounded(depth.max(1));
        let (task_tx, task_rx) = unbounded();
        Cutter {
            job_index: index,
            job: cfg.clone(),
            events: ctx.events.clone(),
            batches: batch_tx,
        }
        .spawn(task_rx)?;
        let mut job = JobRun {
            index,
            slots: (1..=cfg.workers).map(Slot::new).collect(),
            cfg,
            ctx,
            pending: VecDeque::new(),
            batches: batch_rx,
            tasks: Some(task_tx),
            files: BTreeMap::new(),
            next_file: 1,
            known: HashMap::new(),
            queries_waiting: VecDeque::new(),
            queries_sent: HashMap::new(),
            next_query: 1,
            attempts: HashMap::new(),
            failed: None,
            source_done: false,
            draining: false,
            watch: None,
            reports: Vec::new(),
            bytes_done: 0,
            loaded_total: 0,
            rejected_total: 0,
            restarts: 0,
            sent_at: HashMap::new(),
            rate: Rate::default(),
        };
        job.start_source()?;
        Ok(job)
    }

    fn start_source(&mut self) -> std::io::Result<()> {
        match &self.cfg.source {
            Source::Dir(d) => {
                let (events, job) = (self.ctx.events.clone(), self.index);
                let deliver = move |ev| {
                    let ev = match ev {
                        DirEvent::Found(path) => Event::FileFound { job, path },
                        DirEvent::ScanDone => Event::ScanDone { job },
                    };
                    events.send(ev).is_ok()
                };
                self.watch = Some(dir::watch(d, self.ctx.rescan, self.ctx.once, deliver)?);
            }
            Source::Files(list) => {
                for p in list.clone() {
                    self.take(Input::File(p));
                }
                self.source_done = true;
            }
            Source::Stdin => {
                self.take(Input::Stdin);
                self.source_done = true;
            }
        }
        Ok(())
    }

    pub(super) fn ctx_metrics(&self) -> &Metrics {
        &self.ctx.metrics
    }

    pub(super) fn active(&self) -> bool {
        self.failed.is_none() && !self.draining
    }

    fn take(&mut self, input: Input) {
        let Some(tasks) = &self.tasks else { return };
        let id = self.next_file;
        self.next_file += 1;
        let state = FileState::new(input.clone());
        let task = FileTask {
            file: id,
            input,
            stop: state.stop.clone(),
        };
        if tasks.send(task).is_ok() {
            self.files.insert(id, state);
        }
    }

    pub fn file_found(&mut self, path: PathBuf) {
        if !self.active() {
            return;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            return;
        };
        let fp = FileFingerprint::of(&meta);
        let busy = self
            .files
            .values()
            .any(|f| f.path() == Some(path.as_path()));
        if busy || self.known.get(&path) == Some(&fp) {
            return;
        }
        self.known.insert(path.clone(), fp);
        self.take(Input::File(path));
    }

    pub fn scan_done(&mut self) {
        if self.ctx.once {
            self.source_done = true;
        }
    }

    /// Whether the loop should take batches from the cutter for this job now.
    pub fn wants_batches(&self) -> bool {
        self.active()
            && self.pending.is_empty()
            && self.slots.iter().any(|s| s.has_credit(self.cfg.in_flight))
    }

    pub fn batch_arrived(&mut self, file: FileId, batch: Batch) {
        self.pending.push_back((file, Arc::new(batch)));
        self.dispatch();
    }

    /// Hands waiting batches and ledger questions to ready workers.
    pub fn dispatch(&mut self) {
        if !self.active() {
            return;
        }
        while let Some(q) = self.queries_waiting.pop_front() {
            let Some(i) = self.least_loaded(|s| s.state == SlotState::Ready) else {
                self.queries_waiting.push_front(q);
                break;
            };
            let (id, query) = q;
            self.slots[i].send(ToWorker::Ledger {
                query: id,
                source: query.source.clone(),
            });
            self.slots[i].queries.push(id);
            self.queries_sent.insert(id, query);
        }
        let credit = self.cfg.in_flight;
        while let Some(i) = self.least_loaded(|s| s.has_credit(credit)) {
            let next = match self.pending.pop_front() {
                Some(b) => b,
                None => match self.batches.try_recv() {
                    Ok((f, b)) => (f, Arc::new(b)),
                    Err(_) => break,
                },
            };
            if self.files.get(&next.0).is_none_or(|f| f.stopped.is_some()) {
                self.dropped(next.0);
                continue;
            }
            self.slots[i].send(ToWorker::Batch(next.1.clone()));
            self.sent_at.insert(next.1.id, Instant::now());
            self.slots[i].in_flight.push_back(next);
        }
    }

    fn least_loaded(&self, eligible: impl Fn(&Slot) -> bool) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| eligible(&self.slots[i]))
            .min_by_key(|&i| self.slots[i].in_flight.len())
    }

    pub fn worker_message(&mut self, slot: usize, generation: u64, msg: FromWorker) {
        if self.slots[slot].generation != generation {
            return;
        }
        match msg {
            FromWorker::Ready { pid } => {
                let s = &mut self.slots[slot];
                if s.state == SlotState::Starting {
                    s.state = SlotState::Ready;
                }
                info!(job = %self.cfg.name, worker = s.number, pid, "worker ready");
            }
            FromWorker::Done(done) => self.batch_done(slot, done),
            FromWorker::Ledger { query, ranges } => {
                self.slots[slot].queries.retain(|q| *q != query);
                if let Some(q) = self.queries_sent.remove(&query) {
                    let _ = q.reply.send(ranges);
                }
            }
            FromWorker::Fatal { class, message } => self.fail(class, message),
            FromWorker::Checked { .. } => {} // only `check --connect` asks
        }
        self.dispatch();
    }

    fn batch_done(&mut self, slot: usize, done: BatchDone) {
        let s = &mut self.slots[slot];
        let Some(pos) = s.in_flight.iter().position(|(_, b)| b.id == done.id) else {
            warn!(job = %self.cfg.name, batch = done.id, "answer for a batch that is not in flight");
            return;
        };
        let (file, batch) = s.in_flight.remove(pos).expect("position found");
        s.failures = 0;
        s.batches_done += 1;
        self.attempts.remove(&batch.id);
        self.bytes_done += batch.end - batch.start;
        let rejected: u64 = done.rejects.iter().map(|r| u64::from(r.records)).sum();
        self.loaded_total += done.loaded;
        self.rejected_total += rejected;
        let seconds = self
            .sent_at
            .remove(&batch.id)
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.ctx
            .metrics
            .batch_done(&self.cfg.name, seconds, done.loaded, rejected);
        let cfg = self.cfg.clone();
        let Some(f) = self.files.get_mut(&file) else {
            return;
        };
        if let Err(e) = f.batch_done(&cfg, &batch, done.loaded, &done.rejects) {
            error!(job = %cfg.name, file = %f.name, "cannot write reject files: {e}");
        }
        if f.stopped.is_none() && f.total_rejected() > cfg.max_errors {
            let reason = format!(
                "{} records rejected, more than max_errors = {}",
                f.total_rejected(),
                cfg.max_errors
            );
            warn!(job = %cfg.name, file = %f.name, "stopping the file: {reason}");
            f.stopped = Some(reason);
            f.stop.store(true, Ordering::Relaxed);
            let before = self.pending.len();
            self.pending.retain(|(fid, _)| *fid != file);
            let n = (before - self.pending.len()) as u64;
            if let Some(f) = self.files.get_mut(&file) {
                f.handled += n;
            }
        }
        self.check_complete(file);
    }

    /// A batch of a stopped file that will not be sent.
    fn dropped(&mut self, file: FileId) {
        if let Some(f) = self.files.get_mut(&file) {
            f.handled += 1;
        }
        self.check_complete(file);
    }

    fn check_complete(&mut self, file: FileId) {
        if !self.files.get(&file).is_some_and(|f| f.complete()) {
            return;
        }
        let f = self.files.remove(&file).expect("checked");
        let path = f.path().map(|p| p.to_path_buf());
        // A file kept in place stays known, so a rescan does not take it again;
        // any other is gone from the folder, or is to be retried.
        let kept = f.failed.is_none()
            && f.stopped.is_none()
            && matches!(&self.cfg.source, Source::Dir(d) if d.on_done == crate::config::OnDone::Keep);
        let report = f.finish(&self.cfg, None);
        if let (Some(p), false) = (path, kept) {
            self.known.remove(&p);
        }
        self.reports.push(report);
    }

    pub fn cut_event(&mut self, file: FileId, ev: CutEvent) {
        match ev {
            CutEvent::NeedLedger { source, reply } => {
                let id = self.next_query;
                self.next_query += 1;
                self.queries_waiting
                    .push_back((id, Query { source, reply }));
                self.dispatch();
            }
            CutEvent::Started(start) => {
                let cfg = self.cfg.clone();
                if let Some(f) = self.files.get_mut(&file)
                    && let Err(e) = f.started(&cfg, start)
                {
                    error!(job = %cfg.name, file = %f.name, "cannot write reject files: {e}");
                }
            }
            CutEvent::Finished {
                batches,
                records,
                stopped,
            } => {
                if let Some(f) = self.files.get_mut(&file) {
                    f.produced = Some(batches);
                    tracing::debug!(job = %self.cfg.name, file = %f.name, batches, records, stopped, "file cut");
                }
                self.check_complete(file);
            }
            CutEvent::Failed {
                reason,
                set_aside,
                batches,
            } => {
                if let Some(f) = self.files.get_mut(&file) {
                    error!(job = %self.cfg.name, file = %f.name, "{reason}");
                    f.failed = Some((reason, set_aside));
                    f.produced = Some(batches);
                }
                self.check_complete(file);
            }
        }
    }

    /// Stops the job: a configuration error no retry can fix.
    pub fn fail(&mut self, class: ErrorClass, message: String) {
        if self.failed.is_some() {
            return;
        }
        error!(job = %self.cfg.name, class = %class, "job stopped: {message}");
        self.failed = Some((class, message));
        self.stop_intake();
        for s in &mut self.slots {
            s.shut_down();
            s.retire();
        }
    }

    /// Stops taking files and cutting; batches not yet sent are dropped (the
    /// ledger has them as missing, so the next start loads them).
    pub fn stop_intake(&mut self) {
        if let Some(w) = self.watch.take() {
            w.stop();
        }
        self.tasks = None;
        for f in self.files.values() {
            f.stop.store(true, Ordering::Relaxed);
        }
        self.pending.clear();
        self.queries_waiting.clear();
        self.queries_sent.clear();
    }

    pub fn begin_drain(&mut self) {
        if !self.draining {
            self.draining = true;
            self.stop_intake();
        }
    }

    pub fn in_flight(&self) -> usize {
        self.slots.iter().map(|s| s.in_flight.len()).sum()
    }

    /// `--once`: everything there was to load has an answer.
    pub fn finished(&self) -> bool {
        self.failed.is_some()
            || (self.source_done
                && self.files.is_empty()
                && self.pending.is_empty()
                && self.in_flight() == 0)
    }

    /// Files still in progress when the run ends: reported, left for next time.
    pub fn abandon_files(&mut self, reason: &str) {
        let files = std::mem::take(&mut self.files);
        for (_, f) in files {
            let r = f.finish(&self.cfg, Some(reason.to_string()));
            self.reports.push(r);
        }
    }
}
