//! A batch's bytes -> typed rows and reject notes. Worker side.
//!
//! Owns record splitting of one batch (csv-core, configured exactly as the
//! supervisor's `RecordScanner`, so both see the same records) and where each
//! record came from (absolute byte range, physical line). Field conversion is
//! `convert.rs`. No files, pipes or databases: rejects are returned, not written.
//! Records arrive no longer than `max_record_bytes` (the supervisor sends
//! longer ones as verdicts, never their bytes), and the per-record buffers
//! are bounded by the batch's length and the layout's field count whatever a
//! record holds: a record of a million delimiters costs no million field ends.
//!
//! csv-core is driven directly rather than through the csv crate's `Reader`:
//! that reader strips a UTF-8 BOM at the start of whatever it is given (a
//! batch starts mid-file, where those bytes are data), its positions put the
//! `\n` of a `\r\n` into the next record, and its `trim` allocates per record.

use super::CsvFormat;
use super::dialect::{
    EofRecord, RecordBuf, core_reader, count_lines, cr_at, record_end, skip_ignored,
};
use crate::format::convert::{Bad, Raw, field};
use crate::format::{Field, Layout, RowOrigin, Rows};
use crate::protocol::RejectNote;

/// The outcome of parsing one batch: every record is either a row or a reject.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub rows: Rows,
    pub rejects: Vec<RejectNote>,
    /// Records seen: `rows.len() + rejects.len()`.
    pub records: u64,
}

/// Parses `data`, whole records taken from byte offset `start` of a source;
/// `first_line` is the physical line (1-based) at `start` (lines as
/// `dialect.rs` defines them; `data` never starts with the `\n` of a `\r\n`). Blank and comment
/// lines are skipped as the scanner skips them; a final record with an open
/// quoted field is rejected as `unterminated_quote`.
pub fn parse_batch(
    fmt: &CsvFormat,
    layout: &Layout,
    start: u64,
    first_line: u64,
    data: &[u8],
) -> Parsed {
    let width = layout.columns.len();
    // Records <= lines + 1: reserving once keeps the hot loop free of regrowth
    // (capped: a huge layout over many short bad records must not abort).
    let approx = count_lines(data, false) as usize + 1;
    let mut rows = Rows::new(width);
    rows.cells
        .reserve(approx.saturating_mul(width).min(1 << 24));
    rows.origins.reserve(approx);
    rows.text.reserve(data.len());
    let mut b = Batch {
        fmt,
        layout,
        null: fmt.null.as_bytes(),
        start,
        rows,
        rejects: Vec::new(),
        counted_to: 0,
        line: first_line,
    };

    let mut rdr = core_reader(fmt);
    // No record is longer than the batch, and one with more fields than the
    // layout's is rejected: neither buffer needs to grow past that.
    let want = layout.field_count as usize;
    let mut buf = RecordBuf::new(4096.min(data.len()), want + 1).bounded(data.len(), want + 1);
    let (mut pos, mut span) = (0, 0);
    while pos < data.len() {
        let (record, nin) = buf.read(&mut rdr, &data[pos..]);
        pos += nin;
        if record {
            let end = record_end(data, pos, true).unwrap_or(pos);
            b.record(data, span, end, &buf, false);
            buf.clear();
            span = end;
        }
    }
    match buf.finish(&mut rdr) {
        EofRecord::None => {}
        eof => b.record(data, span, data.len(), &buf, eof == EofRecord::Open),
    }
    let records = (b.rows.len() + b.rejects.len()) as u64;
    Parsed {
        rows: b.rows,
        rejects: b.rejects,
        records,
    }
}

/// Per-batch state while records are turned into rows.
struct Batch<'a> {
    fmt: &'a CsvFormat,
    layout: &'a Layout,
    null: &'a [u8],
    start: u64,
    rows: Rows,
    rejects: Vec<RejectNote>,
    /// Newlines are counted up to this offset of the batch...
    counted_to: usize,
    /// ...where the physical line is this.
    line: u64,
}

impl Batch<'_> {
    /// One record: `data[span..end]` with blank/comment lines first; `buf`
    /// holds its unescaped field bytes and where each field ends.
    fn record(&mut self, data: &[u8], span: usize, end: usize, buf: &RecordBuf, open: bool) {
        let (fields, ends) = buf.fields();
        let first = skip_ignored(self.fmt, data, span).min(end);
        let from = self.counted_to;
        self.line += count_lines(&data[from..first], cr_at(data, from));
        self.counted_to = first;
        let origin = RowOrigin {
            offset: self.start + first as u64,
            len: u32::try_from(end - first).unwrap_or(u32::MAX),
            line: self.line,
        };
        let reject = |column: Option<&str>, code: &str, reason: String| RejectNote {
            offset: origin.offset,
            len: (end - first) as u64,
            line: origin.line,
            records: 1,
            column: column.map(str::to_string),
            code: code.to_string(),
            reason,
        };
        if open {
            let reason = "a quoted field is never closed before the end of the data".to_string();
            self.rejects
                .push(reject(None, "unterminated_quote", reason));
            return;
        }
        let want = self.layout.field_count as usize;
        if buf.field_count() != want {
            let reason = format!("expected {want} fields, found {}", buf.field_count());
            self.rejects.push(reject(None, "field_count", reason));
            return;
        }
        let (cells, text) = (self.rows.cells.len(), self.rows.text.len());
        for (c, col) in self.layout.columns.iter().enumerate() {
            let raw = match self.layout.fields.get(c) {
                Some(Field::Constant | Field::Absent) => Raw::Absent,
                Some(Field::At(f)) if (*f as usize) < ends.len() => {
                    let f = *f as usize;
                    let begin = if f == 0 { 0 } else { ends[f - 1] };
                    let mut raw = &fields[begin..ends[f]];
                    if self.fmt.trim {
                        raw = raw.trim_ascii();
                    }
                    Raw::Text(raw)
                }
                // A layout is built by `layout()`, but a bad one must not panic.
                _ => {
                    let reason = format!(
                        "the layout has no field of this record for column {}",
                        c + 1
                    );
                    self.rejects
                        .push(reject(Some(&col.name), "field_count", reason));
                    return self.rollback(cells, text);
                }
            };
            match field(col, raw, Some(self.null), &mut self.rows.text) {
                Ok(cell) => self.rows.cells.push(cell),
                Err(Bad { code, reason }) => {
                    self.rejects.push(reject(Some(&col.name), code, reason));
                    return self.rollback(cells, text);
                }
            }
        }
        self.rows.origins.push(origin);
    }

    /// Drops the cells and text of a row that turned out bad.
    fn rollback(&mut self, cells: usize, text: usize) {
        self.rows.cells.truncate(cells);
        self.rows.text.truncate(text);
    }
}
