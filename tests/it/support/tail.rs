//! What the tail tests share: a test folder with a followed log and a JSON
//! Lines job into SQLite, a writer thread appending numbered records at a
//! steady rate (it pauses and reopens its file on request, as an
//! application does around a rotation), the real `logrotate`, and what the
//! table holds (count, distinct, sum of the numbers).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::config::DAEMON;

/// A test folder: `logs/app.log` followed by job `app` into `out/t.db`.
pub struct Tail {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub logs: PathBuf,
    pub log: PathBuf,
    pub db: PathBuf,
}

impl Tail {
    /// `source_extra` goes into the job's source, `job_extra` into the job;
    /// JSON Lines records `seq` and `note` (`record`).
    pub fn new(job_extra: &str, source_extra: &str) -> Tail {
        Tail::with_format(job_extra, source_extra, JSONL)
    }

    /// The same, the job's format and columns given as TOML.
    pub fn with_format(job_extra: &str, source_extra: &str, format: &str) -> Tail {
        let sqlite = "kind = \"sqlite\"\npath = \"out/t.db\"\n";
        Tail::on(sqlite, job_extra, source_extra, format)
    }

    /// On the sink whose keys are `sink` (the SQLite file `out/t.db` by
    /// default).
    pub fn on(sink: &str, job_extra: &str, source_extra: &str, format: &str) -> Tail {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        fs::create_dir_all(&logs).unwrap();
        let config = dir.path().join("ingestd.toml");
        let text = format!(
            "{DAEMON}\n[sinks.local]\n{sink}\n\
             [jobs.app]\nsink = \"local\"\ntable = \"events\"\ncreate_table = true\n\
             reject_dir = \"rejects\"\n{job_extra}\n\n[jobs.app.source]\nkind = \"tail\"\n\
             path = \"logs/app.log\"\n{source_extra}\n\n{format}"
        );
        fs::write(&config, text).unwrap();
        Tail {
            log: logs.join("app.log"),
            db: dir.path().join("out/t.db"),
            logs,
            config,
            dir,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cfg(&self) -> &str {
        self.config.to_str().unwrap()
    }

    /// What the table holds now.
    pub fn table(&self) -> Held {
        held(&self.db)
    }

    /// Waits until the table holds `n` rows (or `timeout`); what it holds.
    pub fn wait_rows(&self, n: u64, timeout: Duration) -> Held {
        let t0 = Instant::now();
        loop {
            let h = self.table();
            if h.rows >= n || t0.elapsed() > timeout {
                return h;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A logrotate configuration for the log: `how` is its directives.
    pub fn rotate_conf(&self, name: &str, how: &str) -> PathBuf {
        let conf = self.path(name);
        let text = format!(
            "{} {{\n    rotate 100\n    missingok\n    {how}\n}}\n",
            self.log.display()
        );
        fs::write(&conf, text).unwrap();
        conf
    }

    /// Runs the real logrotate once, forced, with its state beside the test.
    pub fn logrotate(&self, conf: &Path) {
        let out = Command::new("logrotate")
            .arg("-f")
            .arg("-s")
            .arg(self.path("logrotate.state"))
            .arg(conf)
            .output()
            .expect("logrotate runs");
        assert!(
            out.status.success(),
            "logrotate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The JSON Lines format of `record`.
pub const JSONL: &str = "[jobs.app.format]\nkind = \"jsonl\"\n\n\
    [[jobs.app.columns]]\nname = \"seq\"\ntype = \"bigint\"\nnullable = false\n\n\
    [[jobs.app.columns]]\nname = \"note\"\ntype = \"text\"\n";

/// Record `seq` as one JSON Lines line.
pub fn record(seq: u64) -> String {
    format!("{{\"seq\":{seq},\"note\":\"record {seq} of the followed log\"}}\n")
}

/// Appends records `from..to` to `path` now.
pub fn append(path: &Path, from: u64, to: u64) {
    let text: String = (from..to).map(record).collect();
    append_bytes(path, text.as_bytes());
}

/// Appends `bytes` to `path` now.
pub fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// What the table holds: rows, distinct numbers, their sum, and the sum of
/// 0..n for comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub rows: u64,
    pub distinct: u64,
    pub sum: u64,
}

impl Held {
    /// Exactly the records `0..n`, each once.
    pub fn exactly(n: u64) -> Held {
        Held {
            rows: n,
            distinct: n,
            sum: n * n.saturating_sub(1) / 2,
        }
    }
}

/// The numbers of `0..n` the table lacks, as ranges (to say what went
/// missing when a test fails).
pub fn missing(db: &Path, n: u64) -> Vec<(u64, u64)> {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return vec![(0, n)];
    };
    let mut st = conn
        .prepare("SELECT DISTINCT seq FROM events ORDER BY seq")
        .unwrap();
    let got: Vec<u64> = st
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap() as u64)
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    for s in got.into_iter().chain([n]) {
        if s > at {
            out.push((at, s));
        }
        at = s + 1;
    }
    out
}

impl Held {
    /// What table `events` of `schema` holds (nothing before it exists).
    pub fn pg(schema: &mut super::pg::Schema) -> Held {
        let sql = format!(
            "SELECT count(*), count(DISTINCT seq), coalesce(sum(seq), 0)::bigint FROM \"{}\".events",
            schema.name
        );
        match schema.client.query_one(&sql, &[]) {
            Ok(r) => Held {
                rows: r.get::<_, i64>(0) as u64,
                distinct: r.get::<_, i64>(1) as u64,
                sum: r.get::<_, i64>(2) as u64,
            },
            Err(_) => Held::exactly(0),
        }
    }
}

pub fn held(db: &Path) -> Held {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Held::exactly(0);
    };
    conn.query_row(
        "SELECT count(*), count(DISTINCT seq), coalesce(sum(seq), 0) FROM events",
        [],
        |r| {
            Ok(Held {
                rows: r.get::<_, i64>(0)? as u64,
                distinct: r.get::<_, i64>(1)? as u64,
                sum: r.get::<_, i64>(2)? as u64,
            })
        },
    )
    .unwrap_or(Held::exactly(0))
}

/// A writer appending records `0..total` to a log at `per_second`, in
/// small bursts, through one descriptor it reopens on request (after a
/// rename rotation) and that it stops using while paused (around
/// `copytruncate`, which loses what is written between its copy and its
/// truncation: logrotate says so).
pub struct Writer {
    pub written: Arc<AtomicU64>,
    pause: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(path: &Path, total: u64, per_second: u64) -> Writer {
        let (written, pause, paused, reopen) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (w, p, pd, r) = (
            written.clone(),
            pause.clone(),
            paused.clone(),
            reopen.clone(),
        );
        let path = path.to_path_buf();
        let open = move |path: &Path| -> File {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap()
        };
        let thread = std::thread::spawn(move || {
            let mut f = open(&path);
            let t0 = Instant::now();
            let mut seq = 0;
            while seq < total {
                if p.load(Ordering::SeqCst) {
                    pd.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                pd.store(false, Ordering::SeqCst);
                if r.swap(false, Ordering::SeqCst) {
                    f = open(&path);
                }
                // Where the schedule says we should be by now.
                let due = (t0.elapsed().as_secs_f64() * per_second as f64) as u64;
                let to = due.clamp(seq, total).min(seq + 500);
                if to > seq {
                    let text: String = (seq..to).map(record).collect();
                    f.write_all(text.as_bytes()).unwrap();
                    seq = to;
                    w.store(seq, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Writer {
            written,
            pause,
            paused,
            reopen,
            thread: Some(thread),
        }
    }

    /// Stops writing until `resume`; returns once no write is under way.
    pub fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
        while !self.paused.load(Ordering::SeqCst) && !self.done() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
    }

    /// Writes to the file under the name from now on (after a rename).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::SeqCst);
    }

    pub fn done(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            t.join().expect("the writer ends well");
        }
    }
}
