//! A PostgreSQL cluster of one test's own: initdb in a temporary folder
//! (as the `postgres` user when the tests run as root, since initdb refuses
//! root), TCP on 127.0.0.1 and a free port, its socket in the folder. The
//! test may crash-stop and restart it without disturbing the others.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// A PostgreSQL cluster of one test's own (initdb in a temp folder, TCP on
/// 127.0.0.1 and a free port, its socket in the folder), stopped and
/// removed on drop. A test restarts it at will.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

impl Cluster {
    /// Starts one (the harness has checked that `bindir` finds the binaries).
    pub fn start() -> Cluster {
        let bin = bindir().expect("PostgreSQL server binaries");
        let dir = tempfile::Builder::new()
            .prefix("ingestd-pg-")
            .tempdir()
            .unwrap();
        let port = super::free_port();
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
        c
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

/// Where PostgreSQL's server binaries (initdb, pg_ctl) are, if anywhere.
pub fn bindir() -> Option<PathBuf> {
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
