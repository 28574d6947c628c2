//! Failures against the real server, each with its class: a session killed
//! between and during writes (transient; the next call reconnects, nothing
//! is lost or doubled), unreachable servers, missing schema/table/column,
//! wrong role, missing privileges, incompatible types, and TLS modes.

use std::path::PathBuf;
use std::time::Duration;

use super::{Db, batch, committed, open_as, open_with};
use crate::config::{PgSslMode, WriteMode};
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;

const TEXT: ColumnType = ColumnType::Text { max_chars: None };

fn terminate(db: &mut Db, app: &str) -> i64 {
    db.count(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
}

#[test]
fn a_killed_session_is_transient_and_the_next_call_reconnects() {
    let Some(mut db) = Db::new("killed") else {
        return;
    };
    let cols = [col("id", ColumnType::BigInt, false)];
    let mode = WriteMode::Insert;
    let job = db.schema.clone();
    let app = format!("ingestd/{job}/w1/777");
    let mut sink = open_as(&db.cfg(), &job, 1, 777).expect("open");
    sink.ensure_table("t", &cols, true, &mode).expect("create");
    committed(
        sink.write(&batch(0, &[vec![V::I(1)]]).req("t", &cols, &mode))
            .expect("first"),
    );

    // Killed between two writes: the next one fails as transient...
    assert_eq!(terminate(&mut db, &app), 1);
    std::thread::sleep(Duration::from_millis(100));
    let second = batch(10, &[vec![V::I(2)], vec![V::I(3)]]);
    let e = sink
        .write(&second.req("t", &cols, &mode))
        .expect_err("the session is gone");
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    // ...and the retry opens a new session and commits.
    committed(sink.write(&second.req("t", &cols, &mode)).expect("retry"));

    // Killed in the middle of a write (a trigger holds the COPY open).
    db.exec(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$; \
         CREATE TRIGGER slow AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION slow();",
    );
    let third = batch(30, &[vec![V::I(4)]]);
    let killer = {
        let mut other = Db::new("killer").expect("second connection");
        let app = app.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            terminate(&mut other, &app)
        })
    };
    let e = sink
        .write(&third.req("t", &cols, &mode))
        .expect_err("killed mid-write");
    assert_eq!(killer.join().expect("killer"), 1);
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    db.exec("DROP TRIGGER slow ON t");
    committed(sink.write(&third.req("t", &cols, &mode)).expect("retry"));
    // A redelivery of the second batch after all this is still skipped.
    assert!(matches!(
        sink.write(&second.req("t", &cols, &mode)).expect("again"),
        crate::worker::sink::WriteOutcome::AlreadyCommitted(_)
    ));
    assert_eq!(db.count("SELECT count(*) FROM t"), 4);
    assert_eq!(db.count("SELECT count(DISTINCT id) FROM t"), 4);
    assert_eq!(db.count("SELECT count(*) FROM ingestd_ledger"), 3);
    sink.close().expect("close");
}

fn open_err(cfg: &crate::config::PostgresSink) -> SinkError {
    match open_with(cfg, 9) {
        Ok(_) => panic!("expected the open to fail"),
        Err(e) => e,
    }
}

#[test]
fn unreachable_servers_and_wrong_names() {
    let Some(mut db) = Db::new("names") else {
        return;
    };
    let mut cfg = db.cfg();
    cfg.port = 1;
    cfg.host = "127.0.0.1".into();
    let e = open_err(&cfg);
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert!(e.to_string().contains("connecting"), "{e}");

    let mut cfg = db.cfg();
    cfg.user = "ingestd_no_such_role".into();
    let e = open_err(&cfg);
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("ingestd_no_such_role"), "{e}");

    let mut cfg = db.cfg();
    cfg.dbname = "ingestd_no_such_db".into();
    let e = open_err(&cfg);
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("3D000"), "{e}");

    let mut cfg = db.cfg();
    cfg.schema = format!("{}_missing", db.schema);
    let e = open_err(&cfg);
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(e.to_string().contains(&cfg.schema), "{e}");

    let mut cfg = db.cfg();
    cfg.password = Some(crate::config::Secret::Env(
        "INGESTD_TEST_UNSET_PASSWORD".into(),
    ));
    let e = open_err(&cfg);
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("INGESTD_TEST_UNSET_PASSWORD"), "{e}");
    let _ = &mut db;
}

#[test]
fn tables_that_do_not_fit_the_job_are_configuration_errors() {
    let Some(mut db) = Db::new("tables") else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id bigint, d date, u uuid, \"Name\" text, g int GENERATED ALWAYS AS (1) STORED); \
         CREATE VIEW v AS SELECT 1 AS id",
    );
    let mut sink = db.open(1);
    let ins = WriteMode::Insert;
    let fails = |sink: &mut Box<dyn crate::worker::sink::Sink>,
                 table: &str,
                 cols: &[crate::format::ColumnSpec],
                 mode: &WriteMode| {
        let e = sink
            .ensure_table(table, cols, false, mode)
            .expect_err("must not fit");
        assert_eq!(e.class(), ErrorClass::Config, "{e}");
        e.to_string()
    };
    let id = col("id", ColumnType::BigInt, false);
    let e = fails(&mut sink, "missing", std::slice::from_ref(&id), &ins);
    assert!(
        e.contains("missing") && e.contains("no such table") && e.contains("create_table"),
        "{e}"
    );
    let e = fails(&mut sink, "t", &[id.clone(), col("nope", TEXT, true)], &ins);
    assert!(
        e.contains("missing column(s) nope") && e.contains("id, d, u, Name, g"),
        "{e}"
    );
    let e = fails(&mut sink, "t", &[col("d", ColumnType::Int, true)], &ins);
    assert!(
        e.contains("\"d\" is date in the table, but the job gives int"),
        "{e}"
    );
    let e = fails(&mut sink, "t", &[col("u", TEXT, true)], &ins);
    assert!(e.contains("type uuid"), "{e}");
    let e = fails(&mut sink, "t", &[col("g", ColumnType::Int, true)], &ins);
    assert!(e.contains("generated"), "{e}");
    let e = fails(&mut sink, "v", std::slice::from_ref(&id), &ins);
    assert!(e.contains("not a table"), "{e}");
    let up = WriteMode::Upsert {
        key: vec!["id".into()],
    };
    let e = fails(&mut sink, "t", std::slice::from_ref(&id), &up);
    assert!(
        e.contains("primary key or unique index on exactly (id)"),
        "{e}"
    );
    // Case is forgiven when it is not ambiguous: "name" finds "Name".
    sink.ensure_table("t", &[col("name", TEXT, true)], false, &ins)
        .expect("Name");
    sink.close().expect("close");
}

#[test]
fn missing_privileges_name_the_table() {
    let Some(mut db) = Db::new("privs") else {
        return;
    };
    let role = format!("{}_ro", db.schema);
    // Roles outlive schemas: drop this one even if an assertion fails.
    let _role = DropRole(role.clone());
    db.open(1).close().expect("the owner creates the ledger");
    db.exec(&format!(
        "CREATE ROLE \"{role}\" LOGIN; GRANT USAGE ON SCHEMA \"{s}\" TO \"{role}\"; \
         CREATE TABLE t (id bigint); GRANT SELECT ON t, ingestd_ledger TO \"{role}\"",
        s = db.schema
    ));
    let mut cfg = db.cfg();
    cfg.user = role.clone();
    let mut sink = open_with(&cfg, 1).expect("open: the ledger can be read");
    let e = sink
        .ensure_table(
            "t",
            &[col("id", ColumnType::BigInt, false)],
            false,
            &WriteMode::Insert,
        )
        .expect_err("no INSERT");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(
        e.to_string().contains("permission denied") && e.to_string().contains("\"t\""),
        "{e}"
    );
    drop(sink);
}

/// Drops a test's role (and what it owns or was granted) when dropped.
struct DropRole(String);

impl Drop for DropRole {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&super::test_url(), postgres::NoTls) {
            let r = &self.0;
            let _ = c.batch_execute(&format!(
                "DROP OWNED BY \"{r}\"; DROP ROLE IF EXISTS \"{r}\""
            ));
        }
    }
}

#[test]
fn tls_modes() {
    let Some(mut db) = Db::new("tls") else { return };
    let ssl: String = db.client.query_one("SHOW ssl", &[]).expect("ssl").get(0);
    let cert: String = db
        .client
        .query_one("SHOW ssl_cert_file", &[])
        .expect("cert")
        .get(0);
    let cert = PathBuf::from(cert);
    if ssl != "on" || !cert.is_file() || db.cfg().host.starts_with('/') {
        eprintln!("skipped: the test server has no TLS certificate readable here");
        return;
    }
    let job = db.schema.clone();
    let encrypted = |db: &mut Db, pid: u32| {
        db.count(&format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.application_name = 'ingestd/{job}/w1/{pid}'"
        ))
    };
    let mut cfg = db.cfg();
    cfg.sslmode = PgSslMode::Require;
    let sink = open_as(&cfg, &job, 1, 101).expect("require: encrypted, unverified");
    assert_eq!(encrypted(&mut db, 101), 1);
    sink.close().expect("close");
    cfg.sslmode = PgSslMode::Disable;
    let sink = open_as(&cfg, &job, 1, 102).expect("disable");
    assert_eq!(encrypted(&mut db, 102), 0);
    sink.close().expect("close");

    // The server's self-signed certificate as the CA: the chain verifies,
    // but it names "localhost", not the address connected to.
    cfg.sslrootcert = Some(cert);
    cfg.sslmode = PgSslMode::VerifyCa;
    let sink = open_as(&cfg, &job, 1, 103).expect("verify-ca with the server's own certificate");
    assert_eq!(encrypted(&mut db, 103), 1);
    sink.close().expect("close");
    if cfg.host == "127.0.0.1" {
        cfg.sslmode = PgSslMode::VerifyFull;
        let e = open_as(&cfg, &job, 1, 104)
            .err()
            .expect("the name does not match");
        assert_eq!(e.class(), ErrorClass::Config, "{e}");
        assert!(e.to_string().contains("TLS"), "{e}");
    }
    cfg.sslrootcert = None;
    cfg.sslmode = PgSslMode::VerifyFull;
    let e = open_as(&cfg, &job, 1, 105)
        .err()
        .expect("no public CA signed it");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
}
