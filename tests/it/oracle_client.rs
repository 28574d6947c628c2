//! The Oracle sink on a machine without an Oracle Client library, with the
//! real binary: a job whose library is missing logs DPI-1047 with the fix and
//! has its workers restarted with growing back-off, while a SQLite job in
//! the same daemon loads its file; installing a library later is picked up
//! by the next worker without restarting the daemon; the supervisor never
//! loads the library (its pid is never among the loaders, its maps never show
//! it); `ingestd check` warns without loading it and without failing.

use std::time::Duration;

use crate::support::config::{self, orders_job};
use crate::support::oracle::{loaded_by, sink_body, stand_in_client_library};
use crate::support::*;

trials![
    missing_client_library_is_retried_with_back_off_while_other_jobs_load,
    the_supervisor_never_maps_the_client_library,
    check_warns_about_a_missing_client_library_without_failing,
];

/// The SQLite orders setup plus an Oracle sink `ora` and job `ora_orders`
/// (2 workers) reading `in-ora/`, whose client library folder is `ic/`.
fn with_oracle_job() -> Setup {
    let s = Setup::new("workers = 1\n", "", "on_done = \"keep\"");
    std::fs::create_dir_all(s.path("in-ora")).unwrap();
    s.edit(|text| {
        let sink = sink_body(
            "127.0.0.1:1/NO_SUCH_SERVICE",
            "loader",
            "client_lib_dir = \"ic\"",
        );
        let sink = config::sink("ora", &sink);
        let job = orders_job("ora_orders", "ora", "ORDERS", "in-ora", "workers = 2", "");
        text + &sink + &job
    });
    s
}

/// `(time, pid)` of each "worker started" line of `job`'s worker `n`.
fn starts(log: &str, job: &str, n: u32) -> Vec<(chrono::DateTime<chrono::Utc>, u32)> {
    let tag = format!("worker started job={job} worker={n} pid=");
    log.lines()
        .filter_map(|l| {
            let pid = l.split_once(&tag)?.1.trim().parse().ok()?;
            let at = l.split_whitespace().next()?.parse().ok()?;
            Some((at, pid))
        })
        .collect()
}

/// Lines a worker logged itself: its span carries `pid=N`.
fn worker_lines(log: &str, pid: u32) -> Vec<&str> {
    let tag = format!(" pid={pid}}}:");
    log.lines().filter(|l| l.contains(&tag)).collect()
}

fn missing_client_library_is_retried_with_back_off_while_other_jobs_load() {
    let s = with_oracle_job();
    let expected = write_orders(&s.landing.join("a.csv"), 3_000, 1, 5);
    let cfg = s.config.to_str().unwrap();
    let d = Daemon::start(&["run", "--config", cfg], &s.path("daemon.log"));

    // The SQLite job loads its file while the Oracle job cannot start.
    d.expect_log("file done", 1, Duration::from_secs(60));
    assert_eq!(sqlite_sum(&s.db, "orders"), expected);
    // Six starts of Oracle worker 1: back-off 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s.
    d.expect_log(
        "worker started job=ora_orders worker=1 ",
        6,
        Duration::from_secs(30),
    );
    let log = d.log_text();
    let tries = starts(&log, "ora_orders", 1);
    let gaps: Vec<i64> = tries
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).num_milliseconds())
        .collect();
    for (i, gap) in gaps.iter().take(5).enumerate() {
        let least = 100 << i;
        assert!(
            *gap >= least - 5,
            "restart {i} after {gap} ms, expected the back-off of {least} ms or more: {gaps:?}"
        );
    }
    assert!(
        gaps[4] > gaps[0] * 4,
        "the back-off does not grow: {gaps:?}"
    );

    // Every Oracle worker said, with its own pid, that it tried to open its
    // pool and what is missing and how to fix it; none stopped the job.
    // (The last start of each worker may still be running: not checked.)
    let second = starts(&log, "ora_orders", 2);
    assert!(second.len() >= 2, "{log}");
    let pids: Vec<u32> = [&tries, &second]
        .iter()
        .flat_map(|t| t[..t.len() - 1].iter().map(|s| s.1))
        .collect();
    for pid in &pids {
        let lines = worker_lines(&log, *pid).join("\n");
        assert!(lines.contains("opening the pool"), "pid {pid}:\n{log}");
        for part in [
            "DPI-1047",
            "Cannot locate a 64-bit Oracle Client library",
            "Oracle Instant Client",
            "client_lib_dir",
            "ldconfig",
            "LD_LIBRARY_PATH",
            "started again with back-off",
        ] {
            assert!(lines.contains(part), "no {part:?} from pid {pid}:\n{lines}");
        }
        assert!(pid != &d.pid(), "the supervisor is not a worker");
    }
    // The worker's own exit code (72: needs a new process), not a Fatal
    // frame and not a kill.
    let ended: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("worker ended") && l.contains("job=ora_orders"))
        .collect();
    assert!(ended.len() >= 5, "{log}");
    for l in &ended {
        assert!(l.contains("worker ended: exit code 72 "), "{l}");
    }
    assert!(!log.contains("job stopped"), "{log}");
    assert!(!log.contains("ready job=ora_orders"), "{log}");

    // "Installing" a library now: the next worker finds and loads it without
    // a restart of the daemon (this one is a stand-in, so ODPI-C refuses it
    // with DPI-1072, after loading it).
    let marker = s.path("loaded-by");
    stand_in_client_library(&s.path("ic"), &marker);
    let before = log.matches("worker started job=ora_orders").count();
    d.expect_log("DPI-1072", 1, Duration::from_secs(40));
    // Loaders first, then the log: every loader's start is logged by then.
    let loaders = loaded_by(&marker);
    let log = d.log_text();
    let later: Vec<u32> = log
        .lines()
        .filter(|l| l.contains("worker started job=ora_orders"))
        .skip(before)
        .filter_map(|l| l.rsplit_once("pid=")?.1.trim().parse().ok())
        .collect();
    assert!(!loaders.is_empty(), "nobody loaded the library:\n{log}");
    assert!(
        loaders.iter().all(|p| later.contains(p)),
        "loaded by {loaders:?}, workers started since: {later:?}"
    );
    assert_eq!(sqlite_count(&s.db, "SELECT count(*) FROM orders"), 3_000);
}

fn the_supervisor_never_maps_the_client_library() {
    let s = with_oracle_job();
    let marker = s.path("loaded-by");
    let lib = stand_in_client_library(&s.path("ic"), &marker);
    let cfg = s.config.to_str().unwrap();

    // `check` finds the library and does not load it.
    let stdout = cli::check(&s.config).expect(0).stdout;
    assert!(
        stdout.contains(&format!(
            "sink ora (oracle): client library {}",
            lib.display()
        )),
        "{stdout}"
    );
    assert!(loaded_by(&marker).is_empty(), "check loaded the library");

    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("daemon.log"));
    // Both Oracle workers loaded it (and were refused) at least twice.
    d.expect_log("DPI-1072", 4, Duration::from_secs(30));
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", d.pid())).unwrap();
    let loaders = loaded_by(&marker);
    // A worker that has just loaded the library may not have logged yet.
    let logged = |log: &str| {
        loaders
            .iter()
            .all(|p| worker_lines(log, *p).iter().any(|l| l.contains("DPI-1072")))
    };
    let t0 = std::time::Instant::now();
    while !logged(&d.log_text()) && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.log_text();
    let workers: Vec<u32> = log
        .lines()
        .filter(|l| l.contains("worker started job=ora_orders"))
        .filter_map(|l| l.rsplit_once("pid=")?.1.trim().parse().ok())
        .collect();
    assert!(loaders.len() >= 4, "loaded by {loaders:?}:\n{log}");
    assert!(
        !loaders.contains(&d.pid()),
        "the supervisor {} loaded the client library",
        d.pid()
    );
    for pid in &loaders {
        assert!(
            workers.contains(pid),
            "{pid} is not an Oracle worker: {workers:?}"
        );
        let lines = worker_lines(&log, *pid).join("\n");
        assert!(lines.contains("opening the pool"), "pid {pid}:\n{log}");
        assert!(lines.contains("DPI-1072"), "pid {pid}:\n{log}");
    }
    let ic = s.path("ic").display().to_string();
    for bad in [
        "libclntsh",
        "libnnz",
        "libociei",
        "instantclient",
        ic.as_str(),
    ] {
        assert!(!maps.contains(bad), "the supervisor maps {bad}:\n{maps}");
    }
    assert!(maps.contains("ingestd"), "not the daemon's maps:\n{maps}");
    d.stop(Duration::from_secs(30));
}

fn check_warns_about_a_missing_client_library_without_failing() {
    let s = with_oracle_job();
    let Ran { stdout, stderr, .. } = cli::check(&s.config).expect(0);
    assert!(stdout.contains(": ok"), "{stdout}");
    assert!(stdout.contains("job ora_orders:"), "{stdout}");
    let ic = s.path("ic");
    for part in [
        "warning: sink ora (oracle): no Oracle Client library (libclntsh.so) found".to_string(),
        format!("searched client_lib_dir {}", ic.display()),
        "job(s) ora_orders will fail with DPI-1047".into(),
        "other jobs are not affected".into(),
        "Oracle Instant Client".into(),
        "ldconfig".into(),
    ] {
        assert!(stderr.contains(&part), "no {part:?} in:\n{stderr}");
    }
    // The SQLite sink gets no such warning.
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
}
