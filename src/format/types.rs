//! Column types and the typed rows a worker builds from a batch.
//!
//! Owns value representation only; parsing text into these values lives in
//! the format's parser, writing them lives in each sink.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A target column as configured (`[[jobs.NAME.columns]]`) or taken from a header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// chrono `strftime` formats for date and timestamp columns, tried in
    /// order; ISO 8601 when empty.
    pub formats: Vec<String>,
    /// The field, key, JSON Pointer or group the value comes from, when it is
    /// not the column's name.
    pub from: Option<String>,
    /// Values that mean NULL in this column; replaces the format's NULL text.
    pub null_if: Option<Vec<String>>,
    /// The value when the record has no such field (JSON key, regex group
    /// that did not take part, header field the file lacks).
    pub default: Option<String>,
    /// The value of every row, whatever the record holds.
    pub constant: Option<String>,
}

impl ColumnSpec {
    /// A nullable text column: what a header-only file gives.
    pub fn text(name: &str) -> Self {
        ColumnSpec {
            name: name.to_string(),
            ty: ColumnType::Text { max_chars: None },
            nullable: true,
            formats: Vec::new(),
            from: None,
            null_if: None,
            default: None,
            constant: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// 32-bit signed integer.
    Int,
    /// 64-bit signed integer.
    BigInt,
    /// Exact decimal: at most `precision` digits, `scale` of them after the point.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// 64-bit float.
    Float,
    /// Text, at most `max_chars` characters when set (`varchar(n)`).
    Text {
        max_chars: Option<u32>,
    },
    Bool,
    Date,
    /// Timestamp without time zone.
    Timestamp,
    /// An instant: a timestamp with a time zone offset, stored as UTC.
    TimestampTz,
}

/// As the configuration writes it: `int`, `decimal(12,2)`, `varchar(3)`.
impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ColumnType::Int => f.write_str("int"),
            ColumnType::BigInt => f.write_str("bigint"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Float => f.write_str("float"),
            ColumnType::Text { max_chars: None } => f.write_str("text"),
            ColumnType::Text { max_chars: Some(n) } => write!(f, "varchar({n})"),
            ColumnType::Bool => f.write_str("bool"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::TimestampTz => f.write_str("timestamptz"),
        }
    }
}

/// One typed value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    /// `mantissa * 10^-scale`, exactly.
    Decimal {
        mantissa: i128,
        scale: u8,
    },
    /// A slice of `Rows::text`.
    Text {
        start: u32,
        len: u32,
    },
    Bool(bool),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    /// An instant, as its UTC date and time.
    TimestampTz(NaiveDateTime),
}

/// Room for any decimal's text: sign, point, 39 digits, and the zeros of a
/// scale up to 255 (`0.000...1`).
pub const DECIMAL_TEXT_BUF: usize = 260;

/// `mantissa * 10^-scale` as exact canonical text (`-12.50`, `0.005`, `146`),
/// written at the end of `buf`; no allocation. Sinks bind decimals as this
/// text where the database converts text exactly (never through a float).
pub fn decimal_text(buf: &mut [u8; DECIMAL_TEXT_BUF], mantissa: i128, scale: u8) -> &str {
    let scale = usize::from(scale);
    let mut m = mantissa.unsigned_abs();
    let mut pos = buf.len();
    let mut digits = 0;
    loop {
        if digits == scale && scale > 0 {
            pos -= 1;
            buf[pos] = b'.';
        }
        pos -= 1;
        buf[pos] = b'0' + (m % 10) as u8;
        m /= 10;
        digits += 1;
        if m == 0 && digits > scale {
            break;
        }
    }
    if mantissa < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    std::str::from_utf8(&buf[pos..]).expect("only ASCII digits, '.' and '-' written")
}

/// A non-text cell as a database's text output shows it (`true`, `12.5`,
/// `NaN`, `-Infinity`, `2024-02-29`, `2024-02-29 10:11:12.5`): what sinks
/// write for it into a text column. Text, NULL and decimals (see
/// `decimal_text`) write nothing here.
pub fn display(out: &mut String, cell: &Cell) {
    use std::fmt::Write as _;
    let _ = match *cell {
        Cell::Int(v) => write!(out, "{v}"),
        Cell::Float(f) if f.is_nan() => write!(out, "NaN"),
        Cell::Float(f) if f.is_infinite() => {
            write!(out, "{}Infinity", if f < 0.0 { "-" } else { "" })
        }
        Cell::Float(f) => write!(out, "{f}"),
        Cell::Bool(b) => write!(out, "{b}"),
        Cell::Date(d) => write!(out, "{}", d.format("%Y-%m-%d")),
        Cell::Timestamp(t) => write!(out, "{t}"),
        Cell::TimestampTz(t) => write!(out, "{t}+00:00"),
        Cell::Null | Cell::Text { .. } | Cell::Decimal { .. } => Ok(()),
    };
}

/// Where a row came from in its source, for reject notes written by sinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowOrigin {
    /// Absolute byte offset of the record in the source.
    pub offset: u64,
    /// Length of the record in bytes, line terminator included.
    pub len: u32,
    /// Physical line (1-based) where the record starts.
    pub line: u64,
}

/// The good rows of one batch, row-major, with text kept in one arena so that
/// a 10,000-row batch costs a handful of allocations. A dropped `Rows` keeps
/// its buffers for the next `Rows::new` on the same thread (one spare), so
/// that a worker's batches after the first allocate nothing here: fresh
/// pages for every batch cost a page fault each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub width: usize,
    pub cells: Vec<Cell>,
    pub text: String,
    pub origins: Vec<RowOrigin>,
}

/// A dropped `Rows`' buffers (not a `Rows`: dropping them must not recurse).
type Buffers = (Vec<Cell>, String, Vec<RowOrigin>);

thread_local! {
    static SPARE: std::cell::RefCell<Option<Buffers>> = const { std::cell::RefCell::new(None) };
}

impl Drop for Rows {
    fn drop(&mut self) {
        if self.cells.capacity() == 0 && self.text.capacity() == 0 {
            return;
        }
        let kept = (
            std::mem::take(&mut self.cells),
            std::mem::take(&mut self.text),
            std::mem::take(&mut self.origins),
        );
        // During thread teardown the slot may be gone: the buffers are freed.
        let _ = SPARE.try_with(|s| {
            if let Ok(mut slot) = s.try_borrow_mut() {
                *slot = Some(kept);
            }
        });
    }
}

impl Rows {
    pub fn new(width: usize) -> Self {
        let spare = SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()))
            .ok()
            .flatten();
        let (mut cells, mut text, mut origins) = spare.unwrap_or_default();
        cells.clear();
        text.clear();
        origins.clear();
        Rows {
            width,
            cells,
            text,
            origins,
        }
    }

    pub fn len(&self) -> usize {
        self.origins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    pub fn row(&self, i: usize) -> &[Cell] {
        &self.cells[i * self.width..(i + 1) * self.width]
    }

    /// The text of a `Cell::Text` taken from these rows.
    pub fn text_of(&self, start: u32, len: u32) -> &str {
        &self.text[start as usize..(start + len) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_exact_and_canonical() {
        let mut buf = [0u8; DECIMAL_TEXT_BUF];
        let cases: [(i128, u8, &str); 9] = [
            (-1250, 2, "-12.50"),
            (14600, 2, "146.00"),
            (5, 3, "0.005"),
            (-5, 3, "-0.005"),
            (0, 2, "0.00"),
            (0, 0, "0"),
            (146, 0, "146"),
            (-7, 0, "-7"),
            (999_999_999_999, 2, "9999999999.99"),
        ];
        for (m, scale, want) in cases {
            assert_eq!(decimal_text(&mut buf, m, scale), want, "{m} e-{scale}");
        }
        assert_eq!(
            decimal_text(&mut buf, i128::MIN, 38),
            "-1.70141183460469231731687303715884105728"
        );
        let tiny = decimal_text(&mut buf, 1, 255).to_string();
        assert_eq!(tiny.len(), 257);
        assert!(tiny.starts_with("0.000") && tiny.ends_with("01"));
    }
}
