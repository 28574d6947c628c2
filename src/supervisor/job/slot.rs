//! One worker slot of a job: at most one live worker process at a time, its
//! pipes (a reader and a writer thread), the batches and questions in flight
//! on it (credit), and its restart back-off.
//!
//! Owns one process's life cycle; dispatch decisions are the job's.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, unbounded};
use tracing::warn;

use crate::process::{self, SpawnError};
use crate::protocol::{Batch, FrameReader, FrameWriter, FromWorker, ToWorker, WorkerSetup};
use crate::status::WorkerStatus;

use crate::supervisor::event::{Event, FileId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// No process: never started, or dead and waiting for `restart_at`.
    Down,
    /// Started; its pool is not open yet.
    Starting,
    Ready,
    /// Told to shut down (or being drained); takes no more work.
    Stopping,
}

pub struct Slot {
    /// 1-based, for logs and session names.
    number: u32,
    /// Incremented at every start, so events from an earlier process are ignored.
    generation: u64,
    state: SlotState,
    pid: Option<u32>,
    /// Processes of this slot that ended (or were told to) and are not reaped
    /// yet: the run is not over until they are.
    unreaped: Vec<u32>,
    started: Instant,
    tx: Option<Sender<ToWorker>>,
    /// Batches sent and not yet answered, oldest first (the worker handles
    /// its pipe in order, so the front one is the one being loaded), with
    /// when each was sent.
    in_flight: VecDeque<(FileId, Arc<Batch>, Instant)>,
    /// Ledger questions sent and not yet answered.
    queries: Vec<u64>,
    /// Deaths since this slot last finished a batch: drives the back-off.
    failures: u32,
    restart_at: Option<Instant>,
    batches_done: u64,
}

const RESTART_FIRST: Duration = Duration::from_millis(100);
const RESTART_MAX: Duration = Duration::from_secs(30);

impl Slot {
    pub fn new(number: u32) -> Self {
        Slot {
            number,
            generation: 0,
            state: SlotState::Down,
            pid: None,
            unreaped: Vec::new(),
            started: Instant::now(),
            tx: None,
            in_flight: VecDeque::new(),
            queries: Vec::new(),
            failures: 0,
            restart_at: Some(Instant::now()),
            batches_done: 0,
        }
    }

    /// Starts a worker process in this slot and sends it `setup`.
    pub fn start(
        &mut self,
        exe: &Path,
        setup: WorkerSetup,
        job: usize,
        slot: usize,
        events: &Sender<Event>,
    ) -> Result<u32, SpawnError> {
        let proc = process::spawn_worker(exe)?;
        self.generation += 1;
        let generation = self.generation;
        let (tx, rx) = unbounded::<ToWorker>();
        let _ = tx.send(ToWorker::Hello(Box::new(setup)));
        spawn_writer(proc.to_worker, rx, proc.pid);
        spawn_reader(proc.from_worker, events.clone(), job, slot, generation);
        self.tx = Some(tx);
        self.pid = Some(proc.pid);
        self.unreaped.push(proc.pid);
        self.state = SlotState::Starting;
        self.started = Instant::now();
        self.restart_at = None;
        Ok(proc.pid)
    }

    pub fn number(&self) -> u32 {
        self.number
    }

    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub fn state(&self) -> SlotState {
        self.state
    }

    /// Whether `generation` is this slot's current process.
    pub fn is(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// Down, and its restart time has come.
    pub fn due(&self, now: Instant) -> bool {
        self.state == SlotState::Down && self.restart_at.is_some_and(|t| t <= now)
    }

    /// Its process opened its pool.
    pub fn ready(&mut self) {
        if self.state == SlotState::Starting {
            self.state = SlotState::Ready;
        }
    }

    /// Queues a message for the worker; false if it has no live process.
    pub fn send(&self, msg: ToWorker) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok())
    }

    /// Sends a batch and counts it in flight.
    pub fn send_batch(&mut self, file: FileId, batch: Arc<Batch>) {
        self.send(ToWorker::Batch(batch.clone()));
        self.in_flight.push_back((file, batch, Instant::now()));
    }

    /// Sends ledger question `id` about `source`.
    pub fn ask(&mut self, id: u64, source: &str) {
        self.send(ToWorker::Ledger {
            query: id,
            source: source.to_string(),
        });
        self.queries.push(id);
    }

    pub fn answered(&mut self, id: u64) {
        self.queries.retain(|q| *q != id);
    }

    /// Batch `id` has its answer: no longer in flight. Returns it, with the
    /// seconds since it was sent.
    pub fn batch_done(&mut self, id: u64) -> Option<(FileId, Arc<Batch>, f64)> {
        let pos = self.in_flight.iter().position(|(_, b, _)| b.id == id)?;
        let (file, batch, sent) = self.in_flight.remove(pos)?;
        self.failures = 0;
        self.batches_done += 1;
        Some((file, batch, sent.elapsed().as_secs_f64()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether it is the one that started process `pid` (reaped or not).
    pub fn owns(&self, pid: u32) -> bool {
        self.unreaped.contains(&pid)
    }

    /// What `ingestd status` shows of it.
    pub fn status(&self, now: Instant) -> WorkerStatus {
        WorkerStatus {
            slot: self.number,
            pid: self.pid,
            state: match self.state {
                SlotState::Down => "down",
                SlotState::Starting => "starting",
                SlotState::Ready => "ready",
                SlotState::Stopping => "stopping",
            }
            .into(),
            uptime_s: match self.pid {
                Some(_) => now.duration_since(self.started).as_secs_f64(),
                None => 0.0,
            },
            batches: self.batches_done,
            in_flight: self.in_flight.len(),
        }
    }

    pub fn has_credit(&self, in_flight: u32) -> bool {
        self.state == SlotState::Ready && self.in_flight.len() < in_flight as usize
    }

    /// Asks the worker to finish what it has and exit; closing the pipe
    /// afterwards makes sure it sees end of input even if it missed the frame.
    pub fn shut_down(&mut self) {
        if self.tx.is_some() {
            self.send(ToWorker::Shutdown);
            self.tx = None;
            self.state = SlotState::Stopping;
        }
    }

    /// The process is gone: forget it and schedule a restart with back-off
    /// (none when `expected`: it was told to stop, or its job no longer
    /// runs). Returns what was in flight, oldest first, so the caller can
    /// hand it to others, and the questions it had.
    pub fn died(&mut self, expected: bool) -> (VecDeque<(FileId, Arc<Batch>)>, Vec<u64>) {
        if let Some(pid) = self.pid.take()
            && self.state != SlotState::Stopping
        {
            // Its pipe closed without being asked to: whatever state it is
            // in, it is of no use; make sure it is gone.
            process::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
        self.tx = None;
        self.state = SlotState::Down;
        self.failures += 1;
        let shift = self.failures.saturating_sub(1).min(16);
        let wait = (RESTART_FIRST * 2u32.pow(shift)).min(RESTART_MAX);
        self.restart_at = Some(Instant::now() + wait);
        if expected {
            self.restart_at = None;
            self.failures = 0;
        }
        let in_flight = std::mem::take(&mut self.in_flight);
        (
            in_flight.into_iter().map(|(f, b, _)| (f, b)).collect(),
            std::mem::take(&mut self.queries),
        )
    }

    /// When it will be started again, if it will.
    pub fn restart_at(&self) -> Option<Instant> {
        self.restart_at
    }

    /// Whether it was told to stop (its end is expected).
    pub fn stopping(&self) -> bool {
        self.state == SlotState::Stopping
    }

    /// Stops restarting this slot (job stopped or shutting down).
    pub fn retire(&mut self) {
        self.restart_at = None;
    }

    pub fn is_alive(&self) -> bool {
        self.pid.is_some()
    }

    /// Processes not yet reaped (live or exiting).
    pub fn processes(&self) -> usize {
        self.unreaped.len()
    }

    /// Forgets a reaped process; true if it was this slot's.
    pub fn reaped(&mut self, pid: u32) -> bool {
        let before = self.unreaped.len();
        self.unreaped.retain(|p| *p != pid);
        self.unreaped.len() != before
    }
}

/// Writes frames to the worker; ends when the channel closes (and then closes
/// the pipe, which the worker reads as end of input) or the worker is gone.
fn spawn_writer(pipe: File, rx: crossbeam_channel::Receiver<ToWorker>, pid: u32) {
    let spawned = std::thread::Builder::new()
        .name(format!("to-{pid}"))
        .spawn(move || {
            let mut w = FrameWriter::new(pipe);
            for msg in rx {
                if w.write(&msg).is_err() {
                    // EPIPE: the worker died; the reader reports it.
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        warn!(pid, "cannot start a pipe thread: {e}");
        process::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Reads the worker's frames into the event loop; reports end of file once.
fn spawn_reader(pipe: File, events: Sender<Event>, job: usize, slot: usize, generation: u64) {
    let ev = events.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("from-{job}-{slot}"))
        .spawn(move || {
            let mut r = FrameReader::new(BufReader::with_capacity(64 << 10, pipe));
            loop {
                match r.read::<FromWorker>() {
                    Ok(Some(msg)) => {
                        if ev
                            .send(Event::Worker {
                                job,
                                slot,
                                generation,
                                msg,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn!("bad frame from worker {slot} of job {job}: {e}");
                        break;
                    }
                }
            }
            let _ = ev.send(Event::WorkerGone {
                job,
                slot,
                generation,
            });
        });
    if let Err(e) = spawned {
        warn!("cannot start a pipe thread: {e}");
        let _ = events.send(Event::WorkerGone {
            job,
            slot,
            generation,
        });
    }
}
