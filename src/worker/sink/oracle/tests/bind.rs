//! Tests of bind planning, one per rule: each column binds in its target's
//! own type (text into NUMBER as an exact decimal, into DATE/TIMESTAMP as
//! Oracle dates, into CHAR as CHAR, long texts as LOBs cast back in a
//! MERGE), typed values into text columns as their text, rows refused
//! before sending, byte-capped chunks.

use super::*;
use crate::format::fixtures::text_cell;
use chrono::NaiveDate;

fn col(name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        ty,
        nullable: true,
        formats: Vec::new(),
        from: None,
        null_if: None,
        default: None,
        constant: None,
    }
}

const TEXT: ColumnType = ColumnType::Text { max_chars: None };

fn target(name: &str, data_type: &str, char_length: u32) -> Option<TargetColumn> {
    Some(TargetColumn {
        name: name.into(),
        data_type: data_type.into(),
        data_length: char_length * 4,
        char_length,
        char_semantics: (char_length > 0).then_some(true),
        nullable: true,
    })
}

fn origin(i: usize) -> RowOrigin {
    RowOrigin {
        offset: i as u64 * 100,
        len: 100,
        line: i as u64 + 2,
    }
}

/// Rows of one text column holding `texts`.
fn text_rows(texts: &[&str]) -> Rows {
    let mut rows = Rows::new(1);
    for (i, t) in texts.iter().enumerate() {
        let cell = text_cell(&mut rows, t);
        rows.cells.push(cell);
        rows.origins.push(origin(i));
    }
    rows
}

/// Rows of one column holding `cells`.
fn cell_rows(cells: &[Cell]) -> Rows {
    let mut rows = Rows::new(1);
    for (i, c) in cells.iter().enumerate() {
        rows.cells.push(*c);
        rows.origins.push(origin(i));
    }
    rows
}

/// The plan of `rows` (one column `c` of type `ty`) into `t`.
fn one(ty: ColumnType, t: Option<TargetColumn>, rows: &Rows) -> Plan {
    plan(&[col("c", ty)], &[t], rows, LIMITS, &[])
}

fn ts(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32, ns: u32) -> Value<'static> {
    Value::Time(Timestamp::new(y, m, d, h, mi, s, ns).expect("ts"))
}

#[test]
fn bind_types_never_nvarchar2_by_accident() {
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
        col("t", TEXT),
        col("flag", ColumnType::Bool),
        col("day", ColumnType::Date),
        col("at", ColumnType::Timestamp),
    ];
    let rows = Rows::new(cols.len());
    let p = plan(&cols, &vec![None; cols.len()], &rows, LIMITS, &[]);
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
fn text_into_number_binds_an_exact_decimal_whatever_the_nls_decimal_character() {
    let rows = text_rows(&["12.50", "-0.005", "1e3"]);
    let p = one(TEXT, target("AMOUNT", "NUMBER", 0), &rows);
    assert_eq!(p.types, vec![OracleType::Number(0, 0)]);
    assert_eq!(p.convs, vec![Conv::Number]);
    assert_eq!(p.send, vec![0, 1, 2]);
    let v = |i: usize| value(&rows.cells[i], &rows, Conv::Number, "AMOUNT");
    let shown = |i: usize| match v(i) {
        Ok(Value::Number(n)) => n.as_str().to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (shown(0), shown(1), shown(2)),
        ("125e-1".into(), "-5e-3".into(), "1e3".into())
    );
    // FLOAT is NUMBER too; BINARY_DOUBLE takes a float.
    assert_eq!(
        one(TEXT, target("F", "FLOAT", 0), &rows).types,
        vec![OracleType::Number(0, 0)]
    );
    let b = one(TEXT, target("B", "BINARY_DOUBLE", 0), &rows);
    assert_eq!(
        (b.types[0].clone(), b.convs[0]),
        (OracleType::BinaryDouble, Conv::Float)
    );
    assert_eq!(
        value(&rows.cells[0], &rows, Conv::Float, "B"),
        Ok(Value::Float(12.5))
    );
}

#[test]
fn text_into_date_and_timestamp_binds_oracle_dates_not_text() {
    let rows = text_rows(&["2024-02-29", "2024-02-29 10:11:12"]);
    let d = one(TEXT, target("D", "DATE", 0), &rows);
    assert_eq!(d.types, vec![OracleType::Date]);
    assert_eq!(
        d.convs,
        vec![Conv::Time {
            whole_seconds: true
        }]
    );
    assert_eq!(
        value(&rows.cells[1], &rows, d.convs[0], "D"),
        Ok(ts(2024, 2, 29, 10, 11, 12, 0))
    );
    let t = one(TEXT, target("T", "TIMESTAMP(6)", 0), &rows);
    assert_eq!(t.types, vec![OracleType::Timestamp(9)]);
    assert_eq!(
        value(&rows.cells[0], &rows, t.convs[0], "T"),
        Ok(ts(2024, 2, 29, 0, 0, 0, 0))
    );
    // Zoned columns take the local time as UTC (offset 0).
    let z = one(TEXT, target("Z", "TIMESTAMP(6) WITH TIME ZONE", 0), &rows);
    assert_eq!(z.types, vec![OracleType::TimestampTZ(9)]);
    let z = one(
        ColumnType::Timestamp,
        target("Z", "TIMESTAMP(6) WITH LOCAL TIME ZONE", 0),
        &rows,
    );
    assert_eq!(z.types, vec![OracleType::TimestampTZ(9)]);
}

#[test]
fn text_a_column_cannot_take_is_rejected_before_sending_with_its_line_and_column() {
    let rows = text_rows(&["12.50", "12,50", "", "7"]);
    let p = one(TEXT, target("c", "NUMBER", 0), &rows);
    // An empty text is NULL in Oracle: sent.
    assert_eq!(p.send, vec![0, 2, 3]);
    assert_eq!(p.rejects.len(), 1);
    let r = &p.rejects[0];
    assert_eq!((r.offset, r.line, r.code.as_str()), (100, 3, "bad_decimal"));
    assert_eq!(r.column.as_deref(), Some("c"));
    assert_eq!(r.reason, "c: \"12,50\" is not a number");
    let rows = text_rows(&["2024-01-01", "01-JAN-24", "2024-01-01 00:00:00.5"]);
    let p = one(TEXT, target("c", "DATE", 0), &rows);
    assert_eq!(p.send, vec![0]);
    let codes: Vec<&str> = p.rejects.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, ["bad_date", "bad_date"]);
}

#[test]
fn char_columns_bind_as_char_so_keys_compare_blank_padded() {
    let rows = text_rows(&["AB", "ABC"]);
    let p = one(TEXT, target("K", "CHAR", 5), &rows);
    assert_eq!(p.types, vec![OracleType::Char(3)]);
    assert_eq!(p.casts, vec![None]);
    assert_eq!(
        one(TEXT, target("K", "NCHAR", 5), &rows).types,
        vec![OracleType::NChar(3)]
    );
    // And a VARCHAR2 stays VARCHAR2, a national column national, on purpose.
    assert_eq!(
        one(TEXT, target("V", "VARCHAR2", 5), &rows).types,
        vec![OracleType::Varchar2(3)]
    );
    assert_eq!(
        one(TEXT, target("V", "NVARCHAR2", 5), &rows).types,
        vec![OracleType::NVarchar2(3)]
    );
}

#[test]
fn texts_over_1000_characters_bind_as_lobs_cast_back_into_their_column_in_a_merge() {
    let long = "x".repeat(3000);
    let rows = text_rows(&[long.as_str(), "short"]);
    let p = one(TEXT, target("NOTE", "VARCHAR2", 4000), &rows);
    assert_eq!(p.types, vec![OracleType::CLOB]);
    assert_eq!(p.casts, vec![Some("VARCHAR2(4000 CHAR)".to_string())]);
    let mid = "z".repeat(1500);
    let rows = text_rows(&[mid.as_str(), "short"]);
    let p = one(TEXT, target("K", "CHAR", 2000), &rows);
    assert_eq!(p.types, vec![OracleType::CLOB]);
    assert_eq!(p.casts, vec![Some("CHAR(2000 CHAR)".to_string())]);
    let p = one(TEXT, target("N", "NVARCHAR2", 2000), &rows);
    assert_eq!(
        (p.types[0].clone(), p.casts[0].as_deref()),
        (OracleType::NCLOB, Some("NVARCHAR2(2000)"))
    );
    // 1000 characters still fit a 4000-byte VARCHAR2 bind.
    let edge = "é".repeat(1000);
    let p = one(
        TEXT,
        target("V", "VARCHAR2", 4000),
        &text_rows(&[edge.as_str()]),
    );
    assert_eq!(p.types, vec![OracleType::Varchar2(1000)]);
    // National binds count UTF-16 units: sized by bytes.
    let p = one(TEXT, target("N", "NVARCHAR2", 2000), &text_rows(&["😀😀"]));
    assert_eq!(p.types, vec![OracleType::NVarchar2(8)]);
}

#[test]
fn a_clob_column_takes_a_10000_character_value_as_a_lob_without_a_cast() {
    let big = "y".repeat(10_000);
    let rows = text_rows(&[big.as_str()]);
    let p = one(TEXT, target("DOC", "CLOB", 0), &rows);
    assert_eq!(p.types, vec![OracleType::CLOB]);
    assert_eq!(p.casts, vec![None]);
    assert_eq!(p.send, vec![0]);
    assert_eq!(
        value(&rows.cells[0], &rows, p.convs[0], "DOC"),
        Ok(Value::Text(big.as_str()))
    );
}

#[test]
fn typed_values_into_text_columns_bind_their_canonical_text_not_nls_conversions() {
    let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let dec = Cell::Decimal {
        mantissa: -1250,
        scale: 2,
    };
    let ty = ColumnType::Decimal {
        precision: 12,
        scale: 2,
    };
    let rows = cell_rows(&[dec, Cell::Null]);
    let p = one(ty, target("V", "VARCHAR2", 20), &rows);
    assert_eq!(
        (p.types[0].clone(), p.convs[0]),
        (OracleType::Varchar2(6), Conv::Text)
    );
    assert_eq!(
        value(&dec, &rows, Conv::Text, "V"),
        Ok(Value::Owned("-12.50".into()))
    );
    assert_eq!(value(&Cell::Null, &rows, Conv::Text, "V"), Ok(Value::Null));
    let rows = cell_rows(&[Cell::Date(d)]);
    assert_eq!(
        value(&rows.cells[0], &rows, Conv::Text, "V"),
        Ok(Value::Owned("2024-02-29".into()))
    );
    assert_eq!(
        value(&Cell::Float(0.5), &rows, Conv::Text, "V"),
        Ok(Value::Owned("0.5".into()))
    );
}

#[test]
fn null_or_empty_upsert_keys_are_refused_before_sending() {
    let rows = text_rows(&["a", "", "b"]);
    let mut rows2 = rows.clone();
    rows2.cells[2] = Cell::Null;
    let p = plan(
        &[col("k", TEXT)],
        &[target("k", "VARCHAR2", 10)],
        &rows2,
        LIMITS,
        &[0],
    );
    assert_eq!(p.send, vec![0]);
    let codes: Vec<(&str, u64)> = p
        .rejects
        .iter()
        .map(|r| (r.code.as_str(), r.line))
        .collect();
    assert_eq!(codes, [("null_key", 3), ("null_key", 4)]);
    assert!(
        p.rejects[0].reason.starts_with("k: the upsert key is NULL"),
        "{:?}",
        p.rejects
    );
    // Without a key (insert), they are sent.
    let p = plan(
        &[col("k", TEXT)],
        &[target("k", "VARCHAR2", 10)],
        &rows2,
        LIMITS,
        &[],
    );
    assert_eq!(p.send, vec![0, 1, 2]);
}

#[test]
fn texts_longer_than_the_column_are_refused_before_sending() {
    let rows = text_rows(&["abc", "abcdef", "Zoë", ""]);
    let p = one(TEXT, target("code", "VARCHAR2", 3), &rows);
    // "Zoë" is 3 characters (4 bytes): it fits a 3-character column.
    assert_eq!(p.send, vec![0, 2, 3]);
    assert_eq!(p.types, vec![OracleType::Varchar2(3)]);
    assert_eq!(p.rejects.len(), 1);
    let r = &p.rejects[0];
    assert_eq!((r.offset, r.line, r.code.as_str()), (100, 3, "too_long"));
    assert_eq!(r.column.as_deref(), Some("c"));
    assert_eq!(
        r.reason,
        "value too large for column \"c\" (actual: 6, maximum: 3 characters)"
    );
}

#[test]
fn chunks_are_capped_by_bytes_and_rows() {
    let long = "x".repeat(900);
    let texts: Vec<&str> = (0..100).map(|_| long.as_str()).collect();
    let rows = text_rows(&texts);
    let cols = [col("t", TEXT)];
    let t = [target("t", "VARCHAR2", 4000)];
    let with = |limits| plan(&cols, &t, &rows, limits, &[]);
    // 900 characters bind as VARCHAR2(900): 4 bytes a character, plus 8.
    let p = with(Limits {
        rows: 1000,
        bytes: 100_000,
    });
    assert_eq!(p.row_bytes, 900 * 4 + 8);
    assert_eq!(p.chunk_rows, 100_000 / (900 * 4 + 8));
    // Rows cap when bytes allow more; never more than the rows there are,
    // never zero.
    let rows_cap = |rows, bytes| with(Limits { rows, bytes }).chunk_rows;
    assert_eq!(rows_cap(7, 1 << 30), 7);
    assert_eq!(rows_cap(1000, 1 << 30), 100);
    assert_eq!(rows_cap(1000, 10), 1);
    // A CLOB column counts its real bytes, not a rounded buffer.
    let big = "y".repeat(100_000);
    let rows = text_rows(&[big.as_str(), "short"]);
    let p = plan(&cols, &[target("t", "CLOB", 0)], &rows, LIMITS, &[]);
    assert_eq!(p.types, vec![OracleType::CLOB]);
    assert_eq!(p.row_bytes, 100_008);
    assert_eq!(p.chunk_rows, 2);
    // The default limits keep one execute() far below DPI-1015's 2 GiB.
    let p = plan(
        &cols,
        &[target("t", "CLOB", 0)],
        &text_rows(&[big.as_str(); 300]),
        LIMITS,
        &[],
    );
    assert!(p.chunk_rows * p.row_bytes <= LIMITS.bytes, "{p:?}");
    assert_eq!(p.chunk_rows, LIMITS.bytes / 100_008);
}

#[test]
fn values() {
    let rows = text_rows(&["hello"]);
    let v = |c: &Cell| value(c, &rows, Conv::Natural, "c");
    assert_eq!(v(&Cell::Null), Ok(Value::Null));
    assert_eq!(v(&Cell::Bool(true)), Ok(Value::Int(1)));
    assert_eq!(v(&rows.cells[0]), Ok(Value::Text("hello")));
    let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let t = d.and_hms_nano_opt(10, 11, 12, 345_000_000).expect("ts");
    assert_eq!(
        v(&Cell::Timestamp(t)),
        Ok(ts(2024, 2, 29, 10, 11, 12, 345_000_000))
    );
    let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("date");
    let e = v(&Cell::Date(far)).expect_err("beyond 9999");
    assert!(e.reason.contains("outside Oracle's dates"), "{e:?}");
}

#[test]
fn rows_oracle_cannot_hold_are_refused_with_their_column() {
    let far = NaiveDate::from_ymd_opt(12_000, 1, 1).expect("date");
    let ok = NaiveDate::from_ymd_opt(2020, 1, 1).expect("d");
    let rows = cell_rows(&[Cell::Date(ok), Cell::Date(far)]);
    let p = plan(&[col("day", ColumnType::Date)], &[None], &rows, LIMITS, &[]);
    assert_eq!(p.send, vec![0]);
    assert_eq!(p.rejects.len(), 1);
    assert_eq!(p.rejects[0].code, "out_of_range");
    assert_eq!(p.rejects[0].column.as_deref(), Some("day"));
    assert_eq!(p.rejects[0].line, 3);
}
