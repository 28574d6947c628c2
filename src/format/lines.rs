//! Line formats (JSON Lines, regex log lines, fixed width): a record is one
//! line. Owns what a line and a blank line are, for both sides: the
//! supervisor's `LineScanner` (record ends over a stream, with the same
//! contract as the CSV `RecordScanner`), the worker's `split` of a batch,
//! and a line file's preamble. No files, pipes or databases.
//!
//! The rules, shared by every line format:
//! * a line ends with `\n`; a `\r` right before it belongs to the
//!   terminator, not the record; the last line may lack a `\n`;
//! * a line holding only spaces, tabs and `\r` is blank: skipped, never a
//!   record, but counted as a physical line (lines are counted by `\n`);
//! * a record longer than the limit (`max_record_bytes`, its terminator
//!   included) is rejected whole, and reading resumes after its `\n`.

use memchr::memchr;

pub mod continued;

pub use continued::{ContinuedScanner, Record, Records, SpanEnd, records};

use super::csv::{EndKind, Lead, Preamble, RecordEnd, Tail};
use super::error::FormatError;

const BOM: &[u8] = b"\xef\xbb\xbf";

fn is_blank_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// One non-blank line of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Offset of the line's first byte in the batch.
    pub at: usize,
    /// Length with the terminator.
    pub len: usize,
    /// Line ends before this line in the batch (add the batch's first line).
    pub line: u64,
    /// The line without its terminator.
    pub text: &'a [u8],
}

/// The non-blank lines of `data`.
pub fn split(data: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut pos = 0;
    let mut line = 0u64;
    std::iter::from_fn(move || {
        while pos < data.len() {
            let (end, next) = match memchr(b'\n', &data[pos..]) {
                Some(k) => (pos + k, pos + k + 1),
                None => (data.len(), data.len()),
            };
            let at = pos;
            let this = line;
            pos = next;
            line += u64::from(next > end);
            let mut text = &data[at..end];
            if !text.iter().all(|&b| is_blank_byte(b)) {
                if next > end && text.last() == Some(&b'\r') {
                    text = &text[..text.len() - 1];
                }
                return Some(Line {
                    at,
                    len: next - at,
                    line: this,
                    text,
                });
            }
        }
        None
    })
}

/// Where a line file's data begins: past a UTF-8 BOM and `skip_lines` lines.
/// `Ok(None)`: more bytes are needed (only when not `at_eof`).
pub fn read_preamble(
    skip_lines: u32,
    head: &[u8],
    at_eof: bool,
) -> Result<Option<Preamble>, FormatError> {
    let mut pos = 0;
    if head.starts_with(BOM) {
        pos = BOM.len();
    } else if !at_eof && head.len() < BOM.len() && BOM.starts_with(head) {
        return Ok(None);
    }
    for _ in 0..skip_lines {
        match memchr(b'\n', &head[pos..]) {
            Some(k) => pos += k + 1,
            None if at_eof => pos = head.len(),
            None if head.len() >= super::csv::preamble::MAX_PREAMBLE => {
                return Err(FormatError::SkipLines {
                    lines: skip_lines,
                    limit: super::csv::preamble::MAX_PREAMBLE,
                });
            }
            None => return Ok(None),
        }
    }
    Ok(Some(Preamble {
        data_start: pos as u64,
        first_line: 1 + memchr::memchr_iter(b'\n', &head[..pos]).count() as u64,
        header: None,
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between records; `line_start` is where the current (so far blank)
    /// line began.
    Lead { line_start: u64 },
    /// Inside a record within the limit.
    Record,
    /// Inside a record past the limit: waiting for its `\n`.
    Resync,
}

/// Finds record ends (line ends) in consecutive chunks of one stream. It keeps
/// no input bytes.
#[derive(Debug)]
pub struct LineScanner {
    max: u64,
    mode: Mode,
    /// Stream offset of the chunk being scanned.
    pos: u64,
    /// Where the span in progress began, and its record's first byte.
    span_start: u64,
    first: u64,
    /// Line ends since `span_start`, and those of them before `first`.
    lines: u64,
    lead_lines: u64,
}

impl Default for LineScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl LineScanner {
    /// A scanner without a limit on record size (see `with_limit`).
    pub fn new() -> Self {
        LineScanner {
            max: u64::MAX,
            mode: Mode::Lead { line_start: 0 },
            pos: 0,
            span_start: 0,
            first: 0,
            lines: 0,
            lead_lines: 0,
        }
    }

    /// Rejects records longer than `max` bytes (at least 1).
    pub fn with_limit(mut self, max: u64) -> Self {
        self.max = max.max(1);
        self
    }

    /// Scans the next chunk, appending the ends of the spans that complete in
    /// it to `out`.
    pub fn scan(&mut self, chunk: &[u8], out: &mut Vec<RecordEnd>) {
        let mut i = 0;
        while i < chunk.len() {
            match self.mode {
                Mode::Lead { line_start } => {
                    match chunk[i..].iter().position(|&b| !is_blank_byte(b)) {
                        None => i = chunk.len(),
                        Some(k) if chunk[i + k] == b'\n' => {
                            i += k + 1;
                            self.lines += 1;
                            let at = self.pos + i as u64;
                            if at - self.span_start > self.max {
                                // A long run of blank lines ends as its own
                                // span, so that no caller has to keep it.
                                let lines = std::mem::take(&mut self.lines);
                                out.push(RecordEnd {
                                    end: i,
                                    lines,
                                    kind: EndKind::Skipped,
                                    lead: Lead {
                                        bytes: at - self.span_start,
                                        lines,
                                    },
                                });
                                self.span_start = at;
                            }
                            self.mode = Mode::Lead { line_start: at };
                        }
                        Some(k) => {
                            self.start_record(line_start, i + k);
                            i += k;
                        }
                    }
                }
                Mode::Record | Mode::Resync => match memchr(b'\n', &chunk[i..]) {
                    Some(k) => {
                        let end = i + k + 1;
                        self.lines += 1;
                        let kind = match self.mode == Mode::Resync
                            || self.pos + end as u64 - self.first > self.max
                        {
                            true => EndKind::TooLarge,
                            false => EndKind::Record,
                        };
                        self.emit(out, end, kind);
                        i = end;
                    }
                    None => {
                        let at = self.pos + chunk.len() as u64;
                        if at - self.first >= self.max {
                            self.mode = Mode::Resync;
                        }
                        i = chunk.len();
                    }
                },
            }
        }
        self.pos += chunk.len() as u64;
    }

    /// The record that begins at stream offset `line_start` (at most the
    /// limit past the span's start) has its first non-blank byte at `chunk[i]`.
    fn start_record(&mut self, line_start: u64, i: usize) {
        self.first = line_start;
        self.lead_lines = self.lines;
        self.mode = match self.pos + i as u64 - line_start >= self.max {
            true => Mode::Resync,
            false => Mode::Record,
        };
    }

    fn emit(&mut self, out: &mut Vec<RecordEnd>, end: usize, kind: EndKind) {
        let at = self.pos + end as u64;
        out.push(RecordEnd {
            end,
            lines: std::mem::take(&mut self.lines),
            kind,
            lead: self.lead(),
        });
        self.span_start = at;
        self.lead_lines = 0;
        self.mode = Mode::Lead { line_start: at };
    }

    fn lead(&self) -> Lead {
        Lead {
            bytes: self.first - self.span_start,
            lines: self.lead_lines,
        }
    }

    /// Whether the bytes since the last `RecordEnd` will not be wanted: the
    /// span in progress ends as `TooLarge` or `Skipped` (a blank run past
    /// the limit, or a line already as long as it). Until then they are at
    /// most twice the limit (blank lines, then a record).
    pub fn discards(&self) -> bool {
        match self.mode {
            Mode::Resync => true,
            Mode::Lead { line_start } => self.pos - line_start >= self.max,
            Mode::Record => false,
        }
    }

    /// At EOF: what follows the last `RecordEnd`. Resets the scanner.
    pub fn finish(&mut self) -> Tail {
        let tail = match self.mode {
            Mode::Lead { .. } => Tail::Empty,
            Mode::Record => Tail::Record,
            Mode::Resync => Tail::TooLarge(self.lead()),
        };
        let max = self.max;
        *self = LineScanner::new().with_limit(max);
        tail
    }
}

#[cfg(test)]
mod tests;
