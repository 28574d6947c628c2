//! The real binary running as a daemon (`ingestd run`), its stderr kept in
//! a file that the test reads as the log, and what a test sees of its
//! processes from outside: children, open descriptors, signals.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::bin;

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
            // INGESTD_TEST_LOG=debug: the daemons' debug lines, to see why
            // a test failed.
            .env(
                "INGESTD_LOG",
                std::env::var("INGESTD_TEST_LOG").unwrap_or("info".into()),
            )
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

    /// `wait_log`, failing the test (with the log) when it times out.
    #[track_caller]
    pub fn expect_log(&self, needle: &str, count: usize, timeout: Duration) {
        assert!(
            self.wait_log(needle, count, timeout),
            "{count} x {needle:?} not logged within {timeout:?}:\n{}",
            self.log_text()
        );
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

    /// SIGTERM, then the daemon must drain and exit 0 within `timeout`.
    #[track_caller]
    pub fn stop(&mut self, timeout: Duration) {
        self.signal(15);
        let code = self.wait_exit(timeout);
        assert_eq!(code, Some(0), "after SIGTERM:\n{}", self.log_text());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of `GET path` from 127.0.0.1:`port` (the metrics endpoint),
/// which must answer 200.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    body.to_string()
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

/// Every one of `pids` logged a line containing each of `what` (worker
/// lines carry `pid=N` in their span).
#[track_caller]
pub fn assert_each_logged(log: &str, pids: &[u32], what: &[&str]) {
    for p in pids {
        let pid = format!("pid={p}");
        for w in what {
            assert!(
                log.lines().any(|l| l.contains(w) && l.contains(&pid)),
                "no {w:?} with {pid}:\n{log}"
            );
        }
    }
}
