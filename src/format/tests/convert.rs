//! Value conversion edge cases: decimals, integers, timestamps, dates with and
//! without formats, booleans, text limits, NULL.

use chrono::{NaiveDate, NaiveDateTime};

use crate::format::convert::{Bad, convert, show};
use crate::format::{Cell, ColumnSpec, ColumnType};

fn col(ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        ty,
        nullable: false,
        ..ColumnSpec::text("v")
    }
}

fn conv(c: &ColumnSpec, raw: &str) -> Result<Cell, Bad> {
    convert(c, raw.as_bytes(), b"", &mut String::new())
}

fn code(c: &ColumnSpec, raw: &str) -> &'static str {
    match conv(c, raw) {
        Ok(cell) => panic!("{raw:?} accepted as {cell:?}"),
        Err(bad) => bad.code,
    }
}

fn dec(p: u8, s: u8) -> ColumnSpec {
    col(ColumnType::Decimal {
        precision: p,
        scale: s,
    })
}

fn ts(s: &str) -> Cell {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    Cell::Timestamp(t)
}

#[test]
fn decimals() {
    let c = dec(12, 2);
    let d = |m| {
        Ok(Cell::Decimal {
            mantissa: m,
            scale: 2,
        })
    };
    assert_eq!(conv(&c, "-0.50"), d(-50));
    assert_eq!(conv(&c, ".5"), d(50));
    assert_eq!(conv(&c, "5."), d(500));
    assert_eq!(conv(&c, "+7"), d(700));
    assert_eq!(conv(&c, "-0"), d(0));
    assert_eq!(conv(&c, "0000000000001.25"), d(125));
    assert_eq!(conv(&c, "9999999999.99"), d(999_999_999_999));
    for bad in [
        "1e3", "N/A", ".", "-", "1.2.3", "$12.00", " 1", "1,5", "--1", "0x10",
    ] {
        assert_eq!(code(&c, bad), "bad_decimal", "{bad}");
    }
    assert_eq!(code(&c, "1.234"), "too_many_decimals");
    assert_eq!(code(&c, "1.230"), "too_many_decimals");
    assert_eq!(code(&c, "12345678901"), "decimal_overflow");
    let err = conv(&c, "12345678901.5").unwrap_err();
    assert_eq!(
        err.reason,
        "v: \"12345678901.5\" has 11 integer digits; decimal(12,2) allows 10"
    );
    let err = conv(&c, "N/A").unwrap_err();
    assert_eq!(err.reason, "v: \"N/A\" is not a decimal(12,2)");
    // 38 digits fit an i128 mantissa; more are refused, never wrapped.
    let nines = "9".repeat(38);
    assert_eq!(
        conv(&dec(38, 0), &nines),
        Ok(Cell::Decimal {
            mantissa: 10i128.pow(38) - 1,
            scale: 0
        })
    );
    let (i, f) = nines.split_at(36);
    assert_eq!(
        conv(&dec(38, 2), &format!("-{i}.{f}")),
        Ok(Cell::Decimal {
            mantissa: -(10i128.pow(38) - 1),
            scale: 2
        })
    );
    assert_eq!(code(&dec(38, 0), &"9".repeat(39)), "decimal_overflow");
    assert_eq!(code(&dec(60, 0), &"9".repeat(50)), "decimal_overflow");
    assert_eq!(code(&dec(60, 50), "1"), "decimal_overflow");
    assert_eq!(
        conv(&dec(5, 5), ".12345"),
        Ok(Cell::Decimal {
            mantissa: 12345,
            scale: 5
        })
    );
}

#[test]
fn integers_and_floats() {
    let (int, big) = (col(ColumnType::Int), col(ColumnType::BigInt));
    assert_eq!(conv(&int, "-2147483648"), Ok(Cell::Int(-2147483648)));
    assert_eq!(conv(&int, "+007"), Ok(Cell::Int(7)));
    assert_eq!(code(&int, "2147483648"), "out_of_range");
    assert_eq!(code(&int, "1.0"), "bad_int");
    assert_eq!(code(&int, "-"), "bad_int");
    assert_eq!(conv(&big, "-9223372036854775808"), Ok(Cell::Int(i64::MIN)));
    assert_eq!(conv(&big, "9223372036854775807"), Ok(Cell::Int(i64::MAX)));
    assert_eq!(code(&big, "9223372036854775808"), "out_of_range");
    assert_eq!(code(&big, "12a"), "bad_bigint");
    let f = col(ColumnType::Float);
    assert_eq!(conv(&f, "1e3"), Ok(Cell::Float(1000.0)));
    assert_eq!(conv(&f, "-.5"), Ok(Cell::Float(-0.5)));
    assert_eq!(code(&f, "1,5"), "bad_float");
}

#[test]
fn timestamps() {
    let c = col(ColumnType::Timestamp);
    assert_eq!(
        conv(&c, "2024-01-31T10:20").unwrap(),
        ts("2024-01-31 10:20:00")
    );
    assert_eq!(
        conv(&c, "2024-01-31 10:20:30").unwrap(),
        ts("2024-01-31 10:20:30")
    );
    assert_eq!(
        conv(&c, "2024-01-31T10:20:30.5").unwrap(),
        ts("2024-01-31 10:20:30.5")
    );
    assert_eq!(
        conv(&c, "2024-01-31T10:20:30.123").unwrap(),
        ts("2024-01-31 10:20:30.123")
    );
    assert_eq!(
        conv(&c, "2024-02-29T23:59:59.123456789").unwrap(),
        ts("2024-02-29 23:59:59.123456789")
    );
    for bad in [
        "2024-01-31T10:20:30.1234567890",
        "2024-01-31T10:20:30.",
        "2024-01-31T24:00",
        "2024-01-31T10:60",
        "2023-02-29T00:00",
        "2024-01-31T10",
        "2024-01-31X10:20",
        "2024-1-31T10:20",
        "2024-01-31T10:20:3",
        "2024-01-31T10:20:30 ",
    ] {
        assert_eq!(code(&c, bad), "bad_timestamp", "{bad}");
    }
    for tz in [
        "2024-01-31T10:20:30Z",
        "2024-01-31T10:20+02:00",
        "2024-01-31 10:20:30.5-05:00",
    ] {
        let err = conv(&c, tz).unwrap_err();
        assert!(err.reason.contains("time zone offset"), "{}", err.reason);
    }
    let err = conv(&c, "2024-01-31").unwrap_err();
    assert!(err.reason.contains("no time of day"), "{}", err.reason);
    let custom = ColumnSpec {
        formats: vec!["%d/%m/%Y %H:%M".into()],
        ..c.clone()
    };
    assert_eq!(
        conv(&custom, "31/01/2024 10:20").unwrap(),
        ts("2024-01-31 10:20:00")
    );
    assert_eq!(code(&custom, "2024-01-31T10:20"), "bad_timestamp");
}

#[test]
fn dates() {
    let c = col(ColumnType::Date);
    let day = |y, m, d| Ok(Cell::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()));
    assert_eq!(conv(&c, "2024-02-29"), day(2024, 2, 29));
    for bad in [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "24-01-01",
        "2024/01/01",
        "2024-01-01T00:00",
    ] {
        assert_eq!(code(&c, bad), "bad_date", "{bad}");
    }
    let err = conv(&c, "2024-02-30").unwrap_err();
    assert_eq!(err.reason, "v: \"2024-02-30\" is not a valid date");
    let custom = ColumnSpec {
        formats: vec!["%d.%m.%Y".into()],
        ..c.clone()
    };
    assert_eq!(conv(&custom, "29.02.2024"), day(2024, 2, 29));
    assert_eq!(code(&custom, "30.02.2024"), "bad_date");
    assert_eq!(code(&custom, "2024-02-01"), "bad_date");
}

#[test]
fn booleans_text_and_null() {
    let b = col(ColumnType::Bool);
    for (raw, v) in [
        ("TRUE", true),
        ("f", false),
        ("Yes", true),
        ("n", false),
        ("On", true),
        ("OFF", false),
        ("1", true),
        ("0", false),
    ] {
        assert_eq!(conv(&b, raw), Ok(Cell::Bool(v)), "{raw}");
    }
    assert_eq!(code(&b, "maybe"), "bad_bool");
    assert_eq!(code(&b, "truex"), "bad_bool");

    let v3 = col(ColumnType::Text { max_chars: Some(3) });
    let mut text = String::from("x");
    assert_eq!(
        convert(&v3, "äöü".as_bytes(), b"", &mut text),
        Ok(Cell::Text { start: 1, len: 6 })
    );
    assert_eq!(text, "xäöü");
    let err = convert(&v3, b"EURO", b"", &mut text).unwrap_err();
    assert_eq!(
        (err.code, err.reason.as_str()),
        (
            "too_long",
            "v: \"EURO\" is 4 characters; varchar(3) allows 3"
        )
    );
    let err = convert(&v3, b"a\xffb", b"", &mut text).unwrap_err();
    assert_eq!(
        (err.code, err.reason.as_str()),
        ("bad_utf8", "v: \"a\u{fffd}b\" is not valid UTF-8")
    );
    assert_eq!(text, "xäöü", "a refused value leaves the arena alone");

    // NULL: the dialect's text, allowed or not by the column.
    assert_eq!(code(&v3, ""), "not_null");
    let nullable = ColumnSpec {
        nullable: true,
        ..v3
    };
    assert_eq!(
        convert(&nullable, b"\\N", b"\\N", &mut text),
        Ok(Cell::Null)
    );
    assert_eq!(
        convert(&nullable, b"", b"\\N", &mut text),
        Ok(Cell::Text { start: 7, len: 0 })
    );
}

#[test]
fn values_in_reasons_are_escaped_and_truncated() {
    assert_eq!(show(b"a\"b\nc"), "\"a\\\"b\\nc\"");
    let long = "é".repeat(100);
    let shown = show(long.as_bytes());
    assert_eq!(shown, format!("\"{}\"...", "é".repeat(60)));
}

#[test]
fn instants_store_utc() {
    let c = col(ColumnType::TimestampTz);
    let utc = |s: &str| {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        Ok(Cell::TimestampTz(t))
    };
    assert_eq!(conv(&c, "2024-01-31T10:20:30Z"), utc("2024-01-31 10:20:30"));
    assert_eq!(
        conv(&c, "2024-01-31 10:20+02:00"),
        utc("2024-01-31 08:20:00")
    );
    assert_eq!(
        conv(&c, "2024-01-31T23:30:00.5-0130"),
        utc("2024-02-01 01:00:00.5")
    );
    assert_eq!(
        conv(&c, "2024-01-01 00:00:00 +05"),
        utc("2023-12-31 19:00:00")
    );
    for bad in [
        "2024-01-31 10:20",
        "2024-01-31T10:20+2",
        "2024-01-31T10:20+24:00",
        "x",
    ] {
        assert_eq!(code(&c, bad), "bad_timestamp", "{bad}");
    }
    let err = conv(&c, "2024-01-31 10:20").unwrap_err();
    assert!(err.reason.contains("no time zone offset"), "{}", err.reason);
    // A plain timestamp names the column type that takes offsets.
    let err = conv(&col(ColumnType::Timestamp), "2024-01-31T10:20Z").unwrap_err();
    assert!(err.reason.contains("timestamptz"), "{}", err.reason);
    // Formats are tried in order; the instant is stored whatever the offset.
    let access = ColumnSpec {
        formats: vec!["%Y-%m-%dT%H:%M:%S%:z".into(), "%d/%b/%Y:%H:%M:%S %z".into()],
        ..c.clone()
    };
    assert_eq!(
        conv(&access, "10/Oct/2000:13:55:36 -0700"),
        utc("2000-10-10 20:55:36")
    );
    assert_eq!(
        conv(&access, "2000-10-10T20:55:36+00:00"),
        utc("2000-10-10 20:55:36")
    );
    let err = conv(&access, "10/Oct/2000").unwrap_err();
    assert!(
        err.reason.contains("none of the timestamp formats"),
        "{}",
        err.reason
    );
}

#[test]
fn column_rules_before_types() {
    use crate::format::convert::{Raw, field};
    let mut text = String::new();
    let mut c = ColumnSpec {
        null_if: Some(vec!["NA".into(), "N/A".into()]),
        default: Some("7".into()),
        ..col(ColumnType::Int)
    };
    let mut f = |c: &ColumnSpec, raw: Raw| field(c, raw, Some(b""), &mut text);
    assert_eq!(f(&c, Raw::Absent), Ok(Cell::Int(7)));
    // null_if replaces the format's NULL text: "" is now a bad int.
    assert_eq!(f(&c, Raw::Text(b"")).unwrap_err().code, "bad_int");
    let e = f(&c, Raw::Text(b"NA")).unwrap_err();
    assert_eq!(e.code, "not_null");
    assert_eq!(e.reason, "v: \"NA\" means NULL, and the column is NOT NULL");
    c.nullable = true;
    assert_eq!(f(&c, Raw::Text(b"N/A")), Ok(Cell::Null));
    assert_eq!(f(&c, Raw::Null), Ok(Cell::Null));
    c.default = None;
    assert_eq!(f(&c, Raw::Absent), Ok(Cell::Null));
    c.nullable = false;
    let e = f(&c, Raw::Absent).unwrap_err();
    assert!(e.reason.contains("absent"), "{}", e.reason);
    let e = f(&c, Raw::Null).unwrap_err();
    assert_eq!(e.reason, "v: is null, and the column is NOT NULL");
    // A constant wins over whatever the record holds.
    c.constant = Some("42".into());
    assert_eq!(f(&c, Raw::Text(b"x")), Ok(Cell::Int(42)));
    assert_eq!(f(&c, Raw::Absent), Ok(Cell::Int(42)));
}

#[test]
fn floats_beyond_f64_are_out_of_range() {
    let c = col(ColumnType::Float);
    assert_eq!(code(&c, "1e400"), "out_of_range");
    assert_eq!(code(&c, "-1E309"), "out_of_range");
    assert_eq!(conv(&c, "-inf"), Ok(Cell::Float(f64::NEG_INFINITY)));
    assert_eq!(conv(&c, "1e-400"), Ok(Cell::Float(0.0)));
}
