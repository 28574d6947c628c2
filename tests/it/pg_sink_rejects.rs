//! Rows the server refuses, through the real worker process: exactly those
//! records are rejected (with SQLSTATE, line, column and byte range), every
//! other one commits, and the ledger row counts both; bad rows whose error
//! names no line are found by bisection; a trigger's refusal; a batch of
//! nothing but bad rows; the upsert (the last record of a key wins); and
//! what isolating many bad rows costs.

use std::time::{Duration, Instant};

use ingestd::config::WriteMode;
use ingestd::format::ColumnType;
use ingestd::protocol::RejectNote;

use crate::support::pg::Schema;
use crate::support::trials;
use crate::support::worker::{Feed, TEXT, Worker, col, pg_setup};

trials![
    constraint_and_value_errors_reject_exactly_their_rows[Pg],
    errors_without_a_line_are_bisected[Pg],
    a_trigger_refusing_rows_and_a_batch_of_only_bad_rows[Pg],
    upsert_keeps_the_last_row_of_each_key_and_rejects_bad_ones[Pg],
    a_batch_of_duplicates_costs_about_one_statement_per_row[Pg],
];

fn lines_and_codes(rejects: &[RejectNote]) -> Vec<(u64, String)> {
    rejects.iter().map(|r| (r.line, r.code.clone())).collect()
}

fn codes(notes: &[(u64, &str)]) -> Vec<(u64, String)> {
    notes.iter().map(|(l, c)| (*l, c.to_string())).collect()
}

/// A worker of job `orders` on `table` in `db`, ready.
fn worker(db: &Schema, table: &str) -> Worker {
    let mut w = Worker::start(pg_setup(db.sink(), "orders", table));
    w.ready();
    w
}

fn constraint_and_value_errors_reject_exactly_their_rows() {
    let mut db = Schema::new("rejects");
    db.exec(
        "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(5) NOT NULL, \
         amount numeric(6,2) CHECK (amount >= 0), small smallint); INSERT INTO t VALUES (5, 'old', 1, 1)",
    );
    // Wider than the table, so that the server does the refusing.
    let (precision, scale) = (12, 2);
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
        col("amount", ColumnType::Decimal { precision, scale }, true),
        col("small", ColumnType::BigInt, true),
    ];
    // 1000 records from line 1; these replace some of them.
    let bad = [
        (0, "5,dup,1,"),         // 23505 with the table's row
        (1, "1,,1,"),            // 23502
        (300, "2,ok,1,40000"),   // the encoder: out of smallint's range
        (500, "3,toolong,1,"),   // 22001
        (501, "4,ok,12345.67,"), // 22003 numeric(6,2)
        (700, "6,ok,-1.00,"),    // 23514
        (998, "1010,dup2,1,"),   // 23505 with record 10
        (999, "7,,1,"),          // 23502, the last record
    ];
    let records: Vec<String> = (0..1000)
        .map(|i| match bad.iter().find(|(at, _)| *at == i) {
            Some((_, r)) => r.to_string(),
            None => format!("{},ok,12.34,1", 1000 + i),
        })
        .collect();
    let batch = Feed::new(&cols).next(&records);
    let mut w = worker(&db, "t");
    let t0 = Instant::now();
    let done = w.load(&batch);
    let took = t0.elapsed();
    let want = codes(&[
        (1, "23505"),
        (2, "23502"),
        (301, "out_of_range"),
        (501, "22001"),
        (502, "22003"),
        (701, "23514"),
        (999, "23505"),
        (1000, "23502"),
    ]);
    let rejects = &done.rejects;
    assert_eq!(lines_and_codes(rejects), want, "{rejects:#?}");
    assert_eq!(done.loaded, 992);
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
    // The note points at the record's own bytes in the source.
    let offset: usize = records[..500].iter().map(|r| r.len() + 1).sum();
    let len = records[500].len() + 1;
    assert_eq!(
        (by_line(501).offset, by_line(501).len),
        (offset as u64, len as u64)
    );
    assert_eq!(db.int("SELECT count(*) FROM t"), 993);
    assert_eq!(db.int("SELECT count(*) FROM t WHERE id >= 1000"), 992);
    assert_eq!(
        db.int("SELECT count(*) FROM t WHERE id = 1010 AND name = 'ok'"),
        1,
        "the first of a duplicate pair stays"
    );
    assert_eq!(db.int("SELECT rows_loaded FROM ingestd_ledger"), 992);
    assert_eq!(db.int("SELECT rows_rejected FROM ingestd_ledger"), 8);
    // Eight bad rows in 1000 take a few dozen statements, not a thousand.
    assert!(took < Duration::from_secs(10), "isolating took {took:?}");
    assert_eq!(w.shutdown(), Some(0));
}

fn errors_without_a_line_are_bisected() {
    let mut db = Schema::new("bisect");
    db.exec(
        "CREATE TABLE parent (id int PRIMARY KEY); INSERT INTO parent SELECT generate_series(1, 10); \
         CREATE TABLE child (id bigint, parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    );
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("parent", ColumnType::Int, true),
    ];
    // Records 17, 18 and 150 (lines 18, 19, 151) name no parent.
    let records: Vec<String> = (0..200)
        .map(|i| {
            let parent = if [17, 18, 150].contains(&i) {
                99
            } else {
                1 + i % 10
            };
            format!("{i},{parent}")
        })
        .collect();
    let mut w = worker(&db, "child");
    let done = w.load(&Feed::new(&cols).next(&records));
    assert_eq!(
        lines_and_codes(&done.rejects),
        codes(&[(18, "23503"), (19, "23503"), (151, "23503")])
    );
    assert_eq!(done.loaded, 197);
    assert_eq!(db.int("SELECT count(*) FROM child"), 197);
    assert_eq!(w.shutdown(), Some(0));
}

fn a_trigger_refusing_rows_and_a_batch_of_only_bad_rows() {
    let mut db = Schema::new("trigger");
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
    let mut w = worker(&db, "t");
    let mut feed = Feed::new(&cols);
    let done = w.load(&feed.next(&["1,a", "2,bad", "3,c"]));
    assert_eq!(
        (done.loaded, lines_and_codes(&done.rejects)),
        (2, codes(&[(2, "P0001")]))
    );
    assert!(
        done.rejects[0].reason.contains("bad name in row 2"),
        "{:?}",
        done.rejects
    );
    let done = w.load(&feed.next(&["4,", "5,bad"]));
    assert_eq!(done.loaded, 0);
    assert_eq!(
        lines_and_codes(&done.rejects),
        codes(&[(4, "23502"), (5, "P0001")])
    );
    assert_eq!(
        db.int("SELECT count(*) FROM ingestd_ledger"),
        2,
        "a batch of only rejects has its ledger row"
    );
    assert_eq!(db.int("SELECT count(*) FROM t"), 2);
    assert_eq!(w.shutdown(), Some(0));
}

fn upsert_keeps_the_last_row_of_each_key_and_rejects_bad_ones() {
    let mut db = Schema::new("upsert");
    let mode = WriteMode::Upsert {
        key: vec!["id".into()],
    };
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
        col("n", ColumnType::Int, true),
    ];
    let mut setup = pg_setup(db.sink(), "orders", "t");
    (setup.create_table, setup.mode) = (true, mode.clone());
    let mut w = Worker::start(setup);
    w.ready();
    let mut feed = Feed::new(&cols);
    assert_eq!(w.load(&feed.next(&["1,a,1", "2,b,1"])).loaded, 2);
    // Created with the key as its primary key.
    assert_eq!(
        db.int(&format!(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_namespace s ON s.oid = c.relnamespace \
             WHERE s.nspname = '{}' AND c.relname = 't' AND i.indisprimary",
            db.name
        )),
        1
    );
    // Stricter than the job under a running worker, so that the server
    // refuses what the worker's parser lets through.
    db.exec("ALTER TABLE t ALTER COLUMN name TYPE varchar(4), ALTER COLUMN n SET NOT NULL");
    let done = w.load(&feed.next(&[
        "2,b2,2",    // updates row 2...
        "3,c,2",     // new
        "2,b3,3",    // ...and the last one wins
        "4,long!,2", // 22001, found in the COPY to the stage
        "1,a2,",     // 23502, found in the merge
        "3,c2,3",
    ]));
    assert_eq!(
        lines_and_codes(&done.rejects),
        codes(&[(6, "22001"), (7, "23502")])
    );
    assert_eq!(done.loaded, 4);
    assert_eq!(
        db.texts("SELECT concat_ws('|', id, name, n) FROM t"),
        vec!["1|a|1", "2|b3|3", "3|c2|3"]
    );
    assert_eq!(w.shutdown(), Some(0));

    // A unique index (not a key) lets NULL keys through, each kept.
    db.exec("CREATE TABLE u (id bigint, name varchar(4), n int); CREATE UNIQUE INDEX ON u (id)");
    let mut setup = pg_setup(db.sink(), "orders", "u");
    setup.mode = mode;
    let mut w = Worker::start(setup);
    w.ready();
    let cols = [
        col("id", ColumnType::BigInt, true),
        cols[1].clone(),
        cols[2].clone(),
    ];
    let done = w.load(&Feed::new(&cols).at(100, 11, &[",x,1", ",y,2", "9,z,3"]));
    assert_eq!((done.loaded, done.rejects.len()), (3, 0), "{done:?}");
    assert_eq!(db.int("SELECT count(*) FROM u"), 3);
    assert_eq!(w.shutdown(), Some(0));
}

fn a_batch_of_duplicates_costs_about_one_statement_per_row() {
    let mut db = Schema::new("dups");
    db.exec(
        "CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t SELECT generate_series(0, 1999)",
    );
    let cols = [col("id", ColumnType::BigInt, false)];
    let mut w = worker(&db, "t");
    let mut feed = Feed::new(&cols);
    // Every record a duplicate, then every 10th.
    let all: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let tenth: Vec<String> = (0..2000)
        .map(|i| if i % 10 == 3 { i } else { 10_000 + i }.to_string())
        .collect();
    for (records, bad) in [(all, 2000), (tenth, 200)] {
        let batch = feed.next(&records);
        let t0 = Instant::now();
        let done = w.load(&batch);
        let took = t0.elapsed();
        assert_eq!(
            (done.loaded, done.rejects.len()),
            (2000 - bad, bad as usize)
        );
        assert!(done.rejects.iter().all(|r| r.code == "23505"));
        eprintln!("{bad} bad rows of 2000 isolated in {took:?}");
        assert!(
            took < Duration::from_secs(30),
            "{bad} bad rows took {took:?}"
        );
    }
    assert_eq!(db.int("SELECT count(*) FROM t"), 2000 + 1800);
    assert_eq!(w.shutdown(), Some(0));
}
