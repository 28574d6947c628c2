//! Record formats: where records begin and end (used by the supervisor to cut
//! batches) and how a batch's bytes become typed rows (used by workers).
//!
//! Owns the CSV dialect, column types, the per-file `Layout` and the `Rows` a
//! worker hands to a sink. Must not touch files, pipes or databases: callers
//! give it bytes and get back boundaries, rows and reject notes.

use serde::{Deserialize, Serialize};

mod convert;
pub mod csv;
pub mod error;
pub mod fixed;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod jsonl;
pub mod layout;
pub mod lines;
pub mod message;
pub mod names;
pub mod regex;
pub mod types;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use convert::{iso_date, iso_timestamp, show};
pub use csv::{
    CsvFormat, EndKind, Lead, Parsed, Preamble, RecordEnd, RecordScanner, Tail, parse_batch,
    read_preamble,
};
pub use fixed::FixedFormat;
pub use layout::layout;
pub use lines::{ContinuedScanner, SpanEnd};
pub use regex::RegexFormat;
pub use types::{
    Cell, ColumnSpec, ColumnType, DECIMAL_TEXT_BUF, RowOrigin, Rows, decimal_text, display,
};

/// The record format of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Csv(CsvFormat),
    Jsonl(jsonl::JsonlFormat),
    Regex(RegexFormat),
    Fixed(FixedFormat),
}

impl Format {
    /// Reads a file's preamble from `head`, its first bytes; `Ok(None)`: more
    /// bytes are needed (only when not `at_eof`).
    pub fn read_preamble(
        &self,
        head: &[u8],
        at_eof: bool,
    ) -> Result<Option<Preamble>, error::FormatError> {
        match self {
            Format::Csv(csv) => read_preamble(csv, head, at_eof),
            Format::Jsonl(j) => jsonl::read_preamble(j, head, at_eof),
            Format::Regex(f) => lines::read_preamble(f.skip_lines, head, at_eof),
            Format::Fixed(f) => lines::read_preamble(f.skip_lines, head, at_eof),
        }
    }

    /// The format as `check` shows it: its kind and settings.
    pub fn describe(&self) -> String {
        match self {
            Format::Csv(c) => {
                let byte = |b: u8| format!("{:?}", b as char);
                let mut s = format!(
                    "csv ({}, delimiter {}, quote {}",
                    if c.header { "header" } else { "no header" },
                    byte(c.delimiter),
                    byte(c.quote)
                );
                if let Some(e) = c.escape {
                    s += &format!(", escape {}", byte(e));
                }
                if let Some(e) = c.comment {
                    s += &format!(", comment {}", byte(e));
                }
                s += &format!(", null {:?}", c.null);
                if c.skip_lines > 0 {
                    s += &format!(", skip_lines {}", c.skip_lines);
                }
                if c.trim {
                    s += ", trim";
                }
                s + ")"
            }
            Format::Jsonl(j) => {
                let mut s = match &j.extra {
                    jsonl::Extra::Ignore => "jsonl (other keys ignored".to_string(),
                    jsonl::Extra::Reject => "jsonl (other keys rejected".to_string(),
                    jsonl::Extra::Column(c) => format!("jsonl (other keys into column {c:?}"),
                };
                if j.skip_lines > 0 {
                    s += &format!(", skip_lines {}", j.skip_lines);
                }
                s + ")"
            }
            Format::Regex(r) => r.describe(),
            Format::Fixed(f) => {
                let mut s = format!("fixed (trim {:?}", f.trim).to_lowercase();
                if f.pad_short {
                    s += ", pad_short";
                }
                s += &format!(", null {:?}", f.null);
                if f.skip_lines > 0 {
                    s += &format!(", skip_lines {}", f.skip_lines);
                }
                s + ")"
            }
        }
    }

    /// Whether a file names its fields before its records (a CSV header): a
    /// file that ends before that holds no records.
    pub fn names_fields(&self) -> bool {
        match self {
            Format::Csv(csv) => csv.header,
            // Its preamble names no fields only when it holds no record.
            Format::Jsonl(_) => true,
            Format::Regex(_) | Format::Fixed(_) => false,
        }
    }

    /// The layout of one file (see `layout::layout`).
    pub fn layout(
        &self,
        columns: Option<&[ColumnSpec]>,
        header: Option<&[String]>,
    ) -> Result<Layout, error::LayoutError> {
        match self {
            Format::Csv(_) => layout(columns, header),
            Format::Jsonl(j) => jsonl::layout(j, columns, header),
            Format::Regex(f) => regex::layout(f, columns),
            Format::Fixed(f) => fixed::layout(f, columns),
        }
    }

    /// A batch's records as rows and rejects (worker side).
    pub fn parse_batch(&self, layout: &Layout, start: u64, first_line: u64, data: &[u8]) -> Parsed {
        match self {
            Format::Csv(csv) => parse_batch(csv, layout, start, first_line, data),
            Format::Jsonl(j) => jsonl::parse_batch(j, layout, start, first_line, data),
            Format::Regex(f) => regex::parse_batch(f, layout, start, first_line, data),
            Format::Fixed(f) => fixed::parse_batch(f, layout, start, first_line, data),
        }
    }
}

/// Record ends over a stream, for the supervisor's cutter: the format's own
/// scanner. Its ends are stream offsets (`SpanEnd`): with continuation lines
/// a record's end is known only once the next line is read, possibly in a
/// later chunk.
#[derive(Debug)]
pub enum Scanner {
    Csv(RecordScanner),
    Lines(lines::LineScanner),
    Continued(ContinuedScanner),
}

impl From<RecordScanner> for Scanner {
    fn from(s: RecordScanner) -> Self {
        Scanner::Csv(s)
    }
}

impl Scanner {
    /// The scanner of `format`, without a limit on record size.
    pub fn new(format: &Format) -> Self {
        match format {
            Format::Csv(csv) => Scanner::Csv(RecordScanner::new(csv)),
            Format::Jsonl(_) => Scanner::Lines(lines::LineScanner::new()),
            Format::Regex(f) => match f.continue_regex() {
                Some(cont) => Scanner::Continued(ContinuedScanner::new(cont)),
                None => Scanner::Lines(lines::LineScanner::new()),
            },
            Format::Fixed(_) => Scanner::Lines(lines::LineScanner::new()),
        }
    }

    /// Rejects records longer than `max` bytes (at least 1).
    pub fn with_limit(self, max: u64) -> Self {
        match self {
            Scanner::Csv(s) => Scanner::Csv(s.with_limit(max)),
            Scanner::Lines(s) => Scanner::Lines(s.with_limit(max)),
            Scanner::Continued(s) => Scanner::Continued(s.with_limit(max)),
        }
    }

    /// Scans the next chunk, which starts at stream offset `pos`, appending
    /// the ends it decides to `out`.
    pub fn scan(
        &mut self,
        chunk: &[u8],
        pos: u64,
        out: &mut Vec<SpanEnd>,
        tmp: &mut Vec<RecordEnd>,
    ) {
        let rel = |out: &mut Vec<SpanEnd>, tmp: &[RecordEnd]| {
            out.extend(tmp.iter().map(|e| SpanEnd {
                end: pos + e.end as u64,
                lines: e.lines,
                kind: e.kind,
                lead: e.lead,
            }))
        };
        tmp.clear();
        match self {
            Scanner::Csv(s) => {
                s.scan(chunk, tmp);
                rel(out, tmp);
            }
            Scanner::Lines(s) => {
                s.scan(chunk, tmp);
                rel(out, tmp);
            }
            Scanner::Continued(s) => {
                s.rebase(pos);
                s.scan(chunk, out)
            }
        }
    }

    /// The bytes (stream offsets) the caller must still hold after a chunk
    /// ending at `now`, given that the span in progress began at `span_start`.
    pub fn wanted(&self, span_start: u64, now: u64) -> std::ops::Range<u64> {
        let discards = match self {
            Scanner::Csv(s) => s.discards(),
            Scanner::Lines(s) => s.discards(),
            Scanner::Continued(s) => return s.wanted(),
        };
        match discards {
            true => now..now,
            false => span_start..now,
        }
    }

    /// At EOF: the ends still undecided go to `out`; returns what follows
    /// the last end. Resets the scanner.
    pub fn finish(&mut self, out: &mut Vec<SpanEnd>) -> Tail {
        match self {
            Scanner::Csv(s) => s.finish(),
            Scanner::Lines(s) => s.finish(),
            Scanner::Continued(s) => s.finish(out),
        }
    }

    /// Whether a record's too-large range is the whole record (its
    /// continuation lines too) rather than ending at the first line end
    /// past the limit.
    pub fn whole_records(&self) -> bool {
        matches!(self, Scanner::Continued(_))
    }
}

/// Whether `value` is one the column accepts (a configured `default` or
/// `constant`), or why not.
pub fn check_value(col: &ColumnSpec, value: &[u8]) -> Result<(), String> {
    let mut text = String::new();
    convert::field(col, convert::Raw::Text(value), None, &mut text)
        .map(drop)
        .map_err(|b| b.reason)
}

/// Where one column's value comes from in a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    /// A delimited field, or a regex capture group, by index.
    At(u32),
    /// A JSON value by the tokens of its JSON Pointer (a top-level key is
    /// one token).
    Path(Vec<String>),
    /// Bytes `[start, end)` of a fixed-width line.
    Span { start: u32, end: u32 },
    /// The column's `constant`.
    Constant,
    /// Not in this source: the column's `default`, else NULL.
    Absent,
    /// The `k`-th value that comes with the record's message (a header,
    /// the subject...): see `message`.
    Message(u16),
}

/// How the fields of one source's records map to the target's columns.
/// Decided once per file by the supervisor (from the configured columns and the
/// file's header) and sent with every batch, so workers never read files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Target columns, in insert order.
    pub columns: Vec<ColumnSpec>,
    /// For each column, where its value comes from.
    pub fields: Vec<Field>,
    /// Delimited formats: the number of fields every record must have.
    pub field_count: u32,
}
