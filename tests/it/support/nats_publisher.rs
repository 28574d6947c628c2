//! The NATS tests' publisher: a thread publishing numbered records
//! (`nats::payload`) at a steady rate, with a window of outstanding acks,
//! that rides out a server restart without publishing anything twice.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context};
use futures_util::FutureExt;

use super::nats::{context, payload, reconnect, runtime, subject};

/// A thread publishing records `ids` (`payload`) at `per_second`, at most
/// 2,000 acks outstanding (the client deadlocks beyond 5,000). Each
/// message carries `Nats-Msg-Id: <id>`, so the server drops a second copy
/// of it: a publish whose ack is lost (the server went away) is published
/// again without ever being in the stream twice. `pause` waits for every
/// outstanding ack, so that a server restart between `pause` and `resume`
/// loses nothing.
pub struct Publisher {
    /// Records whose publication the server acked.
    pub acked: Arc<AtomicU64>,
    pause: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Publisher {
    pub fn start(url: &str, seed: u64, ids: RangeInclusive<u64>, per_second: u64) -> Publisher {
        let (acked, pause, paused) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let flags = Flags {
            acked: acked.clone(),
            pause: pause.clone(),
            paused: paused.clone(),
        };
        let url = url.to_string();
        let thread = std::thread::spawn(move || {
            runtime().block_on(publish(&url, seed, ids, per_second, flags))
        });
        Publisher {
            acked,
            pause,
            paused,
            thread: Some(thread),
        }
    }

    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Stops publishing; returns once every message sent so far is acked.
    pub fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
        while !self.paused.load(Ordering::SeqCst) && !self.done() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
    }

    pub fn done(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the end; fails the test if publishing failed.
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            t.join()
                .expect("the publisher thread")
                .unwrap_or_else(|e| panic!("publishing failed: {e}"));
        }
    }
}

struct Flags {
    acked: Arc<AtomicU64>,
    pause: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

type Ack = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>;
/// An ack to come, boxed so that it can be polled without being consumed.
type AckFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Ack> + Send>>;

/// At most this many acks outstanding (the client deadlocks beyond 5,000).
const WINDOW: usize = 2_000;

/// The publisher thread's state: its connection, the records sent and not
/// acked yet, those to send again, and the last failure.
struct Sender {
    js: Context,
    seed: u64,
    acked: Arc<AtomicU64>,
    outstanding: VecDeque<(u64, AckFuture)>,
    again: VecDeque<u64>,
    failing_since: Option<Instant>,
    last_error: String,
}

impl Sender {
    /// Publishes record `id`; a failure to send puts it in `again`.
    async fn send(&mut self, id: u64) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.to_string().as_str());
        let body = payload(self.seed, id).into();
        match self
            .js
            .publish_with_headers(subject(id), headers, body)
            .await
        {
            Ok(ack) => self
                .outstanding
                .push_back((id, Box::pin(ack.into_future()))),
            Err(e) => self.failed(id, e.to_string()),
        }
    }

    fn failed(&mut self, id: u64, e: String) {
        self.failing_since.get_or_insert_with(Instant::now);
        self.last_error = e;
        self.again.push_back(id);
    }

    fn take(&mut self, id: u64, ack: Ack) {
        match ack {
            // Each record is sent again only after its previous copy failed,
            // so it is acked once: by the first copy, or by the server
            // noting that a copy whose ack was lost is in the stream already
            // (`duplicate`).
            Ok(_) => {
                self.acked.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => self.failed(id, e.to_string()),
        }
    }

    /// Takes the acks already back, oldest first; with `wait`, waits for
    /// the oldest until the window has room (or, at the end, for all).
    async fn collect(&mut self, wait_below: usize) {
        while let Some(ack) = self
            .outstanding
            .front_mut()
            .and_then(|(_, a)| a.now_or_never())
        {
            let (id, _) = self.outstanding.pop_front().unwrap();
            self.take(id, ack);
        }
        while self.outstanding.len() > wait_below {
            let (id, ack) = self.outstanding.pop_front().unwrap();
            let ack = ack.await;
            self.take(id, ack);
        }
    }

    /// Publishes again what failed, after a short pause; gives up after
    /// 60 s of failures.
    async fn resend(&mut self) -> Result<(), String> {
        if self.again.is_empty() {
            if self.outstanding.is_empty() {
                self.failing_since = None;
            }
            return Ok(());
        }
        if self
            .failing_since
            .is_some_and(|t| t.elapsed() > Duration::from_secs(60))
        {
            return Err(format!(
                "{} records still unpublished after 60 s of failures, the last: {}",
                self.again.len(),
                self.last_error
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for id in std::mem::take(&mut self.again) {
            self.send(id).await;
        }
        Ok(())
    }

    /// Until every record sent so far is acked.
    async fn drain(&mut self) -> Result<(), String> {
        loop {
            self.collect(0).await;
            if self.again.is_empty() {
                return Ok(());
            }
            self.resend().await?;
        }
    }
}

/// The publisher thread's loop (see `Publisher`).
async fn publish(
    url: &str,
    seed: u64,
    ids: RangeInclusive<u64>,
    per_second: u64,
    flags: Flags,
) -> Result<(), String> {
    let client = async_nats::connect(url).await.map_err(|e| e.to_string())?;
    let mut s = Sender {
        js: context(client),
        seed,
        acked: flags.acked.clone(),
        outstanding: VecDeque::new(),
        again: VecDeque::new(),
        failing_since: None,
        last_error: String::new(),
    };
    let (first, last) = (*ids.start(), *ids.end());
    let mut next = first;
    let t0 = Instant::now();
    let mut paused_for = Duration::ZERO;
    while next <= last {
        if flags.pause.load(Ordering::SeqCst) {
            let p0 = Instant::now();
            s.drain().await?;
            flags.paused.store(true, Ordering::SeqCst);
            while flags.pause.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            flags.paused.store(false, Ordering::SeqCst);
            reconnect(&s.js).await?;
            paused_for += p0.elapsed();
        }
        s.resend().await?;
        // Where the schedule says we should be by now (pauses excluded).
        let due = ((t0.elapsed() - paused_for).as_secs_f64() * per_second as f64) as u64;
        let due = (first + due).min(last + 1);
        while next < due && s.outstanding.len() < WINDOW {
            s.send(next).await;
            next += 1;
        }
        s.collect(WINDOW - 1).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    s.drain().await
}
