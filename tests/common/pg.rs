//! PostgreSQL helpers of the integration tests: reaching the test server
//! (`INGESTD_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/test)
//! or skipping with a printed reason (failing instead when
//! `INGESTD_REQUIRE_PG=1`), a schema of each test's own, the orders sum of a
//! table, a config writer for a postgres job, and a throwaway cluster a test
//! may restart without disturbing the others.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::{ORDER_COLUMNS, Sum, canonical};

pub fn test_url() -> String {
    std::env::var("INGESTD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether a missing server fails the test (CI) instead of skipping it.
pub fn required() -> bool {
    std::env::var("INGESTD_REQUIRE_PG").as_deref() == Ok("1")
}

/// Skips (returns `None`, printing why) or fails, as `INGESTD_REQUIRE_PG` says.
pub fn skip<T>(why: String) -> Option<T> {
    if required() {
        panic!("INGESTD_REQUIRE_PG=1, but {why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// A schema of one test's own on a server, dropped (with what is in it) at
/// the end.
pub struct Schema {
    pub client: Client,
    pub name: String,
    pub url: String,
}

impl Schema {
    /// On the test server; `None` when there is none and it is not required.
    pub fn new(tag: &str) -> Option<Schema> {
        Schema::on(&test_url(), tag)
    }

    pub fn on(url: &str, tag: &str) -> Option<Schema> {
        let mut client = match Client::connect(url, NoTls) {
            Ok(c) => c,
            Err(e) => {
                return skip(format!(
                    "no PostgreSQL at {url}: {e} (set INGESTD_TEST_PG_URL)"
                ));
            }
        };
        let name = format!("ingestd_it_{tag}_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE; CREATE SCHEMA \"{name}\""
            ))
            .expect("create the test schema");
        Some(Schema {
            client,
            name,
            url: url.to_string(),
        })
    }

    /// The body of a `[sinks.NAME]` table for this schema.
    pub fn sink_toml(&self) -> String {
        format!(
            "kind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n",
            self.url, self.name
        )
    }

    /// Runs `sql` with this schema first on the search path.
    pub fn exec(&mut self, sql: &str) {
        let sql = format!("SET search_path TO \"{}\"; {sql}", self.name);
        self.client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The first column of the first row of `sql` (an integer).
    pub fn int(&mut self, sql: &str) -> i64 {
        self.exec("SELECT 1");
        self.client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// The orders sum of `table` (rows `filter` keeps).
    pub fn sum(&mut self, table: &str, filter: &str) -> Sum {
        self.exec("SELECT 1");
        orders_sum(&mut self.client, table, filter)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
    }
}

/// The order-independent sum of an orders table, as `Sum` of the file.
pub fn orders_sum(client: &mut Client, table: &str, filter: &str) -> Sum {
    let sql = format!(
        "SELECT id, customer_id::bigint, customer_name, (amount * 100)::bigint, currency::text, \
         created_at::text, status, note FROM \"{table}\" WHERE {filter}"
    );
    let mut sum = Sum::default();
    for r in client
        .query(&sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    {
        let note: Option<String> = r.get(7);
        sum.add(&canonical(
            r.get(0),
            r.get(1),
            &r.get::<_, String>(2),
            r.get(3),
            &r.get::<_, String>(4),
            &r.get::<_, String>(5),
            &r.get::<_, String>(6),
            note.as_deref(),
        ));
    }
    sum
}

/// A test folder with `in/` and a config for one orders job `job` on the
/// postgres sink `sink_toml`.
pub struct PgSetup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub landing: PathBuf,
    pub rejects: PathBuf,
}

impl PgSetup {
    /// `job_extra` goes into `[jobs.<job>]`, `source_extra` into its source.
    pub fn new(job: &str, sink_toml: &str, job_extra: &str, source_extra: &str) -> PgSetup {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("in");
        fs::create_dir_all(&landing).unwrap();
        let config = dir.path().join("ingestd.toml");
        let columns = ORDER_COLUMNS.replace("jobs.orders.", &format!("jobs.{job}."));
        let text = format!(
            r#"[daemon]
state_dir = "state"
rescan_interval = "1s"

[sinks.pg]
{sink_toml}
[jobs.{job}]
sink = "pg"
table = "orders"
reject_dir = "rejects"
{job_extra}

[jobs.{job}.source]
kind = "dir"
path = "in"
pattern = "*.csv"
settle = "200ms"
{source_extra}
{columns}"#
        );
        fs::write(&config, text).unwrap();
        PgSetup {
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

/// A PostgreSQL cluster of one test's own (initdb in a temp folder, TCP on
/// 127.0.0.1 and a free port, its socket in the folder), stopped and
/// removed on drop. A test restarts it at will.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

impl Cluster {
    /// `None` (skipped) when the server binaries are not installed.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = pg_bindir() else {
            return skip(
                "no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin)"
                    .into(),
            );
        };
        let dir = tempfile::Builder::new()
            .prefix("ingestd-pg-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let c = Cluster { dir, port, bin };
        // initdb refuses to run as root: the cluster belongs to `postgres`.
        if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .expect("running as root needs a `postgres` user to own the cluster");
            nix::unistd::chown(c.dir.path(), Some(user.uid), Some(user.gid)).unwrap();
        }
        let data = c.data();
        c.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        c.up();
        Some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server: `immediate` is a crash (recovery on the next start).
    pub fn down(&self, mode: &str) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", mode, "-w", "-t", "60", "stop"],
        );
    }

    /// A server binary, run as the cluster's owner.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if nix::unistd::geteuid().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        }
    }

    /// Runs a server binary; panics (with the server's log) on failure.
    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// Connects, retrying while the server starts.
    pub fn client(&self) -> Client {
        let t0 = Instant::now();
        loop {
            match Client::connect(&self.url(), NoTls) {
                Ok(c) => return c,
                Err(e) if t0.elapsed() > Duration::from_secs(30) => panic!("{}: {e}", self.url()),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Whatever state the test left it in; the folder goes with `dir`.
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn pg_bindir() -> Option<PathBuf> {
    let from_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = from_config.filter(|d| has_server(d)) {
        return Some(d);
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has_server(d))
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Sessions on the server whose `application_name` starts with `prefix`:
/// (backend pid, application_name, client port).
pub fn sessions(client: &mut Client, prefix: &str) -> Vec<(i32, String, Option<i32>)> {
    client
        .query(
            "SELECT pid, application_name, client_port FROM pg_stat_activity \
             WHERE starts_with(application_name, $1)",
            &[&prefix],
        )
        .expect("pg_stat_activity")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The process that owns the local end of the TCP connection from
/// `local_port` (a client's port) to `server_port`, among `pids`.
pub fn socket_owner(local_port: u16, server_port: u16, pids: &[u32]) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if f.len() > 9 && port(f[1]) == Some(local_port) && port(f[2]) == Some(server_port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    pids.iter().copied().find(|pid| {
        super::fd_targets(*pid)
            .iter()
            .any(|t| inodes.iter().any(|i| t.as_os_str() == i.as_str()))
    })
}
