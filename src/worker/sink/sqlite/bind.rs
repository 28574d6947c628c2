//! Turning one typed row into SQLite bind values, and one refused row into a
//! reject note. Owns which SQLite type each cell is bound as (decimals as
//! REAL where the column's affinity stores the same value, else text; dates
//! and timestamps as text; bools as 0/1); must not begin, commit or roll
//! back anything.
//!
//! Hot path: a row is bound with no heap allocation of ours. Text is borrowed
//! from `Rows::text`; other text forms come from `text::Scratch`, a stack
//! buffer that SQLite copies at bind time.

use rusqlite::Statement;
use rusqlite::types::Null;

use super::classify::{code_name, extended_code};
use super::text::{Scratch, decimal_as_real};
use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnSpec, Rows};
use crate::protocol::RejectNote;

/// Binds row `i` of `rows` to parameters `first..first + width` of `stmt`
/// (a multi-row statement binds row after row). `real_ok[j]`: column `j`
/// may take a decimal as REAL (see `text::decimal_as_real`); binding a
/// double is cheaper than SQLite parsing the text back into one.
pub fn bind_row(
    stmt: &mut Statement<'_>,
    rows: &Rows,
    i: usize,
    first: usize,
    real_ok: &[bool],
    scratch: &mut Scratch,
) -> rusqlite::Result<()> {
    for (j, cell) in rows.row(i).iter().enumerate() {
        let at = first + j;
        match *cell {
            Cell::Null => stmt.raw_bind_parameter(at, Null)?,
            Cell::Int(v) => stmt.raw_bind_parameter(at, v)?,
            Cell::Float(v) => stmt.raw_bind_parameter(at, v)?,
            Cell::Decimal { mantissa, scale } => {
                match decimal_as_real(mantissa, scale).filter(|_| real_ok[j]) {
                    Some(v) => stmt.raw_bind_parameter(at, v)?,
                    None => stmt.raw_bind_parameter(at, scratch.decimal(mantissa, scale))?,
                }
            }
            Cell::Text { start, len } => stmt.raw_bind_parameter(at, rows.text_of(start, len))?,
            Cell::Bool(b) => stmt.raw_bind_parameter(at, i64::from(b))?,
            Cell::Date(d) => stmt.raw_bind_parameter(at, scratch.date(&d)?)?,
            Cell::Timestamp(t) => stmt.raw_bind_parameter(at, scratch.timestamp(&t)?)?,
            Cell::TimestampTz(t) => stmt.raw_bind_parameter(at, scratch.instant(&t)?)?,
        }
    }
    Ok(())
}

/// The reject note for a row SQLite refused (a data-class error).
pub fn reject_note(e: &rusqlite::Error, origin: RowOrigin, columns: &[ColumnSpec]) -> RejectNote {
    let reason = match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        other => other.to_string(),
    };
    RejectNote {
        offset: origin.offset,
        len: u64::from(origin.len),
        line: origin.line,
        records: 1,
        column: column_in_message(&reason, columns),
        code: extended_code(e)
            .map_or("SQLITE_MISUSE", code_name)
            .to_string(),
        reason,
    }
}

/// The configured column(s) SQLite's message names. Its messages end in
/// `table.column` (`NOT NULL constraint failed: t.c`, `UNIQUE constraint
/// failed: t.a, t.b`, `cannot store TEXT value in INTEGER column t.c`);
/// CHECK names its constraint or expression, which names no column here.
fn column_in_message(msg: &str, columns: &[ColumnSpec]) -> Option<String> {
    let tail = msg
        .rsplit_once(": ")
        .or_else(|| msg.rsplit_once(' '))
        .map_or(msg, |(_, t)| t);
    let mut found: Vec<&str> = Vec::new();
    for part in tail.split(", ") {
        let named = columns.iter().find(|c| {
            let n = c.name.len();
            part.len() > n
                && part.is_char_boundary(part.len() - n)
                && part[part.len() - n..].eq_ignore_ascii_case(&c.name)
                && part.as_bytes()[part.len() - n - 1] == b'.'
        });
        found.extend(named.map(|c| c.name.as_str()));
    }
    (!found.is_empty()).then(|| found.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_named_in_messages() {
        let cols = [
            ColumnSpec::text("id"),
            ColumnSpec::text("Code"),
            ColumnSpec::text("d"),
        ];
        let col = |m: &str| column_in_message(m, &cols);
        assert_eq!(
            col("NOT NULL constraint failed: t.code").as_deref(),
            Some("Code")
        );
        assert_eq!(
            col("UNIQUE constraint failed: t.id, t.code").as_deref(),
            Some("id, Code")
        );
        assert_eq!(
            col("cannot store TEXT value in INTEGER column t.id").as_deref(),
            Some("id")
        );
        assert_eq!(col("CHECK constraint failed: amount >= 0"), None);
        assert_eq!(col("CHECK constraint failed: d > 0"), None);
        assert_eq!(col("datatype mismatch"), None);
    }
}
