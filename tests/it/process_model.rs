//! The process model, observed from outside on the real binary: the
//! supervisor never holds the database, workers do, and each worker logs the
//! opening and closing of its own pool with its pid.

use std::time::Duration;

use crate::support::*;

trials![supervisor_holds_no_database_descriptor_and_workers_log_their_pools];

fn supervisor_holds_no_database_descriptor_and_workers_log_their_pools() {
    let s = Setup::new("workers = 2\n", "", "on_done = \"keep\"");
    write_orders(&s.landing.join("a.csv"), 2_000, 1, 1);
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("daemon.log"));
    d.expect_log("file done", 1, Duration::from_secs(60));
    d.expect_log("worker ready", 2, Duration::from_secs(10));

    let db = s.db.to_str().unwrap().to_string();
    let on_db = |pid: u32| {
        fd_targets(pid)
            .iter()
            .any(|p| p.to_string_lossy().starts_with(&db))
    };
    let workers = children(d.pid());
    assert_eq!(workers.len(), 2, "two workers: {workers:?}");
    assert!(
        !on_db(d.pid()),
        "the supervisor has a descriptor on the database: {:?}",
        fd_targets(d.pid())
    );
    for w in &workers {
        assert!(on_db(*w), "worker {w} has no descriptor on the database");
    }
    assert_eq!(sqlite_count(&s.db, "SELECT count(*) FROM orders"), 2_000);

    d.stop(Duration::from_secs(30));
    assert_each_logged(&d.log_text(), &workers, &["pool open", "pool closed"]);
}
