//! A PostgreSQL job that cannot run (its table is missing and create_table
//! is off; or its role does not exist) stops with a message naming the job
//! and the cause, while an SQLite job in the same daemon loads its file;
//! `ingestd run --once` then exits 78 (configuration). Also: sslmode =
//! require against a server without TLS is a configuration error, not a
//! connection problem to retry forever.

mod common;

use std::process::Command;
use std::str::FromStr;

use common::pg::{Cluster, Schema, test_url};
use common::*;

/// A daemon config: job `pgjob` on the postgres sink `pg_sink`, job `local`
/// on an SQLite file; each reads its own folder.
fn two_jobs(dir: &std::path::Path, pg_sink: &str) -> std::path::PathBuf {
    for d in ["pg_in", "sqlite_in"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let columns = |job: &str| ORDER_COLUMNS.replace("jobs.orders.", &format!("jobs.{job}."));
    let text = format!(
        r#"[daemon]
state_dir = "state"

[sinks.pg]
{pg_sink}
[sinks.lite]
kind = "sqlite"
path = "out/lite.db"

[jobs.pgjob]
sink = "pg"
table = "missing_orders"
reject_dir = "rejects/pg"
[jobs.pgjob.source]
kind = "dir"
path = "pg_in"
settle = "100ms"
{pg_columns}
[jobs.local]
sink = "lite"
table = "orders"
create_table = true
reject_dir = "rejects/lite"
[jobs.local.source]
kind = "dir"
path = "sqlite_in"
settle = "100ms"
{lite_columns}"#,
        pg_columns = columns("pgjob"),
        lite_columns = columns("local"),
    );
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// Runs `ingestd run --once`; returns (exit code, stdout + stderr). A run
/// that does not end within two minutes (a job retrying forever) fails.
fn run_once(config: &std::path::Path) -> (Option<i32>, String) {
    let dir = config.parent().unwrap();
    let (out, err) = (dir.join("run.out"), dir.join("run.err"));
    let mut child = Command::new(bin())
        .args(["run", "--once", "--config"])
        .arg(config)
        .env("INGESTD_LOG", "info")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let read = || {
        format!(
            "{}{}",
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(&err).unwrap_or_default()
        )
    };
    let t0 = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), read());
        }
        if t0.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("run --once did not end:\n{}", read());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The stop line of job `pgjob` in the log.
fn stop_line(log: &str) -> &str {
    log.lines()
        .find(|l| l.contains("job stopped") && l.contains("job=pgjob"))
        .unwrap_or_else(|| panic!("no 'job stopped' line for pgjob:\n{log}"))
}

fn check_sqlite_job_loaded(dir: &std::path::Path, expected: Sum, log: &str) {
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

#[test]
fn a_missing_table_stops_its_job_and_the_other_job_loads() {
    let Some(db) = Schema::new("cfgerr") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &db.sink_toml());
    write_orders(&dir.path().join("pg_in/pg.csv"), 500, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 3000, 1, 2);

    let (code, log) = run_once(&config);
    assert_eq!(code, Some(78), "exit code:\n{log}");
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

#[test]
fn a_role_that_does_not_exist_stops_its_job_and_the_other_job_loads() {
    // Only to know the server is there (or skip); the job never gets in.
    let Some(_db) = Schema::new("cfgrole") else {
        return;
    };
    let pg = postgres::Config::from_str(&test_url()).expect("INGESTD_TEST_PG_URL");
    let host = match pg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "127.0.0.1".into(),
    };
    let sink = format!(
        "kind = \"postgres\"\nhost = \"{host}\"\nport = {}\ndbname = \"{}\"\nuser = \"ingestd_no_such_role\"\n",
        pg.get_ports().first().copied().unwrap_or(5432),
        pg.get_dbname().unwrap_or("test"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &sink);
    write_orders(&dir.path().join("pg_in/pg.csv"), 500, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 3000, 1, 2);

    let (code, log) = run_once(&config);
    assert_eq!(code, Some(78), "exit code:\n{log}");
    let line = stop_line(&log);
    assert!(
        line.contains("ingestd_no_such_role"),
        "the message names the role: {line}"
    );
    assert!(line.contains("28000"), "{line}");
    check_sqlite_job_loaded(dir.path(), expected, &log);
}

#[test]
fn tls_required_of_a_server_without_it_stops_its_job() {
    // A cluster of the test's own: initdb leaves TLS off.
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let sink = format!(
        "kind = \"postgres\"\nurl = \"{}\"\nsslmode = \"require\"\n",
        cluster.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = two_jobs(dir.path(), &sink);
    write_orders(&dir.path().join("pg_in/pg.csv"), 100, 1, 1);
    let expected = write_orders(&dir.path().join("sqlite_in/lite.csv"), 1000, 1, 2);

    let (code, log) = run_once(&config);
    assert_eq!(code, Some(78), "exit code:\n{log}");
    let line = stop_line(&log);
    assert!(line.contains("does not support TLS"), "{line}");
    check_sqlite_job_loaded(dir.path(), expected, &log);
}
