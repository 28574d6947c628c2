//! Tests of the PostgreSQL sink against the real server: each test in its
//! own schema (created and dropped), typed values read back, the ledger
//! (redelivery, overlap, a concurrent duplicate). Helpers here are shared
//! with `rejects` and `faults`; columns and values come from
//! `format::fixtures`.
//!
//! The server is `INGESTD_TEST_PG_URL` (default
//! postgres://postgres@127.0.0.1:5432/test). When it cannot be reached the
//! tests print why and pass, unless `INGESTD_REQUIRE_PG=1` (CI).

mod faults;
mod rejects;

use std::str::FromStr;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::NaiveDate;
use postgres::{Client, NoTls};

use crate::config::{self, PgSslMode, PostgresSink, WriteMode};
use crate::format::fixtures::{V, col, rows_of};
use crate::format::{ColumnSpec, ColumnType, Rows};
use crate::protocol::{ErrorClass, RejectNote};
use crate::worker::sink::{self, Session, Sink, WriteOutcome, WriteRequest};

/// Every test record is one 10-byte line.
pub(super) const REC: u64 = 10;

pub(super) fn test_url() -> String {
    std::env::var("INGESTD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own on the test server, dropped at the end.
pub(super) struct Db {
    pub client: Client,
    pub schema: String,
}

impl Db {
    /// `None` (after printing why) when there is no server to test against.
    pub fn new(tag: &str) -> Option<Db> {
        let url = test_url();
        let mut client = match Client::connect(&url, NoTls) {
            Ok(c) => c,
            Err(e) if std::env::var("INGESTD_REQUIRE_PG").as_deref() == Ok("1") => {
                panic!("INGESTD_REQUIRE_PG=1 but {url} cannot be reached: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL at {url} ({e}); set INGESTD_TEST_PG_URL");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!("ingestd_t_{tag}_{}_{nanos}", std::process::id());
        client
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .expect("create the test schema");
        Some(Db { client, schema })
    }

    pub fn cfg(&self) -> PostgresSink {
        let pg = postgres::Config::from_str(&test_url()).expect("INGESTD_TEST_PG_URL");
        let host = match pg.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "127.0.0.1".into(),
        };
        PostgresSink {
            host,
            port: pg.get_ports().first().copied().unwrap_or(5432),
            dbname: pg.get_dbname().unwrap_or("test").into(),
            user: pg.get_user().unwrap_or("postgres").into(),
            schema: self.schema.clone(),
            password: None,
            sslmode: PgSslMode::Prefer,
            sslrootcert: None,
            pool_max: 1,
            connect_timeout: Duration::from_secs(5),
        }
    }

    pub fn open(&self, worker: u32) -> Box<dyn Sink> {
        open_with(&self.cfg(), worker).expect("open the sink")
    }

    /// `sql` run in the test's schema.
    pub fn exec(&mut self, sql: &str) {
        let sql = format!("SET search_path TO \"{}\"; {sql}", self.schema);
        self.client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    pub fn count(&mut self, sql: &str) -> i64 {
        self.exec("SELECT 1");
        self.client.query_one(sql, &[]).expect(sql).get(0)
    }

    /// The first column (text) of every row of `sql`, sorted.
    pub fn texts(&mut self, sql: &str) -> Vec<String> {
        self.exec("SELECT 1");
        let mut v: Vec<String> = self
            .client
            .query(sql, &[])
            .expect(sql)
            .iter()
            .map(|r| r.get(0))
            .collect();
        v.sort();
        v
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema));
    }
}

pub(super) fn open_with(cfg: &PostgresSink, worker: u32) -> Result<Box<dyn Sink>, sink::SinkError> {
    open_as(cfg, "orders", worker, 4000 + worker)
}

/// A session tagged `ingestd/<job>/w<worker>/<pid>`.
pub(super) fn open_as(
    cfg: &PostgresSink,
    job: &str,
    worker: u32,
    pid: u32,
) -> Result<Box<dyn Sink>, sink::SinkError> {
    let session = Session {
        job: job.into(),
        worker,
        pid,
    };
    sink::open(&config::Sink::Postgres(cfg.clone()), &session)
}

/// A batch of rows at `start` (one `REC`-byte record each).
pub(super) struct Batch {
    pub rows: Rows,
    pub start: u64,
    pub end: u64,
    pub rejects: Vec<RejectNote>,
}

pub(super) fn batch(start: u64, values: &[Vec<V<'_>>]) -> Batch {
    Batch {
        rows: rows_of(values, start, REC),
        start,
        end: start + values.len() as u64 * REC,
        rejects: Vec::new(),
    }
}

impl Batch {
    pub fn req<'a>(
        &'a self,
        table: &'a str,
        columns: &'a [ColumnSpec],
        mode: &'a WriteMode,
    ) -> WriteRequest<'a> {
        WriteRequest {
            job: "orders",
            table,
            mode,
            columns,
            rows: &self.rows,
            source: "src",
            start: self.start,
            end: self.end,
            first_line: self.start / REC + 1,
            rejects: &self.rejects,
        }
    }
}

pub(super) fn committed(o: WriteOutcome) -> (u64, Vec<RejectNote>) {
    match o {
        WriteOutcome::Committed { loaded, rejects } => (loaded, rejects),
        other => panic!("expected Committed, got {other:?}"),
    }
}

const TEXT: ColumnType = ColumnType::Text { max_chars: None };

#[test]
fn typed_values_read_back_as_written() {
    let Some(mut db) = Db::new("types") else {
        return;
    };
    db.exec(
        "CREATE TABLE t (i2 smallint, i4 integer, i8 bigint, n numeric(20,4), nu numeric, \
         f4 real, f8 double precision, t text, v varchar(5), c char(3), j jsonb, b boolean, \
         d date, ts timestamp, tz timestamptz, b2 boolean)",
    );
    db.exec("SET TIME ZONE 'UTC'");
    let dec = ColumnType::Decimal {
        precision: 20,
        scale: 4,
    };
    let cols = [
        col("i2", ColumnType::Int, true),
        col("i4", ColumnType::Int, true),
        col("i8", ColumnType::BigInt, true),
        col("n", dec, true),
        col("nu", TEXT, true),
        col("f4", ColumnType::Float, true),
        col("f8", TEXT, true),
        col("t", TEXT, true),
        col("v", ColumnType::Int, true),
        col("c", TEXT, true),
        col("j", TEXT, true),
        col("b", TEXT, true),
        col("d", ColumnType::Date, true),
        col("ts", TEXT, true),
        col("tz", ColumnType::Date, true),
        col("b2", ColumnType::Bool, true),
    ];
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let b = batch(
        0,
        &[
            vec![
                V::I(-7),
                V::I(123_456),
                V::I(i64::MIN),
                V::D(-123_456_789_012, 4),
                V::T("1.5e-3"),
                V::F(0.5),
                V::T("-Infinity"),
                V::T("Zoë \"q\"\nx"),
                V::I(42),
                V::T("ab"),
                V::T("{\"a\": [1]}"),
                V::T("yes"),
                V::Day(day),
                V::T("2024-02-29 23:59:59.123456"),
                V::Day(day),
                V::B(false),
            ],
            vec![V::N; 16],
        ],
    );
    let mut sink = db.open(1);
    sink.ensure_table("t", &cols, false, &WriteMode::Insert)
        .expect("plan");
    let (loaded, rejects) = committed(
        sink.write(&b.req("t", &cols, &WriteMode::Insert))
            .expect("write"),
    );
    assert_eq!((loaded, rejects), (2, vec![]));
    let all = "concat_ws('|', i2, i4, i8, n, nu, f4, f8, t, v, c, j, b, d, ts, tz, b2, \
               num_nulls(i2, i4, i8, n, nu, f4, f8, t, v, c, j, b, d, ts, tz, b2))";
    let got = db.texts(&format!("SELECT {all} FROM t"));
    assert_eq!(
        got,
        vec![
            "-7|123456|-9223372036854775808|-12345678.9012|0.0015|0.5|-Infinity|Zoë \"q\"\nx|42|ab |\
             {\"a\": [1]}|t|2024-02-29|2024-02-29 23:59:59.123456|2024-02-29 00:00:00+00|f|0"
                .to_string(),
            "16".to_string(),
        ]
    );
    sink.close().expect("close");
}

#[test]
fn ledger_redelivery_overlap_and_ranges() {
    let Some(mut db) = Db::new("ledger") else {
        return;
    };
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
    ];
    let job = db.schema.clone();
    let mut sink = open_as(&db.cfg(), &job, 1, 4242).expect("open");
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let ins = WriteMode::Insert;
    let first = batch(0, &[vec![V::I(1), V::T("a")], vec![V::I(2), V::N]]);
    let second = batch(20, &[vec![V::I(3), V::T("c")]]);
    committed(sink.write(&first.req("t", &cols, &ins)).expect("first"));
    committed(sink.write(&second.req("t", &cols, &ins)).expect("second"));
    match sink.write(&first.req("t", &cols, &ins)).expect("again") {
        WriteOutcome::AlreadyCommitted(r) => assert_eq!((r.start, r.end, r.loaded), (0, 20, 2)),
        other => panic!("expected a redelivery, got {other:?}"),
    }
    let overlapping = batch(10, &[vec![V::I(9), V::T("x")], vec![V::I(9), V::T("y")]]);
    let e = sink
        .write(&overlapping.req("t", &cols, &ins))
        .expect_err("conflict");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("ledger conflict"), "{e}");
    let ranges = sink.committed("orders", "src").expect("ranges");
    assert!(sink.committed("other", "src").expect("none").is_empty());
    let spans: Vec<_> = ranges.iter().map(|r| (r.start, r.end, r.loaded)).collect();
    assert_eq!(spans, vec![(0, 20, 2), (20, 30, 1)]);
    assert_eq!(db.count("SELECT count(*) FROM t"), 3);
    let app = format!("ingestd/{job}/w1/4242");
    let live = format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'");
    assert_eq!(db.count(&live), 1, "one session, tagged {app}");
    sink.close().expect("close");
    // The server notices the goodbye a moment later.
    let mut left = 1;
    for _ in 0..100 {
        left = db.count(&live);
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(left, 0, "close() ends the session");
}

#[test]
fn a_concurrent_duplicate_is_reported_as_already_committed() {
    let Some(mut db) = Db::new("race") else {
        return;
    };
    let cols = [col("id", ColumnType::BigInt, false)];
    db.exec(
        "CREATE TABLE t (id bigint NOT NULL); \
         CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$; \
         CREATE TRIGGER slow AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION slow();",
    );
    let start = Arc::new(Barrier::new(2));
    let cfg = db.cfg();
    let racers: Vec<_> = (1..=2)
        .map(|w| {
            let (cfg, start, cols) = (cfg.clone(), start.clone(), cols.clone());
            std::thread::spawn(move || {
                let mut sink = open_with(&cfg, w).expect("open");
                sink.ensure_table("t", &cols, false, &WriteMode::Insert)
                    .expect("plan");
                let b = batch(0, &[vec![V::I(1)], vec![V::I(2)]]);
                start.wait();
                let out = sink
                    .write(&b.req("t", &cols, &WriteMode::Insert))
                    .expect("write");
                sink.close().expect("close");
                out
            })
        })
        .collect();
    let outs: Vec<WriteOutcome> = racers
        .into_iter()
        .map(|r| r.join().expect("racer"))
        .collect();
    let done = outs
        .iter()
        .filter(|o| matches!(o, WriteOutcome::Committed { .. }))
        .count();
    let already = outs
        .iter()
        .filter(|o| matches!(o, WriteOutcome::AlreadyCommitted(_)))
        .count();
    assert_eq!((done, already), (1, 1), "{outs:?}");
    assert_eq!(db.count("SELECT count(*) FROM t"), 2);
    assert_eq!(db.count("SELECT count(*) FROM ingestd_ledger"), 1);
}
