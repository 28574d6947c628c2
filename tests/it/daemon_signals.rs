//! The daemon as systemd runs it, with the real binary: the sd_notify
//! conversation (a datagram socket stands in for systemd's), SIGTERM drains
//! within the limit and a restart loads the rest exactly once, and the status
//! socket and metrics endpoint agree with the table.

use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::*;

trials![
    notify_ready_status_watchdog_reload_and_stopping,
    sigterm_drains_within_the_limit_and_a_restart_loads_the_rest_once,
    sigint_stops_at_once_and_the_rest_loads_next_time,
    status_and_metrics_agree_with_the_table,
    log_file_is_reopened_on_sigusr1_and_json_lines_parse,
    journal_lines_carry_their_priority_and_no_timestamp,
];

/// Collects what the daemon sends to NOTIFY_SOCKET.
fn listen(path: &std::path::Path) -> mpsc::Receiver<String> {
    let sock = UnixDatagram::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Waits for a message containing `what`; returns it.
fn expect(rx: &mpsc::Receiver<String>, what: &str, within: Duration) -> String {
    let t0 = Instant::now();
    while let Some(left) = within.checked_sub(t0.elapsed()) {
        match rx.recv_timeout(left) {
            Ok(m) if m.contains(what) => return m,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no {what:?} within {within:?}");
}

fn notify_ready_status_watchdog_reload_and_stopping() {
    let s = Setup::new("workers = 2\n", "", "on_done = \"keep\"");
    let sock = s.path("notify.sock");
    let rx = listen(&sock);
    let cfg = s.config.to_str().unwrap();
    let env = [
        ("NOTIFY_SOCKET", sock.to_str().unwrap()),
        ("WATCHDOG_USEC", "400000"),
    ];
    let mut d = Daemon::start_with_env(&["run", "--config", cfg], &s.path("d.log"), &env);

    let ready = expect(&rx, "READY=1", Duration::from_secs(30));
    // READY only once both workers have their pools open.
    assert_eq!(
        d.log_text().matches("worker ready").count(),
        2,
        "{}",
        d.log_text()
    );
    assert!(
        ready.contains("STATUS=") && ready.contains("2/2 workers"),
        "{ready}"
    );
    for w in children(d.pid()) {
        let env = std::fs::read(format!("/proc/{w}/environ")).unwrap();
        assert!(
            !String::from_utf8_lossy(&env).contains("NOTIFY_SOCKET"),
            "worker {w} inherited NOTIFY_SOCKET"
        );
    }
    // Watchdog pings at half the 0.4 s interval, from the loop.
    let t0 = Instant::now();
    expect(&rx, "WATCHDOG=1", Duration::from_secs(2));
    expect(&rx, "WATCHDOG=1", Duration::from_secs(2));
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A file loads; STATUS follows the work (refreshed every 5 s when it changed).
    let first_status = ready
        .lines()
        .find(|l| l.starts_with("STATUS="))
        .unwrap()
        .to_string();
    drop_orders(&s.landing, "a.csv", 20_000, 1, 1);
    d.expect_log("file done", 1, Duration::from_secs(30));
    let t0 = Instant::now();
    loop {
        let m = expect(&rx, "STATUS=", Duration::from_secs(12));
        if !m.contains(&first_status) {
            assert!(m.contains("rows/s"), "{m}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "STATUS never changed"
        );
    }

    d.signal(1); // SIGHUP
    let reloading = expect(&rx, "RELOADING=1", Duration::from_secs(10));
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    expect(&rx, "READY=1", Duration::from_secs(10));

    d.signal(15);
    expect(&rx, "STOPPING=1", Duration::from_secs(10));
    d.stop(Duration::from_secs(30));
}

fn sigterm_drains_within_the_limit_and_a_restart_loads_the_rest_once() {
    let rows = 500_000;
    let s = Setup::new(
        "workers = 2\nbatch_rows = 2000\n",
        "",
        "on_done = \"archive\"",
    );
    s.edit(|t| t.replace("[daemon]\n", "[daemon]\ndrain_timeout = \"20s\"\n"));
    let expected = drop_orders(&s.landing, "big.csv", rows, 1, 77);
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("first.log"));
    wait_rows(&s, &d, rows / 10);
    d.signal(15);
    let t1 = Instant::now();
    let code = d.wait_exit(Duration::from_secs(25));
    assert_eq!(
        code,
        Some(0),
        "SIGTERM ends with 0 within drain_timeout:\n{}",
        d.log_text()
    );
    assert!(t1.elapsed() < Duration::from_secs(20));
    let after = sqlite_rows(&s.db, "orders");
    assert!(after < rows, "the stop must land mid-load ({after} rows)");
    assert!(
        s.landing.join("big.csv").exists(),
        "an unfinished file stays in place"
    );
    assert!(
        d.log_text().contains("pool closed"),
        "workers close their pools when drained"
    );

    cli::run_once(&s.config).expect(0);
    assert_eq!(
        sqlite_sum(&s.db, "orders"),
        expected,
        "every record exactly once"
    );
    assert!(s.landing.join("archive/big.csv").exists());
}

fn sigint_stops_at_once_and_the_rest_loads_next_time() {
    let rows = 300_000;
    let s = Setup::new(
        "workers = 2\nbatch_rows = 1000\n",
        "synchronous = \"full\"",
        "on_done = \"archive\"",
    );
    let expected = drop_orders(&s.landing, "big.csv", rows, 1, 5);
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("first.log"));
    wait_rows(&s, &d, rows / 10);
    d.signal(2);
    let t1 = Instant::now();
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        d.log_text()
    );
    assert!(
        t1.elapsed() < Duration::from_secs(5),
        "SIGINT stops at once"
    );
    assert!(sqlite_rows(&s.db, "orders") < rows, "stopped mid-load");
    assert!(
        d.log_text().contains("SIGINT: stopping now"),
        "{}",
        d.log_text()
    );
    cli::run_once(&s.config).expect(0);
    assert_eq!(
        sqlite_sum(&s.db, "orders"),
        expected,
        "every record exactly once"
    );
}

fn status_and_metrics_agree_with_the_table() {
    let port = free_port();
    let s = Setup::new("workers = 2\n", "", "on_done = \"keep\"");
    s.edit(|t| {
        t.replace(
            "[daemon]\n",
            &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
        )
    });
    drop_orders(&s.landing, "a.csv", 3_000, 1, 1);
    drop_orders(&s.landing, "b.csv", 2_000, 10_000, 2);
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("d.log"));
    d.expect_log("file done", 2, Duration::from_secs(60));
    let in_table = sqlite_rows(&s.db, "orders");
    assert_eq!(in_table, 5_000);

    let o = ingestd(["status", "--json", "--config", cfg])
        .run()
        .expect(0);
    let st: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(st["pid"], d.pid());
    let job = &st["jobs"][0];
    assert_eq!(job["name"], "orders");
    assert_eq!(job["loaded"], in_table);
    assert_eq!(job["rejected"], 0);
    assert_eq!(job["workers"].as_array().unwrap().len(), 2);
    let pids: Vec<u64> = job["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["pid"].as_u64().unwrap())
        .collect();
    let mut kids: Vec<u64> = children(d.pid()).into_iter().map(u64::from).collect();
    kids.sort();
    let mut pids_sorted = pids.clone();
    pids_sorted.sort();
    assert_eq!(pids_sorted, kids, "status names the live workers");
    let batches: u64 = job["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["batches"].as_u64().unwrap())
        .sum();
    assert!(batches >= 2);
    let human = ingestd(["status", "--config", cfg]).run().stdout;
    assert!(
        human.contains(&format!("loaded {in_table}, rejected 0")),
        "{human}"
    );
    let sock = s.path("state/ingestd.sock");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let body = http_get(port, "/metrics");
    assert!(body.ends_with("# EOF\n"), "{body}");
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample line {line:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        assert!(
            name.starts_with("ingestd_") && (name.ends_with('}') || !name.contains('{')),
            "{line:?}"
        );
    }
    assert!(
        body.contains(&format!(
            "ingestd_rows_loaded_total{{job=\"orders\"}} {in_table}\n"
        )),
        "{body}"
    );
    assert!(
        body.contains("ingestd_batch_duration_seconds_count{job=\"orders\"}"),
        "{body}"
    );
    assert!(
        body.contains("ingestd_worker_restarts_total{job=\"orders\"} 0\n"),
        "{body}"
    );

    d.stop(Duration::from_secs(30));
    assert!(!sock.exists(), "the socket is removed on exit");
}

/// Waits until the table holds at least `n` rows (a load is under way).
fn wait_rows(s: &Setup, d: &Daemon, n: u64) {
    let t0 = Instant::now();
    while sqlite_rows(&s.db, "orders") < n {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no progress:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_file_is_reopened_on_sigusr1_and_json_lines_parse() {
    let s = Setup::new("workers = 1\n", "", "on_done = \"delete\"");
    s.edit(|t| t.replace("[daemon]\n", "[daemon]\nlog_file = \"log/ingestd.log\"\n"));
    let log = s.path("log/ingestd.log");
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(
        &["--log-format", "json", "run", "--config", cfg],
        &s.path("stderr.log"),
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let t0 = Instant::now();
    while !read(&log).contains("worker ready") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no log file:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // logrotate: move the file away, then SIGUSR1.
    let rotated = s.path("log/ingestd.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    d.signal(10);
    drop_orders(&s.landing, "a.csv", 500, 1, 1);
    let t0 = Instant::now();
    while !read(&log).contains("file done") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "nothing in the reopened file:\n{}",
            read(&rotated)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d.stop(Duration::from_secs(30));
    let all = read(&rotated) + &read(&log);
    for line in all.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    // Worker lines carry their span: job, worker and pid.
    let pool = all
        .lines()
        .find(|l| l.contains("pool closed"))
        .expect("pool closed line");
    let v: serde_json::Value = serde_json::from_str(pool).unwrap();
    assert_eq!(v["span"]["job"], "orders");
    assert!(v["span"]["pid"].as_u64().is_some(), "{pool}");
    assert!(
        read(&log).contains("pool closed"),
        "workers reopened their log file too"
    );
    assert!(
        d.log_text().is_empty(),
        "nothing on stderr: {}",
        d.log_text()
    );
}

fn journal_lines_carry_their_priority_and_no_timestamp() {
    let s = Setup::new("workers = 1\n", "", "");
    let file = s.path("x.csv");
    write_orders(&file, 100, 1, 1);
    std::fs::write(
        s.path("bad.csv"),
        format!("{HEADER}1,2,x,notanumber,USD,2025-01-01T00:00:00,paid,\n"),
    )
    .unwrap();
    let err = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg(&file)
        .arg(s.path("bad.csv"))
        .journal_stderr()
        .run()
        .expect(3)
        .stderr;
    assert!(!err.is_empty());
    for line in err.lines() {
        let (p, rest) = line.split_at(3);
        assert!(["<3>", "<4>", "<6>", "<7>"].contains(&p), "{line}");
        assert!(
            !rest.starts_with("20"),
            "no timestamp in the journal: {line}"
        );
    }
    assert!(
        err.lines()
            .any(|l| l.starts_with("<6>") && l.contains("file done")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("<4>") && l.contains("file done with rejects")),
        "{err}"
    );
    // Inherited but naming another stream (stderr redirected): not the
    // journal, plain lines with their time.
    let s = Setup::new("workers = 1\n", "", "");
    let file = s.path("y.csv");
    write_orders(&file, 10, 1, 1);
    let err = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg(&file)
        .env("JOURNAL_STREAM", "8:12345")
        .run()
        .expect(0)
        .stderr;
    assert!(
        !err.is_empty() && err.lines().all(|l| l.starts_with("20")),
        "{err}"
    );
}
