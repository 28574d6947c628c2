//! The duplicate-range race on real databases: two sinks (two workers, each
//! on its own thread and connection) write the same range at once; one
//! commits, the other answers `AlreadyCommitted`, and the rows land once.
//!
//! On PostgreSQL a test connection holds `LOCK TABLE ingestd_ledger IN
//! EXCLUSIVE MODE` (reads pass, inserts wait) until both sinks wait on their
//! ledger insert, so both have passed the overlap check and the loser can
//! only be answered by the duplicate-key rule. On SQLite `BEGIN IMMEDIATE`
//! serialises the two, so the loser is answered by the overlap check; a
//! ledger row that appears inside the transaction (a trigger plays the
//! other writer) shows the duplicate-key rule there.
//!
//! The PostgreSQL server is `INGESTD_TEST_PG_URL` (default
//! postgres://postgres@127.0.0.1:5432/test); without one the test says so
//! and passes, unless `INGESTD_REQUIRE_PG=1`.

use std::str::FromStr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use postgres::config::Host;
use postgres::{Client, NoTls};
use rusqlite::Connection;

use crate::config::{self, PgSslMode, PostgresSink, SqliteSink, SqliteSynchronous, WriteMode};
use crate::format::fixtures::{V, col, rows_of};
use crate::format::{ColumnSpec, ColumnType, Rows};
use crate::protocol::ErrorClass;
use crate::worker::sink::{self, Session, Sink, SinkError, WriteOutcome, WriteRequest};

const REC: u64 = 10;

fn session(worker: u32) -> Session {
    Session {
        job: "orders".into(),
        worker,
        pid: 9000 + worker,
    }
}

/// The batch of two rows (ids 1 and 2) at `start` into table `t`.
struct Two {
    cols: [ColumnSpec; 1],
    rows: Rows,
    start: u64,
}

impl Two {
    fn at(start: u64) -> Two {
        Two {
            cols: [col("id", ColumnType::BigInt, false)],
            rows: rows_of(&[vec![V::I(1)], vec![V::I(2)]], start, REC),
            start,
        }
    }

    fn req(&self) -> WriteRequest<'_> {
        WriteRequest {
            job: "orders",
            table: "t",
            mode: &WriteMode::Insert,
            columns: &self.cols,
            rows: &self.rows,
            source: "src",
            start: self.start,
            end: self.start + 2 * REC,
            first_line: self.start / REC + 1,
            rejects: &[],
        }
    }
}

/// Two writers of the batch of two rows at `start`, each with the sink
/// `open` gives it. `hold` runs once both are open: it must keep them off
/// the ledger, let them go (its argument), and release them once both have
/// tried.
fn two_writers(
    open: impl Fn(u32) -> Result<Box<dyn Sink>, SinkError> + Sync,
    start: u64,
    hold: impl FnOnce(&dyn Fn()),
) -> Vec<WriteOutcome> {
    let (ready, go) = (Barrier::new(3), Barrier::new(3));
    std::thread::scope(|s| {
        let writers: Vec<_> = [1, 2]
            .map(|w| {
                let (open, ready, go) = (&open, &ready, &go);
                s.spawn(move || {
                    let batch = Two::at(start);
                    let req = batch.req();
                    let opened = open(w).and_then(|mut sink| {
                        sink.ensure_table("t", req.columns, false, req.mode)?;
                        Ok(sink)
                    });
                    // Through both barriers even after a failure, so that
                    // nobody waits for this writer forever.
                    ready.wait();
                    go.wait();
                    let mut sink = opened.expect("open and check the table");
                    let out = sink.write(&req).expect("write");
                    sink.close().expect("close");
                    out
                })
            })
            .into_iter()
            .collect();
        ready.wait();
        hold(&|| {
            go.wait();
        });
        writers
            .into_iter()
            .map(|w| w.join().expect("writer"))
            .collect()
    })
}

/// One commit and one redelivery of [start, start + 20).
fn assert_once(outs: &[WriteOutcome], start: u64) {
    let committed = outs
        .iter()
        .filter(|o| {
            **o == WriteOutcome::Committed {
                loaded: 2,
                rejects: vec![],
            }
        })
        .count();
    let already = outs.iter().filter(|o| match o {
        WriteOutcome::AlreadyCommitted(r) => (r.start, r.end, r.loaded) == (start, start + 20, 2),
        _ => false,
    });
    assert_eq!((committed, already.count()), (1, 1), "{outs:?}");
}

fn sqlite_cfg(dir: &std::path::Path) -> SqliteSink {
    SqliteSink {
        path: dir.join("target.db"),
        busy_timeout: Duration::from_secs(10),
        synchronous: SqliteSynchronous::Normal,
    }
}

fn sqlite_open(cfg: &SqliteSink, worker: u32) -> Result<Box<dyn Sink>, SinkError> {
    sink::open(&config::Sink::Sqlite(cfg.clone()), &session(worker))
}

#[test]
fn two_sqlite_sinks_racing_for_one_range_commit_it_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = sqlite_cfg(dir.path());
    sqlite_open(&cfg, 0)
        .and_then(|s| s.close())
        .expect("the ledger");
    let db = Connection::open(&cfg.path).expect("a test connection");
    db.execute_batch("CREATE TABLE t (id INTEGER NOT NULL)")
        .expect("table");
    for round in 0..5 {
        let start = round * 100;
        let outs = two_writers(
            |w| sqlite_open(&cfg, w),
            start,
            |go| {
                // Both wait for the write lock in busy_timeout, then go one by one.
                db.execute_batch("BEGIN IMMEDIATE").expect("hold the lock");
                go();
                std::thread::sleep(Duration::from_millis(100));
                db.execute_batch("COMMIT").expect("release");
            },
        );
        assert_once(&outs, start);
    }
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    assert_eq!(count("SELECT count(*) FROM t"), 10);
    assert_eq!(count("SELECT count(*) FROM ingestd_ledger"), 5);
}

#[test]
fn a_duplicate_ledger_key_on_sqlite_is_read_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = sqlite_cfg(dir.path());
    let mut sink = sqlite_open(&cfg, 1).expect("open");
    let db = Connection::open(&cfg.path).expect("a test connection");
    // The other writer's row for this start, inside our transaction (no
    // other connection can write there): the rollback takes it away too,
    // so the ledger holds nothing when read again, and that is a retry.
    db.execute_batch(
        "CREATE TABLE t (id INTEGER NOT NULL); \
         CREATE TRIGGER theirs AFTER INSERT ON t WHEN NEW.id = 1 BEGIN \
         INSERT INTO ingestd_ledger VALUES ('orders', 'src', 0, 999, 1, 0, 0, '[]', 1, 'x'); END",
    )
    .expect("table and trigger");
    let batch = Two::at(0);
    let req = batch.req();
    let e = sink.write(&req).expect_err("duplicate key");
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert!(e.to_string().contains("duplicate key"), "{e}");
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    assert_eq!(count("SELECT count(*) FROM t"), 0);
    assert_eq!(count("SELECT count(*) FROM ingestd_ledger"), 0);
    db.execute_batch("DROP TRIGGER theirs").expect("drop");
    let out = sink.write(&req).expect("the retry");
    assert_eq!(
        out,
        WriteOutcome::Committed {
            loaded: 2,
            rejects: vec![]
        }
    );
    sink.close().expect("close");
}

/// A schema of its own on the test server, dropped at the end.
struct PgSchema {
    client: Client,
    cfg: PostgresSink,
}

impl PgSchema {
    fn new() -> Option<PgSchema> {
        let url = std::env::var("INGESTD_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
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
        let schema = format!("ingestd_t_deliver_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
                 CREATE TABLE {schema}.t (id bigint NOT NULL)"
            ))
            .expect("the test schema");
        let pg = postgres::Config::from_str(&url).expect("INGESTD_TEST_PG_URL");
        let cfg = PostgresSink {
            host: match pg.get_hosts().first() {
                Some(Host::Unix(p)) => p.display().to_string(),
                Some(Host::Tcp(h)) => h.clone(),
                None => "127.0.0.1".into(),
            },
            port: pg.get_ports().first().copied().unwrap_or(5432),
            dbname: pg.get_dbname().unwrap_or("test").into(),
            user: pg.get_user().unwrap_or("postgres").into(),
            schema,
            password: None,
            sslmode: PgSslMode::Prefer,
            sslrootcert: None,
            pool_max: 1,
            connect_timeout: Duration::from_secs(5),
        };
        Some(PgSchema { client, cfg })
    }

    fn count(&mut self, what: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {}.{what}", self.cfg.schema);
        self.client.query_one(&sql, &[]).expect(&sql).get(0)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA {} CASCADE", self.cfg.schema);
        let _ = self.client.batch_execute(&drop);
    }
}

#[test]
fn two_pg_sinks_racing_for_one_range_commit_it_once() {
    let Some(mut pg) = PgSchema::new() else {
        return;
    };
    let cfg = pg.cfg.clone();
    let ledger = format!("{}.ingestd_ledger", cfg.schema);
    let waiting = format!(
        "SELECT count(*) FROM pg_locks WHERE relation = '{ledger}'::regclass AND NOT granted"
    );
    let (client, mut both_waited) = (&mut pg.client, false);
    let outs = two_writers(
        |w| sink::open(&config::Sink::Postgres(cfg.clone()), &session(w)),
        0,
        |go| {
            client
                .batch_execute(&format!("BEGIN; LOCK TABLE {ledger} IN EXCLUSIVE MODE"))
                .expect("lock the ledger");
            go();
            // Both past their overlap check, both waiting to insert. The
            // lock goes at the end whatever happens, or the writers would
            // wait for it forever.
            let since = Instant::now();
            while since.elapsed() < Duration::from_secs(20) && !both_waited {
                let n: i64 = client.query_one(&waiting, &[]).expect("pg_locks").get(0);
                both_waited = n == 2;
                std::thread::sleep(Duration::from_millis(10));
            }
            client.batch_execute("COMMIT").expect("release");
        },
    );
    assert!(both_waited, "the sinks never waited on the ledger insert");
    assert_once(&outs, 0);
    assert_eq!(pg.count("t"), 2);
    assert_eq!(pg.count("ingestd_ledger"), 1);
}
