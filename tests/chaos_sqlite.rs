//! Exactly once through chaos, with the real binary and a real SQLite file:
//! workers are SIGKILLed about every 0.3 s during a 200,000-row load, and the
//! supervisor is SIGKILLed once and started again.

mod common;

use std::time::Duration;

use common::chaos::{WorkerKiller, all_gone, kill_supervisor};
use common::*;

const ROWS: u64 = 200_000;

#[test]
fn every_record_lands_exactly_once_through_worker_and_supervisor_kills() {
    // Small batches and a synchronous commit make the load last long enough
    // for the kills to land in the middle of it.
    let s = Setup::new(
        "workers = 3\nbatch_rows = 50\n",
        "synchronous = \"full\"",
        "on_done = \"archive\"",
    );
    let expected = drop_orders(&s.landing, "orders.csv", ROWS, 1, 42);
    let cfg = s.config.to_str().unwrap();
    let args = ["run", "--config", cfg, "--once"];
    let mut killer = WorkerKiller::new(7);

    // First supervisor: kill workers, then kill it mid-load.
    let mut first = Daemon::start(&args, &s.path("first.log"));
    assert!(
        first.wait_log("worker ready", 3, Duration::from_secs(30)),
        "{}",
        first.log_text()
    );
    // Kill a worker every ~0.3 s; kill the supervisor once 40% is in.
    killer.until(&mut first, Duration::from_millis(20), |_| {
        count(&s) >= ROWS * 2 / 5
    });
    let orphans = kill_supervisor(&mut first);
    // Its workers die with it (PR_SET_PDEATHSIG), whatever they were doing.
    assert!(
        all_gone(&orphans, Duration::from_secs(5)),
        "workers outlived their supervisor"
    );
    let midway = count(&s);
    assert!(
        midway > 0 && midway < ROWS,
        "the kill must land mid-load (had {midway} rows)"
    );

    // Second supervisor: more worker kills until it finishes.
    let mut second = Daemon::start(&args, &s.path("second.log"));
    let code = killer.until_exit(&mut second, Duration::from_secs(300));
    let worker_kills = killer.kills;
    assert_eq!(code, 0, "second run failed:\n{}", second.log_text());
    eprintln!("{worker_kills} worker kills; supervisor killed at {midway} rows");
    assert!(
        worker_kills >= 6,
        "only {worker_kills} worker kills: the load was too short to test anything"
    );

    assert_eq!(
        sqlite_sum(&s.db, "orders"),
        expected,
        "table differs from the file"
    );
    assert_eq!(
        sqlite_count(
            &s.db,
            "SELECT coalesce(sum(rows_rejected), 0) FROM ingestd_ledger"
        ),
        0
    );
    assert_eq!(
        sqlite_count(&s.db, "SELECT sum(rows_loaded) FROM ingestd_ledger") as u64,
        ROWS
    );
    assert!(
        !s.rejects.join("orders.csv.bad.jsonl").exists(),
        "nothing may be rejected"
    );
    assert!(
        s.landing.join("archive/orders.csv").exists(),
        "the file is archived once loaded"
    );
    assert!(!s.landing.join("orders.csv").exists());
}

/// Rows in the table now (0 before it exists).
fn count(s: &Setup) -> u64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(&s.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM orders", [], |r| r.get::<_, i64>(0))
        .unwrap_or(0) as u64
}
