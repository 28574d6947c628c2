//! The process model seen from the server, on the real binary: while a job
//! runs, every ingestd session in `pg_stat_activity` is tagged with a
//! worker's pid, that worker (a child of the supervisor, never the
//! supervisor) really owns the session's socket, and there are at most
//! workers x pool_max of them; after the daemon stops, none remain.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::pg::{Schema, server, sessions, socket_owner};
use crate::support::*;

trials![sessions_belong_to_workers_and_end_with_the_daemon[Pg]];

const WORKERS: usize = 3;
const POOL_MAX: usize = 2;
const ROWS: u64 = 150_000;

fn sessions_belong_to_workers_and_end_with_the_daemon() {
    let mut db = Schema::new("sessions");
    let job = format!("sess{}", std::process::id());
    let prefix = format!("ingestd/{job}/");
    let sink = format!("{}pool_max = {POOL_MAX}\n", db.sink_toml());
    let s = Setup::on(
        "pg",
        &sink,
        &job,
        "orders",
        &format!("workers = {WORKERS}\nbatch_rows = 500\ncreate_table = true\n"),
        "on_done = \"keep\"",
    );
    write_orders(&s.landing.join("a.csv"), ROWS, 1, 5);
    let server_port = server().port;
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--config", cfg], &s.path("daemon.log"));
    let sup = d.pid();

    let (mut samples, mut max_seen, mut during_load, mut owned) = (0, 0, 0, 0);
    let mut pids = BTreeSet::new();
    let t0 = Instant::now();
    let mut done_at = None;
    while done_at.is_none_or(|t: Instant| t.elapsed() < Duration::from_secs(1)) {
        assert!(t0.elapsed() < Duration::from_secs(120), "{}", d.log_text());
        assert!(d.child.try_wait().unwrap().is_none(), "{}", d.log_text());
        if done_at.is_none() && d.log_text().contains("file done") {
            done_at = Some(Instant::now());
        }
        // Sessions first: a worker started between the two looks is then
        // among the children (none ends during this test).
        let found = sessions(&mut db.client, &prefix);
        let workers = children(sup);
        for (backend, app, port) in &found {
            let pid: u32 = app
                .rsplit('/')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("application_name {app:?} names no pid"));
            assert_ne!(pid, sup, "a session of the supervisor: {app}");
            assert!(
                workers.contains(&pid),
                "{app}: pid {pid} is not a worker of {sup} ({workers:?})"
            );
            // The tag could lie; the socket cannot.
            if let Some(port) = port.filter(|p| *p > 0) {
                let owner = socket_owner(port as u16, server_port, &workers);
                if let Some(owner) = owner {
                    assert_eq!(owner, pid, "backend {backend}: {app} is owned by {owner}");
                    owned += 1;
                } else {
                    // The session may have ended between the two looks.
                    assert!(
                        !sessions(&mut db.client, &prefix)
                            .iter()
                            .any(|(b, ..)| b == backend),
                        "backend {backend} ({app}): no worker owns its socket"
                    );
                }
                assert!(
                    socket_owner(port as u16, server_port, &[sup]).is_none(),
                    "the supervisor holds a database socket"
                );
            }
            pids.insert(pid);
        }
        assert!(
            found.len() <= WORKERS * POOL_MAX,
            "{} sessions: {found:?}",
            found.len()
        );
        if !found.is_empty() {
            samples += 1;
            if done_at.is_none() {
                during_load += 1;
            }
        }
        max_seen = max_seen.max(found.len());
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(during_load > 0, "no session was seen while the file loaded");
    assert!(owned > 0, "no session's socket was traced to its worker");
    assert_eq!(pids.len(), WORKERS, "sessions of {pids:?}");
    eprintln!(
        "{samples} samples ({owned} sockets traced), at most {max_seen} sessions, workers {pids:?}"
    );
    assert_eq!(db.int("SELECT count(*) FROM orders"), ROWS as i64);

    d.stop(Duration::from_secs(30));
    let t1 = Instant::now();
    let mut left = sessions(&mut db.client, &prefix);
    while !left.is_empty() && t1.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        left = sessions(&mut db.client, &prefix);
    }
    assert!(left.is_empty(), "sessions outlived the daemon: {left:?}");
}
