//! Rows the server refuses, against the real server: exactly those rows are
//! rejected (with SQLSTATE, line and column), every other row commits, and
//! the ledger row counts both. Also the upsert: last row of a key wins.

use std::time::Instant;

use super::{Batch, Db, batch, committed};
use crate::config::WriteMode;
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};
use crate::protocol::RejectNote;

const TEXT: ColumnType = ColumnType::Text { max_chars: None };

fn lines_and_codes(rejects: &[RejectNote]) -> Vec<(u64, String)> {
    rejects.iter().map(|r| (r.line, r.code.clone())).collect()
}

/// 1000 rows `id, name, amount, small` from line 1; `bad` replaces rows.
fn rows_with(bad: &[(usize, [V<'static>; 4])]) -> Batch {
    let values: Vec<Vec<V<'_>>> = (0..1000)
        .map(|i| match bad.iter().find(|(at, _)| *at == i) {
            Some((_, row)) => row.to_vec(),
            None => vec![V::I(1000 + i as i64), V::T("ok"), V::D(1234, 2), V::I(1)],
        })
        .collect();
    batch(0, &values)
}

#[test]
fn constraint_and_value_errors_reject_exactly_their_rows() {
    let Some(mut db) = Db::new("rejects") else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(5) NOT NULL, \
         amount numeric(6,2) CHECK (amount >= 0), small smallint); INSERT INTO t VALUES (5, 'old', 1, 1)",
    );
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            true,
        ),
        col("small", ColumnType::BigInt, true),
    ];
    let b = rows_with(&[
        (0, [V::I(5), V::T("dup"), V::D(1, 0), V::N]), // 23505 with the table's row
        (1, [V::I(1), V::N, V::D(1, 0), V::N]),        // 23502
        (300, [V::I(2), V::T("ok"), V::D(1, 0), V::I(40_000)]), // encoder: out of smallint
        (500, [V::I(3), V::T("toolong"), V::D(1, 0), V::N]), // 22001
        (501, [V::I(4), V::T("ok"), V::D(1_234_567, 2), V::N]), // 22003 numeric(6,2)
        (700, [V::I(6), V::T("ok"), V::D(-100, 2), V::N]), // 23514
        (998, [V::I(1010), V::T("dup2"), V::D(1, 0), V::N]), // 23505 with row 10
        (999, [V::I(7), V::N, V::D(1, 0), V::N]),      // 23502, last row
    ]);
    let mut sink = db.open(1);
    let mode = WriteMode::Insert;
    sink.ensure_table("t", &cols, false, &mode).expect("plan");
    let t0 = Instant::now();
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, &mode)).expect("write"));
    let took = t0.elapsed();
    let want: Vec<(u64, String)> = [
        (1, "23505"),
        (2, "23502"),
        (301, "out_of_range"),
        (501, "22001"),
        (502, "22003"),
        (701, "23514"),
        (999, "23505"),
        (1000, "23502"),
    ]
    .into_iter()
    .map(|(l, c)| (l, c.to_string()))
    .collect();
    assert_eq!(lines_and_codes(&rejects), want, "{rejects:#?}");
    assert_eq!(loaded, 992);
    let by_line = |l: u64| rejects.iter().find(|r| r.line == l).expect("note");
    assert_eq!(by_line(1).column.as_deref(), Some("id"));
    assert!(
        by_line(1).reason.contains("Key (id)=(5) already exists"),
        "{:?}",
        by_line(1)
    );
    assert_eq!(by_line(2).column.as_deref(), Some("name"));
    assert_eq!(by_line(301).column.as_deref(), Some("small"));
    assert!(
        by_line(501).reason.contains("character varying(5)"),
        "{:?}",
        by_line(501)
    );
    assert_eq!((by_line(501).offset, by_line(501).len), (5000, 10));
    assert_eq!(db.count("SELECT count(*) FROM t"), 993);
    assert_eq!(db.count("SELECT count(*) FROM t WHERE id >= 1000"), 992);
    assert_eq!(
        db.count("SELECT count(*) FROM t WHERE id = 1010 AND name = 'ok'"),
        1,
        "the first of a duplicate pair stays"
    );
    assert_eq!(db.count("SELECT rows_loaded FROM ingestd_ledger"), 992);
    assert_eq!(db.count("SELECT rows_rejected FROM ingestd_ledger"), 8);
    // Eight bad rows in 1000 take a few dozen statements, not a thousand.
    assert!(took.as_secs() < 10, "isolating took {took:?}");
    sink.close().expect("close");
}

#[test]
fn errors_without_a_line_are_bisected() {
    let Some(mut db) = Db::new("bisect") else {
        return;
    };
    db.exec(
        "CREATE TABLE parent (id int PRIMARY KEY); INSERT INTO parent SELECT generate_series(1, 10); \
         CREATE TABLE child (id bigint, parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    );
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("parent", ColumnType::Int, true),
    ];
    let values: Vec<Vec<V<'_>>> = (0..200)
        .map(|i| {
            let parent = if [17, 18, 150].contains(&i) {
                99
            } else {
                1 + i % 10
            };
            vec![V::I(i), V::I(parent)]
        })
        .collect();
    let b = batch(0, &values);
    let mut sink = db.open(1);
    let mode = WriteMode::Insert;
    sink.ensure_table("child", &cols, false, &mode)
        .expect("plan");
    let (loaded, rejects) = committed(sink.write(&b.req("child", &cols, &mode)).expect("write"));
    let want: Vec<(u64, String)> = [18, 19, 151]
        .into_iter()
        .map(|l| (l, "23503".to_string()))
        .collect();
    assert_eq!(lines_and_codes(&rejects), want);
    assert_eq!(loaded, 197);
    assert_eq!(db.count("SELECT count(*) FROM child"), 197);
    sink.close().expect("close");
}

#[test]
fn a_trigger_refusing_rows_and_a_batch_of_only_bad_rows() {
    let Some(mut db) = Db::new("trigger") else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id bigint, name text NOT NULL); \
         CREATE FUNCTION no_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.name = 'bad' THEN RAISE EXCEPTION 'bad name in row %', NEW.id; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER no_bad BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION no_bad();",
    );
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
    ];
    let mode = WriteMode::Insert;
    let mut sink = db.open(1);
    sink.ensure_table("t", &cols, false, &mode).expect("plan");
    let b = batch(
        0,
        &[
            vec![V::I(1), V::T("a")],
            vec![V::I(2), V::T("bad")],
            vec![V::I(3), V::T("c")],
        ],
    );
    let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, &mode)).expect("write"));
    assert_eq!(
        (loaded, lines_and_codes(&rejects)),
        (2, vec![(2, "P0001".to_string())])
    );
    assert!(
        rejects[0].reason.contains("bad name in row 2"),
        "{rejects:?}"
    );
    let all_bad = batch(30, &[vec![V::I(4), V::N], vec![V::I(5), V::T("bad")]]);
    let (loaded, rejects) = committed(sink.write(&all_bad.req("t", &cols, &mode)).expect("write"));
    assert_eq!(loaded, 0);
    assert_eq!(
        lines_and_codes(&rejects),
        vec![(4, "23502".to_string()), (5, "P0001".to_string())]
    );
    assert_eq!(
        db.count("SELECT count(*) FROM ingestd_ledger"),
        2,
        "a batch of only rejects has its ledger row"
    );
    assert_eq!(db.count("SELECT count(*) FROM t"), 2);
    sink.close().expect("close");
}

#[test]
fn upsert_keeps_the_last_row_of_each_key_and_rejects_bad_ones() {
    let Some(mut db) = Db::new("upsert") else {
        return;
    };
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", ColumnType::Text { max_chars: Some(4) }, true),
        col("n", ColumnType::Int, true),
    ];
    let mode = WriteMode::Upsert {
        key: vec!["id".into()],
    };
    let mut sink = db.open(1);
    sink.ensure_table("t", &cols, true, &mode)
        .expect("create with a primary key");
    db.exec("ALTER TABLE t ALTER COLUMN n SET NOT NULL");
    let first = batch(
        0,
        &[
            vec![V::I(1), V::T("a"), V::I(1)],
            vec![V::I(2), V::T("b"), V::I(1)],
        ],
    );
    committed(sink.write(&first.req("t", &cols, &mode)).expect("first"));
    let second = batch(
        20,
        &[
            vec![V::I(2), V::T("b2"), V::I(2)],    // updates row 2...
            vec![V::I(3), V::T("c"), V::I(2)],     // new
            vec![V::I(2), V::T("b3"), V::I(3)],    // ...and the last one wins
            vec![V::I(4), V::T("long!"), V::I(2)], // 22001, found in the COPY to the stage
            vec![V::I(1), V::T("a2"), V::N],       // 23502, found in the merge
            vec![V::I(3), V::T("c2"), V::I(3)],
        ],
    );
    let (loaded, rejects) = committed(sink.write(&second.req("t", &cols, &mode)).expect("second"));
    assert_eq!(
        lines_and_codes(&rejects),
        vec![(6, "22001".to_string()), (7, "23502".to_string())]
    );
    assert_eq!(loaded, 4);
    assert_eq!(
        db.texts("SELECT concat_ws('|', id, name, n) FROM t"),
        vec!["1|a|1", "2|b3|3", "3|c2|3"]
    );
    // A unique index (not a key) lets NULL keys through, each kept.
    db.exec("CREATE TABLE u (id bigint, name varchar(4), n int); CREATE UNIQUE INDEX ON u (id)");
    sink.ensure_table("u", &cols, false, &mode)
        .expect("unique index");
    let nulls = batch(
        100,
        &[
            vec![V::N, V::T("x"), V::I(1)],
            vec![V::N, V::T("y"), V::I(2)],
            vec![V::I(9), V::T("z"), V::I(3)],
        ],
    );
    let (loaded, _) = committed(sink.write(&nulls.req("u", &cols, &mode)).expect("nulls"));
    assert_eq!(loaded, 3);
    assert_eq!(db.count("SELECT count(*) FROM u"), 3);
    sink.close().expect("close");
}

#[test]
fn a_batch_of_duplicates_costs_about_one_statement_per_row() {
    let Some(mut db) = Db::new("dups") else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t SELECT generate_series(0, 1999)",
    );
    let cols = [col("id", ColumnType::BigInt, false)];
    let mode = WriteMode::Insert;
    let mut sink = db.open(1);
    sink.ensure_table("t", &cols, false, &mode).expect("plan");
    // Every row a duplicate, then every 10th.
    let all: Vec<Vec<V<'_>>> = (0..2000).map(|i| vec![V::I(i)]).collect();
    let tenth: Vec<Vec<V<'_>>> = (0..2000)
        .map(|i| vec![V::I(if i % 10 == 3 { i } else { 10_000 + i })])
        .collect();
    for (k, values, bad) in [(0u64, all, 2000), (1, tenth, 200)] {
        let b = batch(k * 100_000, &values);
        let t0 = Instant::now();
        let (loaded, rejects) = committed(sink.write(&b.req("t", &cols, &mode)).expect("write"));
        let took = t0.elapsed();
        assert_eq!((loaded, rejects.len()), (2000 - bad, bad as usize));
        assert!(rejects.iter().all(|r| r.code == "23505"));
        eprintln!("{bad} bad rows of 2000 isolated in {took:?}");
        assert!(took.as_secs() < 30, "{bad} bad rows took {took:?}");
    }
    assert_eq!(db.count("SELECT count(*) FROM t"), 2000 + 1800);
    sink.close().expect("close");
}
