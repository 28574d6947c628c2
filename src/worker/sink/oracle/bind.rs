//! Binding a batch for Oracle array DML: the bind type of each column (so
//! nothing binds as NVARCHAR2 by accident and texts fit their column), the
//! bind-buffer bytes of a row, how many rows go in one `execute()` (capped by
//! rows and by bytes: ODPI-C refuses buffers over 2 GiB with DPI-1015, and a
//! worker should not hold hundreds of MiB for one batch), and each cell as a
//! value the `oracle` crate can bind. Owns no connection and runs no SQL.

use oracle::sql_type::{OracleType, Timestamp, ToSql};
use oracle::{Connection, SqlValue};

use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnSpec, ColumnType, DECIMAL_TEXT_BUF, Rows, decimal_text};
use crate::protocol::RejectNote;

use super::sql::VARCHAR2_MAX_BYTES;

/// A target column as the data dictionary describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    /// `VARCHAR2`, `NUMBER`, `CLOB`, `TIMESTAMP(6)`...
    pub data_type: String,
    /// Maximum characters for character types, 0 for others.
    pub char_length: u32,
}

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

/// How one batch is bound: a type per column, the rows to send (the others
/// were refused here, with a note each), and the rows per `execute()`.
#[derive(Debug)]
pub struct Plan {
    pub types: Vec<OracleType>,
    /// Bind-buffer bytes of one row (ODPI-C allocates these per array row).
    pub row_bytes: usize,
    pub chunk_rows: usize,
    /// Indices into `Rows` of the rows to send, in order.
    pub send: Vec<usize>,
    pub rejects: Vec<RejectNote>,
}

/// ODPI-C's buffers for a VARCHAR2(n) bind: rust-oracle rounds `n` up to a
/// power of two (at least 64), and ODPI-C allocates 4 bytes a character
/// (AL32UTF8's maximum).
fn varchar_bytes(chars: u32) -> usize {
    (chars.max(64).next_power_of_two() as usize) * 4
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

/// Plans the binds of `rows` into `columns`, whose targets (same order) the
/// dictionary described (`None`: not known, as when a table was just created).
pub fn plan(
    columns: &[ColumnSpec],
    targets: &[Option<TargetColumn>],
    rows: &Rows,
    limits: Limits,
) -> Plan {
    let mut types = Vec::with_capacity(columns.len());
    let mut row_bytes = 0usize;
    let mut too_long: Vec<Option<(usize, u32)>> = vec![None; rows.len()];
    for (j, c) in columns.iter().enumerate() {
        let target = targets.get(j).and_then(Option::as_ref);
        let ty = match c.ty {
            ColumnType::Int | ColumnType::BigInt | ColumnType::Bool => OracleType::Int64,
            ColumnType::Float => OracleType::BinaryDouble,
            ColumnType::Decimal { precision, scale } => OracleType::Number(precision, scale as i8),
            ColumnType::Date => OracleType::Date,
            ColumnType::Timestamp => OracleType::Timestamp(9),
            ColumnType::Text { .. } => {
                let (chars, bytes) = text_extent(rows, j, target, &mut too_long);
                let ty = text_type(target, chars, bytes);
                row_bytes += match &ty {
                    OracleType::Varchar2(n) | OracleType::NVarchar2(n) => varchar_bytes(*n),
                    // LOBs bind as LONG with a dynamic buffer: the data itself.
                    _ => bytes + 8,
                };
                types.push(ty);
                continue;
            }
        };
        row_bytes += fixed_bytes(&ty);
        types.push(ty);
    }
    let mut send = Vec::with_capacity(rows.len());
    let mut rejects = Vec::new();
    for (i, origin) in rows.origins.iter().enumerate() {
        let refused = match too_long[i] {
            Some((j, max)) => Some(too_long_note(*origin, &columns[j].name, rows, i, j, max)),
            None => unbindable(rows, i, columns, *origin),
        };
        match refused {
            Some(note) => rejects.push(note),
            None => send.push(i),
        }
    }
    let row_bytes = row_bytes.max(1);
    let chunk_rows = (limits.bytes / row_bytes).clamp(1, limits.rows.max(1));
    Plan {
        chunk_rows: chunk_rows.min(send.len().max(1)),
        types,
        row_bytes,
        send,
        rejects,
    }
}

/// The longest text of column `j` in characters and bytes, among the texts
/// that fit the target; rows whose text is longer than the target column
/// are marked (first such column only) to be refused here, so one oversized
/// value cannot blow up every row's bind buffer.
fn text_extent(
    rows: &Rows,
    j: usize,
    target: Option<&TargetColumn>,
    too_long: &mut [Option<(usize, u32)>],
) -> (u32, usize) {
    let limit = target
        .filter(|t| is_char_type(&t.data_type) && t.char_length > 0)
        .map(|t| t.char_length);
    let (mut chars, mut bytes) = (0u32, 0usize);
    for (i, mark) in too_long.iter_mut().enumerate() {
        if let Cell::Text { start, len } = rows.row(i)[j] {
            let text = rows.text_of(start, len);
            let n = text.chars().count() as u32;
            match limit {
                Some(max) if n > max => {
                    mark.get_or_insert((j, max));
                }
                _ => {
                    chars = chars.max(n);
                    bytes = bytes.max(text.len());
                }
            }
        }
    }
    (chars.max(1), bytes)
}

fn is_char_type(t: &str) -> bool {
    matches!(t, "VARCHAR2" | "VARCHAR" | "CHAR" | "NVARCHAR2" | "NCHAR")
}

/// The bind type of a text column: what its target column is (VARCHAR2,
/// NVARCHAR2 on purpose for national columns, CLOB/NCLOB for LOBs), sized
/// to the longest value; for other targets (a NUMBER or DATE column loaded
/// from text, or unknown), VARCHAR2 up to 4000 bytes, CLOB above.
pub fn text_type(target: Option<&TargetColumn>, chars: u32, bytes: usize) -> OracleType {
    match target.map(|t| t.data_type.as_str()) {
        Some("VARCHAR2" | "VARCHAR" | "CHAR") => OracleType::Varchar2(chars),
        Some("NVARCHAR2" | "NCHAR") => OracleType::NVarchar2(chars),
        Some("CLOB" | "LONG") => OracleType::CLOB,
        Some("NCLOB") => OracleType::NCLOB,
        _ if bytes <= VARCHAR2_MAX_BYTES => OracleType::Varchar2(chars),
        _ => OracleType::CLOB,
    }
}

fn too_long_note(
    origin: RowOrigin,
    column: &str,
    rows: &Rows,
    i: usize,
    j: usize,
    max: u32,
) -> RejectNote {
    let actual = match rows.row(i)[j] {
        Cell::Text { start, len } => rows.text_of(start, len).chars().count(),
        _ => 0,
    };
    note(
        origin,
        Some(column.to_string()),
        "too_long",
        format!(
            "value too large for column \"{column}\" (actual: {actual}, maximum: {max} characters)"
        ),
    )
}

/// A row with a value Oracle cannot hold (a date outside 4712 BC..9999 AD),
/// found before anything is sent.
fn unbindable(
    rows: &Rows,
    i: usize,
    columns: &[ColumnSpec],
    origin: RowOrigin,
) -> Option<RejectNote> {
    rows.row(i).iter().enumerate().find_map(|(j, cell)| {
        value(cell, rows)
            .err()
            .map(|why| note(origin, Some(columns[j].name.clone()), "out_of_range", why))
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
    Text(&'a str),
    Time(Timestamp),
}

/// The value of a cell; an error for dates Oracle cannot store.
pub fn value<'a>(cell: &Cell, rows: &'a Rows) -> Result<Value<'a>, String> {
    use chrono::{Datelike, Timelike};
    let ts = |d: chrono::NaiveDate, h, m, s, ns| {
        Timestamp::new(d.year(), d.month(), d.day(), h, m, s, ns)
            .map(Value::Time)
            .map_err(|_| format!("{d} is outside Oracle's dates (4712 BC to 9999 AD)"))
    };
    Ok(match *cell {
        Cell::Null => Value::Null,
        Cell::Int(v) => Value::Int(v),
        Cell::Bool(b) => Value::Int(i64::from(b)),
        Cell::Float(v) => Value::Float(v),
        Cell::Decimal { mantissa, scale } => Value::Decimal { mantissa, scale },
        Cell::Text { start, len } => Value::Text(rows.text_of(start, len)),
        Cell::Date(d) => ts(d, 0, 0, 0, 0)?,
        // A leap second (nanos >= 1e9) is folded into the second before it.
        Cell::Timestamp(t) => ts(
            t.date(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond().min(999_999_999),
        )?,
    })
}

impl ToSql for Value<'_> {
    /// Used by the crate only for a column whose type was not set; every
    /// column's type is set from the plan first, so this is a fallback that
    /// still never says NVARCHAR2.
    fn oratype(&self, _conn: &Connection) -> oracle::Result<OracleType> {
        Ok(match self {
            Value::Null | Value::Text(_) => OracleType::Varchar2(self.text_chars().max(1)),
            Value::Int(_) => OracleType::Int64,
            Value::Float(_) => OracleType::BinaryDouble,
            Value::Decimal { .. } => OracleType::Number(0, 0),
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
            Value::Text(s) => val.set(s),
            Value::Time(t) => val.set(t),
        }
    }
}

impl Value<'_> {
    fn text_chars(&self) -> u32 {
        match self {
            Value::Text(s) => s.chars().count() as u32,
            _ => 0,
        }
    }
}

#[cfg(test)]
#[path = "tests/bind.rs"]
mod tests;
