//! The tail source with the real binary, real SQLite files and the real
//! `logrotate`: growth, rename and copy-and-truncate rotations, the daemon
//! stopped across rotations, inode reuse, partial last lines and
//! `start_at = "end"`. Every test ends on the table holding exactly the
//! records written, each once.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use crate::support::tail::{Held, Tail, append, append_bytes, missing, record};
use crate::support::*;

trials![
    follows_a_growing_log_and_resumes_from_the_ledger,
    rename_and_copytruncate_rotations_lose_and_repeat_nothing[Logrotate],
    the_daemon_stopped_during_two_rotations_loses_nothing[Logrotate],
    a_reused_inode_with_new_content_is_a_new_file[LoopExt4],
    a_partial_last_line_waits_for_partial_timeout,
    start_at_end_skips_what_was_there_and_nothing_after,
    a_csv_export_is_followed_closed_when_idle_and_taken_again,
    multi_line_records_are_taken_whole,
    more_files_than_max_open_files_take_turns,
    bad_input_is_rejected_and_the_log_goes_on,
];

const WAIT: Duration = Duration::from_secs(30);

fn start(t: &Tail, log: &str) -> Daemon {
    let d = Daemon::start(&["run", "--config", t.cfg()], &t.path(log));
    d.expect_log("ready", 1, Duration::from_secs(30));
    d
}

/// `probe`'s `Ok` once it gives one within `WAIT`; else fails with its
/// last `Err`.
#[track_caller]
fn eventually(mut probe: impl FnMut() -> Result<String, String>) -> String {
    let t0 = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if t0.elapsed() > WAIT => panic!("never came: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[track_caller]
fn assert_exactly(t: &Tail, n: u64) {
    let got = t.wait_rows(n, WAIT);
    if got != Held::exactly(n) {
        let gaps = missing(&t.db, n);
        panic!("the table holds {got:?}, not 0..{n} once each; missing: {gaps:?}");
    }
}

fn follows_a_growing_log_and_resumes_from_the_ledger() {
    let t = Tail::new("", "");
    let port = free_port();
    crate::support::config::edit(&t.config, |c| {
        c.replacen(
            "[daemon]\n",
            &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
            1,
        )
    });
    let mut d = start(&t, "first.log");
    append(&t.log, 0, 100);
    assert_exactly(&t, 100);
    // Per followed file: its lag (nothing left once loaded).
    // The answer reaches the supervisor just after the rows are visible.
    let lag_line = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("ingestd_tail_lag_bytes{") && l.contains("file=\"app.log\""))
            .map(str::to_string)
    };
    let metrics = eventually(|| {
        let m = http_get(port, "/metrics");
        lag_line(&m)
            .is_some_and(|l| l.ends_with(" 0"))
            .then_some(m.clone())
            .ok_or(m)
    });
    assert!(
        metrics.contains("ingestd_tail_oldest_unloaded_seconds{"),
        "{metrics}"
    );
    // One line to a quiet log reaches the table well within a second
    // (batch_linger 200 ms; the figures are in benches/tail.sh).
    let t0 = Instant::now();
    append(&t.log, 100, 101);
    assert_exactly(&t, 101);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // Stopped and written to meanwhile: the rest, not the start again.
    d.stop(Duration::from_secs(30));
    append(&t.log, 101, 300);
    let mut d = start(&t, "second.log");
    assert_exactly(&t, 300);
    let out = eventually(|| {
        let out = ingestd(["status", "--config", t.cfg()])
            .run()
            .expect(0)
            .output();
        out.contains("0 bytes not loaded")
            .then_some(out.clone())
            .ok_or(out)
    });
    let shown = format!("followed {} (tail:", t.log.display());
    assert!(out.contains(&shown), "{out}");
    assert!(out.contains("0 bytes not loaded"), "{out}");
    d.stop(Duration::from_secs(30));
}

fn rename_and_copytruncate_rotations_lose_and_repeat_nothing() {
    let t = Tail::new("batch_rows = 500\n", "rotate_wait = \"1s\"\n");
    let create = t.rotate_conf("create.conf", "create");
    let copy = t.rotate_conf("copy.conf", "copytruncate");
    let mut d = start(&t, "daemon.log");
    let mut n = 0;
    for round in 0..3 {
        append(&t.log, n, n + 2000);
        n += 2000;
        // Renamed: a writer that has not reopened yet goes on into the old
        // file, which is read to its end before it is let go.
        let old = fs::File::options().append(true).open(&t.log).unwrap();
        t.logrotate(&create);
        use std::io::Write;
        (&old).write_all(record(n).as_bytes()).unwrap();
        n += 1;
        append(&t.log, n, n + 1000);
        n += 1000;
        // Copied and truncated right after a burst: what was not read yet
        // is read from the copy.
        append(&t.log, n, n + 20_000);
        n += 20_000;
        t.logrotate(&copy);
        append(&t.log, n, n + 500);
        n += 500;
        eprintln!("round {round}: {n} records written");
    }
    assert_exactly(&t, n);
    // Nothing twice in the ledger either: each committed range once.
    let overlaps = sqlite_count(
        &t.db,
        "SELECT count(*) FROM ingestd_ledger a JOIN ingestd_ledger b ON a.source = b.source \
         AND a.start_off < b.start_off AND b.start_off < a.end_off",
    );
    assert_eq!(overlaps, 0);
    d.stop(Duration::from_secs(30));
}

fn the_daemon_stopped_during_two_rotations_loses_nothing() {
    let t = Tail::new("", "");
    let rotate = t.rotate_conf("r.conf", "create\n    compress\n    delaycompress");
    let mut d = start(&t, "first.log");
    append(&t.log, 0, 1000);
    assert_exactly(&t, 1000);
    append(&t.log, 1000, 1200);
    d.stop(Duration::from_secs(30));
    // While stopped: more into the file, then two rotations; the first
    // file ends up compressed (app.log.2.gz), the second is app.log.1.
    append(&t.log, 1200, 1300);
    t.logrotate(&rotate);
    append(&t.log, 1300, 1600);
    t.logrotate(&rotate);
    append(&t.log, 1600, 1700);
    assert!(t.logs.join("app.log.2.gz").exists());
    let mut d = start(&t, "second.log");
    assert_exactly(&t, 1700);
    d.stop(Duration::from_secs(30));
}

fn a_reused_inode_with_new_content_is_a_new_file() {
    let t = Tail::new("", "rotate_wait = \"500ms\"\n");
    // The logs on a filesystem of their own: no other process takes the
    // inode the deleted log frees.
    let _fs = crate::support::mount::SmallFs::ext4(&t.logs, 16).expect("the harness checked");
    let mut d = start(&t, "first.log");
    append(&t.log, 0, 500);
    assert_exactly(&t, 500);
    let ino = fs::metadata(&t.log).unwrap().ino();
    fs::remove_file(&t.log).unwrap();
    // Read to its end, then let go: its descriptor closed, its inode free.
    d.expect_log("followed file let go", 1, WAIT);
    reuse(&t, ino);
    append(&t.log, 500, 900);
    assert_exactly(&t, 900);
    // The same while the daemon is stopped, the new file longer than the
    // part of the old one that was loaded.
    d.stop(Duration::from_secs(30));
    let ino = fs::metadata(&t.log).unwrap().ino();
    fs::remove_file(&t.log).unwrap();
    reuse(&t, ino);
    append(&t.log, 900, 1500);
    let mut d = start(&t, "second.log");
    assert_exactly(&t, 1500);
    d.stop(Duration::from_secs(30));
}

/// Creates the log anew with inode `ino` (freed a moment ago): files are
/// created beside it until the filesystem hands that inode out again.
fn reuse(t: &Tail, ino: u64) {
    for k in 0..2000 {
        let probe = t.logs.join(format!("probe-{k}"));
        fs::write(&probe, b"").unwrap();
        if fs::metadata(&probe).unwrap().ino() == ino {
            fs::rename(&probe, &t.log).unwrap();
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the filesystem did not hand out inode {ino} again");
}

fn a_partial_last_line_waits_for_partial_timeout() {
    let t = Tail::new("", "partial_timeout = \"1s\"\n");
    let mut d = start(&t, "daemon.log");
    append(&t.log, 0, 10);
    assert_exactly(&t, 10);
    let partial = record(10);
    let (head, rest) = partial.split_at(partial.len() - 1);
    append_bytes(&t.log, head.as_bytes());
    // Not before the file has been quiet for partial_timeout...
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.table().rows, 10, "a partial line is not a record yet");
    // ...then as it is.
    assert_exactly(&t, 11);
    d.expect_log("loaded as it is", 1, WAIT);
    // Its newline, late, is a blank line: nothing more.
    append_bytes(&t.log, rest.as_bytes());
    append(&t.log, 11, 20);
    assert_exactly(&t, 20);
    d.stop(Duration::from_secs(30));

    // partial_timeout = "0s": it waits for its newline, however long.
    let t = Tail::new("", "partial_timeout = \"0s\"\n");
    let mut d = start(&t, "daemon.log");
    append(&t.log, 0, 5);
    let partial = record(5);
    append_bytes(&t.log, &partial.as_bytes()[..partial.len() - 1]);
    assert_exactly(&t, 5);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(t.table().rows, 5);
    append_bytes(&t.log, b"\n");
    assert_exactly(&t, 6);
    d.stop(Duration::from_secs(30));
}

fn start_at_end_skips_what_was_there_and_nothing_after() {
    let t = Tail::new("", "start_at = \"end\"\n");
    append(&t.log, 0, 100);
    let mut d = start(&t, "first.log");
    d.expect_log("not loaded", 1, WAIT);
    append(&t.log, 100, 150);
    let h = t.wait_rows(50, WAIT);
    assert_eq!((h.rows, h.distinct, h.sum), (50, 50, (100..150).sum()));
    // Killed, and written to while down: the records written after the
    // start are all loaded, those before it still not.
    let pid = d.pid();
    kill(pid, 9);
    d.wait_exit(Duration::from_secs(10));
    append(&t.log, 150, 200);
    let mut d = start(&t, "second.log");
    let h = t.wait_rows(100, WAIT);
    assert_eq!((h.rows, h.distinct, h.sum), (100, 100, (100..200).sum()));
    d.stop(Duration::from_secs(30));
}

const CSV: &str = "[jobs.app.format]\nkind = \"csv\"\n\n\
    [[jobs.app.columns]]\nname = \"seq\"\ntype = \"bigint\"\nnullable = false\n\n\
    [[jobs.app.columns]]\nname = \"note\"\ntype = \"text\"\n";

fn csv_rows(from: u64, to: u64) -> String {
    (from..to).map(|n| format!("{n},row {n}\n")).collect()
}

fn a_csv_export_is_followed_closed_when_idle_and_taken_again() {
    let t = Tail::with_format("", "idle_close = \"1s\"\n", CSV);
    let mut d = start(&t, "daemon.log");
    append_bytes(&t.log, format!("seq,note\n{}", csv_rows(0, 100)).as_bytes());
    assert_exactly(&t, 100);
    // Unchanged for idle_close: closed...
    d.expect_log("followed file let go", 1, WAIT);
    // ...and taken again when it grows, from where the ledger says, with
    // the line numbers of the file (the bad row is its line 152).
    let more = format!(
        "{}not a number,x\n{}",
        csv_rows(100, 150),
        csv_rows(150, 200)
    );
    append_bytes(&t.log, more.as_bytes());
    assert_exactly(&t, 200);
    // The reject files are written once the worker's answer is in, just
    // after the rows are visible.
    let text = reject_notes(&t, "app.log.", "\"line\":152");
    // Named after the log and its key's first hex digits.
    let tagged = fs::read_dir(t.path("rejects")).unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let tag = name
            .strip_prefix("app.log.")
            .and_then(|n| n.strip_suffix(".bad.jsonl"));
        tag.is_some_and(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()))
    });
    assert!(tagged, "reject files named app.log.<key>.bad.jsonl");
    assert!(text.contains("\"line\":152"), "{text}");
    d.stop(Duration::from_secs(30));
}

/// The reject notes (`.bad.jsonl`) of the file whose reject files begin
/// with `prefix`, once they hold `expected` (or the test's patience ends).
fn reject_notes(t: &Tail, prefix: &str, expected: &str) -> String {
    let t0 = Instant::now();
    loop {
        let found = fs::read_dir(t.path("rejects")).ok().and_then(|dir| {
            dir.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with(prefix) && name.ends_with(".bad.jsonl")
            })
        });
        let text = found
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_default();
        if text.contains(expected) || t0.elapsed() > WAIT {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Multi-line records (a first line, then lines that begin with a blank):
/// the last one waits for the next record or for `partial_timeout`.
fn multi_line_records_are_taken_whole() {
    let format = "[jobs.app.format]\nkind = \"regex\"\n\
        pattern = '^(?P<seq>\\d+) (?s:(?P<note>.*))$'\ncontinue = '^\\s'\n\n\
        [[jobs.app.columns]]\nname = \"seq\"\ntype = \"bigint\"\nnullable = false\n\n\
        [[jobs.app.columns]]\nname = \"note\"\ntype = \"text\"\n";
    let t = Tail::with_format("", "partial_timeout = \"1s\"\n", format);
    let record = |n: u64| format!("{n} failed\n  at one\n  at two\n");
    let mut d = start(&t, "daemon.log");
    append_bytes(&t.log, (0..50).map(record).collect::<String>().as_bytes());
    // 49 are decided by the line after them; the last by partial_timeout.
    assert_exactly(&t, 50);
    d.stop(Duration::from_secs(30));
    // Resumed from the ledger, past the records loaded.
    append_bytes(&t.log, (50..80).map(record).collect::<String>().as_bytes());
    let mut d = start(&t, "second.log");
    assert_exactly(&t, 80);
    let notes = sqlite_count(
        &t.db,
        "SELECT count(*) FROM events WHERE note = 'failed\n  at one\n  at two'",
    );
    assert_eq!(
        notes, 80,
        "each record whole, its continuation lines with it"
    );
    d.stop(Duration::from_secs(30));
}

/// Three logs of a pattern, one followed at a time: each gives its turn up
/// once quiet for a second while others wait (well before idle_close), and
/// the next takes it; then the first, grown, again.
fn more_files_than_max_open_files_take_turns() {
    let t = Tail::new("", "max_open_files = 1\n");
    crate::support::config::edit(&t.config, |c| {
        c.replace("path = \"logs/app.log\"", "pattern = \"logs/app-*.log\"")
    });
    for (k, name) in ["app-a.log", "app-b.log", "app-c.log"].iter().enumerate() {
        let k = k as u64;
        append(&t.logs.join(name), k * 100, k * 100 + 100);
    }
    let mut d = start(&t, "daemon.log");
    assert_exactly(&t, 300);
    append(&t.logs.join("app-a.log"), 300, 350);
    assert_exactly(&t, 350);
    let status = ingestd(["status", "--config", t.cfg()]).run().expect(0);
    assert!(
        status.output().matches("  followed ").count() <= 1,
        "{}",
        status.output()
    );
    d.stop(Duration::from_secs(30));
}

/// Bad lines in a followed log are rejected with their line and reason, a
/// line longer than max_record_bytes too (without holding it in memory),
/// and the log goes on; a CSV log whose header does not fit the columns is
/// stopped once, not taken again at every write.
fn bad_input_is_rejected_and_the_log_goes_on() {
    let t = Tail::new("max_record_bytes = \"64KiB\"\n", "");
    let mut d = start(&t, "daemon.log");
    append(&t.log, 0, 10);
    let huge = format!("{{\"seq\":-1,\"note\":\"{}\"}}\n", "x".repeat(3 << 20));
    append_bytes(&t.log, format!("{{\"seq\":\n{huge}").as_bytes());
    append(&t.log, 10, 20);
    assert_exactly(&t, 20);
    let text = reject_notes(&t, "app.log.", "record_too_large");
    assert!(text.contains("\"line\":11"), "the bad JSON line: {text}");
    assert!(
        text.contains("record_too_large") && text.contains("\"line\":12"),
        "{text}"
    );
    d.stop(Duration::from_secs(30));

    let wrong = CSV.replace("name = \"note\"", "name = \"missing\"");
    let t = Tail::with_format("", "", &wrong);
    let mut d = start(&t, "daemon.log");
    append_bytes(&t.log, format!("seq,note\n{}", csv_rows(0, 10)).as_bytes());
    d.expect_log("file stopped", 1, WAIT);
    for k in 0..5 {
        append_bytes(&t.log, csv_rows(10 + k, 11 + k).as_bytes());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        d.log_text().matches("file stopped").count(),
        1,
        "{}",
        d.log_text()
    );
    assert_eq!(t.table().rows, 0);
    d.stop(Duration::from_secs(30));
}
