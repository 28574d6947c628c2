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
    /// chrono `strftime` format for `date`/`timestamp` columns; ISO 8601 when `None`.
    pub format: Option<String>,
}

impl ColumnSpec {
    /// A nullable text column: what a header-only file gives.
    pub fn text(name: &str) -> Self {
        ColumnSpec {
            name: name.to_string(),
            ty: ColumnType::Text { max_chars: None },
            nullable: true,
            format: None,
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
/// a 10,000-row batch costs a handful of allocations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub width: usize,
    pub cells: Vec<Cell>,
    pub text: String,
    pub origins: Vec<RowOrigin>,
}

impl Rows {
    pub fn new(width: usize) -> Self {
        Rows {
            width,
            ..Rows::default()
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
