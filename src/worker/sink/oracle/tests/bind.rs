//! Tests of bind planning: type choice per column and target, byte-capped
//! chunks, rows refused before sending, and value conversion.

use super::*;
use crate::format::fixtures::text_cell;
use chrono::NaiveDate;

fn col(name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        ty,
        nullable: true,
        format: None,
    }
}

fn target(name: &str, data_type: &str, char_length: u32) -> Option<TargetColumn> {
    Some(TargetColumn {
        name: name.into(),
        data_type: data_type.into(),
        char_length,
    })
}

/// Rows of one text column holding `texts`.
fn text_rows(texts: &[&str]) -> Rows {
    let mut rows = Rows::new(1);
    for (i, t) in texts.iter().enumerate() {
        let cell = text_cell(&mut rows, t);
        rows.cells.push(cell);
        rows.origins.push(RowOrigin {
            offset: i as u64 * 100,
            len: 100,
            line: i as u64 + 2,
        });
    }
    rows
}

#[test]
fn bind_types_never_nvarchar2_by_accident() {
    let text = ColumnType::Text { max_chars: None };
    let cols = [
        col("i", ColumnType::Int),
        col("b", ColumnType::BigInt),
        col(
            "d",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
        ),
        col("f", ColumnType::Float),
        col("t", text),
        col("flag", ColumnType::Bool),
        col("day", ColumnType::Date),
        col("at", ColumnType::Timestamp),
    ];
    let rows = Rows::new(cols.len());
    let p = plan(&cols, &vec![None; cols.len()], &rows, LIMITS);
    assert_eq!(
        p.types,
        vec![
            OracleType::Int64,
            OracleType::Int64,
            OracleType::Number(12, 2),
            OracleType::BinaryDouble,
            OracleType::Varchar2(1),
            OracleType::Int64,
            OracleType::Date,
            OracleType::Timestamp(9),
        ]
    );
    assert!(p.send.is_empty() && p.rejects.is_empty());
}

#[test]
fn text_binds_follow_the_target_column() {
    let v = |t: Option<TargetColumn>, chars, bytes| text_type(t.as_ref(), chars, bytes);
    assert_eq!(
        v(target("a", "VARCHAR2", 50), 7, 9),
        OracleType::Varchar2(7)
    );
    assert_eq!(v(target("a", "CHAR", 3), 3, 3), OracleType::Varchar2(3));
    assert_eq!(
        v(target("a", "NVARCHAR2", 50), 7, 9),
        OracleType::NVarchar2(7)
    );
    assert_eq!(v(target("a", "CLOB", 0), 7, 9), OracleType::CLOB);
    assert_eq!(v(target("a", "NCLOB", 0), 7, 9), OracleType::NCLOB);
    // Text into a NUMBER column, or an unknown target: VARCHAR2 up to 4000
    // bytes, CLOB above.
    assert_eq!(
        v(target("a", "NUMBER", 0), 10, 10),
        OracleType::Varchar2(10)
    );
    assert_eq!(v(None, 1000, 4000), OracleType::Varchar2(1000));
    assert_eq!(v(None, 1001, 4001), OracleType::CLOB);
}

#[test]
fn texts_longer_than_the_column_are_refused_before_sending() {
    let rows = text_rows(&["abc", "abcdef", "Zoë", ""]);
    let p = plan(
        &[col("code", ColumnType::Text { max_chars: None })],
        &[target("code", "VARCHAR2", 3)],
        &rows,
        LIMITS,
    );
    // "Zoë" is 3 characters (4 bytes): it fits a 3-character column.
    assert_eq!(p.send, vec![0, 2, 3]);
    assert_eq!(p.types, vec![OracleType::Varchar2(3)]);
    assert_eq!(p.rejects.len(), 1);
    let r = &p.rejects[0];
    assert_eq!((r.offset, r.line, r.code.as_str()), (100, 3, "too_long"));
    assert_eq!(r.column.as_deref(), Some("code"));
    assert_eq!(
        r.reason,
        "value too large for column \"code\" (actual: 6, maximum: 3 characters)"
    );
}

#[test]
fn chunks_are_capped_by_bytes_and_rows() {
    let long = "x".repeat(3000);
    let texts: Vec<&str> = (0..100).map(|_| long.as_str()).collect();
    let rows = text_rows(&texts);
    let cols = [col("t", ColumnType::Text { max_chars: None })];
    let t = [target("t", "VARCHAR2", 4000)];
    // 3000 characters bind as VARCHAR2(4096 after rounding) = 16 KiB a row.
    let p = plan(
        &cols,
        &t,
        &rows,
        Limits {
            rows: 1000,
            bytes: 100_000,
        },
    );
    assert_eq!(p.row_bytes, 4096 * 4);
    assert_eq!(p.chunk_rows, 100_000 / (4096 * 4));
    // Rows cap when bytes allow more.
    let p = plan(
        &cols,
        &t,
        &rows,
        Limits {
            rows: 7,
            bytes: 1 << 30,
        },
    );
    assert_eq!(p.chunk_rows, 7);
    // Never more than the rows there are, never zero.
    let p = plan(
        &cols,
        &t,
        &rows,
        Limits {
            rows: 1000,
            bytes: 1 << 30,
        },
    );
    assert_eq!(p.chunk_rows, 100);
    let p = plan(
        &cols,
        &t,
        &rows,
        Limits {
            rows: 1000,
            bytes: 10,
        },
    );
    assert_eq!(p.chunk_rows, 1);
    // A CLOB column counts its real bytes, not a rounded buffer.
    let big = "y".repeat(100_000);
    let rows = text_rows(&[big.as_str(), "short"]);
    let p = plan(&cols, &[target("t", "CLOB", 0)], &rows, LIMITS);
    assert_eq!(p.types, vec![OracleType::CLOB]);
    assert_eq!(p.row_bytes, 100_008);
    assert_eq!(p.chunk_rows, 2);
    // The default limits keep one execute() far below DPI-1015's 2 GiB.
    let p = plan(
        &cols,
        &[target("t", "CLOB", 0)],
        &text_rows(&[big.as_str(); 300]),
        LIMITS,
    );
    assert!(p.chunk_rows * p.row_bytes <= LIMITS.bytes, "{p:?}");
    assert_eq!(p.chunk_rows, LIMITS.bytes / 100_008);
}

#[test]
fn values() {
    let rows = text_rows(&["hello"]);
    assert_eq!(value(&Cell::Null, &rows), Ok(Value::Null));
    assert_eq!(value(&Cell::Bool(true), &rows), Ok(Value::Int(1)));
    assert_eq!(value(&rows.cells[0], &rows), Ok(Value::Text("hello")));
    let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let t = d.and_hms_nano_opt(10, 11, 12, 345_000_000).expect("ts");
    assert_eq!(
        value(&Cell::Timestamp(t), &rows),
        Ok(Value::Time(
            Timestamp::new(2024, 2, 29, 10, 11, 12, 345_000_000).expect("ts")
        ))
    );
    let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("date");
    let e = value(&Cell::Date(far), &rows).expect_err("beyond 9999");
    assert!(e.contains("outside Oracle's dates"), "{e}");
}

#[test]
fn rows_oracle_cannot_hold_are_refused_with_their_column() {
    let mut rows = Rows::new(1);
    let far = NaiveDate::from_ymd_opt(12_000, 1, 1).expect("date");
    for (i, d) in [NaiveDate::from_ymd_opt(2020, 1, 1).expect("d"), far]
        .into_iter()
        .enumerate()
    {
        rows.cells.push(Cell::Date(d));
        rows.origins.push(RowOrigin {
            offset: i as u64 * 10,
            len: 10,
            line: i as u64 + 1,
        });
    }
    let p = plan(&[col("day", ColumnType::Date)], &[None], &rows, LIMITS);
    assert_eq!(p.send, vec![0]);
    assert_eq!(p.rejects.len(), 1);
    assert_eq!(p.rejects[0].code, "out_of_range");
    assert_eq!(p.rejects[0].column.as_deref(), Some("day"));
    assert_eq!(p.rejects[0].line, 2);
}
