//! Prometheus metrics, per job: rows loaded and rejected, batches in flight,
//! batch latency (dispatch to answer), worker restarts, backlog, and per
//! followed file its lag and the age of its oldest unloaded byte. Always
//! counted (atomics); served as text on `/metrics` only when
//! `daemon.metrics_listen` is set.
//!
//! Owns the registry and the HTTP endpoint; the loop reports events here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::{info, warn};

type Labels = Vec<(String, String)>;

fn job(name: &str) -> Labels {
    vec![("job".to_string(), name.to_string())]
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    loaded: Family<Labels, Counter>,
    rejected: Family<Labels, Counter>,
    restarts: Family<Labels, Counter>,
    in_flight: Family<Labels, Gauge>,
    backlog_files: Family<Labels, Gauge>,
    backlog_batches: Family<Labels, Gauge>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    tail_lag: Family<Labels, Gauge>,
    tail_age: Family<Labels, Gauge<f64, AtomicU64>>,
    /// A stream's figures, by `figure`: pending, ack_pending, redelivered, held.
    nats_messages: Family<Labels, Gauge>,
    nats_ack_latency: Family<Labels, Gauge<f64, AtomicU64>>,
    /// Each job's followed-file series, removed when the file is let go.
    followed: Mutex<HashMap<String, Vec<Labels>>>,
}

/// One followed file's levels: name, fingerprint, lag in bytes, age in
/// seconds of its oldest unloaded byte.
pub type Followed = (String, String, u64, f64);

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("ingestd");
        let m = Metrics {
            loaded: Family::default(),
            rejected: Family::default(),
            restarts: Family::default(),
            in_flight: Family::default(),
            backlog_files: Family::default(),
            backlog_batches: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            tail_lag: Family::default(),
            tail_age: Family::default(),
            nats_messages: Family::default(),
            nats_ack_latency: Family::default(),
            followed: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "rows_loaded",
            "Rows committed to the target",
            m.loaded.clone(),
        );
        registry.register(
            "rows_rejected",
            "Records rejected to the reject files",
            m.rejected.clone(),
        );
        registry.register(
            "worker_restarts",
            "Worker processes that died and were restarted",
            m.restarts.clone(),
        );
        registry.register(
            "batches_in_flight",
            "Batches sent to workers and not yet answered",
            m.in_flight.clone(),
        );
        registry.register(
            "backlog_files",
            "Files found and not yet started",
            m.backlog_files.clone(),
        );
        registry.register(
            "backlog_batches",
            "Batches cut and not yet sent to a worker",
            m.backlog_batches.clone(),
        );
        registry.register(
            "batch_duration_seconds",
            "From sending a batch to its answer",
            m.latency.clone(),
        );
        registry.register(
            "nats_messages",
            "A stream's consumer: messages pending (not delivered yet), ack_pending (delivered, \
             not acked), redelivered (so far), held (by this daemon, not settled)",
            m.nats_messages.clone(),
        );
        registry.register(
            "nats_ack_latency_seconds",
            "Mean time from a message's arrival to its ack, since the start",
            m.nats_ack_latency.clone(),
        );
        registry.register(
            "tail_lag_bytes",
            "Bytes of a followed file not committed yet",
            m.tail_lag.clone(),
        );
        registry.register(
            "tail_oldest_unloaded_seconds",
            "How long some bytes of a followed file have waited to be committed",
            m.tail_age.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// Creates a job's series at 0, so they exist before the first event.
    pub fn add_job(&self, name: &str) {
        let l = job(name);
        let _ = self.loaded.get_or_create(&l);
        let _ = self.rejected.get_or_create(&l);
        let _ = self.restarts.get_or_create(&l);
        let _ = self.latency.get_or_create(&l);
        self.levels(name, 0, 0, 0);
    }

    pub fn batch_done(&self, name: &str, seconds: f64, loaded: u64, rejected: u64) {
        let l = job(name);
        self.loaded.get_or_create(&l).inc_by(loaded);
        self.rejected.get_or_create(&l).inc_by(rejected);
        self.latency.get_or_create(&l).observe(seconds);
    }

    pub fn worker_restart(&self, name: &str) {
        self.restarts.get_or_create(&job(name)).inc();
    }

    pub fn levels(&self, name: &str, in_flight: usize, files: usize, batches: usize) {
        let l = job(name);
        self.in_flight.get_or_create(&l).set(in_flight as i64);
        self.backlog_files.get_or_create(&l).set(files as i64);
        self.backlog_batches.get_or_create(&l).set(batches as i64);
    }

    /// The levels of job `name`'s followed files now; series of files no
    /// longer followed are removed.
    pub fn followed(&self, name: &str, files: &[Followed]) {
        let mut known = self.followed.lock().unwrap_or_else(|p| p.into_inner());
        let now: Vec<Labels> = files
            .iter()
            .map(|(file, fp, _, _)| {
                let mut l = job(name);
                l.push(("file".into(), file.clone()));
                l.push(("fingerprint".into(), fp.clone()));
                l
            })
            .collect();
        for old in known.remove(name).unwrap_or_default() {
            if !now.contains(&old) {
                self.tail_lag.remove(&old);
                self.tail_age.remove(&old);
            }
        }
        for (l, (_, _, lag, age)) in now.iter().zip(files) {
            self.tail_lag.get_or_create(l).set(*lag as i64);
            self.tail_age.get_or_create(l).set(*age);
        }
        known.insert(name.to_string(), now);
    }

    /// Job `name`'s stream figures now.
    pub fn stream(&self, name: &str, s: &crate::status::StreamStatus) {
        for (figure, v) in [
            ("pending", s.pending),
            ("ack_pending", s.ack_pending),
            ("redelivered", s.redelivered),
            ("held", s.held),
        ] {
            let mut l = job(name);
            l.push(("figure".into(), figure.into()));
            self.nats_messages.get_or_create(&l).set(v as i64);
        }
        self.nats_ack_latency
            .get_or_create(&job(name))
            .set(s.ack_latency_s);
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `/metrics` on `addr` from a thread.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
    info!(%addr, "metrics on http://{addr}/metrics");
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let resp = if req.url() == "/metrics" {
                    let ct = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                    )
                    .expect("static header");
                    tiny_http::Response::from_string(metrics.encode()).with_header(ct)
                } else {
                    tiny_http::Response::from_string("not found: try /metrics\n")
                        .with_status_code(404)
                };
                if let Err(e) = req.respond(resp) {
                    warn!("metrics: answering a request: {e}");
                }
            }
        })?;
    Ok(())
}
