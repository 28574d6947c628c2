//! Exactly once through chaos, with the real binary and a real SQLite file:
//! workers are SIGKILLed about every 0.3 s during a 200,000-row load, and the
//! supervisor is SIGKILLed once and started again.

use std::time::Duration;

use crate::support::chaos::{WorkerKiller, all_gone, assert_finished_clean, kill_supervisor};
use crate::support::*;

trials![every_record_lands_exactly_once_through_worker_and_supervisor_kills];

const ROWS: u64 = 200_000;

fn every_record_lands_exactly_once_through_worker_and_supervisor_kills() {
    // Small batches and a synchronous commit make the load last long enough
    // for the kills to land in the middle of it. Random kills on a loaded
    // machine can hit one batch three times: quarantine is not tested here.
    let s = Setup::new(
        "workers = 3\nbatch_rows = 50\nmax_batch_attempts = 100\n",
        "synchronous = \"full\"",
        "on_done = \"archive\"",
    );
    let expected = drop_orders(&s.landing, "orders.csv", ROWS, 1, 42);
    let cfg = s.config.to_str().unwrap();
    let args = ["run", "--config", cfg, "--once"];
    let mut killer = WorkerKiller::new(7);

    // First supervisor: kill workers, then kill it mid-load.
    let mut first = Daemon::start(&args, &s.path("first.log"));
    first.expect_log("worker ready", 3, Duration::from_secs(30));
    // Kill a worker every ~0.3 s; kill the supervisor once 40% is in.
    killer.until(&mut first, Duration::from_millis(20), |_| {
        sqlite_rows(&s.db, "orders") >= ROWS * 2 / 5
    });
    let orphans = kill_supervisor(&mut first);
    // Its workers die with it (PR_SET_PDEATHSIG), whatever they were doing.
    assert!(
        all_gone(&orphans, Duration::from_secs(5)),
        "workers outlived their supervisor"
    );
    let midway = sqlite_rows(&s.db, "orders");
    assert!(
        midway > 0 && midway < ROWS,
        "the kill must land mid-load (had {midway} rows)"
    );

    // Second supervisor: more worker kills until it finishes.
    let worker_kills = killer.finish(&args, &s.path("second.log"), Duration::from_secs(300));
    eprintln!("{worker_kills} worker kills; supervisor killed at {midway} rows");

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
    assert_finished_clean(&s, "orders.csv");
}
