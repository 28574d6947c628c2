//! Tests of the SQLite sink against real files in temp folders: typed values,
//! the ledger (redelivery, overlap), constraint rejects, tables, errors.
//! Helpers here (the sink, batches, reading back) are shared with the other
//! files of this folder; columns and values come from `format::fixtures`.

mod bench;
mod chunks;
mod ledger;
mod open;
mod real;
mod shared;
mod upgrade;
mod upsert;

use crate::config::WriteMode;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::config::{self, SqliteSink, SqliteSynchronous};
use crate::format::fixtures::{V, col, rows_of};
use crate::format::{ColumnSpec, ColumnType, Rows};
use crate::protocol::{ErrorClass, RejectNote};
use crate::worker::sink::{self, Session, Sink, WriteOutcome, WriteRequest};

/// Every test record is one 10-byte line.
pub(super) const REC: u64 = 10;

pub(super) fn cfg(dir: &Path, busy_ms: u64) -> SqliteSink {
    SqliteSink {
        path: dir.join("data").join("target.db"),
        busy_timeout: Duration::from_millis(busy_ms),
        synchronous: SqliteSynchronous::Normal,
    }
}

pub(super) fn open(cfg: &SqliteSink) -> Box<dyn Sink> {
    let session = Session {
        job: "orders".into(),
        worker: 1,
        pid: 4242,
    };
    sink::open(&config::Sink::Sqlite(cfg.clone()), &session).expect("open the sink")
}

/// A plain second connection, to look at what the sink wrote.
pub(super) fn peek(cfg: &SqliteSink) -> Connection {
    Connection::open(&cfg.path).expect("open for reading")
}

pub(super) fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).expect("count")
}

/// A batch: rows at `start`, one record per `REC` bytes, plus parse rejects
/// (each also one record) after them.
pub(super) struct Batch {
    pub rows: Rows,
    pub start: u64,
    pub end: u64,
    pub first_line: u64,
    pub rejects: Vec<RejectNote>,
}

pub(super) fn batch(start: u64, values: &[Vec<V<'_>>], parse_rejects: usize) -> Batch {
    let rows = rows_of(values, start, REC);
    let first_line = start / REC + 1;
    let after = start + values.len() as u64 * REC;
    let rejects = (0..parse_rejects as u64)
        .map(|k| RejectNote {
            offset: after + k * REC,
            len: REC,
            line: after / REC + 1 + k,
            records: 1,
            column: Some("amount".into()),
            code: "bad_decimal".into(),
            reason: "not a number".into(),
        })
        .collect();
    Batch {
        rows,
        start,
        end: after + parse_rejects as u64 * REC,
        first_line,
        rejects,
    }
}

impl Batch {
    pub(super) fn req<'a>(
        &'a self,
        table: &'a str,
        columns: &'a [ColumnSpec],
        source: &'a str,
    ) -> WriteRequest<'a> {
        WriteRequest {
            job: "orders",
            mode: &WriteMode::Insert,
            table,
            columns,
            rows: &self.rows,
            source,
            start: self.start,
            end: self.end,
            first_line: self.first_line,
            rejects: &self.rejects,
        }
    }
}

pub(super) fn committed(outcome: WriteOutcome) -> (u64, Vec<RejectNote>) {
    match outcome {
        WriteOutcome::Committed { loaded, rejects } => (loaded, rejects),
        other => panic!("expected a commit, got {other:?}"),
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// Every row of `sql` as SQLite values.
pub(super) fn select(db: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = db.prepare(sql).expect("prepare");
    let width = stmt.column_count();
    stmt.query_map([], |r| (0..width).map(|i| r.get(i)).collect())
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

pub(super) fn int(v: i64) -> Value {
    Value::Integer(v)
}

pub(super) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

#[test]
fn writes_then_reads_back_typed_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("n", ColumnType::Int, true),
        col("name", ColumnType::Text { max_chars: None }, true),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            true,
        ),
        col("price", ColumnType::Float, true),
        col("ok", ColumnType::Bool, true),
        col("day", ColumnType::Date, true),
        col("at", ColumnType::Timestamp, true),
        col(
            "note",
            ColumnType::Text {
                max_chars: Some(10),
            },
            true,
        ),
    ];
    sink.ensure_table("orders", &cols, true, &WriteMode::Insert)
        .expect("create");
    let at = day(2024, 2, 29)
        .and_hms_milli_opt(10, 11, 12, 345)
        .expect("ts");
    let at2 = day(1999, 12, 31).and_hms_opt(23, 59, 59).expect("ts");
    let name = "Zoë \"Z\", Ltd.";
    let b = batch(
        0,
        &[
            vec![
                V::I(1),
                V::I(7),
                V::T(name),
                V::D(-1250, 2),
                V::F(1.5),
                V::B(true),
                V::Day(day(2024, 2, 29)),
                V::Ts(at),
                V::N,
            ],
            vec![
                V::I(5_000_000_000),
                V::I(-3),
                V::T(""),
                V::D(14600, 2),
                V::F(-0.25),
                V::B(false),
                V::Day(day(1999, 12, 31)),
                V::Ts(at2),
                V::T("x"),
            ],
        ],
        0,
    );
    let out = sink.write(&b.req("orders", &cols, "src-1")).expect("write");
    assert_eq!(committed(out), (2, vec![]));

    let db = peek(&cfg);
    let got = select(&db, "SELECT *, typeof(amount) FROM orders ORDER BY id");
    // NUMERIC affinity: '-12.50' is stored as the real -12.5, '146.00' as the integer 146.
    let want = [
        vec![
            int(1),
            int(7),
            text(name),
            Value::Real(-12.5),
            Value::Real(1.5),
            int(1),
            text("2024-02-29"),
            text("2024-02-29 10:11:12.345"),
            Value::Null,
            text("real"),
        ],
        vec![
            int(5_000_000_000),
            int(-3),
            text(""),
            int(146),
            Value::Real(-0.25),
            int(0),
            text("1999-12-31"),
            text("1999-12-31 23:59:59"),
            text("x"),
            text("integer"),
        ],
    ];
    assert_eq!(got, want);

    let ledger = select(&db, "SELECT * FROM ingestd_ledger");
    assert_eq!(ledger.len(), 1);
    let want = [
        text("orders"),
        text("orders"),
        text("src-1"),
        int(0),
        int(20),
        int(1),
        int(2),
        int(0),
    ];
    assert_eq!(ledger[0][..8], want);
    let no_notes = r#"{"texts":[],"notes":[]}"#;
    assert_eq!(ledger[0][8..10], [text(no_notes), int(4242)]);
    let Value::Text(at) = &ledger[0][10] else {
        panic!("committed_at is text")
    };
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );
    sink.close().expect("close");
}

#[test]
fn a_bad_request_is_refused_before_any_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = [col("id", ColumnType::BigInt, false)];
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let b = batch(0, &[vec![V::I(1), V::I(2)]], 0);
    let e = sink.write(&b.req("t", &cols, "s")).expect_err("width");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    let mut short = batch(0, &[vec![V::I(1)], vec![V::I(2)]], 0);
    short.rows.cells.pop();
    let e = sink.write(&short.req("t", &cols, "s")).expect_err("cells");
    assert!(e.to_string().contains("malformed batch"), "{e}");
    let mut backwards = batch(0, &[vec![V::I(1)]], 0);
    backwards.end = 0;
    backwards.start = 10;
    let e = sink
        .write(&backwards.req("t", &cols, "s"))
        .expect_err("range");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    let b = batch(0, &[vec![V::I(1)]], 0);
    let e = sink
        .write(&b.req("nope", &cols, "s"))
        .expect_err("no table");
    assert_eq!(e.class(), ErrorClass::Config, "{e}");
    assert!(e.to_string().contains("no such table"), "{e}");
    let db = peek(&cfg);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM ingestd_ledger"), 0);
    sink.close().expect("close");
}
