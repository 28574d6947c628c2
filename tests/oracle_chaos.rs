//! Exactly once on a real Oracle database (when `INGESTD_TEST_ORACLE_CONNECT`,
//! `_USER` and `_PASSWORD` are set; skipped with a message otherwise), with
//! the real binary: workers SIGKILLed about every 0.3 s during a 200,000-row
//! load, the supervisor SIGKILLed once at 40% and started again. Mirrors
//! `chaos_sqlite.rs`. Also the process model on Oracle: each worker logs its
//! pool open and close with its pid, workers map the client library and the
//! supervisor does not.

mod common;

use std::time::Duration;

use common::chaos::{WorkerKiller, kill_supervisor};
use common::oracle::{OracleDb, oracle_sink, orders_job};
use common::*;

const ROWS: u64 = 200_000;

/// A folder with `in/` and a config for one Oracle orders job.
fn setup(db: &OracleDb, job: &str, extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\nrescan_interval = \"1s\"\n{}{}",
        oracle_sink("ora", &db.connect, &db.user, ""),
        orders_job(
            job,
            "ora",
            job,
            "in",
            &format!("create_table = true\n{extra}")
        ),
    );
    let config = dir.path().join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    (dir, config.display().to_string())
}

#[test]
fn every_record_lands_exactly_once_on_oracle_through_worker_and_supervisor_kills() {
    let Some(db) = OracleDb::from_env("oracle_chaos") else {
        return;
    };
    let job = OracleDb::unique("ingestd_chaos");
    db.clean(&job, &job);
    let (dir, cfg) = setup(&db, &job, "workers = 3\nbatch_rows = 50\n");
    let expected = drop_orders(&dir.path().join("in"), "orders.csv", ROWS, 1, 42);
    let conn = db.conn();
    let count = || {
        conn.query_row_as::<i64>(&format!("SELECT count(*) FROM \"{job}\""), &[])
            .map(|n| n as u64)
            .unwrap_or(0)
    };
    let args = ["run", "--config", cfg.as_str(), "--once"];
    let mut killer = WorkerKiller::new(7);

    let mut first = Daemon::start(&args, &dir.path().join("first.log"));
    assert!(
        first.wait_log("worker ready", 3, Duration::from_secs(60)),
        "{}",
        first.log_text()
    );
    killer.until(&mut first, Duration::from_millis(50), |_| {
        count() >= ROWS * 2 / 5
    });
    kill_supervisor(&mut first);
    let midway = count();
    assert!(
        midway > 0 && midway < ROWS,
        "the kill must land mid-load ({midway} rows)"
    );

    let mut second = Daemon::start(&args, &dir.path().join("second.log"));
    let code = killer.until_exit(&mut second, Duration::from_secs(600));
    let worker_kills = killer.kills;
    assert_eq!(code, 0, "second run failed:\n{}", second.log_text());
    eprintln!("{worker_kills} worker kills; supervisor killed at {midway} rows");
    assert!(worker_kills >= 6, "only {worker_kills} worker kills");

    assert_eq!(db.sum(&job), expected, "table differs from the file");
    let ledger = |what: &str| {
        db.count(&format!(
            "SELECT nvl(sum({what}), 0) FROM ingestd_ledger WHERE job = '{job}'"
        ))
    };
    assert_eq!(ledger("rows_rejected"), 0);
    assert_eq!(ledger("rows_loaded") as u64, ROWS);
    assert!(dir.path().join("in/archive/orders.csv").exists());
    db.clean(&job, &job);
}

#[test]
fn oracle_workers_open_and_close_their_own_pools() {
    let Some(db) = OracleDb::from_env("oracle_process_model") else {
        return;
    };
    let job = OracleDb::unique("ingestd_pm");
    db.clean(&job, &job);
    let (dir, cfg) = setup(&db, &job, "workers = 2\n");
    let expected = drop_orders(&dir.path().join("in"), "a.csv", 2_000, 1, 1);
    let mut d = Daemon::start(&["run", "--config", &cfg], &dir.path().join("d.log"));
    assert!(
        d.wait_log("file done", 1, Duration::from_secs(120)),
        "{}",
        d.log_text()
    );
    assert!(
        d.wait_log("worker ready", 2, Duration::from_secs(30)),
        "{}",
        d.log_text()
    );
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
    d.signal(15);
    assert_eq!(
        d.wait_exit(Duration::from_secs(60)),
        Some(0),
        "{}",
        d.log_text()
    );
    let log = d.log_text();
    for w in &workers {
        let pid = format!("pid={w}");
        let has = |what: &str| log.lines().any(|l| l.contains(what) && l.contains(&pid));
        assert!(
            has("opening the pool"),
            "no 'opening the pool' with {pid}:\n{log}"
        );
        assert!(has("pool open"), "no 'pool open' with {pid}:\n{log}");
        assert!(has("pool closed"), "no 'pool closed' with {pid}:\n{log}");
    }
    db.clean(&job, &job);
}
