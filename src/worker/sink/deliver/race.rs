//! The duplicate-range race on real SQLite files: two sinks (two workers,
//! each on its own thread and connection) write the same range at once; one
//! commits, the other answers `AlreadyCommitted`, and the rows land once.
//! `BEGIN IMMEDIATE` serialises the two, so the loser is answered by the
//! overlap check; a ledger row that appears inside the transaction (a
//! trigger plays the other writer) shows the duplicate-key rule there.
//!
//! The same race on PostgreSQL, where only the duplicate-key rule can answer
//! the loser, runs through two real worker processes in the integration
//! tests (`tests/it/pg_sink.rs`,
//! `a_concurrent_duplicate_is_reported_as_already_committed`), which report
//! it as ignored when no server is reachable.

use std::sync::Barrier;
use std::time::Duration;

use rusqlite::Connection;

use crate::config::{self, SqliteSink, SqliteSynchronous, WriteMode};
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
         INSERT INTO ingestd_ledger VALUES ('orders', 't', 'src', 0, 999, 1, 0, 0, '[]', 1, 'x', NULL); END",
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
