//! Binding a batch for Oracle array DML in the target's own types: each
//! column's bind type and conversion follow what the data dictionary says
//! the target column is (`target.rs`), so nothing binds as NVARCHAR2 by
//! accident and nothing is left to the session's NLS settings (text into a
//! NUMBER becomes an exact decimal here, text into a DATE an Oracle date;
//! a typed value into a character column becomes its canonical text here).
//! Also: the bind-buffer bytes of a row, how many rows go in one
//! `execute()` (capped by rows and by bytes: ODPI-C refuses buffers over
//! 2 GiB with DPI-1015), and the rows refused before sending.
//!
//! A character bind whose buffer could exceed 4,000 bytes is a LONG bind to
//! the server (ORA-01461 into a VARCHAR2, ORA-00997 in a MERGE's select
//! list), so texts over `BIND_MAX_CHARS` bind as LOB locators, and a MERGE
//! casts them back into their character column's type (`Plan::casts`).
//! Owns no connection and runs no SQL.

use oracle::sql_type::{OracleType, Timestamp, ToSql};
use oracle::{Connection, SqlValue};

use super::target::{Kind, TargetColumn};
use super::values::{self, Bad, NumText};
use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnSpec, ColumnType, DECIMAL_TEXT_BUF, Rows, decimal_text, display};
use crate::protocol::RejectNote;

/// Rows per `execute()` at most, and bind-buffer bytes per `execute()` at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub rows: usize,
    pub bytes: usize,
}

/// 5,000 rows or 16 MiB of bind buffers per round trip: large enough that
/// the network is not the limit, small enough for a worker's memory.
pub const LIMITS: Limits = Limits {
    rows: 5_000,
    bytes: 16 << 20,
};

/// The longest text bound as VARCHAR2/CHAR: ODPI-C sizes a character bind
/// at 4 bytes a character (AL32UTF8), and the server takes any bind that
/// may exceed 4,000 bytes as LONG.
pub const BIND_MAX_CHARS: u32 = 1000;

/// How a column's cells become values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    /// The cell's own value (a typed job column into a matching column).
    Natural,
    /// Text into NUMBER: an exact decimal.
    Number,
    /// Text into BINARY_FLOAT/DOUBLE.
    Float,
    /// Text into DATE (whole seconds) or TIMESTAMP.
    Time { whole_seconds: bool },
    /// Any cell into a character column, as text.
    Text,
}

/// How one batch is bound: a type and conversion per column, the rows to
/// send (the others were refused here, with a note each), and the rows per
/// `execute()`.
#[derive(Debug)]
pub struct Plan {
    pub types: Vec<OracleType>,
    pub convs: Vec<Conv>,
    /// Per column: the character type to `CAST` a LOB-bound text back into,
    /// in a MERGE's select list (`sql::merge_sql`).
    pub casts: Vec<Option<String>>,
    /// Bind-buffer bytes of one row (ODPI-C allocates these per array row).
    pub row_bytes: usize,
    pub chunk_rows: usize,
    /// Indices into `Rows` of the rows to send, in order.
    pub send: Vec<usize>,
    pub rejects: Vec<RejectNote>,
}

/// Per-row buffer of a non-text bind: 8-byte numbers, NUMBER as text (up to
/// 172 characters in ODPI-C), OCIDateTime descriptors; plus indicator and
/// length, for every type.
fn fixed_bytes(ty: &OracleType) -> usize {
    let value = match ty {
        OracleType::Int64 | OracleType::BinaryDouble => 8,
        OracleType::Number(..) => 172,
        _ => 64,
    };
    value + 8
}

/// The bind type and conversion of a job column of type `ty` into `kind`
/// (`None`: unknown target, the job type's own), for any kind but text.
fn typed_bind(ty: ColumnType, kind: Option<Kind>) -> (OracleType, Conv) {
    use ColumnType as C;
    match (ty, kind) {
        (C::Text { .. }, Some(Kind::Number)) => (OracleType::Number(0, 0), Conv::Number),
        (C::Text { .. }, Some(Kind::Binary)) => (OracleType::BinaryDouble, Conv::Float),
        (C::Text { .. }, Some(Kind::Date)) => (
            OracleType::Date,
            Conv::Time {
                whole_seconds: true,
            },
        ),
        (C::Text { .. }, Some(Kind::Timestamp)) => (
            OracleType::Timestamp(9),
            Conv::Time {
                whole_seconds: false,
            },
        ),
        (C::Text { .. }, Some(Kind::TimestampTz)) => (
            OracleType::TimestampTZ(9),
            Conv::Time {
                whole_seconds: false,
            },
        ),
        // A local time into a zoned column is taken as UTC (offset 0).
        (C::Date | C::Timestamp, Some(Kind::TimestampTz)) => {
            (OracleType::TimestampTZ(9), Conv::Natural)
        }
        (C::Int | C::BigInt | C::Bool, _) => (OracleType::Int64, Conv::Natural),
        (C::Float, _) => (OracleType::BinaryDouble, Conv::Natural),
        (C::Decimal { precision, scale }, _) => {
            (OracleType::Number(precision, scale as i8), Conv::Natural)
        }
        (C::Date, _) => (OracleType::Date, Conv::Natural),
        // An instant: bound at offset 0 (only zoned columns accept it).
        (C::TimestampTz, _) => (OracleType::TimestampTZ(9), Conv::Natural),
        (C::Timestamp, _) => (OracleType::Timestamp(9), Conv::Natural),
        (C::Text { .. }, _) => (OracleType::Varchar2(1), Conv::Text),
    }
}

/// The bind type of a text bound into `kind` (`None`: unknown target),
/// sized to the longest value (`chars` characters, `bytes` bytes); and
/// whether it is a LOB standing in for a character column.
pub fn text_type(kind: Option<Kind>, chars: u32, bytes: usize) -> (OracleType, bool) {
    let short = chars <= BIND_MAX_CHARS;
    let n = chars.max(1);
    // National binds count UTF-16 units, two for a character beyond the
    // BMP: sized by UTF-8 bytes, which are never fewer.
    let units = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
    let national_short = units <= BIND_MAX_CHARS;
    match (kind, short) {
        (Some(Kind::Clob), _) => (OracleType::CLOB, false),
        (Some(Kind::NClob), _) => (OracleType::NCLOB, false),
        (Some(Kind::NVarchar), _) if national_short => (OracleType::NVarchar2(units), false),
        (Some(Kind::NChar), _) if national_short => (OracleType::NChar(units), false),
        (Some(Kind::NVarchar | Kind::NChar), _) => (OracleType::NCLOB, true),
        // CHAR binds compare blank-padded with a CHAR column, as a key must.
        (Some(Kind::Char), true) => (OracleType::Char(n), false),
        (Some(Kind::Char | Kind::Varchar), false) => (OracleType::CLOB, true),
        (_, true) => (OracleType::Varchar2(n), false),
        (_, false) => (OracleType::CLOB, false),
    }
}

/// Plans the binds of `rows` into `columns`, whose targets (same order) the
/// dictionary described (`None`: not known). `key`: the indices of an
/// upsert's key columns, whose values must not be NULL.
pub fn plan(
    columns: &[ColumnSpec],
    targets: &[Option<TargetColumn>],
    rows: &Rows,
    limits: Limits,
    key: &[usize],
) -> Plan {
    let n = columns.len();
    let (mut types, mut convs, mut casts) =
        (Vec::with_capacity(n), Vec::with_capacity(n), vec![None; n]);
    let mut row_bytes = 0usize;
    let mut refused: Vec<Option<RejectNote>> = vec![None; rows.len()];
    let mut scratch = String::new();
    for (j, c) in columns.iter().enumerate() {
        let target = targets.get(j).and_then(Option::as_ref);
        let kind = target.and_then(TargetColumn::kind);
        let as_text = match kind {
            Some(k) => k.is_text(),
            None => matches!(c.ty, ColumnType::Text { .. }),
        };
        if !as_text {
            let (ty, conv) = typed_bind(c.ty, kind);
            row_bytes += fixed_bytes(&ty);
            types.push(ty);
            convs.push(conv);
            continue;
        }
        let (chars, bytes) = text_extent(rows, j, target, &c.name, &mut refused, &mut scratch);
        let (ty, cast) = text_type(kind, chars, bytes);
        row_bytes += match &ty {
            OracleType::Varchar2(n)
            | OracleType::NVarchar2(n)
            | OracleType::Char(n)
            | OracleType::NChar(n) => *n as usize * 4 + 8,
            // A LOB locator; the value itself is written to the server
            // before the execute: counted so that a chunk stays bounded.
            _ => bytes + 8,
        };
        if cast {
            casts[j] = target.and_then(TargetColumn::char_decl);
        }
        types.push(ty);
        convs.push(Conv::Text);
    }
    let mut send = Vec::with_capacity(rows.len());
    let mut rejects = Vec::new();
    for (i, origin) in rows.origins.iter().enumerate() {
        let note = refused[i]
            .take()
            .or_else(|| null_key(rows, i, columns, key, *origin))
            .or_else(|| unbindable(rows, i, columns, &convs, *origin));
        match note {
            Some(note) => rejects.push(note),
            None => send.push(i),
        }
    }
    let row_bytes = row_bytes.max(1);
    let chunk_rows = (limits.bytes / row_bytes).clamp(1, limits.rows.max(1));
    Plan {
        chunk_rows: chunk_rows.min(send.len().max(1)),
        types,
        convs,
        casts,
        row_bytes,
        send,
        rejects,
    }
}

/// The longest text of column `j` (typed cells as their text) in
/// characters and bytes, among the texts that fit the target; rows whose
/// text is longer than the target column are refused here (first such
/// column only), so one oversized value cannot blow up every row's buffer.
fn text_extent(
    rows: &Rows,
    j: usize,
    target: Option<&TargetColumn>,
    column: &str,
    refused: &mut [Option<RejectNote>],
    scratch: &mut String,
) -> (u32, usize) {
    let limit = target
        .filter(|t| {
            t.kind()
                .is_some_and(|k| k.is_text() && !matches!(k, Kind::Clob | Kind::NClob))
        })
        .map(|t| t.char_length)
        .filter(|&n| n > 0);
    let (mut chars, mut bytes) = (0u32, 0usize);
    for (i, mark) in refused.iter_mut().enumerate() {
        let text = match text_of(&rows.row(i)[j], rows, scratch) {
            Some(t) => t,
            None => continue,
        };
        let n = text.chars().count() as u32;
        match limit {
            Some(max) if n > max => {
                if mark.is_none() {
                    *mark = Some(note(
                        rows.origins[i],
                        Some(column.to_string()),
                        "too_long",
                        format!(
                            "value too large for column \"{column}\" (actual: {n}, maximum: {max} characters)"
                        ),
                    ));
                }
            }
            _ => {
                chars = chars.max(n);
                bytes = bytes.max(text.len());
            }
        }
    }
    (chars.max(1), bytes)
}

/// A cell as text for a character column (`None` for NULL).
fn text_of<'a>(cell: &Cell, rows: &'a Rows, scratch: &'a mut String) -> Option<&'a str> {
    match *cell {
        Cell::Null => None,
        Cell::Text { start, len } => Some(rows.text_of(start, len)),
        Cell::Decimal { mantissa, scale } => {
            let mut buf = [0u8; DECIMAL_TEXT_BUF];
            scratch.clear();
            scratch.push_str(decimal_text(&mut buf, mantissa, scale));
            Some(scratch)
        }
        other => {
            scratch.clear();
            display(scratch, &other);
            Some(scratch)
        }
    }
}

/// An upsert row whose key has a NULL (or an empty text, which Oracle
/// stores as NULL): a MERGE never matches it, so every load would add it
/// again. Refused before sending.
fn null_key(
    rows: &Rows,
    i: usize,
    columns: &[ColumnSpec],
    key: &[usize],
    origin: RowOrigin,
) -> Option<RejectNote> {
    let row = rows.row(i);
    let j = *key.iter().find(|&&j| match row[j] {
        Cell::Null => true,
        Cell::Text { len, .. } => len == 0,
        _ => false,
    })?;
    let name = &columns[j].name;
    Some(note(
        origin,
        Some(name.clone()),
        "null_key",
        format!(
            "{name}: the upsert key is NULL (or empty, which Oracle stores as NULL): no row \
             could ever match it"
        ),
    ))
}

/// A row with a value that cannot be converted for its column (text that
/// is not a number for a NUMBER column, a date outside 4712 BC..9999 AD),
/// found before anything is sent.
fn unbindable(
    rows: &Rows,
    i: usize,
    columns: &[ColumnSpec],
    convs: &[Conv],
    origin: RowOrigin,
) -> Option<RejectNote> {
    rows.row(i).iter().enumerate().find_map(|(j, cell)| {
        value(cell, rows, convs[j], &columns[j].name)
            .err()
            .map(|bad| note(origin, Some(columns[j].name.clone()), bad.code, bad.reason))
    })
}

pub fn note(origin: RowOrigin, column: Option<String>, code: &str, reason: String) -> RejectNote {
    RejectNote {
        offset: origin.offset,
        len: u64::from(origin.len),
        line: origin.line,
        records: 1,
        column,
        code: code.to_string(),
        reason,
    }
}

/// One cell, ready to bind with the column's planned type.
#[derive(Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    /// `mantissa * 10^-scale`, bound as exact decimal text into a NUMBER.
    Decimal {
        mantissa: i128,
        scale: u8,
    },
    /// A decimal made from text (`values::number`).
    Number(NumText),
    Text(&'a str),
    /// A typed value's text, for a character column.
    Owned(String),
    Time(Timestamp),
}

/// The value of a cell converted by `conv` for column `column`.
pub fn value<'a>(cell: &Cell, rows: &'a Rows, conv: Conv, column: &str) -> Result<Value<'a>, Bad> {
    use chrono::{Datelike, NaiveDateTime, Timelike};
    let ts = |t: NaiveDateTime| {
        // A leap second (nanos >= 1e9) is folded into the second before it.
        let ns = t.nanosecond().min(999_999_999);
        Timestamp::new(
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            ns,
        )
        .map(Value::Time)
        .map_err(|_| Bad {
            code: "out_of_range",
            reason: format!(
                "{column}: {} is outside Oracle's dates (4712 BC to 9999 AD)",
                t.date()
            ),
        })
    };
    match (conv, *cell) {
        (_, Cell::Null) => return Ok(Value::Null),
        // Oracle's empty string is NULL, in a NUMBER or DATE column too.
        (Conv::Number | Conv::Float | Conv::Time { .. }, Cell::Text { len: 0, .. }) => {
            return Ok(Value::Null);
        }
        _ => {}
    }
    match (conv, *cell) {
        (Conv::Number, Cell::Text { start, len }) => {
            values::number(column, rows.text_of(start, len)).map(Value::Number)
        }
        (Conv::Float, Cell::Text { start, len }) => {
            values::float(column, rows.text_of(start, len)).map(Value::Float)
        }
        (Conv::Time { whole_seconds }, Cell::Text { start, len }) => ts(values::time(
            column,
            rows.text_of(start, len),
            whole_seconds,
        )?),
        (_, Cell::Text { start, len }) => Ok(Value::Text(rows.text_of(start, len))),
        (Conv::Text, other) => {
            let mut s = String::new();
            Ok(Value::Owned(
                text_of(&other, rows, &mut s).unwrap_or("").to_string(),
            ))
        }
        (_, Cell::Int(v)) => Ok(Value::Int(v)),
        (_, Cell::Bool(b)) => Ok(Value::Int(i64::from(b))),
        (_, Cell::Float(v)) => Ok(Value::Float(v)),
        (_, Cell::Decimal { mantissa, scale }) => Ok(Value::Decimal { mantissa, scale }),
        (_, Cell::Date(d)) => ts(d.and_time(chrono::NaiveTime::MIN)),
        (_, Cell::Timestamp(t) | Cell::TimestampTz(t)) => ts(t),
        (_, Cell::Null) => Ok(Value::Null),
    }
}

impl ToSql for Value<'_> {
    /// Used by the crate only for a column whose type was not set; every
    /// column's type is set from the plan first, so this is a fallback that
    /// still never says NVARCHAR2.
    fn oratype(&self, _conn: &Connection) -> oracle::Result<OracleType> {
        Ok(match self {
            Value::Null => OracleType::Varchar2(1),
            Value::Text(s) => OracleType::Varchar2(s.chars().count().max(1) as u32),
            Value::Owned(s) => OracleType::Varchar2(s.chars().count().max(1) as u32),
            Value::Int(_) => OracleType::Int64,
            Value::Float(_) => OracleType::BinaryDouble,
            Value::Decimal { .. } | Value::Number(_) => OracleType::Number(0, 0),
            Value::Time(_) => OracleType::Timestamp(9),
        })
    }

    fn to_sql(&self, val: &mut SqlValue) -> oracle::Result<()> {
        match self {
            Value::Null => val.set_null(),
            Value::Int(v) => val.set(v),
            Value::Float(v) => val.set(v),
            Value::Decimal { mantissa, scale } => {
                let mut buf = [0u8; DECIMAL_TEXT_BUF];
                val.set(&decimal_text(&mut buf, *mantissa, *scale))
            }
            Value::Number(n) => val.set(&n.as_str()),
            Value::Text(s) => val.set(s),
            Value::Owned(s) => val.set(&s.as_str()),
            Value::Time(t) => val.set(t),
        }
    }
}

#[cfg(test)]
#[path = "tests/bind.rs"]
mod tests;
