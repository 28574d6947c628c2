//! Binary encodings, byte for byte, and which values the encoder refuses.
//! (That the server reads them back as the same values is tested against
//! the real server, through a worker, in `tests/it/pg_sink.rs`.)

use chrono::NaiveDate;

use super::*;
use crate::format::{Cell, ColumnType, Rows};

fn rows_of(cells: Vec<Cell>, text: &str) -> Rows {
    let mut rows = Rows::new(cells.len());
    rows.text.push_str(text);
    rows.cells = cells;
    rows.origins.push(RowOrigin {
        offset: 100,
        len: 10,
        line: 7,
    });
    rows
}

/// The payload of the only field of a one-cell row.
fn one(cell: Cell, text: &str, ty: PgType) -> Result<Vec<u8>, RejectNote> {
    let rows = rows_of(vec![cell], text);
    let targets = [Target { name: "c", ty }];
    let mut enc = Encoder::default().encode(&rows, &targets, false);
    if let Some(r) = enc.rejects.pop() {
        return Err(r);
    }
    let t = enc.tuples(0, 1);
    assert_eq!(&t[..2], &1i16.to_be_bytes());
    let len = i32::from_be_bytes([t[2], t[3], t[4], t[5]]);
    if len < 0 {
        return Ok(Vec::new());
    }
    assert_eq!(t.len(), 6 + len as usize);
    Ok(t[6..].to_vec())
}

fn text(s: &str) -> Cell {
    Cell::Text {
        start: 0,
        len: s.len() as u32,
    }
}

#[test]
fn integers_fit_their_column_or_are_rejected() {
    assert_eq!(
        one(Cell::Int(7), "", PgType::Int4).unwrap(),
        7i32.to_be_bytes()
    );
    assert_eq!(
        one(Cell::Int(-2), "", PgType::Int8).unwrap(),
        (-2i64).to_be_bytes()
    );
    assert_eq!(
        one(Cell::Int(300), "", PgType::Int2).unwrap(),
        300i16.to_be_bytes()
    );
    let r = one(Cell::Int(40_000), "", PgType::Int2).unwrap_err();
    assert_eq!(
        (r.code.as_str(), r.line, r.offset),
        ("out_of_range", 7, 100)
    );
    assert_eq!(r.reason, "c: 40000 is out of range for smallint");
    assert_eq!(r.column.as_deref(), Some("c"));
    assert_eq!(
        one(text("42"), "42", PgType::Int4).unwrap(),
        42i32.to_be_bytes()
    );
    assert_eq!(
        one(text("4x"), "4x", PgType::Int8).unwrap_err().code,
        "bad_int"
    );
    let whole = Cell::Decimal {
        mantissa: 1200,
        scale: 2,
    };
    assert_eq!(one(whole, "", PgType::Int8).unwrap(), 12i64.to_be_bytes());
    let frac = Cell::Decimal {
        mantissa: 1250,
        scale: 2,
    };
    let r = one(frac, "", PgType::Int8).unwrap_err();
    assert_eq!(r.reason, "c: 12.50 has decimals; the column is an integer");
}

#[test]
fn numerics_are_exact() {
    let d = Cell::Decimal {
        mantissa: -1250,
        scale: 2,
    };
    // ndigits 2, weight 0, NEG, dscale 2, digits 12 5000
    assert_eq!(
        one(d, "", PgType::Numeric).unwrap(),
        [0, 2, 0, 0, 0x40, 0, 0, 2, 0, 12, 0x13, 0x88]
    );
    assert_eq!(
        one(Cell::Int(10_000), "", PgType::Numeric).unwrap(),
        [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
    );
    assert_eq!(
        one(text("0.1"), "0.1", PgType::Numeric).unwrap(),
        one(Cell::Float(0.1), "", PgType::Numeric).unwrap()
    );
    assert_eq!(
        one(text("N/A"), "N/A", PgType::Numeric).unwrap_err().code,
        "bad_decimal"
    );
}

#[test]
fn floats_bools_and_text() {
    assert_eq!(
        one(Cell::Float(1.5), "", PgType::Float8).unwrap(),
        1.5f64.to_be_bytes()
    );
    assert_eq!(
        one(Cell::Float(1.5), "", PgType::Float4).unwrap(),
        1.5f32.to_be_bytes()
    );
    assert_eq!(
        one(text("-Infinity"), "-Infinity", PgType::Float8).unwrap(),
        f64::NEG_INFINITY.to_be_bytes()
    );
    assert_eq!(one(Cell::Bool(true), "", PgType::Bool).unwrap(), [1]);
    assert_eq!(one(text("off"), "off", PgType::Bool).unwrap(), [0]);
    assert_eq!(
        one(text("maybe"), "maybe", PgType::Bool).unwrap_err().code,
        "bad_bool"
    );
    assert_eq!(
        one(text("Zoë"), "Zoë", PgType::Text).unwrap(),
        "Zoë".as_bytes()
    );
    let d = Cell::Decimal {
        mantissa: 5,
        scale: 3,
    };
    assert_eq!(one(d, "", PgType::Text).unwrap(), b"0.005");
    assert_eq!(one(Cell::Int(-3), "", PgType::Text).unwrap(), b"-3");
    assert_eq!(one(text("{}"), "{}", PgType::Jsonb).unwrap(), b"\x01{}");
    assert_eq!(one(Cell::Null, "", PgType::Int4).unwrap(), b"");
}

#[test]
fn dates_and_timestamps_count_from_2000() {
    let d = NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
    assert_eq!(
        one(Cell::Date(d), "", PgType::Date).unwrap(),
        1i32.to_be_bytes()
    );
    let before = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    assert_eq!(
        one(Cell::Date(before), "", PgType::Date).unwrap(),
        (-1i32).to_be_bytes()
    );
    let t = d.and_hms_micro_opt(0, 0, 1, 5).unwrap();
    let want = 86_400_000_000i64 + 1_000_005;
    assert_eq!(
        one(Cell::Timestamp(t), "", PgType::Timestamp).unwrap(),
        want.to_be_bytes()
    );
    assert_eq!(
        one(Cell::Timestamp(t), "", PgType::TimestampTz).unwrap(),
        want.to_be_bytes()
    );
    let s = "2000-01-02 00:00:01.000005";
    assert_eq!(
        one(text(s), s, PgType::Timestamp).unwrap(),
        want.to_be_bytes()
    );
    let s = "2000-01-02T00:00:01.000005";
    assert_eq!(
        one(text(s), s, PgType::Timestamp).unwrap(),
        want.to_be_bytes()
    );
    assert_eq!(
        one(text("yesterday"), "yesterday", PgType::Date)
            .unwrap_err()
            .code,
        "bad_date"
    );
    // Nanoseconds round to the nearest microsecond, as the server rounds.
    let t = d.and_hms_nano_opt(0, 0, 0, 1_500).unwrap();
    assert_eq!(
        one(Cell::Timestamp(t), "", PgType::Timestamp).unwrap(),
        (86_400_000_000i64 + 2).to_be_bytes()
    );
}

#[test]
fn ordinals_and_rejects_keep_tuple_order() {
    let mut rows = Rows::new(1);
    rows.text.push_str("1x3");
    for (k, off) in [(0u32, 0u64), (1, 10), (2, 20)] {
        rows.cells.push(Cell::Text { start: k, len: 1 });
        rows.origins.push(RowOrigin {
            offset: off,
            len: 10,
            line: off / 10 + 1,
        });
    }
    let targets = [Target {
        name: "n",
        ty: PgType::Int4,
    }];
    let enc = Encoder::default().encode(&rows, &targets, true);
    assert_eq!(enc.len(), 2);
    assert_eq!(enc.rows, vec![0, 2]);
    assert_eq!(enc.rejects.len(), 1);
    assert_eq!(enc.rejects[0].line, 2);
    // field count 2, value, ordinal 1 for the second encoded tuple
    let second = enc.tuples(1, 2);
    assert_eq!(&second[..2], &2i16.to_be_bytes());
    assert_eq!(&second[second.len() - 4..], &1i32.to_be_bytes());
    assert_eq!(enc.tuples(0, 2).len(), enc.buf.len());
}

#[test]
fn which_job_types_fit_which_columns() {
    let text = ColumnType::Text { max_chars: None };
    let dec = ColumnType::Decimal {
        precision: 12,
        scale: 2,
    };
    assert!(PgType::Int4.accepts(text));
    assert!(PgType::Int8.accepts(dec));
    assert!(PgType::Text.accepts(ColumnType::Date));
    assert!(PgType::TimestampTz.accepts(ColumnType::Date));
    assert!(!PgType::Int4.accepts(ColumnType::Float));
    assert!(!PgType::Date.accepts(ColumnType::Timestamp));
    assert!(!PgType::Bool.accepts(ColumnType::Int));
    assert!(!PgType::Jsonb.accepts(ColumnType::Date));
    assert_eq!(PgType::from_oid(1043), Some(PgType::Text));
    assert_eq!(PgType::from_oid(2950), None); // uuid
}
