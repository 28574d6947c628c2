//! Log files for the line-format tests: a seeded nginx access log (with the
//! odd lines real ones have: IPv6 clients, `-` for no user or referer,
//! escaped bytes), a Java application log with stack traces, and a job
//! config for a line format (`[jobs.j]` into table `t`, reading `in/`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config::{DAEMON, sink};

/// `ingestd.toml` in `dir` with one job `j` into table `t` of sink `s`
/// (`sink_body`), creating it, reading `in/PATTERN` with `format` (the
/// lines of `[jobs.j.format]`) and `columns` (TOML, may be empty);
/// `job_extra` goes into `[jobs.j]`.
pub fn line_job(
    dir: &Path,
    sink_body: &str,
    pattern: &str,
    format: &str,
    columns: &str,
    job_extra: &str,
) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "{DAEMON}{}\n[jobs.j]\nsink = \"s\"\ntable = \"t\"\ncreate_table = true\n\
         reject_dir = \"rejects\"\n{job_extra}\n\n[jobs.j.source]\nkind = \"dir\"\npath = \"in\"\n\
         pattern = {pattern:?}\nsettle = \"200ms\"\n\n[jobs.j.format]\n{format}\n{columns}",
        sink("s", sink_body)
    );
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

const AGENTS: [&str; 5] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "curl/8.5.0",
    "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)",
    r"sqlmap/1.8 \x22probe\x22",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `n` access log lines; line `i` (1-based) requests a path holding `i`, so
/// that a row names its line.
pub fn access_log(n: usize, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (1..=n)
        .map(|i| {
            let addr = match rng.u8(..20) {
                0 => format!("2001:db8::{:x}", rng.u16(..)),
                _ => format!("{}.{}.{}.{}", rng.u8(1..), rng.u8(..), rng.u8(..), rng.u8(1..)),
            };
            let user = match rng.u8(..10) {
                0 => format!("user{}", rng.u8(..)),
                _ => "-".into(),
            };
            let offset = ["+0000", "-0700", "+0530", "+0100"][rng.usize(..4)];
            let time = format!(
                "{:02}/{}/20{:02}:{:02}:{:02}:{:02} {offset}",
                rng.u8(1..29),
                MONTHS[rng.usize(..12)],
                rng.u8(10..30),
                rng.u8(..24),
                rng.u8(..60),
                rng.u8(..60)
            );
            let method = ["GET", "GET", "POST", "HEAD", "PUT"][rng.usize(..5)];
            let proto = ["HTTP/1.1", "HTTP/2.0", "HTTP/1.0"][rng.usize(..3)];
            let status = [200, 200, 304, 404, 500, 301][rng.usize(..6)];
            let referer = match rng.u8(..3) {
                0 => "-".to_string(),
                _ => format!("https://shop.example.com/item?id={}", rng.u32(..)),
            };
            format!(
                "{addr} - {user} [{time}] \"{method} /p/{i}?q={} {proto}\" {status} {} \"{referer}\" \"{}\"",
                rng.u32(..),
                rng.u32(..1_000_000),
                AGENTS[rng.usize(..AGENTS.len())]
            )
        })
        .collect()
}

/// One record of a Java application log: its first line's fields and its
/// whole message (continuation lines joined with `\n`).
#[derive(Clone, Debug, PartialEq)]
pub struct JavaRecord {
    pub time: String,
    pub level: String,
    pub message: String,
}

impl JavaRecord {
    /// Its lines as the log holds them, ended by `eol`.
    pub fn text(&self, eol: &str) -> String {
        let mut s = String::new();
        for (i, l) in self.message.split('\n').enumerate() {
            match i {
                0 => write!(s, "{} {} {l}{eol}", self.time, self.level).unwrap(),
                _ => write!(s, "{l}{eol}").unwrap(),
            }
        }
        s
    }
}

/// `n` records, one in four with a stack trace (`\tat ...` lines, a
/// `Caused by:` and `... N more`).
pub fn java_log(n: usize, seed: u64) -> Vec<JavaRecord> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let time = format!(
                "2026-12-03 {:02}:{:02}:{:02}.{:03}",
                i / 3600 % 24,
                i / 60 % 60,
                i % 60,
                rng.u16(..1000)
            );
            let level = ["INFO", "WARN", "ERROR", "DEBUG"][rng.usize(..4)].to_string();
            let mut message = format!("[main] com.example.Service - request {i} handled");
            if rng.u8(..4) == 0 {
                message = format!(
                    "[pool-1-thread-{}] com.example.Job - failed {i}",
                    rng.u8(..9)
                );
                message.push_str("\njava.lang.IllegalStateException: bad state");
                for k in 0..rng.usize(1..12) {
                    write!(
                        message,
                        "\n\tat com.example.Job.step{k}(Job.java:{})",
                        10 + k
                    )
                    .unwrap();
                }
                message.push_str("\nCaused by: java.io.IOException: closed");
                message.push_str("\n\tat java.base/java.io.Reader.read(Reader.java:42)");
                write!(message, "\n\t... {} more", rng.u8(1..40)).unwrap();
            }
            JavaRecord {
                time,
                level,
                message,
            }
        })
        .collect()
}

/// `got == want`, saying where they first differ instead of printing
/// thousands of rows.
#[track_caller]
pub fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T]) {
    if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
        panic!("row {i} differs:\n got {:?}\nwant {:?}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "as many rows");
}
