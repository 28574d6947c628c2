//! Errors of the format module that are not about one record: a file whose
//! preamble cannot be read, a layout that cannot be built. Bad records are not
//! errors but `RejectNote`s (see `parse.rs`).

use thiserror::Error;

/// Reading a file's preamble (BOM, skipped lines, header) failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The lines to skip did not end within the first `limit` bytes.
    #[error("skip_lines: the first {limit} bytes do not hold the {lines} lines to skip")]
    SkipLines { lines: u32, limit: usize },
    /// The header record is unusable.
    #[error("header (line {line}): {reason}")]
    Header { line: u64, reason: String },
}

/// Matching configured columns to a file's fields failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Neither configured columns nor a header: nothing names the fields.
    #[error("no columns configured and the format has no header: nothing names the fields")]
    NoColumns,
    /// A header field cannot become a column name.
    #[error("header field {index} {reason}")]
    HeaderName { index: usize, reason: String },
    /// A configured column has no field in the header.
    #[error("column {column:?} is not in the header (fields: {})", header.join(", "))]
    MissingColumn { column: String, header: Vec<String> },
    /// A configured column matches several header fields.
    #[error("column {column:?} matches several header fields: {}", fields.join(", "))]
    AmbiguousColumn { column: String, fields: Vec<String> },
    /// Without a header, `from` must be a field's 1-based position.
    #[error(
        "column {column:?}: from = {from:?} is not a field position (1, 2, ...): the format has no header to name fields"
    )]
    FromPosition { column: String, from: String },
    /// JSON Lines without columns: no object among the first bytes of the
    /// file has keys to name them.
    #[error(
        "no columns are configured, and no line in the file's first {limit} bytes is a JSON \
         object with keys: without columns, the first object's keys name them"
    )]
    NoKeys { limit: usize },
    /// JSON Lines without columns: the first object's keys cannot be columns.
    #[error("the first JSON object cannot name the columns: {reason}")]
    FirstObject { reason: String },
    /// A column's `from` is not a valid JSON Pointer.
    #[error("column {column:?}: {reason}")]
    Pointer { column: String, reason: String },
    /// A regex column names a group the pattern does not have.
    #[error(
        "column {column:?} takes group {group:?}, which the pattern does not have (groups: {})",
        groups.join(", ")
    )]
    MissingGroup {
        column: String,
        group: String,
        groups: Vec<String>,
    },
    /// A fixed-width column without a position (nor a constant).
    #[error(
        "column {column:?} has no `position`: each fixed-width column needs one, like position = \"1:10\" (or a `constant`)"
    )]
    NoPosition { column: String },
    /// Two configured columns would read the same field.
    #[error("columns {first:?} and {second:?} both match header field {field:?}")]
    SharedField {
        first: String,
        second: String,
        field: String,
    },
}
