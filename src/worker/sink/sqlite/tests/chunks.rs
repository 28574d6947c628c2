//! Tests of multi-row statements: a refused row inside a chunk is still
//! rejected alone with its own offset and line, the chunk's other rows (and
//! their trigger side effects) land exactly once, and a schema that can
//! resolve conflicts with FAIL is written row by row.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::{REC, batch, cfg, committed, count, int, open, peek, select};
use crate::config::WriteMode;
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};

/// Rows per chunk the sink uses for two columns (`insert::CHUNK_ROWS`).
const CHUNK: i64 = 16;

fn two_cols() -> [crate::format::ColumnSpec; 2] {
    [
        col("id", ColumnType::BigInt, true),
        col("name", ColumnType::Text { max_chars: None }, true),
    ]
}

/// `n` rows (id = i, name "r"), except `bad` ids get a NULL name.
fn rows_with_null_names(n: i64, bad: &[i64]) -> Vec<Vec<V<'static>>> {
    (0..n)
        .map(|i| {
            let name = if bad.contains(&i) { V::N } else { V::T("r") };
            vec![V::I(i), name]
        })
        .collect()
}

/// The SQLite behaviour the replay relies on, without the sink: a
/// multi-row INSERT refused by a constraint (ABORT) or a trigger's
/// RAISE(ABORT) undoes all of its own rows and side effects, and the
/// transaction stays open with the earlier statements' rows.
#[test]
fn a_failed_multi_row_statement_undoes_itself_and_keeps_the_transaction() {
    let db = Connection::open_in_memory().expect("open");
    db.execute_batch(
        "CREATE TABLE t (id INTEGER UNIQUE, name TEXT NOT NULL);
         CREATE TABLE audit (id INTEGER);
         CREATE TRIGGER log AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (NEW.id); END;
         CREATE TRIGGER no13 BEFORE INSERT ON t WHEN NEW.id = 13
           BEGIN SELECT RAISE(ABORT, 'no 13'); END;",
    )
    .expect("schema");
    let tx = db.unchecked_transaction().expect("begin");
    tx.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')", [])
        .expect("first statement");
    let cases = [
        "INSERT INTO t VALUES (3, 'c'), (4, NULL), (5, 'e')", // NOT NULL, mid-statement
        "INSERT INTO t VALUES (6, 'f'), (7, 'g'), (1, 'dup')", // UNIQUE, last row
        "INSERT INTO t VALUES (8, 'h'), (13, 'm'), (9, 'i')", // RAISE(ABORT)
    ];
    for sql in cases {
        let e = tx.execute(sql, []).expect_err(sql);
        assert!(!tx.is_autocommit(), "{sql}: {e}");
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM t"), 2, "{sql}");
        assert_eq!(count(&tx, "SELECT COUNT(*) FROM audit"), 2, "{sql}");
    }
    tx.execute("INSERT INTO t VALUES (3, 'c'), (5, 'e')", [])
        .expect("after the failures");
    tx.commit().expect("commit");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 4);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit"), 4);
}

#[test]
fn rejects_inside_chunks_are_row_precise_and_good_rows_land_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch("CREATE TABLE t (id INTEGER UNIQUE, name TEXT NOT NULL)")
        .expect("table");
    let cols = two_cols();
    // 100 rows: six chunks of 16 up to 96, then 4 rows alone. Bad:
    // the very first row, a chunk's last, two in one chunk, one alone.
    let bad = [0, CHUNK - 1, 40, 41, 97];
    let b = batch(5000, &rows_with_null_names(100, &bad), 0);
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
    assert_eq!(loaded, 95);
    let got: Vec<_> = rejects
        .iter()
        .map(|n| (n.offset, n.line, n.code.as_str(), n.column.as_deref()))
        .collect();
    let want: Vec<_> = bad
        .iter()
        .map(|&i| {
            let offset = 5000 + i as u64 * REC;
            (
                offset,
                offset / REC + 1,
                "SQLITE_CONSTRAINT_NOTNULL",
                Some("name"),
            )
        })
        .collect();
    assert_eq!(got, want);
    let ids: Vec<i64> = (0..100).filter(|i| !bad.contains(i)).collect();
    let stored: Vec<Vec<Value>> = select(&db, "SELECT id FROM t ORDER BY rowid");
    assert_eq!(
        stored,
        ids.iter().map(|&i| vec![int(i)]).collect::<Vec<_>>()
    );
    let ledger = select(&db, "SELECT rows_loaded, rows_rejected FROM ingestd_ledger");
    assert_eq!(ledger, [vec![int(95), int(5)]]);

    // A second batch whose chunk collides with the first batch's rows.
    let again: Vec<Vec<V<'_>>> = (100..200)
        .map(|i| vec![V::I(if i == 150 { 50 } else { i }), V::T("r")])
        .collect();
    let b2 = batch(6000, &again, 0);
    let (loaded, rejects) = committed(sink.write(&b2.req("t", &cols, "s")).expect("write"));
    assert_eq!((loaded, rejects.len()), (99, 1));
    assert_eq!(
        (rejects[0].offset, rejects[0].code.as_str()),
        (6500, "SQLITE_CONSTRAINT_UNIQUE")
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 95 + 99);
    assert_eq!(count(&db, "SELECT COUNT(DISTINCT id) FROM t"), 95 + 99);
    sink.close().expect("close");
}

#[test]
fn a_trigger_abort_in_a_chunk_rejects_its_row_and_side_effects_happen_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch(
        "CREATE TABLE t (id INTEGER, name TEXT);
         CREATE TABLE audit (id INTEGER);
         CREATE TRIGGER log AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (NEW.id); END;
         CREATE TRIGGER sevens BEFORE INSERT ON t WHEN NEW.id % 25 = 7
           BEGIN SELECT RAISE(ABORT, 'no sevens'); END;",
    )
    .expect("schema");
    let cols = two_cols();
    let b = batch(0, &rows_with_null_names(100, &[]), 0);
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
    assert_eq!(loaded, 96);
    let got: Vec<_> = rejects.iter().map(|n| (n.line, n.code.as_str())).collect();
    let trig = "SQLITE_CONSTRAINT_TRIGGER";
    assert_eq!(got, [(8, trig), (33, trig), (58, trig), (83, trig)]);
    assert!(rejects[0].reason.contains("no sevens"), "{:?}", rejects[0]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 96);
    // Every kept row logged once; the undone chunks left nothing behind.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit"), 96);
    assert_eq!(count(&db, "SELECT COUNT(DISTINCT id) FROM audit"), 96);
    sink.close().expect("close");
}

/// FAIL keeps the rows a statement inserted before the failing one: a
/// chunk replayed row by row would then reject good rows as duplicates
/// (or, without a unique key, load them twice). Such schemas are written
/// one row per statement, also when the FAIL appears between two batches.
#[test]
fn a_schema_with_fail_resolution_is_written_row_by_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch("CREATE TABLE t (id INTEGER UNIQUE ON CONFLICT FAIL, name TEXT)")
        .expect("table");
    let cols = two_cols();
    let dup = |start: u64, first: i64, at: i64| {
        let values: Vec<Vec<V<'_>>> = (first..first + 100)
            .map(|i| vec![V::I(if i == first + at { first } else { i }), V::T("r")])
            .collect();
        batch(start, &values, 0)
    };
    let b = dup(0, 0, 40);
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
    assert_eq!((loaded, rejects.len()), (99, 1), "{rejects:?}");
    assert_eq!(rejects[0].line, 41);

    // No FAIL in the table, but a trigger that raises FAIL, added by
    // another connection between two batches.
    db.execute_batch(
        "CREATE TABLE u (id INTEGER, name TEXT);
         CREATE TRIGGER once BEFORE INSERT ON u
           WHEN EXISTS (SELECT 1 FROM u WHERE id = NEW.id)
           BEGIN SELECT RAISE(FAIL, 'seen'); END;",
    )
    .expect("trigger");
    let b = dup(1000, 0, 40);
    let (loaded, rejects) = committed(sink.write(&b.req("u", &cols, "s")).expect("write"));
    assert_eq!((loaded, rejects.len()), (99, 1), "{rejects:?}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM u"), 99);
    assert_eq!(count(&db, "SELECT COUNT(DISTINCT id) FROM u"), 99);
    sink.close().expect("close");
}

#[test]
fn batches_of_every_size_around_the_chunk_load_every_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = two_cols();
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let (mut start, mut total) = (0u64, 0i64);
    for n in [1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5] {
        let values: Vec<Vec<V<'_>>> = (total..total + n)
            .map(|i| vec![V::I(i), V::T("r")])
            .collect();
        let b = batch(start, &values, 0);
        let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
        assert_eq!((loaded, rejects.len()), (n as u64, 0));
        (start, total) = (b.end, total + n);
    }
    let db = peek(&cfg);
    let want: Vec<Vec<Value>> = (0..total).map(|i| vec![int(i)]).collect();
    assert_eq!(select(&db, "SELECT id FROM t ORDER BY rowid"), want);
    sink.close().expect("close");
}
