//! A PostgreSQL job that cannot run (its table is missing and create_table
//! is off; or its role does not exist) stops with a message naming the job
//! and the cause, while an SQLite job in the same daemon loads its file;
//! `ingestd run --once` then exits 78 (configuration). Also: sslmode =
//! require against a server without TLS is a configuration error, not a
//! connection problem to retry forever.

use std::path::{Path, PathBuf};

use crate::support::cluster::Cluster;
use crate::support::config::{DAEMON, orders_job, sink};
use crate::support::pg::{Schema, server};
use crate::support::*;

trials![
    a_missing_table_stops_its_job_and_the_other_job_loads[Pg],
    a_role_that_does_not_exist_stops_its_job_and_the_other_job_loads[Pg],
    tls_required_of_a_server_without_it_stops_its_job[PgCluster],
];

/// A daemon config: job `pgjob` on the postgres sink `pg_sink` (table
/// `missing_orders`, never created), job `local` on an SQLite file; each
/// reads its own folder.
fn two_jobs(dir: &Path, pg_sink: &str) -> PathBuf {
    for d in ["pg_in", "sqlite_in"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let text = [
        DAEMON.to_string(),
        sink("pg", pg_sink),
        sink("lite", "kind = \"sqlite\"\npath = \"out/lite.db\""),
        orders_job("pgjob", "pg", "missing_orders", "pg_in", "", ""),
        orders_job(
            "local",
            "lite",
            "orders",
            "sqlite_in",
            "create_table = true",
            "",
        ),
    ]
    .concat();
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// `ingestd run --once`: it must end (not retry forever) with 78, the
/// configuration exit code; returns what it logged.
fn run_once_configuration_error(config: &Path) -> String {
    cli::run_once(config).expect(78).output()
}

/// The stop line of job `pgjob` in the log.
fn stop_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("job stopped") && l.contains("job=pgjob"))
        .unwrap_or_else(|| panic!("no 'job stopped' line for pgjob:\n{log}"))
}

fn check_sqlite_job_loaded(dir: &Path, expected: Sum, log: &str) {
    let db = dir.join("out/lite.db");
    assert!(db.exists(), "the SQLite job never wrote:\n{log}");
    assert_eq!(
        sqlite_sum(&db, "orders"),
        expected,
        "the SQLite job loads its file:\n{log}"
    );
    assert!(
        dir.join("sqlite_in/archive/lite.csv").exists(),
        "the SQLite job finished its file:\n{log}"
    );
}

fn a_missing_table_stops_its_job_and_the_other_job_loads() {
    let db = Schema::new("cfgerr");
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &db.sink_toml());
    write_orders(&dir.path().join("pg_in/pg.csv"), 500, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 3000, 1, 2);

    let log = run_once_configuration_error(&config);
    let line = stop_line(&log);
    assert!(line.contains("class=configuration"), "{line}");
    assert!(
        line.contains(&format!("\"{}\".\"missing_orders\"", db.name))
            && line.contains("no such table"),
        "{line}"
    );
    assert!(
        line.contains("create_table"),
        "the message says what to do: {line}"
    );
    assert!(
        log.contains("job pgjob stopped (configuration error)"),
        "summary:\n{log}"
    );
    check_sqlite_job_loaded(dir.path(), expected, &log);
    // The PostgreSQL job's file stays for the next start.
    assert!(dir.path().join("pg_in/pg.csv").exists());
}

fn a_role_that_does_not_exist_stops_its_job_and_the_other_job_loads() {
    // The job never gets in: the server is the test server, the role is not.
    let pg = server();
    let sink = format!(
        "kind = \"postgres\"\nhost = \"{}\"\nport = {}\ndbname = \"{}\"\nuser = \"ingestd_no_such_role\"\n",
        pg.host, pg.port, pg.dbname,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &sink);
    write_orders(&dir.path().join("pg_in/pg.csv"), 500, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 3000, 1, 2);

    let log = run_once_configuration_error(&config);
    let line = stop_line(&log);
    assert!(
        line.contains("ingestd_no_such_role"),
        "the message names the role: {line}"
    );
    assert!(line.contains("28000"), "{line}");
    check_sqlite_job_loaded(dir.path(), expected, &log);
}

fn tls_required_of_a_server_without_it_stops_its_job() {
    // A cluster of the test's own: initdb leaves TLS off.
    let cluster = Cluster::start();
    let sink = format!(
        "kind = \"postgres\"\nurl = \"{}\"\nsslmode = \"require\"\n",
        cluster.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &sink);
    write_orders(&dir.path().join("pg_in/pg.csv"), 100, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 1000, 1, 2);

    let log = run_once_configuration_error(&config);
    let line = stop_line(&log);
    assert!(line.contains("does not support TLS"), "{line}");
    check_sqlite_job_loaded(dir.path(), expected, &log);
}
