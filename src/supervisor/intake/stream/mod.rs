//! Stream sources: a NATS JetStream stream read through a durable pull
//! consumer that any number of daemons share (`nats.rs`). The stream is one
//! input that never ends by itself; its positions are message sequences.
//! Its batches are acknowledged to the stream only once their worker says
//! they are committed (`Settle`, sent by the job through `files`), so a
//! daemon that dies leaves its messages to be redelivered to the others,
//! and the target's ledger leaves out what was committed before.
//!
//! Owns the source (one announcement), what the reader and the job share
//! (`Link`: settlements one way, figures the other) and the figures' shape.
//! Must not talk to workers or databases.

mod nats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Sender;

use super::{Accept, Announce, Disposal, Fate, Found, Input, Kept, OnLoaded, Source};
use crate::config::NatsSource;

pub(super) use nats::go;

/// What the job tells the reader about one of its batches, or a part of
/// one (a batch split to find the message that kills workers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Committed (or found committed): its messages are acked.
    Done(Part),
    /// Recorded as quarantined: its messages are terminated (AckTerm),
    /// never delivered again.
    Terminated(Part),
}

/// Messages `first..first + count` of the reader's batch `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub batch: u64,
    pub first: u32,
    pub count: u32,
}

impl Part {
    pub fn of(msgs: &crate::protocol::Messages) -> Part {
        Part {
            batch: msgs.origin,
            first: msgs.first,
            count: msgs.seqs.len() as u32,
        }
    }
}

/// The reader's figures, for status and metrics.
#[derive(Debug, Default)]
pub struct Figures {
    /// On the consumer, as the server last said: not yet delivered to
    /// anyone, delivered and not acked, redelivered so far.
    pub pending: AtomicU64,
    pub ack_pending: AtomicU64,
    pub redelivered: AtomicU64,
    /// Messages this daemon acked, terminated, and took in.
    pub acked: AtomicU64,
    pub terminated: AtomicU64,
    pub received: AtomicU64,
    /// Sum of the seconds from a message's arrival to its ack, in
    /// microseconds, over `acked` + `terminated`.
    pub ack_micros: AtomicU64,
    /// Messages held now (in batches not settled yet).
    pub held: AtomicU64,
}

impl Figures {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }

    /// Mean seconds from a message's arrival to its ack.
    pub fn ack_latency(&self) -> f64 {
        let n = Self::get(&self.acked) + Self::get(&self.terminated);
        match n {
            0 => 0.0,
            n => Self::get(&self.ack_micros) as f64 / n as f64 / 1e6,
        }
    }
}

/// What a stream's reader and its job share.
#[derive(Debug, Clone)]
pub struct Link {
    pub settle: Sender<Settle>,
    pub figures: Arc<Figures>,
    /// The stream's name, for logs and reject files.
    pub stream: String,
}

/// Announces the stream once; it is read until the job stops.
pub struct StreamSource {
    input: Option<Input>,
}

impl StreamSource {
    pub fn new(cfg: &NatsSource) -> Self {
        StreamSource {
            input: Some(Input::Stream(Box::new(cfg.clone()))),
        }
    }
}

impl Source for StreamSource {
    fn start(&mut self, mut announce: Announce) -> std::io::Result<()> {
        if let Some(input) = self.input.take()
            && announce(Found::Input(input))
        {
            announce(Found::Exhausted);
        }
        Ok(())
    }

    fn accept(&mut self, _input: &Input) -> Accept {
        Accept::Take
    }

    fn disposal(&self) -> Disposal {
        Disposal {
            loaded: OnLoaded::Keep,
            aside: None,
        }
    }

    fn settled(&mut self, _input: &Input, _fate: &Fate, _kept: Option<Kept>) {}

    fn stop(&mut self) {}
}
