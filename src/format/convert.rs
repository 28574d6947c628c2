//! Field bytes -> typed `Cell`, one column type at a time. Worker side, on the
//! hot path: no allocation except appending text to the batch's arena (and the
//! reason string of a rejected value). Knows nothing about records, files or
//! databases; `parse.rs` decides which bytes reach which column.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{Cell, ColumnSpec, ColumnType};

/// Why a value was refused: a reject code and a reason naming the column and
/// quoting the value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    pub code: &'static str,
    pub reason: String,
}

/// Converts one field. `null` is the dialect's NULL text; text values are
/// appended to `text` and returned as a slice of it.
pub(crate) fn convert(
    col: &ColumnSpec,
    raw: &[u8],
    null: &[u8],
    text: &mut String,
) -> Result<Cell, Bad> {
    let bad = |code: &'static str, what: &str| Bad {
        code,
        reason: format!("{}: {} {what}", col.name, show(raw)),
    };
    if raw == null {
        return if col.nullable {
            Ok(Cell::Null)
        } else {
            Err(bad("not_null", "means NULL, and the column is NOT NULL"))
        };
    }
    match col.ty {
        ColumnType::Int => match int(raw) {
            Ok(v) if i32::try_from(v).is_ok() => Ok(Cell::Int(v)),
            Ok(_) | Err(IntErr::Range) => Err(bad("out_of_range", "is out of range for int")),
            Err(IntErr::Syntax) => Err(bad("bad_int", "is not an int")),
        },
        ColumnType::BigInt => match int(raw) {
            Ok(v) => Ok(Cell::Int(v)),
            Err(IntErr::Range) => Err(bad("out_of_range", "is out of range for bigint")),
            Err(IntErr::Syntax) => Err(bad("bad_bigint", "is not a bigint")),
        },
        ColumnType::Decimal { precision, scale } => {
            let ty = || format!("decimal({precision},{scale})");
            match decimal(raw, precision, scale) {
                Ok(mantissa) => Ok(Cell::Decimal { mantissa, scale }),
                Err(DecErr::Syntax) => Err(bad("bad_decimal", &format!("is not a {}", ty()))),
                Err(DecErr::Scale(n)) => Err(bad(
                    "too_many_decimals",
                    &format!("has {n} decimal places; {} allows {scale}", ty()),
                )),
                Err(DecErr::Overflow(n)) => Err(bad(
                    "decimal_overflow",
                    &format!(
                        "has {n} integer digits; {} allows {}",
                        ty(),
                        precision.saturating_sub(scale)
                    ),
                )),
            }
        }
        ColumnType::Float => match std::str::from_utf8(raw).map(str::parse::<f64>) {
            Ok(Ok(v)) => Ok(Cell::Float(v)),
            _ => Err(bad("bad_float", "is not a float")),
        },
        ColumnType::Text { max_chars } => {
            let Ok(s) = std::str::from_utf8(raw) else {
                return Err(bad("bad_utf8", "is not valid UTF-8"));
            };
            if let Some(max) = max_chars {
                // Bytes bound chars from above: count only when it can matter.
                let n = if s.len() > max as usize {
                    s.chars().count()
                } else {
                    0
                };
                if n > max as usize {
                    let what = format!("is {n} characters; varchar({max}) allows {max}");
                    return Err(bad("too_long", &what));
                }
            }
            // Cells address the arena with u32: refuse rather than wrap.
            let Ok(stop) = u32::try_from(text.len() + s.len()) else {
                let what = "does not fit: the batch holds over 4 GiB of text";
                return Err(bad("too_long", what));
            };
            let start = stop - s.len() as u32;
            text.push_str(s);
            Ok(Cell::Text {
                start,
                len: stop - start,
            })
        }
        ColumnType::Bool => boolean(raw).map(Cell::Bool).ok_or_else(|| {
            bad(
                "bad_bool",
                "is not a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0)",
            )
        }),
        ColumnType::Date => match &col.format {
            None => iso_date(raw)
                .map(Cell::Date)
                .map_err(|e| bad("bad_date", e)),
            Some(f) => match std::str::from_utf8(raw).map(|s| NaiveDate::parse_from_str(s, f)) {
                Ok(Ok(d)) => Ok(Cell::Date(d)),
                Ok(Err(e)) => Err(bad(
                    "bad_date",
                    &format!("does not match date format {f:?} ({e})"),
                )),
                Err(_) => Err(bad(
                    "bad_date",
                    &format!("does not match date format {f:?}"),
                )),
            },
        },
        ColumnType::Timestamp => match &col.format {
            None => iso_timestamp(raw)
                .map(Cell::Timestamp)
                .map_err(|e| bad("bad_timestamp", e)),
            Some(f) => {
                match std::str::from_utf8(raw).map(|s| NaiveDateTime::parse_from_str(s, f)) {
                    Ok(Ok(t)) => Ok(Cell::Timestamp(t)),
                    Ok(Err(e)) => Err(bad(
                        "bad_timestamp",
                        &format!("does not match timestamp format {f:?} ({e})"),
                    )),
                    Err(_) => Err(bad(
                        "bad_timestamp",
                        &format!("does not match timestamp format {f:?}"),
                    )),
                }
            }
        },
    }
}

/// A value as quoted in a reason: lossy UTF-8, at most ~60 characters,
/// escaped like a Rust string so newlines and quotes stay visible.
pub(crate) fn show(raw: &[u8]) -> String {
    const MAX: usize = 60;
    let s = String::from_utf8_lossy(raw);
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
        None => format!("{s:?}"),
    }
}

enum IntErr {
    Syntax,
    Range,
}

/// `[+-]digits` into an i64 (negatives accumulate downwards so i64::MIN fits).
fn int(raw: &[u8]) -> Result<i64, IntErr> {
    let (neg, digits) = sign(raw);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(IntErr::Syntax);
    }
    let mut acc: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        acc = acc
            .checked_mul(10)
            .and_then(|a| {
                if neg {
                    a.checked_sub(d)
                } else {
                    a.checked_add(d)
                }
            })
            .ok_or(IntErr::Range)?;
    }
    Ok(acc)
}

fn sign(raw: &[u8]) -> (bool, &[u8]) {
    match raw.first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    }
}

enum DecErr {
    Syntax,
    /// Fractional digits given (more than the scale).
    Scale(usize),
    /// Significant integer digits given (more than precision - scale).
    Overflow(usize),
}

/// `[+-]digits[.digits]` (either side may be empty, not both) as a mantissa
/// with exactly `scale` decimals. Never rounds.
fn decimal(raw: &[u8], precision: u8, scale: u8) -> Result<i128, DecErr> {
    let (neg, body) = sign(raw);
    let (int, frac) = match memchr::memchr(b'.', body) {
        Some(k) => (&body[..k], &body[k + 1..]),
        None => (body, &body[..0]),
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return Err(DecErr::Syntax);
    }
    if frac.len() > scale as usize {
        return Err(DecErr::Scale(frac.len()));
    }
    let significant = &int[int.iter().take_while(|&&d| d == b'0').count()..];
    if significant.len() > precision.saturating_sub(scale) as usize {
        return Err(DecErr::Overflow(significant.len()));
    }
    let overflow = || DecErr::Overflow(significant.len());
    let mut m: i128 = 0;
    let padding = std::iter::repeat_n(&b'0', scale as usize - frac.len());
    for &d in significant.iter().chain(frac).chain(padding) {
        m = m
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(d - b'0')))
            .ok_or_else(overflow)?;
    }
    Ok(if neg { -m } else { m })
}

fn boolean(raw: &[u8]) -> Option<bool> {
    const WORDS: [(&[u8], bool); 12] = [
        (b"true", true),
        (b"false", false),
        (b"t", true),
        (b"f", false),
        (b"yes", true),
        (b"no", false),
        (b"y", true),
        (b"n", false),
        (b"on", true),
        (b"off", false),
        (b"1", true),
        (b"0", false),
    ];
    WORDS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(raw))
        .map(|&(_, v)| v)
}

/// A fixed-width run of ASCII digits as a number.
fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
    })
}

const DATE_SYNTAX: &str = "is not a date (expected YYYY-MM-DD)";

/// `YYYY-MM-DD`, validated by chrono (no 2024-02-30, no month 13).
pub(crate) fn iso_date(b: &[u8]) -> Result<NaiveDate, &'static str> {
    if b.len() != 10 {
        return Err(DATE_SYNTAX);
    }
    date_prefix(b)
}

fn date_prefix(b: &[u8]) -> Result<NaiveDate, &'static str> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(DATE_SYNTAX);
    }
    match (num(&b[..4]), num(&b[5..7]), num(&b[8..10])) {
        (Some(y), Some(m), Some(d)) => {
            NaiveDate::from_ymd_opt(y as i32, m, d).ok_or("is not a valid date")
        }
        _ => Err(DATE_SYNTAX),
    }
}

const TS_SYNTAX: &str = "is not a timestamp (expected YYYY-MM-DD HH:MM[:SS[.fraction]])";

/// `YYYY-MM-DD[T ]HH:MM[:SS[.f{1,9}]]`, local time: an offset or `Z` is refused.
pub(crate) fn iso_timestamp(b: &[u8]) -> Result<NaiveDateTime, &'static str> {
    if b.len() < 16 || !matches!(b[10], b'T' | b' ') || b[13] != b':' {
        return Err(if b.len() == 10 && date_prefix(b).is_ok() {
            "has no time of day (expected YYYY-MM-DD HH:MM[:SS[.fraction]])"
        } else {
            TS_SYNTAX
        });
    }
    let date = date_prefix(b)?;
    let (Some(h), Some(m)) = (num(&b[11..13]), num(&b[14..16])) else {
        return Err(TS_SYNTAX);
    };
    let (mut i, mut s, mut nano) = (16, 0, 0);
    if b.get(i) == Some(&b':') {
        s = b.get(17..19).and_then(num).ok_or(TS_SYNTAX)?;
        i = 19;
        if b.get(i) == Some(&b'.') {
            let n = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return Err(TS_SYNTAX);
            }
            nano = num(&b[i + 1..i + 1 + n]).ok_or(TS_SYNTAX)? * 10u32.pow(9 - n as u32);
            i += 1 + n;
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z' | b'+' | b'-') => {
            return Err("has a time zone offset; timestamp columns take local times without one");
        }
        Some(_) => return Err(TS_SYNTAX),
    }
    let time = NaiveTime::from_hms_nano_opt(h, m, s, nano).ok_or("is not a valid time of day")?;
    Ok(date.and_time(time))
}
