//! Exactly once on a real Oracle database (when `INGESTD_TEST_ORACLE_CONNECT`,
//! `_USER` and `_PASSWORD` are set; ignored, with the reason, otherwise), with
//! the real binary: workers SIGKILLed about every 0.3 s during a 200,000-row
//! load, the supervisor SIGKILLed once at 40% and started again. Mirrors
//! `chaos_sqlite.rs`. Also the process model on Oracle: each worker logs its
//! pool open and close with its pid, workers map the client library and the
//! supervisor does not.

use std::time::Duration;

use crate::support::chaos::{WorkerKiller, kill_supervisor};
use crate::support::oracle::OracleDb;
use crate::support::*;

trials![
    every_record_lands_exactly_once_on_oracle_through_worker_and_supervisor_kills[Oracle],
    oracle_workers_open_and_close_their_own_pools[Oracle],
];

const ROWS: u64 = 200_000;

fn every_record_lands_exactly_once_on_oracle_through_worker_and_supervisor_kills() {
    let db = OracleDb::get();
    let job = OracleDb::unique("ingestd_chaos");
    db.clean(&job, &job);
    let s = db.setup(&job, "create_table = true\nworkers = 3\nbatch_rows = 50\n");
    let expected = drop_orders(&s.landing, "orders.csv", ROWS, 1, 42);
    let conn = db.conn();
    let count = || {
        conn.query_row_as::<i64>(&format!("SELECT count(*) FROM \"{job}\""), &[])
            .map(|n| n as u64)
            .unwrap_or(0)
    };
    let args = ["run", "--config", s.cfg(), "--once"];
    let mut killer = WorkerKiller::new(7);

    let mut first = Daemon::start(&args, &s.path("first.log"));
    first.expect_log("worker ready", 3, Duration::from_secs(60));
    killer.until(&mut first, Duration::from_millis(50), |_| {
        count() >= ROWS * 2 / 5
    });
    kill_supervisor(&mut first);
    let midway = count();
    assert!(
        midway > 0 && midway < ROWS,
        "the kill must land mid-load ({midway} rows)"
    );

    let worker_kills = killer.finish(&args, &s.path("second.log"), Duration::from_secs(600));
    eprintln!("{worker_kills} worker kills; supervisor killed at {midway} rows");

    assert_eq!(db.sum(&job), expected, "table differs from the file");
    let ledger = |what: &str| {
        db.count(&format!(
            "SELECT nvl(sum({what}), 0) FROM ingestd_ledger WHERE job = '{job}'"
        ))
    };
    assert_eq!(ledger("rows_rejected"), 0);
    assert_eq!(ledger("rows_loaded") as u64, ROWS);
    assert!(s.landing.join("archive/orders.csv").exists());
    db.clean(&job, &job);
}

fn oracle_workers_open_and_close_their_own_pools() {
    let db = OracleDb::get();
    let job = OracleDb::unique("ingestd_pm");
    db.clean(&job, &job);
    let s = db.setup(&job, "create_table = true\nworkers = 2\n");
    let expected = drop_orders(&s.landing, "a.csv", 2_000, 1, 1);
    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("d.log"));
    d.expect_log("file done", 1, Duration::from_secs(120));
    d.expect_log("worker ready", 2, Duration::from_secs(30));
    let workers = children(d.pid());
    assert_eq!(workers.len(), 2, "{workers:?}");
    let maps = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    assert!(
        !maps(d.pid()).contains("libclntsh"),
        "the supervisor maps the client library"
    );
    for w in &workers {
        assert!(
            maps(*w).contains("libclntsh"),
            "worker {w} has no client library mapped"
        );
    }
    // Sessions say which job and worker they serve (needs SELECT on V$SESSION).
    let sessions = db.conn().query_row_as::<i64>(
        &format!("SELECT count(*) FROM v$session WHERE client_identifier LIKE 'ingestd:{job}:%' AND module = 'ingestd {job}'"),
        &[],
    );
    match sessions {
        Ok(n) => assert!(n >= 2, "{n} tagged sessions"),
        Err(e) => eprintln!("session tags not checked (no access to V$SESSION): {e}"),
    }
    assert_eq!(db.sum(&job), expected);
    d.stop(Duration::from_secs(60));
    assert_each_logged(
        &d.log_text(),
        &workers,
        &["opening the pool", "pool open", "pool closed"],
    );
    db.clean(&job, &job);
}
