//! Fixed-width records (`format.kind = "fixed"`), SQL*Loader style: each
//! column takes the bytes at its `position` (`"1:10"`: bytes 1 to 10,
//! 1-based and inclusive, as `POSITION(1:10)`; `"11:*"`: from byte 11 to the
//! line's end) of a line, trimmed of blanks as the format (or the column's
//! own `trim`) says.
//!
//! Owns the format's settings, positions, the layout (columns to spans) and
//! a batch's lines into rows and rejects (worker side). Must not touch
//! files, pipes or databases.
//!
//! Positions count bytes, not characters, as SQL*Loader's do for a
//! single-byte character set: a UTF-8 file's multi-byte characters take
//! several positions. A value whose span would start or end inside such a
//! character is rejected (`split_character`), never cut. A line shorter
//! than the layout (than its furthest span's end; a `N:*` span needs the
//! bytes before it and may be empty) is rejected (`short_line`), or with
//! `pad_short` read as if padded with spaces to that length. Overlapping
//! positions are allowed.

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::convert::{Bad, Raw, field};
use super::error::LayoutError;
use super::lines::split;
use super::{ColumnSpec, Field, Layout, Parsed, RowOrigin, Rows};
use crate::protocol::RejectNote;

/// Which blanks (spaces and tabs) are cut from a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trim {
    Both,
    Left,
    Right,
    None,
}

impl Trim {
    /// `"both"`, `"left"`, `"right"` or `"none"`.
    pub fn parse(s: &str) -> Option<Trim> {
        Some(match s {
            "both" => Trim::Both,
            "left" => Trim::Left,
            "right" => Trim::Right,
            "none" => Trim::None,
            _ => return None,
        })
    }

    fn apply(self, v: &[u8]) -> &[u8] {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let left = |v: &'_ [u8]| -> usize { v.iter().take_while(|b| blank(b)).count() };
        let right =
            |v: &'_ [u8]| -> usize { v.len() - v.iter().rev().take_while(|b| blank(b)).count() };
        match self {
            Trim::None => v,
            Trim::Left => &v[left(v)..],
            Trim::Right => &v[..right(v)],
            Trim::Both => {
                let v = &v[left(v)..];
                &v[..right(v)]
            }
        }
    }
}

/// A column's bytes: `[start, end)` of the line, 0-based; `end` `None` is
/// the line's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub start: u32,
    pub end: Option<u32>,
}

impl Position {
    /// `"1:10"` or `"1-10"` (SQL*Loader writes both), `"11:*"`; `max` is
    /// the largest position a record can have (`max_record_bytes`).
    pub fn parse(s: &str, max: u32) -> Result<Position, String> {
        let syntax = || {
            format!(
                "invalid position {s:?}: expected \"start:end\", 1-based and inclusive like \
                 SQL*Loader's POSITION(1:10), or \"start:*\" for the rest of the line"
            )
        };
        let (a, b) = s.split_once([':', '-']).ok_or_else(syntax)?;
        let num = |t: &str| t.trim().parse::<u64>().map_err(|_| syntax());
        let start = num(a)?;
        let in_range = |n: u64, what: &str| {
            if n == 0 || n > u64::from(max) {
                Err(format!(
                    "position {s:?}: the {what} {n} is outside 1..={max} (positions are bytes \
                     of a record, at most max_record_bytes = {max})"
                ))
            } else {
                Ok(n as u32)
            }
        };
        let start = in_range(start, "start")?;
        let end = match b.trim() {
            "*" => None,
            b => {
                let end = in_range(num(b)?, "end")?;
                if end < start {
                    return Err(format!(
                        "position {s:?}: the end {end} is before the start {start}"
                    ));
                }
                Some(end)
            }
        };
        Ok(Position {
            start: start - 1,
            end,
        })
    }

    fn field(self) -> Field {
        Field::Span {
            start: self.start,
            end: self.end.unwrap_or(u32::MAX),
        }
    }
}

/// The format as configured under `[jobs.NAME.format]`, `kind = "fixed"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedFormat {
    pub trim: Trim,
    /// Read a short line as if padded with spaces instead of rejecting it.
    pub pad_short: bool,
    /// A value equal to this (after trimming) is NULL (default: empty, so
    /// an all-blank field is NULL).
    pub null: String,
    /// Physical lines skipped at the start of each file.
    pub skip_lines: u32,
    /// Each configured column's position, by the column's index (a column
    /// with a `constant` has none).
    pub positions: Vec<Option<Position>>,
    /// Columns whose own `trim` replaces the format's, by index.
    pub trims: Vec<Option<Trim>>,
}

impl Default for FixedFormat {
    fn default() -> Self {
        FixedFormat {
            trim: Trim::Both,
            pad_short: false,
            null: String::new(),
            skip_lines: 0,
            positions: Vec::new(),
            trims: Vec::new(),
        }
    }
}

/// The layout of every file of the job: each column its span.
pub fn layout(fmt: &FixedFormat, columns: Option<&[ColumnSpec]>) -> Result<Layout, LayoutError> {
    let columns = columns.ok_or(LayoutError::NoColumns)?;
    let mut fields = Vec::with_capacity(columns.len());
    for (i, col) in columns.iter().enumerate() {
        fields.push(
            match (&col.constant, fmt.positions.get(i).copied().flatten()) {
                (Some(_), _) => Field::Constant,
                (None, Some(p)) => p.field(),
                (None, None) => {
                    return Err(LayoutError::NoPosition {
                        column: col.name.clone(),
                    });
                }
            },
        );
    }
    Ok(Layout {
        columns: columns.to_vec(),
        fields,
        field_count: 0,
    })
}

/// The bytes a line needs for every span of `layout`.
fn needed(layout: &Layout) -> usize {
    (layout.fields.iter())
        .filter_map(|f| match *f {
            Field::Span {
                start,
                end: u32::MAX,
            } => Some(start as usize),
            Field::Span { end, .. } => Some(end as usize),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Parses `data`, whole lines from byte offset `start` of a source whose
/// physical line there is `first_line` (1-based).
pub fn parse_batch(
    fmt: &FixedFormat,
    layout: &Layout,
    start: u64,
    first_line: u64,
    data: &[u8],
) -> Parsed {
    let width = layout.columns.len();
    let need = needed(layout);
    let approx = data.len() / need.max(1) + 1;
    let mut rows = Rows::new(width);
    rows.cells
        .reserve(approx.saturating_mul(width).min(1 << 24));
    rows.origins.reserve(approx.min(1 << 20));
    rows.text.reserve(data.len());
    let mut rejects = Vec::new();
    // A short line's bytes padded with spaces, when `pad_short` says so.
    let mut padded = Vec::new();
    for line in split(data) {
        let o = RowOrigin {
            offset: start + line.at as u64,
            len: u32::try_from(line.len).unwrap_or(u32::MAX),
            line: first_line + line.line,
        };
        let reject = |column: Option<&str>, code: &str, reason: String| RejectNote {
            offset: o.offset,
            len: line.len as u64,
            line: o.line,
            records: 1,
            column: column.map(str::to_string),
            code: code.to_string(),
            reason,
        };
        let mut text = line.text;
        if text.len() < need {
            if !fmt.pad_short {
                let reason = format!(
                    "the line is {} bytes long; the layout reads {need} (pad_short = true reads a \
                     short line as if padded with spaces)",
                    text.len()
                );
                rejects.push(reject(None, "short_line", reason));
                continue;
            }
            padded.clear();
            padded.extend_from_slice(text);
            padded.resize(need, b' ');
            text = &padded;
        }
        let (cells, at) = (rows.cells.len(), rows.text.len());
        let mut bad = None;
        for (c, col) in layout.columns.iter().enumerate() {
            let raw = match layout.fields.get(c) {
                Some(&Field::Span { start, end }) => {
                    let s = start as usize;
                    let e = (end as usize).min(text.len());
                    match splits(text, s, e) {
                        Some(at) => {
                            let reason = format!(
                                "{}: position {}:{} cuts a multi-byte UTF-8 character at byte {} \
                                 (positions count bytes)",
                                col.name,
                                s + 1,
                                if end == u32::MAX {
                                    "*".to_string()
                                } else {
                                    e.to_string()
                                },
                                at + 1
                            );
                            bad = Some((c, "split_character", reason));
                            break;
                        }
                        None => {
                            let trim = fmt.trims.get(c).copied().flatten().unwrap_or(fmt.trim);
                            Raw::Text(trim.apply(&text[s..e]))
                        }
                    }
                }
                _ => Raw::Absent,
            };
            match field(col, raw, Some(fmt.null.as_bytes()), &mut rows.text) {
                Ok(cell) => rows.cells.push(cell),
                Err(Bad { code, reason }) => {
                    bad = Some((c, code, reason));
                    break;
                }
            }
        }
        match bad {
            None => rows.origins.push(o),
            Some((c, code, reason)) => {
                rejects.push(reject(Some(&layout.columns[c].name), code, reason));
                rows.cells.truncate(cells);
                rows.text.truncate(at);
            }
        }
    }
    let records = (rows.len() + rejects.len()) as u64;
    Parsed {
        rows,
        rejects,
        records,
    }
}

/// Where `[s, e)` of `text` starts or ends inside a UTF-8 character: the
/// byte that continues a character (0-based), if any.
fn splits(text: &[u8], s: usize, e: usize) -> Option<usize> {
    let continues = |i: usize| text.get(i).is_some_and(|&b| b & 0xC0 == 0x80);
    if continues(s) {
        Some(s)
    } else if e < text.len() && e > s && continues(e) {
        Some(e)
    } else {
        None
    }
}
