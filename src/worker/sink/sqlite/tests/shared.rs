//! Several connections on one file, as several workers have: every row lands
//! exactly once, and a lock held past the busy timeout is a transient error.

use crate::config::WriteMode;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::{REC, batch, cfg, committed, count, open, peek};
use crate::config::{self, SqliteSink};
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};
use crate::protocol::ErrorClass;
use crate::worker::sink::{self, Session, SinkError, WriteOutcome};

const BATCHES: u64 = 100;
const ROWS: u64 = 400;

/// Runs `step` until it succeeds or fails with a non-transient error, as a
/// worker's back-off loop would; counts the retries.
fn retry<T>(retries: &mut u32, mut step: impl FnMut() -> Result<T, SinkError>) -> T {
    loop {
        match step() {
            Ok(v) => return v,
            Err(e) if e.class() == ErrorClass::Transient => {
                *retries += 1;
                assert!(*retries < 100_000, "still busy: {e}");
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// One "worker": opens its own connection, then tries to load every batch
/// (forwards or backwards), retrying on busy. Returns (committed, skipped, retries).
fn worker(cfg: SqliteSink, start: Arc<Barrier>, backwards: bool, pid: u32) -> (u64, u64, u32) {
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", ColumnType::Text { max_chars: None }, true),
    ];
    let session = Session {
        job: "orders".into(),
        worker: pid,
        pid,
    };
    let mut retries = 0;
    start.wait();
    let mut sink = retry(&mut retries, || {
        sink::open(&config::Sink::Sqlite(cfg.clone()), &session)
    });
    retry(&mut retries, || {
        sink.ensure_table("orders", &cols, true, &WriteMode::Insert)
    });
    let mut order: Vec<u64> = (0..BATCHES).collect();
    if backwards {
        order.reverse();
    }
    let (mut done, mut skipped) = (0, 0);
    for k in order {
        let values: Vec<Vec<V<'_>>> = (0..ROWS)
            .map(|i| vec![V::I((k * ROWS + i) as i64), V::T("name")])
            .collect();
        let b = batch(k * ROWS * REC, &values, 0);
        match retry(&mut retries, || sink.write(&b.req("orders", &cols, "src"))) {
            WriteOutcome::Committed { loaded, .. } => {
                assert_eq!(loaded, ROWS);
                done += 1;
            }
            WriteOutcome::AlreadyCommitted(r) => {
                assert_eq!((r.start, r.loaded), (b.start, ROWS));
                skipped += 1;
            }
        }
    }
    sink.close().expect("close");
    (done, skipped, retries)
}

#[test]
fn two_connections_load_every_row_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A 1 ms busy timeout: the two meet on the lock often and must retry.
    let cfg = cfg(dir.path(), 1);
    let start = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [(false, 101), (true, 102)]
        .into_iter()
        .map(|(backwards, pid)| {
            let (cfg, start) = (cfg.clone(), start.clone());
            std::thread::spawn(move || worker(cfg, start, backwards, pid))
        })
        .collect();
    let results: Vec<_> = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread"))
        .collect();
    let done: u64 = results.iter().map(|r| r.0).sum();
    let skipped: u64 = results.iter().map(|r| r.1).sum();
    assert_eq!((done, skipped), (BATCHES, BATCHES), "{results:?}");
    println!("(committed, skipped, busy retries) per worker: {results:?}");

    let db = peek(&cfg);
    let total = (BATCHES * ROWS) as i64;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM orders"), total);
    assert_eq!(count(&db, "SELECT COUNT(DISTINCT id) FROM orders"), total);
    assert_eq!(count(&db, "SELECT MAX(id) FROM orders"), total - 1);
    let mut sink = open(&cfg);
    let ranges = sink
        .committed("orders", "orders", "src")
        .expect("committed");
    assert_eq!(ranges.len() as u64, BATCHES);
    let contiguous = ranges.windows(2).all(|w| w[0].end == w[1].start);
    assert!(contiguous && ranges[0].start == 0, "{ranges:?}");
    sink.close().expect("close");
}

#[test]
fn busy_after_the_timeout_is_transient_and_a_retry_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 50);
    let mut sink = open(&cfg);
    let cols = [col("id", ColumnType::BigInt, false)];
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let other = peek(&cfg);
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let b = batch(0, &[vec![V::I(1)]], 0);
    let e = sink.write(&b.req("t", &cols, "s")).expect_err("busy");
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert!(e.to_string().contains("SQLITE_BUSY"), "{e}");
    other.execute_batch("COMMIT").expect("release");
    committed(sink.write(&b.req("t", &cols, "s")).expect("retry"));
    assert_eq!(count(&other, "SELECT COUNT(*) FROM t"), 1);
    sink.close().expect("close");
}
