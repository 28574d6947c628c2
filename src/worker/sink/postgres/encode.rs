//! Rows -> PostgreSQL's binary COPY format, in the binary form of each target
//! column's own type (binary COPY has no implicit casts: an int4 sent to a
//! bigint column is an error).
//!
//! Owns the target type set (`PgType`), which job column types can feed
//! which target types, and each value's encoding. A value that cannot be
//! encoded for its column (text that is not a number, an int beyond
//! smallint) becomes a reject here, with a code in the parser's style.
//! Must not talk to the server: `copy.rs` sends what this builds.
//!
//! Every tuple is encoded once, back to back in one buffer, so a failed COPY
//! can be retried on any contiguous run of tuples without encoding again.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::numeric::{self, Decimal};
use super::values::{boolean, epoch, float, micros, timestamp};
use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnType, DECIMAL_TEXT_BUF, Rows, decimal_text, display};
use crate::protocol::RejectNote;

/// `PGCOPY\n\xff\r\n\0`, flags, header extension length.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// A field count of -1 ends the data.
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// The target column types the sink writes, by their base type's OID (a
/// domain is written as its base type; the server checks the domain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
    /// text, varchar(n), char(n), name: UTF-8 bytes (the server checks lengths).
    Text,
    Json,
    Jsonb,
    Date,
    Timestamp,
    /// A local time written into timestamptz is taken as UTC.
    TimestampTz,
}

pub const SUPPORTED: &str = "smallint, integer, bigint, numeric, real, double precision, text, \
     varchar, char, name, json, jsonb, boolean, date, timestamp, timestamptz";

impl PgType {
    pub fn from_oid(oid: u32) -> Option<PgType> {
        Some(match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            1700 => PgType::Numeric,
            700 => PgType::Float4,
            701 => PgType::Float8,
            25 | 1043 | 1042 | 19 => PgType::Text,
            114 => PgType::Json,
            3802 => PgType::Jsonb,
            1082 => PgType::Date,
            1114 => PgType::Timestamp,
            1184 => PgType::TimestampTz,
            _ => return None,
        })
    }

    /// Whether values of a job column of type `ty` can ever be written here.
    /// Text can (it is parsed value by value); a date into an integer cannot.
    pub fn accepts(self, ty: ColumnType) -> bool {
        use ColumnType as C;
        use PgType as P;
        matches!(
            (ty, self),
            (C::Text { .. }, _)
                | (_, P::Text)
                | (
                    C::Int | C::BigInt | C::Decimal { .. },
                    P::Int2 | P::Int4 | P::Int8 | P::Numeric | P::Float4 | P::Float8
                )
                | (C::Float, P::Numeric | P::Float4 | P::Float8)
                | (
                    C::Int | C::BigInt | C::Decimal { .. } | C::Float | C::Bool,
                    P::Json | P::Jsonb
                )
                | (C::Bool, P::Bool)
                | (C::Date, P::Date | P::Timestamp | P::TimestampTz)
                | (C::Timestamp, P::Timestamp | P::TimestampTz)
                | (C::TimestampTz, P::TimestampTz)
        )
    }
}

/// The encoded tuples of one batch.
#[derive(Default)]
pub struct Encoded {
    /// Tuples back to back, without header or trailer.
    pub buf: Vec<u8>,
    /// End offset in `buf` of each tuple.
    pub ends: Vec<usize>,
    /// The row (index into `Rows`) of each tuple.
    pub rows: Vec<usize>,
    /// Rows that could not be encoded.
    pub rejects: Vec<RejectNote>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of tuples `[a, b)`.
    pub fn tuples(&self, a: usize, b: usize) -> &[u8] {
        let start = if a == 0 { 0 } else { self.ends[a - 1] };
        &self.buf[start..self.ends[b - 1]]
    }
}

/// Why one value could not be encoded: a reject code and reason.
struct Bad {
    code: &'static str,
    reason: String,
}

/// Reused buffers for encoding batches.
#[derive(Default)]
pub struct Encoder {
    text: String,
    digits: Vec<u8>,
    groups: Vec<u16>,
    /// The last batch's `Encoded`, given back: its buffers are reused.
    spare: Option<Encoded>,
}

/// What the encoder needs to know about one target column.
pub struct Target<'a> {
    /// The column's name as the job spells it (for reasons).
    pub name: &'a str,
    pub ty: PgType,
}

impl Encoder {
    /// Takes back a batch's `Encoded` once it is written, for the next.
    pub fn recycle(&mut self, done: Encoded) {
        self.spare = Some(done);
    }

    /// Encodes every row of `rows` for `targets` (one per cell of a row);
    /// with `ordinal`, each tuple gets one more int4 field: its own index
    /// among the encoded tuples (the upsert's "last one wins" order).
    pub fn encode(&mut self, rows: &Rows, targets: &[Target<'_>], ordinal: bool) -> Encoded {
        let mut out = self.spare.take().unwrap_or_default();
        out.buf.clear();
        out.ends.clear();
        out.rows.clear();
        out.rejects.clear();
        out.buf.reserve(rows.text.len() + rows.cells.len() * 8);
        out.ends.reserve(rows.len());
        out.rows.reserve(rows.len());
        let fields = (targets.len() + usize::from(ordinal)) as i16;
        for (i, origin) in rows.origins.iter().enumerate() {
            let start = out.buf.len();
            out.buf.extend_from_slice(&fields.to_be_bytes());
            let mut failed = None;
            for (cell, target) in rows.row(i).iter().zip(targets) {
                if let Err(bad) = self.field(&mut out.buf, cell, target, rows) {
                    failed = Some((bad, target.name));
                    break;
                }
            }
            if let Some((bad, column)) = failed {
                out.buf.truncate(start);
                out.rejects.push(reject(*origin, column, bad));
                continue;
            }
            if ordinal {
                let n = out.ends.len() as i32;
                out.buf.extend_from_slice(&4i32.to_be_bytes());
                out.buf.extend_from_slice(&n.to_be_bytes());
            }
            out.ends.push(out.buf.len());
            out.rows.push(i);
        }
        out
    }

    /// One field: its length word, then its payload.
    fn field(
        &mut self,
        out: &mut Vec<u8>,
        cell: &Cell,
        t: &Target<'_>,
        rows: &Rows,
    ) -> Result<(), Bad> {
        if let Cell::Null = cell {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        self.payload(out, cell, t, rows)?;
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    fn payload(
        &mut self,
        out: &mut Vec<u8>,
        cell: &Cell,
        t: &Target<'_>,
        rows: &Rows,
    ) -> Result<(), Bad> {
        let bad = |code: &'static str, what: String| Bad {
            code,
            reason: format!("{}: {what}", t.name),
        };
        let text_of = |start, len| rows.text_of(start, len);
        match (t.ty, *cell) {
            (PgType::Bool, Cell::Bool(b)) => out.push(u8::from(b)),
            (PgType::Bool, Cell::Text { start, len }) => {
                let s = text_of(start, len);
                let v =
                    boolean(s).ok_or_else(|| bad("bad_bool", format!("{s:?} is not a boolean")))?;
                out.push(u8::from(v));
            }
            (PgType::Int2 | PgType::Int4 | PgType::Int8, c) => {
                let v = match c {
                    Cell::Int(v) => v,
                    Cell::Decimal { mantissa, scale } => {
                        let p = 10i128.pow(u32::from(scale));
                        if mantissa % p != 0 {
                            let shown = self.decimal_text(mantissa, scale).to_string();
                            return Err(bad(
                                "bad_int",
                                format!("{shown} has decimals; the column is an integer"),
                            ));
                        }
                        i64::try_from(mantissa / p)
                            .map_err(|_| bad("out_of_range", "is out of range for bigint".into()))?
                    }
                    Cell::Text { start, len } => {
                        let s = text_of(start, len);
                        s.parse::<i64>()
                            .map_err(|_| bad("bad_int", format!("{s:?} is not an integer")))?
                    }
                    _ => return Err(mismatch(t)),
                };
                match t.ty {
                    PgType::Int2 => match i16::try_from(v) {
                        Ok(v) => out.extend_from_slice(&v.to_be_bytes()),
                        Err(_) => {
                            return Err(bad(
                                "out_of_range",
                                format!("{v} is out of range for smallint"),
                            ));
                        }
                    },
                    PgType::Int4 => match i32::try_from(v) {
                        Ok(v) => out.extend_from_slice(&v.to_be_bytes()),
                        Err(_) => {
                            return Err(bad(
                                "out_of_range",
                                format!("{v} is out of range for integer"),
                            ));
                        }
                    },
                    _ => out.extend_from_slice(&v.to_be_bytes()),
                }
            }
            (PgType::Numeric, c) => {
                let mut buf = [0u8; 40];
                let value = match c {
                    Cell::Int(v) => Decimal::Finite {
                        neg: v < 0,
                        digits: numeric::mantissa_digits(i128::from(v), &mut buf),
                        scale: 0,
                    },
                    Cell::Decimal { mantissa, scale } => Decimal::Finite {
                        neg: mantissa < 0,
                        digits: numeric::mantissa_digits(mantissa, &mut buf),
                        scale: usize::from(scale),
                    },
                    Cell::Float(f) => {
                        self.text.clear();
                        let _ = write!(self.text, "{f}");
                        numeric::parse(&self.text, &mut self.digits)
                            .map_err(|_| bad("bad_decimal", format!("{f} is not a number")))?
                    }
                    Cell::Text { start, len } => {
                        let s = text_of(start, len);
                        numeric::parse(s, &mut self.digits).map_err(|e| match e {
                            numeric::TextErr::Syntax => {
                                bad("bad_decimal", format!("{s:?} is not a number"))
                            }
                            numeric::TextErr::Range => {
                                bad("out_of_range", format!("{s:?} is out of range for numeric"))
                            }
                        })?
                    }
                    _ => return Err(mismatch(t)),
                };
                numeric::push(out, &value, &mut self.groups);
            }
            (PgType::Float4 | PgType::Float8, c) => {
                let v = match c {
                    Cell::Float(f) => f,
                    Cell::Int(v) => v as f64,
                    Cell::Decimal { mantissa, scale } => {
                        let s = self.decimal_text(mantissa, scale);
                        s.parse::<f64>()
                            .map_err(|_| bad("bad_float", format!("{s} is not a float")))?
                    }
                    Cell::Text { start, len } => {
                        let s = text_of(start, len);
                        float(s).ok_or_else(|| bad("bad_float", format!("{s:?} is not a float")))?
                    }
                    _ => return Err(mismatch(t)),
                };
                match t.ty {
                    PgType::Float4 => out.extend_from_slice(&(v as f32).to_be_bytes()),
                    _ => out.extend_from_slice(&v.to_be_bytes()),
                }
            }
            (PgType::Text | PgType::Json | PgType::Jsonb, c) => {
                if t.ty == PgType::Jsonb {
                    out.push(1); // jsonb's binary format version
                }
                match c {
                    Cell::Text { start, len } => {
                        out.extend_from_slice(text_of(start, len).as_bytes())
                    }
                    Cell::Decimal { mantissa, scale } => {
                        let s = self.decimal_text(mantissa, scale);
                        out.extend_from_slice(s.as_bytes());
                    }
                    other => {
                        self.text.clear();
                        display(&mut self.text, &other);
                        out.extend_from_slice(self.text.as_bytes());
                    }
                }
            }
            (PgType::Date, c) => {
                let d = match c {
                    Cell::Date(d) => d,
                    Cell::Text { start, len } => {
                        let s = text_of(start, len);
                        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                            bad(
                                "bad_date",
                                format!("{s:?} is not a date (expected YYYY-MM-DD)"),
                            )
                        })?
                    }
                    _ => return Err(mismatch(t)),
                };
                let days = d.signed_duration_since(epoch().date()).num_days();
                out.extend_from_slice(&(days as i32).to_be_bytes());
            }
            (PgType::Timestamp | PgType::TimestampTz, c) => {
                let ts = match c {
                    // An instant is its UTC time, which timestamptz stores.
                    Cell::Timestamp(ts) | Cell::TimestampTz(ts) => ts,
                    Cell::Date(d) => d.and_time(chrono::NaiveTime::MIN),
                    Cell::Text { start, len } => {
                        let s = text_of(start, len);
                        timestamp(s).ok_or_else(|| {
                            bad(
                                "bad_timestamp",
                                format!(
                                    "{s:?} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.f])"
                                ),
                            )
                        })?
                    }
                    _ => return Err(mismatch(t)),
                };
                out.extend_from_slice(&micros(ts).to_be_bytes());
            }
            (_, _) => return Err(mismatch(t)),
        }
        Ok(())
    }

    /// `mantissa * 10^-scale` as exact text, in `self.text`.
    fn decimal_text(&mut self, mantissa: i128, scale: u8) -> &str {
        let mut buf = [0u8; DECIMAL_TEXT_BUF];
        self.text.clear();
        self.text.push_str(decimal_text(&mut buf, mantissa, scale));
        &self.text
    }
}

/// A cell type this column cannot take; `PgType::accepts` keeps these out,
/// so reaching here means a layout changed under a cached plan.
fn mismatch(t: &Target<'_>) -> Bad {
    Bad {
        code: "type_mismatch",
        reason: format!(
            "{}: this value's type cannot be written to a {:?} column",
            t.name, t.ty
        ),
    }
}

fn reject(origin: RowOrigin, column: &str, bad: Bad) -> RejectNote {
    RejectNote {
        offset: origin.offset,
        len: u64::from(origin.len),
        line: origin.line,
        records: 1,
        column: Some(column.to_string()),
        code: bad.code.to_string(),
        reason: bad.reason,
    }
}

#[cfg(test)]
#[path = "tests/encode.rs"]
mod tests;
