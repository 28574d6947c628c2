//! Record formats: where records begin and end (used by the supervisor to cut
//! batches) and how a batch's bytes become typed rows (used by workers).
//!
//! Owns the CSV dialect, column types, the per-file `Layout` and the `Rows` a
//! worker hands to a sink. Must not touch files, pipes or databases: callers
//! give it bytes and get back boundaries, rows and reject notes.

use serde::{Deserialize, Serialize};

mod convert;
mod dialect;
pub mod error;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod layout;
pub mod parse;
pub mod preamble;
pub mod scan;
pub mod types;

#[cfg(test)]
mod tests;

pub use error::{FormatError, LayoutError};
pub use layout::layout;
pub use parse::{Parsed, parse_batch};
pub use preamble::{Preamble, read_preamble};
pub use scan::{RecordEnd, RecordScanner, Tail};
pub use types::{Cell, ColumnSpec, ColumnType, DECIMAL_TEXT_BUF, RowOrigin, Rows, decimal_text};

/// A CSV dialect, as configured under `[jobs.NAME.format]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvFormat {
    /// The first record (after `skip_lines`) names the fields.
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    /// An escape byte inside quoted fields (`\"`); `None` for RFC 4180 doubling.
    pub escape: Option<u8>,
    /// `""` inside a quoted field means one quote.
    pub double_quote: bool,
    /// Lines starting with this byte are ignored.
    pub comment: Option<u8>,
    /// A field whose text equals this is NULL (default: the empty string).
    pub null: String,
    /// Physical lines skipped before the header (or the first record).
    pub skip_lines: u32,
    /// Trim ASCII whitespace around unquoted field values.
    pub trim: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat {
            header: true,
            delimiter: b',',
            quote: b'"',
            escape: None,
            double_quote: true,
            comment: None,
            null: String::new(),
            skip_lines: 0,
            trim: false,
        }
    }
}

/// The record format of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    Csv(CsvFormat),
}

/// How the fields of one source's records map to the target's columns.
/// Decided once per file by the supervisor (from the configured columns and the
/// file's header) and sent with every batch, so workers never read files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Target columns, in insert order.
    pub columns: Vec<ColumnSpec>,
    /// For each column, the index of the record field that feeds it.
    pub fields: Vec<u32>,
    /// Number of fields every record must have.
    pub field_count: u32,
}
