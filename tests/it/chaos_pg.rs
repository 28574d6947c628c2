//! Exactly once through chaos, with the real binary and a real PostgreSQL
//! server of the test's own (a throwaway cluster, so restarting it disturbs
//! no other test): 500,000 rows, 2 workers; workers SIGKILLed every ~0.3 s;
//! the server crash-stopped (`pg_ctl stop -m immediate`) and started again
//! while the load runs; the supervisor SIGKILLed once and started again.
//! Afterwards the table holds every record exactly once (count and
//! checksum) and nothing was rejected.

use std::time::{Duration, Instant};

use crate::support::chaos::{WorkerKiller, all_gone, assert_finished_clean, kill_supervisor};
use crate::support::cluster::Cluster;
use crate::support::pg::orders_sum;
use crate::support::*;

trials![every_record_lands_exactly_once_through_worker_server_and_supervisor_crashes[PgCluster]];

const ROWS: u64 = 500_000;

fn every_record_lands_exactly_once_through_worker_server_and_supervisor_crashes() {
    let cluster = Cluster::start();
    let sink = format!("kind = \"postgres\"\nurl = \"{}\"\n", cluster.url());
    // Small batches: many commits, so the kills land mid-load. Random kills
    // on a loaded machine can hit one batch three times: quarantine (the
    // default max_batch_attempts) is not what this tests.
    let s = Setup::on(
        "pg",
        &sink,
        "orders",
        "orders",
        "workers = 2\nbatch_rows = 250\ncreate_table = true\nmax_batch_attempts = 100\n",
        "on_done = \"archive\"",
    );
    let expected = drop_orders(&s.landing, "orders.csv", ROWS, 1, 4242);
    let cfg = s.config.to_str().unwrap();
    let args = ["run", "--config", cfg, "--once"];
    let mut killer = WorkerKiller::new(11);
    let mut watch = Watch::new(&cluster);

    let mut first = Daemon::start(&args, &s.path("first.log"));
    first.expect_log("worker ready", 2, Duration::from_secs(30));
    let mut restarted_at = None;
    let t0 = Instant::now();
    // Workers killed every ~0.3 s until half the load is in, with the
    // server restarted once on the way.
    killer.until(&mut first, Duration::from_millis(20), |first| {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "half the load never committed:\n{}",
            first.log_text()
        );
        let loaded = watch.loaded();
        if restarted_at.is_none() && loaded >= ROWS / 5 {
            // The server goes down hard in the middle of the load.
            cluster.down("immediate");
            std::thread::sleep(Duration::from_millis(500));
            cluster.up();
            restarted_at = Some(loaded);
            watch.reconnect();
        }
        loaded >= ROWS / 2 && restarted_at.is_some()
    });
    let restarted_at = restarted_at.expect("restarted");
    let orphans = kill_supervisor(&mut first);
    assert!(
        all_gone(&orphans, Duration::from_secs(5)),
        "workers outlived their supervisor"
    );
    let midway = watch.loaded();
    assert!(
        midway < ROWS,
        "the supervisor kill must land mid-load (had {midway} rows)"
    );
    let log = first.log_text();
    assert!(
        log.contains("class=transient"),
        "the server restart was not seen by the workers:\n{log}"
    );

    let worker_kills = killer.finish(&args, &s.path("second.log"), Duration::from_secs(600));
    eprintln!(
        "{worker_kills} worker kills; server restarted at {restarted_at} rows; supervisor killed at {midway} rows"
    );

    let mut db = cluster.client();
    assert_eq!(
        orders_sum(&mut db, "orders", "true"),
        expected,
        "table differs from the file"
    );
    let ledger =
        |db: &mut postgres::Client, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        ledger(
            &mut db,
            "SELECT coalesce(sum(rows_rejected), 0)::bigint FROM ingestd_ledger"
        ),
        0
    );
    assert_eq!(
        ledger(
            &mut db,
            "SELECT sum(rows_loaded)::bigint FROM ingestd_ledger"
        ) as u64,
        ROWS
    );
    assert_finished_clean(&s, "orders.csv");
}

/// Rows committed so far, from the ledger (cheap to ask every 20 ms).
struct Watch<'a> {
    cluster: &'a Cluster,
    client: Option<postgres::Client>,
}

impl<'a> Watch<'a> {
    fn new(cluster: &'a Cluster) -> Self {
        Watch {
            cluster,
            client: Some(cluster.client()),
        }
    }

    fn reconnect(&mut self) {
        self.client = Some(self.cluster.client());
    }

    fn loaded(&mut self) -> u64 {
        let client = self.client.get_or_insert_with(|| self.cluster.client());
        let sql = "SELECT coalesce(sum(rows_loaded), 0)::bigint FROM ingestd_ledger";
        match client.query_one(sql, &[]) {
            Ok(r) => r.get::<_, i64>(0) as u64,
            // No ledger yet, or the connection broke: ask again next time.
            Err(_) => {
                self.client = None;
                0
            }
        }
    }
}
