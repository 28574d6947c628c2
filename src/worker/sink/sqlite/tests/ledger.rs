//! Tests of the batch transaction's ledger side and of rejects: redelivery,
//! partial overlap, constraint rejects in the middle of a batch, committed
//! ranges, a transaction a trigger rolls back.

use crate::config::WriteMode;
use rusqlite::types::Value;

use super::{REC, batch, cfg, committed, count, int, open, peek, select, text};
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};
use crate::worker::sink::WriteOutcome;

const UNIQUE_TABLE: &str = "CREATE TABLE t (id INTEGER UNIQUE, name TEXT)";

fn two_cols() -> [crate::format::ColumnSpec; 2] {
    [
        col("id", ColumnType::BigInt, true),
        col("name", ColumnType::Text { max_chars: None }, true),
    ]
}

#[test]
fn a_redelivery_returns_the_first_outcome_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch(UNIQUE_TABLE).expect("table");
    let cols = two_cols();
    // Rows at 100, 110, 120 (the last a duplicate id), a parse reject at 130.
    let first = batch(
        100,
        &[
            vec![V::I(1), V::T("a")],
            vec![V::I(2), V::T("b")],
            vec![V::I(1), V::T("dup")],
        ],
        1,
    );
    let (loaded, all) = committed(sink.write(&first.req("t", &cols, "s")).expect("write"));
    assert_eq!(loaded, 2);
    // Database and parse rejects together, in source order.
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].code, "SQLITE_CONSTRAINT_UNIQUE");
    assert_eq!(all[1], first.rejects[0]);

    // The same range again, even with other rows: skipped, first outcome returned.
    let again = batch(
        100,
        &[vec![V::I(10), V::T("x")], vec![V::I(11), V::T("y")]],
        2,
    );
    assert_eq!((again.start, again.end), (first.start, first.end));
    let out = sink.write(&again.req("t", &cols, "s")).expect("redelivery");
    assert!(all[0].offset < all[1].offset);
    let want = LedgerRange {
        start: 100,
        end: 140,
        first_line: 11,
        loaded: 2,
        rejected: 2,
        rejects: all,
    };
    assert_eq!(out, WriteOutcome::AlreadyCommitted(want));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 2);
    assert_eq!(count(&db, "SELECT MAX(id) FROM t"), 2);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM ingestd_ledger"), 1);
    // The same range of another source is another batch.
    let other = sink
        .write(&again.req("t", &cols, "s2"))
        .expect("other source");
    assert_eq!(committed(other).0, 2);
    sink.close().expect("close");
}

#[test]
fn a_partial_overlap_is_a_config_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = two_cols();
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let rows = |start, n: i64| {
        let values: Vec<Vec<V<'_>>> = (0..n).map(|i| vec![V::I(i), V::T("r")]).collect();
        batch(start, &values, 0)
    };
    committed(
        sink.write(&rows(100, 10).req("t", &cols, "s"))
            .expect("write [100, 200)"),
    );
    for (start, n) in [(50, 10), (150, 10), (100, 5), (0, 30), (120, 1)] {
        let b = rows(start, n);
        let e = sink.write(&b.req("t", &cols, "s")).expect_err("overlap");
        assert_eq!(e.class(), ErrorClass::Config, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("ledger conflict") && msg.contains("[100, 200)"),
            "{msg}"
        );
    }
    let db = peek(&cfg);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 10);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM ingestd_ledger"), 1);
    // The connection is still fine: the neighbours load.
    committed(
        sink.write(&rows(200, 3).req("t", &cols, "s"))
            .expect("[200, 230)"),
    );
    committed(
        sink.write(&rows(0, 10).req("t", &cols, "s"))
            .expect("[0, 100)"),
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 23);
    sink.close().expect("close");
}

#[test]
fn constraint_rejects_keep_the_other_rows_and_say_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch(
        "CREATE TABLE t (id INTEGER NOT NULL UNIQUE, code TEXT NOT NULL, \
         amount REAL CHECK (amount >= 0), qty INTEGER) STRICT",
    )
    .expect("table");
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("code", ColumnType::Text { max_chars: None }, true),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            true,
        ),
        col("qty", ColumnType::Text { max_chars: None }, true),
    ];
    let row = |id, code, cents, qty| vec![V::I(id), code, V::D(cents, 2), qty];
    let b = batch(
        1000,
        &[
            row(1, V::T("a"), 1250, V::I(1)),
            row(2, V::T("b"), 0, V::N),
            row(1, V::T("dup"), 100, V::I(3)), // UNIQUE
            row(4, V::T("d"), 100, V::I(4)),
            row(5, V::N, 100, V::I(5)), // NOT NULL
            row(6, V::T("f"), 100, V::I(6)),
            row(7, V::T("g"), -100, V::I(7)),    // CHECK
            row(8, V::T("h"), 100, V::T("abc")), // STRICT: text in an INTEGER column
            row(9, V::T("i"), 100, V::T("9")),   // STRICT converts losslessly
            row(10, V::T("j"), 100, V::I(10)),
        ],
        1,
    );
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
    assert_eq!(loaded, 6);
    let got: Vec<_> = rejects
        .iter()
        .map(|n| {
            (
                n.offset,
                n.line,
                n.len,
                n.records,
                n.code.as_str(),
                n.column.as_deref(),
            )
        })
        .collect();
    let want = [
        (1020, 103, REC, 1, "SQLITE_CONSTRAINT_UNIQUE", Some("id")),
        (1040, 105, REC, 1, "SQLITE_CONSTRAINT_NOTNULL", Some("code")),
        (1060, 107, REC, 1, "SQLITE_CONSTRAINT_CHECK", None),
        (1070, 108, REC, 1, "SQLITE_CONSTRAINT_DATATYPE", Some("qty")),
        (1100, 111, REC, 1, "bad_decimal", Some("amount")), // the parse reject
    ];
    assert_eq!(got, want);
    assert!(
        rejects[0].reason.contains("UNIQUE constraint failed: t.id"),
        "{:?}",
        rejects[0]
    );
    let ids = select(&db, "SELECT id, qty FROM t ORDER BY id");
    let want: Vec<Vec<Value>> = [(1, int(1)), (2, Value::Null), (4, int(4))]
        .into_iter()
        .chain([(6, int(6)), (9, int(9)), (10, int(10))])
        .map(|(i, q)| vec![int(i), q])
        .collect();
    assert_eq!(ids, want);

    // The ledger holds both kinds of rejects, in source order.
    let ledger = select(
        &db,
        "SELECT rows_loaded, rows_rejected, rejects FROM ingestd_ledger",
    );
    assert_eq!(ledger[0][..2], [int(6), int(5)]);
    let Value::Text(json) = &ledger[0][2] else {
        panic!("rejects is text")
    };
    let notes = crate::worker::sink::ledger::decode_rejects(json).expect("json");
    assert_eq!(notes, rejects, "the row holds what the sink answered");
    sink.close().expect("close");
}

#[test]
fn a_batch_of_parse_rejects_only_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = two_cols();
    // Rows of no width, and a table that does not exist: neither matters.
    let mut b = batch(0, &[], 0);
    b.end = 500;
    b.rejects = vec![RejectNote {
        offset: 0,
        len: 500,
        line: 1,
        records: 50,
        column: None,
        code: "quarantine".into(),
        reason: "killed 3 workers".into(),
    }];
    let out = sink.write(&b.req("absent", &cols, "s")).expect("write");
    assert_eq!(committed(out), (0, b.rejects.clone()));
    let ranges = sink.committed("orders", "absent", "s").expect("committed");
    assert_eq!((ranges[0].loaded, ranges[0].rejected), (0, 50));
    assert_eq!(ranges[0].rejects, b.rejects);
    sink.close().expect("close");
}

#[test]
fn committed_ranges_come_ordered_by_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = two_cols();
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    for (start, source) in [(200, "a"), (0, "a"), (100, "a"), (0, "b"), (50, "a")] {
        let values: Vec<Vec<V<'_>>> = (0..5).map(|i| vec![V::I(i), V::T("r")]).collect();
        let b = batch(start, &values, 0);
        sink.write(&b.req("t", &cols, source)).expect("write");
    }
    let ranges = sink.committed("orders", "t", "a").expect("committed");
    let got: Vec<(u64, u64, u64)> = ranges
        .iter()
        .map(|r| (r.start, r.end, r.first_line))
        .collect();
    assert_eq!(
        got,
        [(0, 50, 1), (50, 100, 6), (100, 150, 11), (200, 250, 21)]
    );
    assert_eq!(sink.committed("orders", "t", "b").expect("b").len(), 1);
    // SQLite ignores case in table names: so does the ledger.
    assert_eq!(sink.committed("orders", "T", "b").expect("T").len(), 1);
    assert!(
        sink.committed("other-job", "t", "a")
            .expect("job")
            .is_empty()
    );
    assert!(
        sink.committed("orders", "other", "a")
            .expect("table")
            .is_empty()
    );
    assert!(
        sink.committed("orders", "t", "zzz")
            .expect("none")
            .is_empty()
    );
    sink.close().expect("close");
}

#[test]
fn a_transaction_rolled_back_by_a_trigger_commits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch(UNIQUE_TABLE).expect("table");
    db.execute_batch(
        "CREATE TRIGGER stop BEFORE INSERT ON t WHEN NEW.id = 3 \
         BEGIN SELECT RAISE(ROLLBACK, 'id 3 is not welcome'); END",
    )
    .expect("trigger");
    let cols = two_cols();
    let values: Vec<Vec<V<'_>>> = (1..=5).map(|i| vec![V::I(i), V::T("r")]).collect();
    let b = batch(0, &values, 0);
    let e = sink
        .write(&b.req("t", &cols, "s"))
        .expect_err("rolled back");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("not welcome"), "{e}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM ingestd_ledger"), 0);
    assert_eq!(
        select(&db, "SELECT 'still usable'"),
        [vec![text("still usable")]]
    );
    sink.close().expect("close");
}
