//! The worker table of one job: slots, each holding at most one live worker
//! process at a time, its pipes (a reader and a writer thread), the batches
//! in flight on it (credit), and its restart back-off.
//!
//! Owns processes' life cycles; dispatch decisions are the job's.

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
    pub number: u32,
    /// Incremented at every start, so events from an earlier process are ignored.
    pub generation: u64,
    pub state: SlotState,
    pub pid: Option<u32>,
    /// Processes of this slot that ended (or were told to) and are not reaped
    /// yet: the run is not over until they are.
    pub unreaped: Vec<u32>,
    pub started: Instant,
    tx: Option<Sender<ToWorker>>,
    /// Batches sent and not yet answered, oldest first (the worker handles
    /// its pipe in order, so the front one is the one being loaded).
    pub in_flight: VecDeque<(FileId, Arc<Batch>)>,
    /// Ledger questions sent and not yet answered.
    pub queries: Vec<u64>,
    /// Deaths since this slot last finished a batch: drives the back-off.
    pub failures: u32,
    pub restart_at: Option<Instant>,
    pub batches_done: u64,
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

    /// Queues a message for the worker; false if it has no live process.
    pub fn send(&self, msg: ToWorker) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok())
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

    /// The process is gone: forget it and schedule a restart with back-off.
    /// Returns what was in flight so the caller can hand it to others.
    pub fn died(&mut self) -> (VecDeque<(FileId, Arc<Batch>)>, Vec<u64>) {
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
        (
            std::mem::take(&mut self.in_flight),
            std::mem::take(&mut self.queries),
        )
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
