//! The live view drawn into a buffer, read back as text: what an operator
//! sees for a load in progress, a daemon that went away, and a screen too
//! small for everything.

use super::*;
use crate::status::{StreamStatus, TailStatus, WorkerStatus};
use chrono::TimeZone;

fn at(s: u32) -> DateTime<Local> {
    Local.with_ymd_and_hms(2026, 12, 6, 21, 30, s).unwrap()
}

fn job(loaded: u64) -> JobStatus {
    JobStatus {
        name: "orders".into(),
        state: "running".into(),
        sink: "sqlite sink \"local\"".into(),
        table: "orders".into(),
        workers: vec![
            WorkerStatus {
                slot: 1,
                pid: Some(41),
                state: "ready".into(),
                uptime_s: 65.0,
                batches: 12,
                in_flight: 1,
            },
            WorkerStatus {
                slot: 2,
                pid: None,
                state: "down".into(),
                ..WorkerStatus::default()
            },
        ],
        loaded,
        rejected: 3,
        rows_per_s: 0.0,
        in_flight: 1,
        files: vec![FileStatus {
            file: "big.csv".into(),
            bytes_done: 250,
            size: Some(1000),
            loaded,
            rejected: 3,
            tail: None,
        }],
        backlog_files: 2,
        backlog_batches: 5,
        stream: None,
    }
}

fn report(uptime_s: f64, jobs: Vec<JobStatus>) -> StatusReport {
    StatusReport {
        pid: 7,
        uptime_s,
        config: "/etc/ingestd/ingestd.toml".into(),
        jobs,
    }
}

/// The model drawn on a `width` x `height` screen, one string per line,
/// trailing blanks cut.
fn screen(m: &Model, width: u16, height: u16) -> Vec<String> {
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    m.render(area, &mut buf);
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}:\n{}", lines.join("\n")))
}

#[test]
fn a_load_in_progress_shows_figures_rates_workers_and_a_progress_bar() {
    let mut m = Model::new("/run/ingestd/ingestd.sock".into());
    m.update(at(0), Ok(report(10.0, vec![job(1_000)])));
    m.update(at(1), Ok(report(11.0, vec![job(3_000)])));
    m.update(at(2), Ok(report(12.0, vec![job(7_000)])));
    let s = screen(&m, 120, 20);
    let all = s.join("\n");
    assert!(
        s[0].starts_with("ingestd pid 7, up 12s, 1 job(s), config /etc/ingestd/ingestd.toml"),
        "{all}"
    );
    assert!(s[0].contains("updated 21:30:02"), "{all}");
    assert!(!all.contains("not answering"), "{all}");
    assert!(
        line_with(&s, "job orders")
            .contains("job orders: running -> sqlite sink \"local\" table orders"),
        "{all}"
    );
    // The last delta: 4000 rows in one second of the daemon's clock; the
    // sparkline has one bar per report, the highest last.
    let rate = line_with(&s, "rows/s");
    assert!(rate.starts_with("  4000 rows/s"), "{all}");
    let bars: String = rate.chars().skip(usize::from(LABEL)).collect();
    assert_eq!(bars.chars().count(), 3, "{rate:?}");
    assert_eq!(bars.chars().last(), Some('█'), "{rate:?}");
    assert_eq!(
        line_with(&s, "  loaded"),
        "  loaded 7000, rejected 3, in flight 1, backlog 2 file(s) / 5 batch(es)"
    );
    assert_eq!(
        line_with(&s, "worker 1"),
        "  worker 1 pid 41: ready, up 1m05s, 12 batches, 1 in flight"
    );
    assert!(line_with(&s, "worker 2").contains("pid -: down"), "{all}");
    // The file's bar: a quarter done, in distinct symbols.
    let file = line_with(&s, "file big.csv");
    assert!(
        file.contains("250 of 1000 bytes; loaded 7000, rejected 3"),
        "{file:?}"
    );
    let bar: String = file
        .chars()
        .skip(usize::from(LABEL) + 1)
        .take(usize::from(BAR))
        .collect();
    assert!(bar.starts_with(" 25% "), "{bar:?}");
    let (done, todo) = (bar.matches('█').count(), bar.matches('░').count());
    assert_eq!(done + todo, usize::from(BAR) - 5, "{bar:?}");
    assert_eq!(done, (usize::from(BAR) - 5) / 4, "{bar:?}");
}

#[test]
fn followed_files_and_streams_show_their_own_figures() {
    let mut j = job(10);
    j.files = vec![FileStatus {
        file: "app.log".into(),
        bytes_done: 600,
        size: Some(800),
        loaded: 10,
        rejected: 0,
        tail: Some(TailStatus {
            path: "/var/log/app.log".into(),
            fingerprint: "tail:0123456789abcdef0123".into(),
            position: 800,
            lag_bytes: 200,
            oldest_unloaded_s: 1.5,
        }),
    }];
    j.stream = Some(StreamStatus {
        stream: "ORDERS".into(),
        pending: 4,
        ack_pending: 2,
        redelivered: 1,
        received: 9,
        held: 3,
        acked: 6,
        terminated: 0,
        ack_latency_s: 0.25,
    });
    let mut m = Model::new("s".into());
    m.update(at(0), Ok(report(1.0, vec![j])));
    let s = screen(&m, 160, 20);
    let tail = line_with(&s, "followed /var/log/app.log");
    assert!(
        tail.contains("read to 800 of 800 bytes, 200 not loaded (oldest 1.5s); loaded 10"),
        "{tail:?}"
    );
    assert!(tail.contains(" 75% "), "{tail:?}");
    assert!(
        line_with(&s, "stream ORDERS").contains("pending 4, ack pending 2, redelivered 1"),
        "{}",
        s.join("\n")
    );
}

#[test]
fn a_daemon_gone_away_is_said_and_its_last_report_kept() {
    let mut m = Model::new("/run/ingestd/ingestd.sock".into());
    // Never answered yet.
    m.update(
        at(0),
        Err(StatusError::Connect {
            path: "/run/ingestd/ingestd.sock".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        }),
    );
    let s = screen(&m, 200, 10);
    assert!(s[0].contains("/run/ingestd/ingestd.sock"), "{s:?}");
    assert!(
        s[1].starts_with(
            "daemon not answering: cannot reach the daemon at /run/ingestd/ingestd.sock"
        ),
        "{s:?}"
    );
    assert!(s[1].ends_with("asking again every second"), "{s:?}");

    // It answers, then goes away: the error, and the last report as it was.
    m.update(at(1), Ok(report(5.0, vec![job(42)])));
    assert!(!screen(&m, 200, 10).join("\n").contains("not answering"));
    m.update(
        at(2),
        Err(StatusError::Read(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))),
    );
    let s = screen(&m, 200, 10);
    assert!(s[0].contains("last answer 21:30:01"), "{s:?}");
    assert!(s[1].starts_with("daemon not answering: reading"), "{s:?}");
    assert!(line_with(&s, "  loaded 42,").starts_with("  loaded 42"));
}

#[test]
fn rows_that_do_not_fit_are_counted() {
    let mut m = Model::new("s".into());
    let jobs = (0..4)
        .map(|i| JobStatus {
            name: format!("j{i}"),
            ..job(1)
        })
        .collect();
    m.update(at(0), Ok(report(1.0, jobs)));
    let all = rows(&m).len();
    let s = screen(&m, 120, 10);
    assert_eq!(
        s[9],
        format!("... {} more line(s): enlarge the terminal", all - 9)
    );
    // A file of unknown size has no bar, and says so.
    let mut j = job(1);
    j.files[0].size = None;
    m.update(at(1), Ok(report(2.0, vec![j])));
    let s = screen(&m, 120, 20);
    let file = line_with(&s, "file big.csv");
    assert!(file.contains("size unknown"), "{file:?}");
    assert!(file.contains("250 bytes; loaded 1"), "{file:?}");
}

#[test]
fn a_long_name_widens_the_label_column_up_to_half_the_screen() {
    let mut j = job(1);
    let long = format!("{}.csv", "n".repeat(36));
    j.files.push(FileStatus {
        file: long.clone(),
        ..j.files[0].clone()
    });
    let mut m = Model::new("s".into());
    m.update(at(0), Ok(report(1.0, vec![j.clone()])));
    let s = screen(&m, 160, 20);
    // Both bars start after the longest name, which is whole.
    let name = format!("  file {long}");
    let at_bar = |l: &str| l.chars().position(|c| c == '%').unwrap();
    let (a, b) = (line_with(&s, "file big.csv"), line_with(&s, &name));
    assert_eq!(at_bar(a), at_bar(b), "{a:?}\n{b:?}");
    assert_eq!(at_bar(b), name.chars().count() + 4, "{b:?}");
    // On a narrow screen the names are cut at half its width.
    let s = screen(&m, 80, 20);
    let b = line_with(&s, "  file nnnn");
    assert_eq!(at_bar(b), 40 + 4, "{b:?}");
}
