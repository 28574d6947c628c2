//! Shared helpers of the integration tests: a deterministic orders CSV
//! generator, order-independent checksums of a file and of a table, config
//! writing, and a handle on the real `ingestd` binary running as a daemon.
//! Per target or purpose: `pg` (PostgreSQL), `oracle`, `chaos` (killing
//! workers and the supervisor under load).
#![allow(dead_code)]

pub mod chaos;
pub mod pg;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod oracle;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ingestd")
}

/// Count and order-independent checksum of a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sum {
    pub rows: u64,
    pub hash: u64,
}

impl Sum {
    pub fn add(&mut self, canonical: &str) {
        self.rows += 1;
        // FNV-1a per row, summed: independent of row order.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in canonical.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        self.hash = self.hash.wrapping_add(h);
    }
}

const NAMES: &[&str] = &[
    "James",
    "Mary",
    "Zoë",
    "Łukasz",
    "Søren",
    "Мария",
    "翔太",
    "O'Brien",
    "D'Angelo",
];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CHF"];

/// One generated record as CSV text (with its line terminator), and its
/// canonical form.
pub fn order(rng: &mut fastrand::Rng, id: u64) -> (String, String) {
    let customer = rng.u32(1..1_000_000);
    let mut name = format!(
        "{} {}",
        NAMES[rng.usize(..NAMES.len())],
        NAMES[rng.usize(..NAMES.len())]
    );
    match rng.u32(..100) {
        0 => name.push_str("\nsecond line"),
        1..=3 => name.push_str(", Inc."),
        4 => name.push_str(" \"The Rock\""),
        _ => {}
    }
    let cents = rng.i64(-5_000..2_000_000);
    let amount = format!(
        "{}{}.{:02}",
        if cents < 0 { "-" } else { "" },
        cents.abs() / 100,
        cents.abs() % 100
    );
    let currency = CURRENCIES[rng.usize(..CURRENCIES.len())];
    let ts = format!(
        "2025-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        rng.u32(1..13),
        rng.u32(1..29),
        rng.u32(..24),
        rng.u32(..60),
        rng.u32(..60),
        if rng.u32(..20) == 0 {
            format!(".{:03}", rng.u32(..1000))
        } else {
            String::new()
        }
    );
    let status = STATUSES[rng.usize(..STATUSES.len())];
    let note = if rng.bool() {
        None
    } else {
        Some(format!("note {}", rng.u32(..1000)))
    };
    let line = format!(
        "{id},{customer},{},{amount},{currency},{ts},{status},{}\n",
        quote(&name),
        note.as_deref().map(quote).unwrap_or_default()
    );
    (
        line,
        canonical(
            id as i64,
            customer as i64,
            &name,
            cents,
            currency,
            &ts,
            status,
            note.as_deref(),
        ),
    )
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[allow(clippy::too_many_arguments)]
pub fn canonical(
    id: i64,
    customer: i64,
    name: &str,
    cents: i64,
    currency: &str,
    ts: &str,
    status: &str,
    note: Option<&str>,
) -> String {
    format!(
        "{id}|{customer}|{name}|{cents}|{currency}|{}|{status}|{}",
        norm_ts(ts),
        note.unwrap_or("\\N")
    )
}

fn norm_ts(ts: &str) -> String {
    let t = ts.replacen(' ', "T", 1);
    chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        .unwrap_or_else(|_| panic!("bad timestamp in test data: {ts}"))
}

pub const HEADER: &str = "id,customer_id,customer_name,amount,currency,created_at,status,note\n";

/// Writes `n` orders (ids from `first_id`) to `path`; returns their sum.
pub fn write_orders(path: &Path, n: u64, first_id: u64, seed: u64) -> Sum {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    out.write_all(HEADER.as_bytes()).unwrap();
    let mut sum = Sum::default();
    for id in first_id..first_id + n {
        let (line, canon) = order(&mut rng, id);
        out.write_all(line.as_bytes()).unwrap();
        sum.add(&canon);
    }
    out.flush().unwrap();
    sum
}

/// Writes `n` orders under a hidden name in `dir`, then renames the file to
/// `name` (how producers should hand files to a landing directory).
pub fn drop_orders(dir: &Path, name: &str, n: u64, first_id: u64, seed: u64) -> Sum {
    let staged = dir.join(format!(".{name}.tmp"));
    let sum = write_orders(&staged, n, first_id, seed);
    fs::rename(&staged, dir.join(name)).unwrap();
    sum
}

impl Sum {
    pub fn plus(self, other: Sum) -> Sum {
        Sum {
            rows: self.rows + other.rows,
            hash: self.hash.wrapping_add(other.hash),
        }
    }
}

/// The sum of the orders table in an SQLite file.
pub fn sqlite_sum(db: &Path, table: &str) -> Sum {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, customer_id, customer_name, amount, currency, created_at, status, note FROM \"{table}\""
        ))
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut sum = Sum::default();
    while let Some(r) = rows.next().unwrap() {
        use rusqlite::types::ValueRef;
        let cents = match r.get_ref(3).unwrap() {
            ValueRef::Integer(i) => i * 100,
            ValueRef::Real(f) => (f * 100.0).round() as i64,
            ValueRef::Text(t) => {
                let s = std::str::from_utf8(t).unwrap();
                (s.parse::<f64>().unwrap() * 100.0).round() as i64
            }
            other => panic!("amount stored as {other:?}"),
        };
        let note: Option<String> = r.get(7).unwrap();
        sum.add(&canonical(
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            &r.get::<_, String>(2).unwrap(),
            cents,
            &r.get::<_, String>(4).unwrap(),
            &r.get::<_, String>(5).unwrap(),
            &r.get::<_, String>(6).unwrap(),
            note.as_deref(),
        ));
    }
    sum
}

pub fn sqlite_count(db: &Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub const ORDER_COLUMNS: &str = r#"
[[jobs.orders.columns]]
name = "id"
type = "bigint"
nullable = false
[[jobs.orders.columns]]
name = "customer_id"
type = "int"
[[jobs.orders.columns]]
name = "customer_name"
type = "text"
[[jobs.orders.columns]]
name = "amount"
type = "decimal(12,2)"
[[jobs.orders.columns]]
name = "currency"
type = "varchar(3)"
[[jobs.orders.columns]]
name = "created_at"
type = "timestamp"
[[jobs.orders.columns]]
name = "status"
type = "text"
[[jobs.orders.columns]]
name = "note"
type = "text"
"#;

/// A test folder with `in/` (the landing directory), a config file and an
/// SQLite target, for one `orders` dir job.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    pub landing: PathBuf,
    pub rejects: PathBuf,
}

impl Setup {
    /// `job_extra` is TOML added to `[jobs.orders]`, `sink_extra` to `[sinks.local]`.
    pub fn new(job_extra: &str, sink_extra: &str, source_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("in");
        fs::create_dir_all(&landing).unwrap();
        let config = dir.path().join("ingestd.toml");
        let text = format!(
            r#"[daemon]
state_dir = "state"
rescan_interval = "1s"

[sinks.local]
kind = "sqlite"
path = "out/target.db"
{sink_extra}

[jobs.orders]
sink = "local"
table = "orders"
create_table = true
reject_dir = "rejects"
{job_extra}

[jobs.orders.source]
kind = "dir"
path = "in"
pattern = "*.csv"
settle = "200ms"
{source_extra}
{ORDER_COLUMNS}"#
        );
        fs::write(&config, text).unwrap();
        Setup {
            db: dir.path().join("out/target.db"),
            rejects: dir.path().join("rejects"),
            landing,
            config,
            dir,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

/// The real binary running as a daemon, its stderr kept in a file.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(args: &[&str], log: &Path) -> Daemon {
        Daemon::start_with_env(args, log, &[])
    }

    pub fn start_with_env(args: &[&str], log: &Path, env: &[(&str, &str)]) -> Daemon {
        let err = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(bin())
            .args(args)
            .envs(env.iter().copied())
            .env("INGESTD_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        Daemon {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` `count` times.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.log_text().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn signal(&self, sig: i32) {
        kill(self.pid(), sig);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of the direct children of `pid` (its workers).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // fields after the command name (which may hold spaces) start after ')'
        let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|f| f.parse::<u32>().ok()) == Some(pid) && fields[0] != "Z" {
            out.push(p);
        }
    }
    out
}

/// Where the open descriptors of `pid` point.
pub fn fd_targets(pid: u32) -> Vec<PathBuf> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| fs::read_link(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn kill(pid: u32, sig: i32) {
    let sig = nix::sys::signal::Signal::try_from(sig).unwrap();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}
