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
#[cfg(test)]
pub(crate) mod fixtures;
pub mod jsonl;
pub mod layout;
pub mod names;
pub mod types;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use convert::{iso_date, iso_timestamp, show};
pub use csv::{
    CsvFormat, EndKind, Lead, Parsed, Preamble, RecordEnd, RecordScanner, Tail, parse_batch,
    read_preamble,
};
pub use layout::layout;
pub use types::{
    Cell, ColumnSpec, ColumnType, DECIMAL_TEXT_BUF, RowOrigin, Rows, decimal_text, display,
};

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
