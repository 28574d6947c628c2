//! CSV: the dialect (`dialect.rs`, csv-core's rules, shared so that every
//! reader agrees on what a record is), record ends over a stream for the
//! supervisor's cutter (`scan.rs`), a file's preamble (`preamble.rs`: BOM,
//! skipped lines, header), and a batch's bytes into typed rows for the
//! workers (`parse.rs`). Pure functions over bytes: no files, pipes or
//! databases.

pub(super) mod dialect;
pub mod parse;
pub mod preamble;
pub mod scan;

use serde::{Deserialize, Serialize};

pub use parse::{Parsed, parse_batch};
pub use preamble::{Preamble, read_preamble};
pub use scan::{EndKind, Lead, RecordEnd, RecordScanner, Tail};

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
