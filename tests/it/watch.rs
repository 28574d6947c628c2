//! The live view (`ingestd status --watch`, `ingestd top`) with the real
//! binary against a running daemon: in a real terminal (tmux), a load in
//! progress shows the job, a progress bar and figures that agree with the
//! table, the daemon going away is said, and `q` gives the terminal back as
//! it was; through a pipe, one plain line per job per second, a daemon not
//! yet started said on stderr and waited for, and a reader that goes away
//! ending it quietly.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::support::tmux::Tmux;
use crate::support::*;

trials![
    a_terminal_shows_a_load_in_progress_as_the_table_has_it_and_q_restores_it[Tmux],
    a_pipe_gets_one_line_per_job_per_second_and_a_closed_pipe_ends_it,
];

/// Rows of the slow file: at the trigger's pace, several seconds of load.
const BIG: u64 = 20_000;

/// Makes every insert into `orders` cost a recursive count to `steps` (a
/// slow target that SQLite can be: no sleep in SQL), so that a load is
/// still in progress while the screen is read.
fn slow_down_inserts(db: &Path, steps: u32) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    c.execute_batch(&format!(
        "CREATE TRIGGER slow AFTER INSERT ON orders BEGIN \
           SELECT count(*) FROM (WITH RECURSIVE n(x) AS (VALUES(1) UNION ALL \
             SELECT x + 1 FROM n WHERE x < {steps}) SELECT x FROM n); \
         END;"
    ))
    .unwrap();
}

/// The table's row count every 50 ms, with when it was read.
struct Counts {
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    stop: Arc<AtomicBool>,
}

impl Counts {
    fn start(db: &Path) -> Counts {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, db) = (samples.clone(), stop.clone(), db.to_path_buf());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let n = sqlite_rows(&db, "orders");
                s.lock().unwrap().push((Instant::now(), n));
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Counts { samples, stop }
    }

    /// The count last read at or before `t` (0 before the first reading).
    fn at(&self, t: Instant) -> u64 {
        let s = self.samples.lock().unwrap();
        s.iter().rev().find(|(at, _)| *at <= t).map_or(0, |x| x.1)
    }
}

impl Drop for Counts {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The number after `key` in `line` (`loaded 1500,` -> 1500).
fn figure(line: &str, key: &str) -> u64 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {line:?}"))
        + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{key:?} in {line:?}"))
}

/// The number that `text` ends with.
fn digits_before(text: &str) -> u64 {
    let digits: String = text
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    let digits: String = digits.chars().rev().collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number at the end of {text:?}"))
}

/// `DONE of SIZE bytes` in a file's line.
fn bytes_of(line: &str) -> (u64, u64) {
    let (head, tail) = line
        .split_once(" of ")
        .unwrap_or_else(|| panic!("{line:?}"));
    (digits_before(head), figure(tail, ""))
}

fn line_with<'a>(screen: &'a [String], needle: &str) -> Option<&'a String> {
    screen.iter().find(|l| l.contains(needle))
}

fn a_terminal_shows_a_load_in_progress_as_the_table_has_it_and_q_restores_it() {
    let s = Setup::new("workers = 1\nbatch_rows = 500\n", "", "on_done = \"keep\"");
    let cfg = s.cfg();
    // A first small file makes the table; then inserts are slowed down and
    // the big one dropped in.
    drop_orders(&s.landing, "small.csv", 10, 1, 1);
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("d.log"));
    d.expect_log("file done", 1, Duration::from_secs(60));
    slow_down_inserts(&s.db, 3_000);
    let counts = Counts::start(&s.db);
    drop_orders(&s.landing, "big.csv", BIG, 100, 2);
    let total = 10 + BIG;

    let term = Tmux::start(s.dir.path(), 120, 40);
    term.type_line(&format!(
        "{} status --watch --config {cfg}; echo \"watch exited $?\"",
        bin()
    ));
    let screen = term.wait_screen("the big file in progress", Duration::from_secs(30), |sc| {
        line_with(sc, "file big.csv").is_some_and(|l| l.contains('█') && l.contains('░'))
    });
    let after = Instant::now();
    let all = screen.join("\n");
    assert_eq!(term.pane("#{alternate_on}"), "1", "full screen:\n{all}");
    assert!(
        line_with(&screen, &format!("ingestd pid {}", d.pid())).is_some(),
        "{all}"
    );
    assert!(line_with(&screen, "job orders: running").is_some(), "{all}");
    assert!(line_with(&screen, "rows/s").is_some(), "{all}");
    assert!(
        line_with(&screen, "worker 1 pid").is_some_and(|l| l.contains("ready")),
        "{all}"
    );
    // The job's figures: what the table held when the report was made,
    // at most a refresh (and some slack for a busy machine) before the
    // screen was read, and never more than it holds now.
    let shown = figure(line_with(&screen, "  loaded ").unwrap(), "  loaded ");
    let before = after - Duration::from_millis(2_500);
    assert!(
        counts.at(before) <= shown && shown <= sqlite_rows(&s.db, "orders"),
        "the screen says {shown} loaded; the table had {} 2.5 s before and {} after:\n{all}",
        counts.at(before),
        sqlite_rows(&s.db, "orders")
    );
    assert!(10 < shown && shown < total, "in progress: {shown}\n{all}");
    // The file's bar agrees with its own figures.
    let file = line_with(&screen, "file big.csv").unwrap();
    let (done, size) = bytes_of(file);
    let size_on_disk = std::fs::metadata(s.landing.join("big.csv")).unwrap().len();
    assert_eq!(size, size_on_disk, "{file}");
    assert!(0 < done && done < size, "{file}");
    // Of the same report as the job's figures: all but the small file.
    assert_eq!(figure(file, "bytes; loaded "), shown - 10, "{all}");
    let percent = digits_before(file.split('%').next().unwrap());
    let exact = done as f64 * 100.0 / size as f64;
    assert!(
        (percent as f64 - exact).abs() <= 0.5,
        "{percent}% for {exact}%: {file}"
    );
    let (full, light) = (file.matches('█').count(), file.matches('░').count());
    let bar = full as f64 / (full + light) as f64;
    assert!(
        (bar - done as f64 / size as f64).abs() <= 1.0 / (full + light) as f64,
        "{full} of {} cells for {exact}%: {file}",
        full + light
    );

    // The whole file loaded: the screen says exactly what the table has.
    let t0 = Instant::now();
    while sqlite_rows(&s.db, "orders") < total {
        assert!(t0.elapsed() < Duration::from_secs(120), "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows = sqlite_rows(&s.db, "orders");
    assert_eq!(rows, total);
    term.wait_screen("every row loaded", Duration::from_secs(5), |sc| {
        line_with(sc, "  loaded ").is_some_and(|l| figure(l, "  loaded ") == rows)
    });

    // The daemon goes away: said, retried, and a new daemon shown.
    d.stop(Duration::from_secs(30));
    term.wait_screen("the daemon gone", Duration::from_secs(5), |sc| {
        line_with(sc, "daemon not answering: cannot reach the daemon").is_some()
    });
    let d2 = Daemon::start(&["run", "--config", cfg], &s.path("d2.log"));
    let pid2 = format!("ingestd pid {}", d2.pid());
    term.wait_screen("the new daemon", Duration::from_secs(10), |sc| {
        line_with(sc, &pid2).is_some() && line_with(sc, "not answering").is_none()
    });

    // q: the process ends, the shell's screen is back, the cursor shown
    // and the line discipline as it was (echo, canonical input, signals).
    term.key("q");
    let screen = term.wait_screen("the watch ended", Duration::from_secs(5), |sc| {
        line_with(sc, "watch exited 0").is_some()
    });
    assert!(
        line_with(&screen, "status --watch --config").is_some(),
        "the shell's own screen: {screen:?}"
    );
    assert_eq!(term.pane("#{alternate_on} #{cursor_flag}"), "0 1");
    term.type_line("stty -a; echo stty-done");
    let screen = term.wait_screen("stty", Duration::from_secs(5), |sc| {
        sc.iter().any(|l| l == "stty-done")
    });
    let flags: Vec<&str> = screen.iter().flat_map(|l| l.split([' ', ';'])).collect();
    for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(flags.contains(&flag), "{flag} after the view: {screen:?}");
    }

    // Ctrl-C (a key in raw mode, not a signal) quits the same way, as
    // `top` does.
    term.type_line("clear");
    term.type_line(&format!(
        "{} top --config {cfg}; echo \"top exited $?\"",
        bin()
    ));
    term.wait_screen("top", Duration::from_secs(10), |sc| {
        line_with(sc, &pid2).is_some()
    });
    term.key("C-c");
    term.wait_screen("top ended", Duration::from_secs(5), |sc| {
        line_with(sc, "top exited 0").is_some()
    });
    assert_eq!(term.pane("#{alternate_on} #{cursor_flag}"), "0 1");
    drop(counts);
}

/// `ingestd top` with stdout a pipe: its lines as they come, and its
/// stderr in a file.
fn a_pipe_gets_one_line_per_job_per_second_and_a_closed_pipe_ends_it() {
    let s = Setup::new("workers = 1\n", "", "on_done = \"keep\"");
    let cfg = s.cfg();
    let err_path = s.path("watch.err");
    // `--json` is a one-off report: not a live view.
    let both = ingestd(["status", "--watch", "--json", "--config", cfg]).run();
    assert!(both.stderr.contains("cannot be used with"), "{both:?}");
    both.expect(2);
    // `top` is `status --watch` (the terminal test runs the latter).
    let mut watch = Command::new(bin())
        .args(["top", "--config", cfg])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send((Instant::now(), line)).is_err() {
                // Dropping the reader closes the pipe.
                return;
            }
        }
    });
    let stderr = || std::fs::read_to_string(&err_path).unwrap();

    // No daemon yet: said once on stderr, nothing on stdout, still asking.
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(watch.try_wait().unwrap().is_none(), "{}", stderr());
    assert!(lines.try_recv().is_err());
    assert_eq!(
        stderr()
            .matches("daemon not answering: cannot reach the daemon")
            .count(),
        1,
        "{}",
        stderr()
    );

    drop_orders(&s.landing, "a.csv", 3_000, 1, 1);
    let d = Daemon::start(&["run", "--config", cfg], &s.path("d.log"));
    d.expect_log("file done", 1, Duration::from_secs(60));
    assert_eq!(sqlite_rows(&s.db, "orders"), 3_000);
    // Lines until one says every row is loaded; then three more.
    let mut seen = Vec::new();
    let t0 = Instant::now();
    let mut after_all = 0;
    while after_all < 4 {
        let (at, line) = lines
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no line; stderr: {}", stderr()));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 8, "{line:?}");
        chrono::DateTime::parse_from_rfc3339(fields[0]).unwrap();
        assert_eq!(fields[1], "job=orders", "{line:?}");
        for (f, key) in fields[2..].iter().zip([
            "rows_per_s",
            "loaded",
            "rejected",
            "in_flight",
            "backlog_files",
            "backlog_batches",
        ]) {
            let (k, v) = f.split_once('=').unwrap();
            assert_eq!(k, key, "{line:?}");
            v.parse::<u64>().unwrap();
        }
        let loaded: u64 = fields[3]["loaded=".len()..].parse().unwrap();
        assert!(loaded <= 3_000, "{line:?}");
        if loaded == 3_000 {
            after_all += 1;
            assert_eq!(fields[4], "rejected=0", "{line:?}");
        }
        seen.push((at, loaded));
        assert!(t0.elapsed() < Duration::from_secs(30), "{seen:?}");
    }
    assert!(
        seen.windows(2).all(|w| w[0].1 <= w[1].1),
        "never decreasing: {seen:?}"
    );
    // One a second: the last four came over about three seconds.
    let n = seen.len();
    let span = seen[n - 1].0 - seen[n - 4].0;
    assert!(
        span > Duration::from_millis(2_000) && span < Duration::from_millis(4_500),
        "{span:?} for 4 lines"
    );
    assert!(
        stderr().contains(&format!("daemon answering again (pid {})", d.pid())),
        "{}",
        stderr()
    );

    // The reader goes away: the next line's write ends the process,
    // killed by SIGPIPE as a filter is, without a word.
    let said = stderr();
    drop(lines);
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = watch.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
    assert_eq!(stderr(), said);
}
