//! Field bytes -> typed `Cell`, one column type at a time. Worker side, on the
//! hot path: no allocation except appending text to the batch's arena (and the
//! reason string of a rejected value). Knows nothing about records, files or
//! databases; `parse.rs` decides which bytes reach which column.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use super::{Cell, ColumnSpec, ColumnType};

/// Why a value was refused: a reject code and a reason naming the column and
/// quoting the value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    pub code: &'static str,
    pub reason: String,
}

/// A field as a format found it, before the column's rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Raw<'a> {
    /// The record has no such field (a JSON key, a regex group that took no
    /// part, a column the source does not have).
    Absent,
    /// The format's own NULL (JSON `null`).
    #[cfg_attr(not(test), allow(dead_code))]
    Null,
    Text(&'a [u8]),
}

/// One column's value: the column's `constant`, else its `default` for an
/// absent field, its `null_if` texts (or else the format's `null` text) as
/// NULL, NOT NULL enforced, then the type's conversion.
pub(crate) fn field(
    col: &ColumnSpec,
    raw: Raw<'_>,
    null: Option<&[u8]>,
    text: &mut String,
) -> Result<Cell, Bad> {
    if let Some(c) = &col.constant {
        return convert_value(col, c.as_bytes(), text);
    }
    let v = match raw {
        Raw::Text(v) => v,
        Raw::Absent => match &col.default {
            Some(d) => return convert_value(col, d.as_bytes(), text),
            None => return null_cell(col, || "is absent from the record (no default)".into()),
        },
        Raw::Null => return null_cell(col, || "is null".into()),
    };
    let is_null = match &col.null_if {
        Some(list) => list.iter().any(|n| n.as_bytes() == v),
        None => null == Some(v),
    };
    if is_null {
        // The reason is written only for a NOT NULL column: a NULL in a
        // nullable one is the common case, once per empty field.
        return null_cell(col, || format!("{} means NULL", show(v)));
    }
    convert_value(col, v, text)
}

fn null_cell(col: &ColumnSpec, what: impl FnOnce() -> String) -> Result<Cell, Bad> {
    if col.nullable {
        Ok(Cell::Null)
    } else {
        Err(Bad {
            code: "not_null",
            reason: format!("{}: {}, and the column is NOT NULL", col.name, what()),
        })
    }
}

#[cfg(test)]
/// Converts one delimited field: `null` is the dialect's NULL text.
pub(crate) fn convert(
    col: &ColumnSpec,
    raw: &[u8],
    null: &[u8],
    text: &mut String,
) -> Result<Cell, Bad> {
    field(col, Raw::Text(raw), Some(null), text)
}

/// A value that is not NULL, by the column's type; text is appended to
/// `text` and returned as a slice of it.
fn convert_value(col: &ColumnSpec, raw: &[u8], text: &mut String) -> Result<Cell, Bad> {
    let bad = |code: &'static str, what: &str| Bad {
        code,
        reason: format!("{}: {} {what}", col.name, show(raw)),
    };
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
            // `1e400` parses as infinity: only a value that says so may be one.
            Ok(Ok(v)) if v.is_infinite() && !raw.iter().any(|b| b.eq_ignore_ascii_case(&b'i')) => {
                Err(bad("out_of_range", "is out of range for float"))
            }
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
        ColumnType::Date => match col.formats.as_slice() {
            [] => iso_date(raw)
                .map(Cell::Date)
                .map_err(|e| bad("bad_date", e)),
            formats => with_formats(formats, raw, NaiveDate::parse_from_str)
                .map(Cell::Date)
                .map_err(|e| bad("bad_date", &e.reason("date"))),
        },
        ColumnType::Timestamp => match col.formats.as_slice() {
            [] => iso_timestamp(raw)
                .map(Cell::Timestamp)
                .map_err(|e| bad("bad_timestamp", e)),
            formats => with_formats(formats, raw, NaiveDateTime::parse_from_str)
                .map(Cell::Timestamp)
                .map_err(|e| bad("bad_timestamp", &e.reason("timestamp"))),
        },
        ColumnType::TimestampTz => match col.formats.as_slice() {
            [] => iso_instant(raw)
                .map(Cell::TimestampTz)
                .map_err(|e| bad("bad_timestamp", e)),
            formats => with_formats(formats, raw, |s, f| {
                DateTime::parse_from_str(s, f).map(|t| t.naive_utc())
            })
            .map(Cell::TimestampTz)
            .map_err(|e| bad("bad_timestamp", &e.reason("timestamp"))),
        },
    }
}

/// Why no configured format matched: the formats, and chrono's complaint
/// about the last one.
struct NoFormat<'a> {
    formats: &'a [String],
    last: Option<chrono::ParseError>,
}

impl NoFormat<'_> {
    fn reason(&self, what: &str) -> String {
        let list = self
            .formats
            .iter()
            .map(|f| format!("{f:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        match (&self.last, self.formats.len()) {
            (None, _) => format!("is not valid UTF-8, so it matches no {what} format"),
            (Some(e), 1) => format!("does not match {what} format {list} ({e})"),
            (Some(e), _) => format!("matches none of the {what} formats {list} (last: {e})"),
        }
    }
}

/// The first of `formats` that parses `raw`.
fn with_formats<'a, T>(
    formats: &'a [String],
    raw: &[u8],
    parse: impl Fn(&str, &str) -> chrono::ParseResult<T>,
) -> Result<T, NoFormat<'a>> {
    let Ok(s) = std::str::from_utf8(raw) else {
        return Err(NoFormat {
            formats,
            last: None,
        });
    };
    let mut last = None;
    for f in formats {
        match parse(s, f) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(NoFormat { formats, last })
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
    let (t, rest) = timestamp_prefix(b)?;
    match rest.first() {
        None => Ok(t),
        Some(b'Z' | b'z' | b'+' | b'-') => Err(
            "has a time zone offset; timestamp columns take local times without one \
             (a timestamptz column stores the instant)",
        ),
        Some(_) => Err(TS_SYNTAX),
    }
}

const TZ_SYNTAX: &str =
    "is not a timestamp with offset (expected YYYY-MM-DD HH:MM[:SS[.fraction]] then Z or +HH:MM)";

/// An ISO 8601 timestamp with `Z` or a `+HH:MM`, `+HHMM` or `+HH` offset
/// (a space before the offset allowed), as its UTC date and time.
pub(crate) fn iso_instant(b: &[u8]) -> Result<NaiveDateTime, &'static str> {
    let (t, mut rest) = timestamp_prefix(b)?;
    if rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    let offset = match rest {
        [] => {
            return Err(
                "has no time zone offset; timestamptz columns need one (Z, +02:00), \
                 or use a timestamp column for local times",
            );
        }
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), digits @ ..] => {
            let (h, m) = match digits {
                [h1, h2] => (num(&[*h1, *h2]), Some(0)),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (num(&[*h1, *h2]), num(&[*m1, *m2])),
                _ => return Err(TZ_SYNTAX),
            };
            let (Some(h), Some(m)) = (h, m) else {
                return Err(TZ_SYNTAX);
            };
            if h > 23 || m > 59 {
                return Err("has a time zone offset out of range");
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return Err(TZ_SYNTAX),
    };
    t.checked_sub_signed(chrono::TimeDelta::seconds(offset))
        .ok_or("is out of range")
}

/// The date and time at the start of `b`, and what follows them.
fn timestamp_prefix(b: &[u8]) -> Result<(NaiveDateTime, &[u8]), &'static str> {
    if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
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
    let time = NaiveTime::from_hms_nano_opt(h, m, s, nano).ok_or("is not a valid time of day")?;
    Ok((date.and_time(time), &b[i..]))
}
