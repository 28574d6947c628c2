//! What `ingestd status` shows: the report the running daemon sends over its
//! unix socket (`<runtime_dir>/ingestd.sock`, mode 0600), and its rendering.
//!
//! Owns the report's shape, the socket's name and the client side; the
//! supervisor fills the report and serves it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub pid: u32,
    pub uptime_s: f64,
    pub config: PathBuf,
    pub jobs: Vec<JobStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub name: String,
    /// running | draining | stopped: <reason>
    pub state: String,
    pub sink: String,
    pub table: String,
    pub workers: Vec<WorkerStatus>,
    /// Rows loaded and rejected since the daemon started.
    pub loaded: u64,
    pub rejected: u64,
    /// Over the last seconds.
    pub rows_per_s: f64,
    pub in_flight: usize,
    pub files: Vec<FileStatus>,
    /// Files found but not started, and batches cut but not yet sent.
    pub backlog_files: usize,
    pub backlog_batches: usize,
    /// A stream source's figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamStatus>,
}

/// A stream (NATS JetStream) as its reader sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStatus {
    pub stream: String,
    /// On the shared consumer, as the server last said (every daemon's).
    pub pending: u64,
    pub ack_pending: u64,
    pub redelivered: u64,
    /// This daemon's: messages taken in, held now, acked, terminated.
    pub received: u64,
    pub held: u64,
    pub acked: u64,
    pub terminated: u64,
    /// Mean seconds from a message's arrival to its ack.
    pub ack_latency_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub slot: u32,
    pub pid: Option<u32>,
    /// starting | ready | stopping | down
    pub state: String,
    pub uptime_s: f64,
    pub batches: u64,
    pub in_flight: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileStatus {
    pub file: String,
    /// Bytes committed so far in this run (the position).
    pub bytes_done: u64,
    pub size: Option<u64>,
    pub loaded: u64,
    pub rejected: u64,
    /// A followed file's own figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<TailStatus>,
}

/// A followed file: which one, how far read, what is not loaded yet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TailStatus {
    /// Where it was found (it may have been renamed since).
    pub path: String,
    /// Its ledger key (`tail:` and the hash of its first lines).
    pub fingerprint: String,
    /// Bytes read (the reader's position).
    pub position: u64,
    /// Bytes of the file not yet committed: its size less the committed
    /// prefix.
    pub lag_bytes: u64,
    /// Since when some of its bytes have been waiting to be committed:
    /// the age of the oldest unloaded byte, at most.
    pub oldest_unloaded_s: f64,
}

impl StreamStatus {
    /// One line of its figures, the stream's name escaped: what `status`
    /// and the live view show.
    pub fn summary(&self) -> String {
        use crate::logging::Escaped;
        format!(
            "stream {}: consumer pending {}, ack pending {}, redelivered {}; here: received {}, \
             held {}, acked {}, terminated {}, ack latency {:.3}s",
            Escaped(&self.stream),
            self.pending,
            self.ack_pending,
            self.redelivered,
            self.received,
            self.held,
            self.acked,
            self.terminated,
            self.ack_latency_s
        )
    }
}

pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("ingestd.sock")
}

/// The runtime directory of the shipped unit (`RuntimeDirectory=ingestd`).
pub const UNIT_RUNTIME_DIR: &str = "/run/ingestd";

/// Where `ingestd status` looks for the daemon of a configuration, in
/// order: its runtime directory as this process sees it, its state
/// directory (the daemon links its socket there when it lives elsewhere,
/// as under systemd), then the shipped unit's runtime directory.
pub fn socket_candidates(daemon: &crate::config::Daemon) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = [
        daemon.runtime_dir.as_path(),
        daemon.state_dir.as_path(),
        Path::new(UNIT_RUNTIME_DIR),
    ];
    for dir in dirs {
        let p = socket_path(dir);
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Asks the first of `sockets` that answers; the error of the first one
/// when none does, naming every place tried.
pub fn query_any(sockets: &[PathBuf]) -> Result<StatusReport, StatusError> {
    let mut first = None;
    for s in sockets {
        match query(s) {
            Ok(r) => return Ok(r),
            // A daemon that answered badly is the one: say what it said.
            Err(e @ (StatusError::Read(_) | StatusError::Decode(_))) => return Err(e),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    match first {
        Some(StatusError::Connect { path, source }) if sockets.len() > 1 => {
            Err(StatusError::NoneAnswers {
                tried: (sockets.iter())
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                path,
                source,
            })
        }
        Some(e) => Err(e),
        None => Err(StatusError::NoneAnswers {
            tried: String::new(),
            path: PathBuf::new(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(
        "cannot reach the daemon at {path}: {source} (is `ingestd run` running with this configuration?)"
    )]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot reach the daemon: no status socket answers (tried {tried}; {path}: {source}); \
         is `ingestd run` running with this configuration?"
    )]
    NoneAnswers {
        tried: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the daemon's answer: {0}")]
    Read(#[source] std::io::Error),
    #[error("the daemon's answer is not a status report: {0}")]
    Decode(#[source] serde_json::Error),
}

/// Asks the daemon listening on `socket` for its status.
pub fn query(socket: &Path) -> Result<StatusReport, StatusError> {
    let mut s = UnixStream::connect(socket).map_err(|source| StatusError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(b"status\n").map_err(StatusError::Read)?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(StatusError::Read)?;
    serde_json::from_str(&text).map_err(StatusError::Decode)
}

/// The report as operators read it; names and states from outside escaped
/// as in the log.
pub fn render(r: &StatusReport) -> String {
    use crate::logging::Escaped;
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ingestd pid {}, up {}, {} job(s), config {}",
        r.pid,
        human_duration(r.uptime_s),
        r.jobs.len(),
        r.config.display()
    );
    for j in &r.jobs {
        let _ = writeln!(
            out,
            "job {}: {} -> {} table {}; loaded {}, rejected {}, {:.0} rows/s, {} batches in flight, backlog {} file(s) / {} batch(es)",
            j.name,
            Escaped(&j.state),
            j.sink,
            j.table,
            j.loaded,
            j.rejected,
            j.rows_per_s,
            j.in_flight,
            j.backlog_files,
            j.backlog_batches
        );
        if let Some(st) = &j.stream {
            let _ = writeln!(out, "  {}", st.summary());
        }
        for w in &j.workers {
            let pid = w.pid.map_or("-".to_string(), |p| p.to_string());
            let _ = writeln!(
                out,
                "  worker {} pid {pid}: {}, up {}, {} batches, {} in flight",
                w.slot,
                w.state,
                human_duration(w.uptime_s),
                w.batches,
                w.in_flight
            );
        }
        for f in &j.files {
            let pos = match f.size {
                Some(size) if size > 0 => format!(
                    "{} of {} bytes ({:.0}%)",
                    f.bytes_done,
                    size,
                    f.bytes_done as f64 * 100.0 / size as f64
                ),
                _ => format!("{} bytes", f.bytes_done),
            };
            if let Some(t) = &f.tail {
                let _ = writeln!(
                    out,
                    "  followed {} ({}): read to {}, size {}, {} bytes not loaded (oldest {:.1}s); loaded {}, rejected {}",
                    Escaped(&t.path),
                    t.fingerprint.get(..17).unwrap_or(&t.fingerprint),
                    t.position,
                    f.size.unwrap_or(0),
                    t.lag_bytes,
                    t.oldest_unloaded_s,
                    f.loaded,
                    f.rejected
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  file {}: at {pos}; loaded {}, rejected {}",
                Escaped(&f.file),
                f.loaded,
                f.rejected
            );
        }
    }
    out
}

pub(crate) fn human_duration(s: f64) -> String {
    let s = s as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_jobs_workers_and_files() {
        let r = StatusReport {
            pid: 7,
            uptime_s: 3725.0,
            config: "/etc/ingestd/ingestd.toml".into(),
            jobs: vec![JobStatus {
                name: "orders".into(),
                state: "running".into(),
                sink: "sqlite".into(),
                table: "orders".into(),
                workers: vec![WorkerStatus {
                    slot: 1,
                    pid: Some(9),
                    state: "ready".into(),
                    uptime_s: 61.0,
                    batches: 3,
                    in_flight: 1,
                }],
                loaded: 30_000,
                files: vec![FileStatus {
                    file: "a.csv".into(),
                    bytes_done: 50,
                    size: Some(200),
                    loaded: 30_000,
                    rejected: 0,
                    tail: None,
                }],
                ..JobStatus::default()
            }],
        };
        let text = render(&r);
        assert!(text.contains("up 1h02m"), "{text}");
        assert!(
            text.contains("worker 1 pid 9: ready, up 1m01s, 3 batches"),
            "{text}"
        );
        assert!(
            text.contains("file a.csv: at 50 of 200 bytes (25%)"),
            "{text}"
        );
    }
}
