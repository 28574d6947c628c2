//! Tests of `mode = "upsert"`: loading keys again updates their rows (the
//! last row of a key wins, within a batch too), the unique index ON CONFLICT
//! needs is created or checked, and constraint rejects stay row-precise.

use rusqlite::types::Value;

use super::{REC, batch, cfg, committed, count, int, open, peek, select, text};
use crate::config::WriteMode;
use crate::format::fixtures::{V, col};
use crate::format::{ColumnSpec, ColumnType};
use crate::protocol::ErrorClass;
use crate::worker::sink::{SinkError, WriteOutcome, WriteRequest};

fn cols() -> [ColumnSpec; 3] {
    [
        col("id", ColumnType::BigInt, true),
        col("name", ColumnType::Text { max_chars: None }, true),
        col("qty", ColumnType::Int, true),
    ]
}

fn upsert(key: &[&str]) -> WriteMode {
    WriteMode::Upsert {
        key: key.iter().map(|k| k.to_string()).collect(),
    }
}

fn table_err(e: SinkError) -> String {
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(matches!(e, SinkError::Table { .. }), "{e:?}");
    e.to_string()
}

#[test]
fn loading_keys_again_updates_them_and_the_last_row_of_a_key_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let (cols, mode) = (cols(), upsert(&["id"]));
    sink.ensure_table("t", &cols, true, &mode).expect("create");
    let names: Vec<String> = (0..300).map(|i| format!("n{i}")).collect();
    let load =
        |sink: &mut Box<dyn crate::worker::sink::Sink>, start: u64, ids: &[i64], round: i64| {
            let rows: Vec<Vec<V<'_>>> = ids
                .iter()
                .enumerate()
                .map(|(k, &id)| vec![V::I(id), V::T(&names[k]), V::I(round * 1000 + k as i64)])
                .collect();
            let b = batch(start, &rows, 0);
            let req = WriteRequest {
                mode: &mode,
                ..b.req("t", &cols, "s")
            };
            committed(sink.write(&req).expect("write"))
        };
    // First load: keys 0..100, once each.
    let first: Vec<i64> = (0..100).collect();
    assert_eq!(load(&mut sink, 0, &first, 1), (100, vec![]));
    // Second load: keys 50..150 with new values.
    let second: Vec<i64> = (50..150).collect();
    assert_eq!(load(&mut sink, 1000, &second, 2), (100, vec![]));
    let db = peek(&cfg);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 150);
    let row = |id| select(&db, &format!("SELECT name, qty FROM t WHERE id = {id}"));
    assert_eq!(row(10), [vec![text("n10"), int(1010)]]);
    assert_eq!(row(60), [vec![text("n10"), int(2010)]]);
    assert_eq!(row(149), [vec![text("n99"), int(2099)]]);

    // Third load: 100 rows over 40 keys, so keys repeat inside chunks,
    // across chunks and in the rows written alone: the last one wins.
    let third: Vec<i64> = (0..100).map(|k| 200 + k % 40).collect();
    assert_eq!(load(&mut sink, 2000, &third, 3), (100, vec![]));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 190);
    for key in 0..40 {
        let last = (0..100).filter(|k| k % 40 == key).max().expect("a row");
        let want = [vec![text(&format!("n{last}")), int(3000 + last)]];
        assert_eq!(row(200 + key), want, "key {}", 200 + key);
    }

    // A redelivery is skipped by the ledger: nothing is updated again.
    let b = batch(1000, &[vec![V::I(60), V::T("x"), V::I(0)]], 0);
    let req = WriteRequest {
        mode: &mode,
        end: 2000,
        ..b.req("t", &cols, "s")
    };
    let out = sink.write(&req).expect("redelivery");
    assert!(matches!(out, WriteOutcome::AlreadyCommitted(_)), "{out:?}");
    assert_eq!(row(60), [vec![text("n10"), int(2010)]]);
    sink.close().expect("close");
}

#[test]
fn create_table_makes_the_key_unique_and_not_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = cols();
    sink.ensure_table("t", &cols, true, &upsert(&["name", "id"]))
        .expect("create");
    let db = peek(&cfg);
    let ddl: String = db
        .query_row("SELECT sql FROM sqlite_schema WHERE name = 't'", [], |r| {
            r.get(0)
        })
        .expect("ddl");
    assert_eq!(
        ddl,
        r#"CREATE TABLE "t" ("id" INTEGER NOT NULL, "name" TEXT NOT NULL, "qty" INTEGER, UNIQUE ("name", "id"))"#
    );
    // Checking again (another worker, or the next start) accepts it.
    sink.ensure_table("t", &cols, true, &upsert(&["ID", "name"]))
        .expect("same key, any order and case");
    sink.close().expect("close");
}

#[test]
fn a_table_without_a_unique_index_on_the_key_is_a_config_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    let cols = cols();
    let key = upsert(&["id"]);
    db.execute_batch(
        "CREATE TABLE t (id INTEGER, name TEXT, qty INTEGER);
         CREATE INDEX t_id ON t (id);
         CREATE UNIQUE INDEX t_id_name ON t (id, name);
         CREATE UNIQUE INDEX t_id_some ON t (id) WHERE qty > 0;",
    )
    .expect("table");
    // A plain index, a wider unique one and a partial one do not do;
    // create_table does not help for a table that exists.
    for create in [false, true] {
        let e = table_err(
            sink.ensure_table("t", &cols, create, &key)
                .expect_err("no index"),
        );
        assert!(
            e.contains(r#"create one: CREATE UNIQUE INDEX "t_upsert_key" ON "t" ("id")"#),
            "{e}"
        );
        assert!(e.contains("(id)") && e.contains("mode = \"upsert\""), "{e}");
    }
    let e = table_err(
        sink.ensure_table("t", &cols, false, &upsert(&["id", "qty"]))
            .expect_err("composite"),
    );
    assert!(e.contains(r#"ON "t" ("id", "qty")"#), "{e}");
    let e = table_err(
        sink.ensure_table("t", &cols, false, &upsert(&["code"]))
            .expect_err("not a column"),
    );
    assert!(e.contains("\"code\" is not among the job's columns"), "{e}");

    db.execute_batch("CREATE UNIQUE INDEX t_key ON t (ID)")
        .expect("the index asked for");
    sink.ensure_table("t", &cols, false, &key)
        .expect("now it does");
    sink.ensure_table("t", &cols, false, &upsert(&["name", "id"]))
        .expect("the wider unique index serves that key");

    // Primary keys serve too: the rowid alias, a composite one, WITHOUT ROWID.
    db.execute_batch(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
         CREATE TABLE q (id INTEGER, name TEXT, qty INTEGER, PRIMARY KEY (qty, id));
         CREATE TABLE w (id INT PRIMARY KEY, name TEXT, qty INTEGER) WITHOUT ROWID;",
    )
    .expect("tables");
    sink.ensure_table("p", &cols, false, &key).expect("rowid");
    sink.ensure_table("q", &cols, false, &upsert(&["id", "qty"]))
        .expect("composite primary key");
    table_err(
        sink.ensure_table("q", &cols, false, &key)
            .expect_err("part of a key"),
    );
    sink.ensure_table("w", &cols, false, &key)
        .expect("without rowid");
    sink.close().expect("close");
}

#[test]
fn constraint_rejects_in_upsert_mode_are_row_precise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    db.execute_batch(
        "CREATE TABLE t (id INTEGER NOT NULL UNIQUE, name TEXT NOT NULL, \
         qty INTEGER CHECK (qty >= 0))",
    )
    .expect("table");
    let (cols, mode) = (cols(), upsert(&["id"]));
    sink.ensure_table("t", &cols, false, &mode).expect("index");
    let write = |sink: &mut Box<dyn crate::worker::sink::Sink>, start, rows: &[Vec<V<'_>>]| {
        let b = batch(start, rows, 0);
        let req = WriteRequest {
            mode: &mode,
            ..b.req("t", &cols, "s")
        };
        committed(sink.write(&req).expect("write"))
    };
    let first: Vec<Vec<V<'_>>> = (0..100)
        .map(|i| vec![V::I(i), V::T("old"), V::I(i)])
        .collect();
    assert_eq!(write(&mut sink, 0, &first), (100, vec![]));

    // Updates of keys 0..50 and inserts of keys 150..200, with refused
    // rows: a negative qty (for keys 3 and 33 the update fails CHECK, for
    // the new key 198 the insert does), a NULL name for a new key, a NULL key.
    let bad_update = [3, 33, 98];
    let second: Vec<Vec<V<'_>>> = (0..100)
        .map(|k| {
            let id = if k < 50 { k } else { 100 + k };
            match k {
                _ if bad_update.contains(&k) => vec![V::I(id), V::T("new"), V::I(-1)],
                60 | 61 => vec![V::I(id), V::N, V::I(1)],
                70 => vec![V::N, V::T("new"), V::I(1)],
                _ => vec![V::I(id), V::T("new"), V::I(k)],
            }
        })
        .collect();
    let (loaded, rejects) = write(&mut sink, 1000, &second);
    assert_eq!(loaded, 94);
    let got: Vec<_> = rejects
        .iter()
        .map(|n| {
            (
                (n.offset - 1000) / REC,
                n.code.as_str(),
                n.column.as_deref(),
            )
        })
        .collect();
    let (check, notnull) = ("SQLITE_CONSTRAINT_CHECK", "SQLITE_CONSTRAINT_NOTNULL");
    let want = [
        (3, check, None),
        (33, check, None),
        (60, notnull, Some("name")),
        (61, notnull, Some("name")),
        (70, notnull, Some("id")),
        (98, check, None),
    ];
    assert_eq!(got, want);
    // Refused updates left their rows as they were; the others changed.
    let qty = |id| select(&db, &format!("SELECT name, qty FROM t WHERE id = {id}"));
    assert_eq!(qty(3), [vec![text("old"), int(3)]]);
    assert_eq!(qty(33), [vec![text("old"), int(33)]]);
    assert_eq!(qty(4), [vec![text("new"), int(4)]]);
    assert_eq!(qty(160), Vec::<Vec<Value>>::new());
    assert_eq!(qty(198), Vec::<Vec<Value>>::new());
    assert_eq!(qty(199), [vec![text("new"), int(99)]]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 100 + 50 - 4);
    sink.close().expect("close");
}

#[test]
fn a_key_of_every_column_keeps_one_row_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = [col("id", ColumnType::BigInt, false)];
    let mode = upsert(&["id"]);
    sink.ensure_table("t", &cols, true, &mode).expect("create");
    let rows: Vec<Vec<V<'_>>> = (0..100).map(|i| vec![V::I(i % 7)]).collect();
    let b = batch(0, &rows, 0);
    let req = WriteRequest {
        mode: &mode,
        ..b.req("t", &cols, "s")
    };
    assert_eq!(committed(sink.write(&req).expect("write")), (100, vec![]));
    assert_eq!(count(&peek(&cfg), "SELECT COUNT(*) FROM t"), 7);
    sink.close().expect("close");
}
