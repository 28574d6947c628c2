//! JSON Lines (`format.kind = "jsonl"`): one JSON object per line, read
//! strictly to RFC 8259 (`strict.rs`), columns fed by top-level keys or JSON
//! Pointers (`pointer.rs`), a file's first object naming the columns when
//! the job lists none (`preamble.rs`), and a batch's lines into typed rows
//! for the workers (`parse.rs`).
//!
//! Owns what a JSON Lines record is and how its values reach columns. Pure
//! functions over bytes: no files, pipes or databases. Lines themselves
//! (ends, blank lines, numbering) are `format::lines`'.

pub mod layout;
pub mod parse;
pub mod pointer;
pub mod preamble;
pub(crate) mod strict;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use layout::layout;
pub use parse::parse_batch;
pub use preamble::read_preamble;

/// A JSON Lines format, as configured under `[jobs.NAME.format]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonlFormat {
    /// What happens to keys that no column names.
    pub extra: Extra,
    /// Physical lines skipped at the start of a file (after a UTF-8 BOM).
    pub skip_lines: u32,
}

/// Keys of a record that no column names (`extra = ...`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Extra {
    /// Checked like every value, then dropped.
    #[default]
    Ignore,
    /// The record is rejected (`extra_key`).
    Reject,
    /// Gathered into one compact JSON object (in the record's order) that
    /// this column receives; no such key: the column is absent (its
    /// `default`, else NULL).
    Column(String),
}

impl JsonlFormat {
    /// The column that receives extra keys, if any.
    pub fn extra_column(&self) -> Option<&str> {
        match &self.extra {
            Extra::Column(c) => Some(c),
            _ => None,
        }
    }
}
