//! Failures of the PostgreSQL sink through the real worker process, seen as
//! the supervisor sees them: a session killed between and during writes is
//! retried (the worker logs it as transient and reconnects; nothing is lost
//! or doubled); an unreachable server is retried while the worker waits;
//! wrong names, roles, tables that do not fit, missing privileges and TLS
//! that cannot be had stop the job (`Fatal`, class configuration).

use std::time::{Duration, Instant};

use ingestd::config::{PgSslMode, Secret, WriteMode};
use ingestd::format::{ColumnSpec, ColumnType};
use ingestd::protocol::{ErrorClass, FromWorker, ToWorker, WorkerSetup};

use crate::support::pg::{self, Schema, server};
use crate::support::trials;
use crate::support::worker::{Feed, TEXT, Worker, col, pg_setup};

trials![
    a_killed_session_is_transient_and_the_next_call_reconnects[Pg],
    unreachable_servers_and_wrong_names[Pg],
    tables_that_do_not_fit_the_job_are_configuration_errors[Pg],
    missing_privileges_name_the_table[Pg],
    tls_modes[PgTls],
];

/// Ends the sessions tagged `app`; how many there were.
fn terminate(db: &mut Schema, app: &str) -> i64 {
    db.int(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
}

/// The backend pid of the one session tagged `app`.
fn backend(db: &mut Schema, app: &str) -> i32 {
    let pids: Vec<i32> = db
        .client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pids.len(), 1, "sessions of {app}: {pids:?}");
    pids[0]
}

fn a_killed_session_is_transient_and_the_next_call_reconnects() {
    let mut db = Schema::new("killed");
    let cols = [col("id", ColumnType::BigInt, false)];
    let job = db.name.clone();
    let mut setup = pg_setup(db.sink(), &job, "t");
    setup.create_table = true;
    let mut w = Worker::start(setup);
    let app = format!("ingestd/{job}/w1/{}", w.ready());
    let mut feed = Feed::new(&cols);
    assert_eq!(w.load(&feed.next(&["1"])).loaded, 1);

    // Killed between two writes: the next write fails as transient, and the
    // worker retries it on a new session.
    let before = backend(&mut db, &app);
    assert_eq!(terminate(&mut db, &app), 1);
    std::thread::sleep(Duration::from_millis(100));
    let second = feed.next(&["2", "3"]);
    let done = w.load(&second);
    assert_eq!((done.loaded, done.already), (2, false), "{done:?}");
    w.expect_log(&["WARN", "class=transient"], 1, Duration::from_secs(5));
    assert_ne!(backend(&mut db, &app), before, "a new session");

    // Killed in the middle of a write: a trigger holds the COPY open, and
    // the session is ended while the server sleeps in it.
    db.exec(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$; \
         CREATE TRIGGER slow AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION slow();",
    );
    let third = feed.next(&["4"]);
    w.send(ToWorker::Batch(third.clone()));
    let sleeping = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND wait_event = 'PgSleep'"
    );
    let t0 = Instant::now();
    while db.int(&sleeping) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the write never began"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(terminate(&mut db, &app), 1);
    // The retry goes through the trigger again and commits, once.
    assert_eq!(w.done(&third).loaded, 1);
    w.expect_log(&["WARN", "class=transient"], 2, Duration::from_secs(5));
    // A redelivery of the second batch after all this is still skipped.
    assert!(w.load(&second).already);
    assert_eq!(db.int("SELECT count(*) FROM t"), 4);
    assert_eq!(db.int("SELECT count(DISTINCT id) FROM t"), 4);
    assert_eq!(db.int("SELECT count(*) FROM ingestd_ledger"), 3);
    assert_eq!(w.shutdown(), Some(0));
}

/// A worker for `setup` that must stop at its start: the class and message
/// of its `Fatal`.
fn fatal_at_start(setup: WorkerSetup) -> (ErrorClass, String) {
    Worker::start(setup).fatal()
}

fn unreachable_servers_and_wrong_names() {
    let db = Schema::new("names");
    let setup = |change: &dyn Fn(&mut ingestd::config::PostgresSink)| {
        let mut sink = db.sink();
        change(&mut sink);
        pg_setup(sink, "orders", "t")
    };

    // Nothing listens: the worker waits for the server, retrying with
    // back-off, and neither gets ready nor gives up.
    let mut w = Worker::start(setup(&|s| {
        s.host = "127.0.0.1".into();
        s.port = 1;
    }));
    w.expect_log(
        &["class=transient", "connecting"],
        2,
        Duration::from_secs(10),
    );
    let answer = w.answer_within(Duration::from_millis(200));
    assert!(answer.is_none(), "{answer:?}");
    w.kill();

    let (class, e) = fatal_at_start(setup(&|s| s.user = "ingestd_no_such_role".into()));
    assert_eq!(class, ErrorClass::Config, "{e}");
    assert!(e.contains("ingestd_no_such_role"), "{e}");

    let (class, e) = fatal_at_start(setup(&|s| s.dbname = "ingestd_no_such_db".into()));
    assert_eq!(class, ErrorClass::Config, "{e}");
    assert!(e.contains("3D000"), "{e}");

    let missing = format!("{}_missing", db.name);
    let (class, e) = fatal_at_start(setup(&|s| s.schema = missing.clone()));
    assert_eq!(class, ErrorClass::Config, "{e}");
    assert!(e.contains("does not exist") && e.contains(&missing), "{e}");

    let (class, e) = fatal_at_start(setup(&|s| {
        s.password = Some(Secret::Env("INGESTD_TEST_UNSET_PASSWORD".into()))
    }));
    assert_eq!(class, ErrorClass::Config, "{e}");
    assert!(e.contains("INGESTD_TEST_UNSET_PASSWORD"), "{e}");
}

/// One record of `columns` with a plain value in each field.
fn one_record(columns: &[ColumnSpec]) -> String {
    let field = |c: &ColumnSpec| match c.ty {
        ColumnType::Int | ColumnType::BigInt => "1",
        ColumnType::Date => "2024-01-01",
        _ => "x",
    };
    columns.iter().map(field).collect::<Vec<_>>().join(",")
}

fn tables_that_do_not_fit_the_job_are_configuration_errors() {
    let mut db = Schema::new("tables");
    db.exec(
        "CREATE TABLE t (id bigint, d date, u uuid, \"Name\" text, g int GENERATED ALWAYS AS (1) STORED); \
         CREATE VIEW v AS SELECT 1 AS id",
    );
    // A worker of a job on `table` with `columns`, given one record.
    let load = |table: &str, columns: &[ColumnSpec], mode: &WriteMode| {
        let mut setup = pg_setup(db.sink(), "orders", table);
        setup.mode = mode.clone();
        let mut w = Worker::start(setup);
        w.ready();
        w.send(ToWorker::Batch(
            Feed::new(columns).next(&[one_record(columns)]),
        ));
        w
    };
    let fails = |table: &str, columns: &[ColumnSpec], mode: &WriteMode| {
        let (class, e) = load(table, columns, mode).fatal();
        assert_eq!(class, ErrorClass::Config, "{e}");
        e
    };
    let ins = WriteMode::Insert;
    let id = col("id", ColumnType::BigInt, false);
    let e = fails("missing", std::slice::from_ref(&id), &ins);
    assert!(
        e.contains("missing") && e.contains("no such table") && e.contains("create_table"),
        "{e}"
    );
    let e = fails("t", &[id.clone(), col("nope", TEXT, true)], &ins);
    assert!(
        e.contains("missing column(s) nope") && e.contains("id, d, u, Name, g"),
        "{e}"
    );
    let e = fails("t", &[col("d", ColumnType::Int, true)], &ins);
    assert!(
        e.contains("\"d\" is date in the table, but the job gives int"),
        "{e}"
    );
    let e = fails("t", &[col("u", TEXT, true)], &ins);
    assert!(e.contains("type uuid"), "{e}");
    let e = fails("t", &[col("g", ColumnType::Int, true)], &ins);
    assert!(e.contains("generated"), "{e}");
    let e = fails("v", std::slice::from_ref(&id), &ins);
    assert!(e.contains("not a table"), "{e}");
    let up = WriteMode::Upsert {
        key: vec!["id".into()],
    };
    let e = fails("t", std::slice::from_ref(&id), &up);
    assert!(
        e.contains("primary key or unique index on exactly (id)"),
        "{e}"
    );
    // Case is forgiven when it is not ambiguous: "name" finds "Name".
    let mut w = load("t", &[col("name", TEXT, true)], &ins);
    match w.answer() {
        FromWorker::Done(d) => assert_eq!(d.loaded, 1, "{d:?}"),
        other => panic!("expected Done, got {other:?}\n{}", w.log()),
    }
    assert_eq!(w.shutdown(), Some(0));
    assert_eq!(db.int("SELECT count(*) FROM t WHERE \"Name\" = 'x'"), 1);
}

fn missing_privileges_name_the_table() {
    let mut db = Schema::new("privs");
    let role = format!("{}_ro", db.name);
    // Roles outlive schemas: drop this one even if an assertion fails.
    let _role = DropRole(role.clone());
    // The owner's worker creates the ledger.
    let mut owner = Worker::start(pg_setup(db.sink(), "orders", "t"));
    owner.ready();
    assert_eq!(owner.shutdown(), Some(0));
    db.exec(&format!(
        "CREATE ROLE \"{role}\" LOGIN; GRANT USAGE ON SCHEMA \"{s}\" TO \"{role}\"; \
         CREATE TABLE t (id bigint); GRANT SELECT ON t, ingestd_ledger TO \"{role}\"",
        s = db.name
    ));
    let mut sink = db.sink();
    sink.user = role.clone();
    let mut w = Worker::start(pg_setup(sink, "orders", "t"));
    // The ledger can be read: the pool opens.
    w.ready();
    let columns = [col("id", ColumnType::BigInt, false)];
    w.send(ToWorker::Batch(Feed::new(&columns).next(&["1"])));
    let (class, e) = w.fatal();
    assert_eq!(class, ErrorClass::Config, "{e}");
    assert!(
        e.contains("permission denied") && e.contains("\"t\""),
        "{e}"
    );
    assert_eq!(db.int("SELECT count(*) FROM t"), 0);
}

/// Drops a test's role (and what it owns or was granted) when dropped.
struct DropRole(String);

impl Drop for DropRole {
    fn drop(&mut self) {
        if let Ok(mut c) = pg::connect() {
            let r = &self.0;
            let _ = c.batch_execute(&format!(
                "DROP OWNED BY \"{r}\"; DROP ROLE IF EXISTS \"{r}\""
            ));
        }
    }
}

fn tls_modes() {
    let mut db = Schema::new("tls");
    let cert = pg::tls_certificate().expect("checked by the harness");
    let job = db.name.clone();
    // (sessions of worker `pid`, how many of them encrypted)
    let seen = |db: &mut Schema, pid: u32| {
        let app = format!("ingestd/{job}/w1/{pid}");
        let all = db.int(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ));
        let tls = db.int(&format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.application_name = '{app}'"
        ));
        (all, tls)
    };
    let base = db.sink();
    let with = |mode: PgSslMode, root: Option<&std::path::Path>| {
        let mut sink = base.clone();
        sink.sslmode = mode;
        sink.sslrootcert = root.map(|p| p.to_path_buf());
        Worker::start(pg_setup(sink, &job, "t"))
    };
    let mut w = with(PgSslMode::Require, None);
    let pid = w.ready();
    assert_eq!(seen(&mut db, pid), (1, 1), "require: encrypted, unverified");
    assert_eq!(w.shutdown(), Some(0));
    let mut w = with(PgSslMode::Disable, None);
    let pid = w.ready();
    assert_eq!(seen(&mut db, pid), (1, 0), "disable: plain");
    assert_eq!(w.shutdown(), Some(0));

    // The server's self-signed certificate as the CA: the chain verifies,
    // but it names "localhost", not the address connected to.
    let mut w = with(PgSslMode::VerifyCa, Some(&cert));
    let pid = w.ready();
    assert_eq!(
        seen(&mut db, pid),
        (1, 1),
        "verify-ca with the server's own certificate"
    );
    assert_eq!(w.shutdown(), Some(0));
    if server().host == "127.0.0.1" {
        let (class, e) = with(PgSslMode::VerifyFull, Some(&cert)).fatal();
        assert_eq!(class, ErrorClass::Config, "the name does not match: {e}");
        assert!(e.contains("TLS"), "{e}");
    }
    let (class, e) = with(PgSslMode::VerifyFull, None).fatal();
    assert_eq!(class, ErrorClass::Config, "no public CA signed it: {e}");
}
