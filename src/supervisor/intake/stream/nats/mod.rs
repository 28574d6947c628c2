//! The reader of a NATS JetStream stream, on the job's cutter thread with a
//! current-thread tokio runtime of its own (the supervisor's only async
//! code; workers never connect to NATS). It binds the durable pull consumer
//! (creating it when missing), pulls messages only while the job has room
//! for their batches (so what it holds is bounded by `batch_rows` and the
//! job's credit, never by the stream), cuts batches by count, bytes and
//! `batch_linger`, and settles each batch's messages when the job says:
//! `+ACK` once committed, `+TERM` once recorded as quarantined. Messages
//! it holds get `+WPI` (in progress) every third of AckWait, so a slow
//! database does not make the server hand them to another daemon.
//!
//! `run --once` reads until a pull finds nothing and the consumer has no
//! message pending, then ends the input once its batches are settled.
//!
//! A batch's ledger key names the stream and its creation time: a stream
//! deleted and made again under the same name restarts its sequences, and
//! must not be taken for the old one.
//!
//! Owns the NATS session, the consumer and the acks. Must not decide what
//! is committed: the worker's ledger check does.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull};
use async_nats::{Client, Subject};
use bytes::Bytes;
use crossbeam_channel::{Receiver, unbounded};
use futures_util::StreamExt;
use tracing::{debug, info, warn};

mod connect;
mod open;

use connect::{bind, connect};
use open::{Open, in_order, message_value};

use super::{Figures, Link, Settle};
use crate::config::NatsSource;
use crate::format::Layout;
use crate::protocol::{Batch, Verdict};
use crate::supervisor::event::{CutEvent, FileStart};
use crate::supervisor::intake::batcher::next_id;
use crate::supervisor::intake::cutter::{CutError, Run};
use crate::supervisor::intake::{Codec, Content};

/// The widest span of sequences in one batch (the ledger's look-up bound).
const SPAN_MAX: u64 = 1 << 20;
/// How long one pull request waits for messages at most.
const PULL_EXPIRES: Duration = Duration::from_millis(500);
/// How often the loop looks at settlements and the clock while it waits.
const TICK: Duration = Duration::from_millis(20);
/// How long a stopped reader waits for its batches' answers to ack them
/// (past it, they are redelivered and found in the ledger).
const DRAIN_MAX: Duration = Duration::from_secs(120);
/// What `pull` says when a failure cut it short: not a sign that the
/// stream is read.
const UNKNOWN: usize = usize::MAX;
/// How often the consumer's figures are asked for.
const FIGURES_EVERY: Duration = Duration::from_secs(5);

/// Reads `cfg`'s stream for `run` until it is stopped (`run --once`: until
/// the consumer has nothing left to deliver and what was read is settled).
pub fn go(run: &mut Run<'_>, cfg: &NatsSource) -> Result<(), CutError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("starting the NATS client's runtime: {e}")))?;
    rt.block_on(async {
        let mut r = Reader::connect(run, cfg).await?;
        r.go().await
    })
}

fn failed(reason: String) -> CutError {
    CutError::Failed {
        reason,
        set_aside: false,
    }
}

/// A batch handed to the job and not settled yet (a part of it may be:
/// see `Settle`): the replies of its messages not settled yet.
struct Sent {
    since: Instant,
    replies: Vec<Option<Subject>>,
    left: usize,
}

struct Reader<'r, 'a> {
    run: &'r mut Run<'a>,
    cfg: &'r NatsSource,
    client: Client,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    key: String,
    layout: Layout,
    settles: Receiver<Settle>,
    figures: Arc<Figures>,
    open: Open,
    sent: HashMap<u64, Sent>,
    /// Messages in `open` and `sent`: at most `limit`.
    held: usize,
    limit: usize,
    ack_wait: Duration,
    last_progress: Instant,
    last_figures: Instant,
    last_error: Option<Instant>,
}

impl<'r, 'a> Reader<'r, 'a> {
    async fn connect(run: &'r mut Run<'a>, cfg: &'r NatsSource) -> Result<Self, CutError> {
        let job = run.cutter.job.clone();
        let stop = run.task.stop.clone();
        let client = tokio::select! {
            c = connect(cfg, &job.name) => c?,
            _ = async {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(TICK).await;
                }
            } => return Err(CutError::Stopped),
        };
        let js = jetstream::new(client.clone());
        let (consumer, created) = bind(&js, cfg, run).await?;
        let info = consumer.cached_info();
        let ack_wait = info.config.ack_wait.max(Duration::from_secs(1));
        if info.config.max_deliver > 0 {
            warn!(job = %job.name, consumer = %cfg.consumer, max_deliver = info.config.max_deliver,
                "the consumer gives up on a message after max_deliver deliveries: such a message is neither loaded nor rejected; ingestd creates its consumers without that limit");
        }
        let columns = job.columns.as_deref().unwrap_or_default();
        let layout = job
            .format
            .layout_with_message(columns, None, &cfg.message_slots(columns.len()))
            .map_err(|e| failed(e.to_string()))?;
        let (settle, settles) = unbounded();
        let figures = Arc::new(Figures::default());
        let spare = tempfile::tempfile().map_err(|e| failed(format!("a spare file: {e}")))?;
        let start = FileStart {
            source: created.clone(),
            file: None,
            content: Content::new(Arc::new(spare), Codec::Plain, 0),
            preamble: Vec::new(),
            prior: Vec::new(),
            prior_rejects: Vec::new(),
            progress: None,
            stream: Some(Link {
                settle,
                figures: figures.clone(),
                stream: cfg.stream.clone(),
            }),
        };
        if !run
            .cutter
            .event(run.task.file, CutEvent::Started(Box::new(start)))
        {
            return Err(CutError::Abandoned);
        }
        let credit = (job.workers * job.in_flight) as usize;
        info!(job = %job.name, stream = %cfg.stream, consumer = %cfg.consumer, ack_wait = ?ack_wait, "reading the stream");
        Ok(Reader {
            limit: (2 * credit + 1) * job.batch_rows.max(1) as usize,
            run,
            cfg,
            client,
            consumer,
            key: created,
            layout,
            settles,
            figures,
            open: Open::default(),
            sent: HashMap::new(),
            held: 0,
            ack_wait,
            last_progress: Instant::now(),
            last_figures: Instant::now() - FIGURES_EVERY,
            last_error: None,
        })
    }

    async fn go(&mut self) -> Result<(), CutError> {
        loop {
            self.tick().await?;
            if self.stopping() {
                return self.finish().await;
            }
            let room = self.limit.saturating_sub(self.held);
            if room == 0 || self.run.cutter.batches.is_full() {
                tokio::time::sleep(TICK).await;
                continue;
            }
            let want = room.min(self.run.cutter.job.batch_rows.max(1) as usize);
            let got = self.pull(want).await?;
            if got == 0 && self.run.cutter.once && self.nothing_pending().await {
                return self.finish_once().await;
            }
        }
    }

    /// Whether the consumer says no message waits to be delivered.
    async fn nothing_pending(&mut self) -> bool {
        let info = tokio::time::timeout(Duration::from_secs(2), self.consumer.info()).await;
        matches!(info, Ok(Ok(i)) if i.num_pending == 0)
    }

    /// `run --once` read everything: the open batch goes out, and the
    /// reader acks its batches as they are answered, then ends the input.
    async fn finish_once(&mut self) -> Result<(), CutError> {
        self.flush_as(None)?;
        info!(job = %self.run.cutter.job.name, stream = %self.cfg.stream, "the consumer has no more messages: the stream is read for this run");
        while !self.sent.is_empty() {
            if self.stopping() {
                return self.finish().await;
            }
            tokio::time::sleep(TICK).await;
            self.tick().await?;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
        Ok(())
    }

    fn stopping(&self) -> bool {
        self.run.task.stop.load(Ordering::Relaxed)
    }

    /// One pull request of up to `want` messages, taken in as they come;
    /// how many came.
    async fn pull(&mut self, want: usize) -> Result<usize, CutError> {
        let batch = self
            .consumer
            .batch()
            .max_messages(want)
            .expires(PULL_EXPIRES)
            .messages()
            .await;
        let mut msgs = match batch {
            Ok(m) => m,
            Err(e) => {
                self.trouble(format!("asking for messages: {e}")).await?;
                return Ok(UNKNOWN);
            }
        };
        let mut got = 0;
        loop {
            match tokio::time::timeout(TICK, msgs.next()).await {
                Ok(Some(Ok(m))) => {
                    got += 1;
                    self.take(m)?
                }
                Ok(Some(Err(e))) => {
                    self.trouble(format!("receiving messages: {e}")).await?;
                    return Ok(UNKNOWN);
                }
                Ok(None) => return Ok(got),
                Err(_) => {}
            }
            self.tick().await?;
            if self.stopping() {
                return Ok(got);
            }
        }
    }

    /// Logs a NATS failure (once in a while) and waits a moment: the client
    /// reconnects by itself, and pull requests lost with the connection
    /// are asked again.
    async fn trouble(&mut self, what: String) -> Result<(), CutError> {
        let quiet = self
            .last_error
            .is_some_and(|t| t.elapsed() < Duration::from_secs(30));
        if !quiet {
            warn!(job = %self.run.cutter.job.name, stream = %self.cfg.stream, "{what}; retrying");
            self.last_error = Some(Instant::now());
        }
        for _ in 0..25 {
            tokio::time::sleep(TICK).await;
            self.tick().await?;
        }
        Ok(())
    }

    /// Adds one message to the open batch, closing it first when full.
    fn take(&mut self, m: jetstream::Message) -> Result<(), CutError> {
        let Ok(info) = m.info() else {
            warn!(job = %self.run.cutter.job.name, subject = %m.subject, "a message without JetStream metadata: ignored");
            return Ok(());
        };
        let (seq, delivered) = (info.stream_sequence, info.delivered);
        let Some(reply) = m.message.reply.clone() else {
            return Ok(());
        };
        self.figures.received.fetch_add(1, Ordering::Relaxed);
        if delivered > 1 {
            debug!(seq, delivered, "a message delivered again");
        }
        let payload: &Bytes = &m.message.payload;
        let job = &self.run.cutter.job;
        if payload.len() as u64 > u64::from(job.max_record_bytes) {
            self.flush(true)?;
            let verdict = Verdict {
                code: "too_large".into(),
                reason: format!(
                    "a message of {} bytes, more than max_record_bytes = {}",
                    payload.len(),
                    job.max_record_bytes
                ),
            };
            self.add(&m, seq, reply);
            return self.flush_as(Some(verdict));
        }
        let o = &self.open;
        let span_ok = o
            .span
            .is_none_or(|(lo, hi)| seq.max(hi) - seq.min(lo) < SPAN_MAX);
        let full = o.records >= job.batch_rows
            // The values message columns take count too (headers included).
            || o.data.len() + o.value_bytes + m.message.length.max(payload.len()) + 1
                > job.batch_bytes as usize;
        if !o.msgs.seqs.is_empty() && (full || !span_ok) {
            self.flush(true)?;
        }
        self.add(&m, seq, reply);
        Ok(())
    }

    fn add(&mut self, m: &jetstream::Message, seq: u64, reply: Subject) {
        let payload: &[u8] = &m.message.payload;
        let o = &mut self.open;
        o.since.get_or_insert_with(Instant::now);
        o.span = Some(match o.span {
            Some((lo, hi)) => (lo.min(seq), hi.max(seq)),
            None => (seq, seq),
        });
        let fields = &self.cfg.message_fields;
        o.msgs.values.resize_with(fields.len(), Vec::new);
        for ((_, f), values) in fields.iter().zip(&mut o.msgs.values) {
            let v = message_value(m, seq, f);
            o.value_bytes += v.as_ref().map_or(0, String::len);
            values.push(v);
        }
        // One allocation per run of messages on the same subject.
        let subject = m.message.subject.as_str();
        let same = (o.msgs.subjects.last())
            .filter(|s| &***s == subject)
            .cloned();
        o.msgs.subjects.push(same.unwrap_or_else(|| subject.into()));
        o.data.extend_from_slice(payload);
        if payload.last() != Some(&b'\n') {
            o.data.push(b'\n');
        }
        o.records += memchr::memchr_iter(b'\n', payload).count().max(1) as u32;
        o.msgs.seqs.push(seq);
        o.msgs.ends.push(o.data.len() as u32);
        o.replies.push(reply);
        self.held += 1;
        self.figures.held.store(self.held as u64, Ordering::Relaxed);
    }

    /// Hands the open batch to the job (blocking only when `wait`: the
    /// loop keeps room in the channel before it pulls).
    fn flush(&mut self, wait: bool) -> Result<(), CutError> {
        if self.open.msgs.seqs.is_empty() || (!wait && self.run.cutter.batches.is_full()) {
            return Ok(());
        }
        self.flush_as(None)
    }

    fn flush_as(&mut self, verdict: Option<Verdict>) -> Result<(), CutError> {
        let mut o = std::mem::take(&mut self.open);
        if o.msgs.seqs.is_empty() {
            return Ok(());
        }
        in_order(&mut o);
        let id = next_id();
        let (first, last) = (o.msgs.seqs[0], *o.msgs.seqs.last().expect("not empty"));
        o.msgs.origin = id;
        let batch = Batch {
            id,
            source: self.key.clone(),
            file: self.cfg.stream.clone(),
            start: first,
            end: last + 1,
            first_line: 1,
            records: o.records,
            layout: self.layout.clone(),
            verdict,
            data: o.data,
            stream: Some(Box::new(o.msgs)),
        };
        let since = o.since.unwrap_or_else(Instant::now);
        self.sent.insert(
            id,
            Sent {
                since,
                left: o.replies.len(),
                replies: o.replies.into_iter().map(Some).collect(),
            },
        );
        self.run.send(batch)
    }

    /// Settlements, in-progress acks, the linger, the figures.
    async fn tick(&mut self) -> Result<(), CutError> {
        while let Ok(s) = self.settles.try_recv() {
            let (part, how): (_, &'static [u8]) = match s {
                Settle::Done(part) => (part, b"+ACK"),
                Settle::Terminated(part) => (part, b"+TERM"),
            };
            let Some(sent) = self.sent.get_mut(&part.batch) else {
                continue;
            };
            let (since, from) = (sent.since, part.first as usize);
            let to = (from + part.count as usize).min(sent.replies.len());
            let replies: Vec<Subject> = (sent.replies.get_mut(from..to).into_iter().flatten())
                .filter_map(Option::take)
                .collect();
            sent.left -= replies.len();
            if sent.left == 0 {
                self.sent.remove(&part.batch);
            }
            let n = replies.len();
            for r in replies {
                if let Err(e) = self.client.publish(r, Bytes::from_static(how)).await {
                    debug!(
                        "an ack could not be sent ({e}): the message comes again and is found in the ledger"
                    );
                }
            }
            self.held -= n;
            let f = &self.figures;
            let counter = if how == b"+TERM" {
                &f.terminated
            } else {
                &f.acked
            };
            counter.fetch_add(n as u64, Ordering::Relaxed);
            let micros = since.elapsed().as_micros() as u64 * n as u64;
            f.ack_micros.fetch_add(micros, Ordering::Relaxed);
            f.held.store(self.held as u64, Ordering::Relaxed);
        }
        let linger = self.run.cutter.job.batch_linger;
        if self.open.since.is_some_and(|t| t.elapsed() >= linger) {
            self.flush(false)?;
        }
        if self.last_progress.elapsed() >= self.ack_wait / 3 {
            self.last_progress = Instant::now();
            let replies = self
                .sent
                .values()
                .flat_map(|s| s.replies.iter().flatten())
                .chain(&self.open.replies);
            for r in replies {
                let _ = self
                    .client
                    .publish(r.clone(), Bytes::from_static(b"+WPI"))
                    .await;
            }
        }
        if self.last_figures.elapsed() >= FIGURES_EVERY {
            self.last_figures = Instant::now();
            if let Ok(Ok(info)) =
                tokio::time::timeout(Duration::from_secs(2), self.consumer.info()).await
            {
                let f = &self.figures;
                f.pending.store(info.num_pending, Ordering::Relaxed);
                f.ack_pending
                    .store(info.num_ack_pending as u64, Ordering::Relaxed);
                f.redelivered
                    .store(info.num_redelivered as u64, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Stopped: the open batch's messages go back to the stream at once
    /// (`-NAK`), the batches sent are settled as their answers come (the
    /// job drains them), then the session is flushed.
    async fn finish(&mut self) -> Result<(), CutError> {
        for r in std::mem::take(&mut self.open.replies) {
            let _ = self.client.publish(r, Bytes::from_static(b"-NAK")).await;
        }
        self.held -= self.open.msgs.seqs.len();
        self.open = Open::default();
        let deadline = Instant::now() + DRAIN_MAX;
        while !self.sent.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(TICK).await;
            self.tick().await?;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.flush()).await;
        Err(CutError::Stopped)
    }
}
