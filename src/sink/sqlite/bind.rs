//! Turning one typed row into SQLite bind values, and one refused row into a
//! reject note. Owns the value encodings (decimal text, date and timestamp
//! text, bools as 0/1); must not begin, commit or roll back anything.
//!
//! Hot path: a row is bound with no heap allocation of ours. Text is borrowed
//! from `Rows::text`; decimals, dates and timestamps are formatted into one
//! stack buffer that SQLite copies at bind time.

use std::fmt::Write as _;

use rusqlite::Statement;
use rusqlite::types::Null;

use super::classify::{code_name, extended_code};
use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnSpec, Rows};
use crate::protocol::RejectNote;

/// Room for any decimal: `-0.` + up to 255 scale digits, or `-` + 39 digits
/// + `.`; and for any chrono date or timestamp.
const BUF: usize = 272;

/// A stack buffer for the text of one value at a time.
pub struct Scratch {
    buf: [u8; BUF],
    len: usize,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            buf: [0; BUF],
            len: 0,
        }
    }
}

impl std::fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Scratch {
    /// `value`'s `Display` text (chrono's: `2024-02-29`,
    /// `2024-02-29 10:11:12.345`, fraction only when non-zero, in groups of 3).
    fn display(&mut self, value: &dyn std::fmt::Display) -> rusqlite::Result<&str> {
        self.len = 0;
        write!(self, "{value}")
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        std::str::from_utf8(&self.buf[..self.len])
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }

    /// `mantissa * 10^-scale` as exact canonical text: `-12.50`, `0.005`,
    /// `146`. Bound as text so the column's affinity decides the storage
    /// (NUMERIC keeps `146.00` as integer 146, `12.50` as real 12.5) and a
    /// TEXT column keeps every digit.
    pub fn decimal(&mut self, mantissa: i128, scale: u8) -> &str {
        let scale = usize::from(scale);
        let mut m = mantissa.unsigned_abs();
        let mut pos = BUF;
        let mut digits = 0;
        loop {
            if digits == scale && scale > 0 {
                pos -= 1;
                self.buf[pos] = b'.';
            }
            pos -= 1;
            self.buf[pos] = b'0' + (m % 10) as u8;
            m /= 10;
            digits += 1;
            if m == 0 && digits > scale {
                break;
            }
        }
        if mantissa < 0 {
            pos -= 1;
            self.buf[pos] = b'-';
        }
        std::str::from_utf8(&self.buf[pos..]).expect("only ASCII digits, '.' and '-' written")
    }
}

/// Binds row `i` of `rows` to parameters 1..=width of `stmt`.
pub fn bind_row(
    stmt: &mut Statement<'_>,
    rows: &Rows,
    i: usize,
    scratch: &mut Scratch,
) -> rusqlite::Result<()> {
    for (j, cell) in rows.row(i).iter().enumerate() {
        let at = j + 1;
        match *cell {
            Cell::Null => stmt.raw_bind_parameter(at, Null)?,
            Cell::Int(v) => stmt.raw_bind_parameter(at, v)?,
            Cell::Float(v) => stmt.raw_bind_parameter(at, v)?,
            Cell::Decimal { mantissa, scale } => {
                stmt.raw_bind_parameter(at, scratch.decimal(mantissa, scale))?
            }
            Cell::Text { start, len } => stmt.raw_bind_parameter(at, rows.text_of(start, len))?,
            Cell::Bool(b) => stmt.raw_bind_parameter(at, i64::from(b))?,
            Cell::Date(d) => stmt.raw_bind_parameter(at, scratch.display(&d)?)?,
            Cell::Timestamp(t) => stmt.raw_bind_parameter(at, scratch.display(&t)?)?,
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
    use chrono::NaiveDate;

    #[test]
    fn decimal_text_is_exact_and_canonical() {
        let mut s = Scratch::default();
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
            assert_eq!(s.decimal(m, scale), want, "{m} e-{scale}");
        }
        assert_eq!(
            s.decimal(i128::MIN, 38),
            "-1.70141183460469231731687303715884105728"
        );
        let tiny = s.decimal(1, 255);
        assert_eq!(tiny.len(), 257);
        assert!(tiny.starts_with("0.000") && tiny.ends_with("01"));
    }

    #[test]
    fn dates_and_timestamps_as_text() {
        let mut s = Scratch::default();
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
        assert_eq!(s.display(&d).expect("fmt"), "2024-02-29");
        let t = d.and_hms_milli_opt(10, 11, 12, 345).expect("ts");
        assert_eq!(s.display(&t).expect("fmt"), "2024-02-29 10:11:12.345");
        let t = d.and_hms_opt(0, 0, 1).expect("ts");
        assert_eq!(s.display(&t).expect("fmt"), "2024-02-29 00:00:01");
        let t = d.and_hms_micro_opt(0, 0, 1, 5).expect("ts");
        assert_eq!(s.display(&t).expect("fmt"), "2024-02-29 00:00:01.000005");
    }

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
