//! Record boundaries over a byte stream, for the supervisor to cut batches on.
//!
//! Owns `RecordScanner`: fed consecutive chunks of one stream, it reports where
//! each record ends, how many physical lines passed (`\n`, `\r\n` or a lone
//! `\r`, see `dialect.rs`; a `\r\n` split between chunks is one), and which
//! records are longer than the limit (`max_record_bytes`). It must agree
//! exactly with the worker's parser (`parse.rs`), so it follows csv-core's
//! rules (see `dialect.rs`): the common dialect (no escape, no comment) runs
//! on a memchr fast path (`scan/fast.rs`), anything else through csv-core
//! itself; tests prove the two agree. It keeps no input bytes, so its memory
//! does not grow with the input. No files, pipes or databases here.
//!
//! The limit, and where scanning resumes after a record passes it:
//! * A record's size runs from its first byte through its terminator; the
//!   blank and comment lines before it do not count.
//! * A record that reaches the limit without ending is too large. Its
//!   rejected range runs to the first line end at or past the limit, whatever
//!   the quoting there, and scanning starts afresh after that line end (as
//!   between two records). Outside quotes that line end is where the record
//!   ends anyway; inside a quoted field opened in the record (a stray quote,
//!   which csv-core would let run to the end of the input) it is where the
//!   following lines are read as records again. A quoted field that would
//!   have closed later has the lines after that point read as records of
//!   their own, after a rejection that names the record's line.
//! * No line end after the limit: the rest of the input is one rejected
//!   range (`Tail::TooLarge`).
//! * Blank and comment lines running past the limit end as `Skipped` before
//!   the next record, so that no caller has to keep them.

mod fast;

use csv_core::ReadRecordResult;
use memchr::{memchr, memchr2};

use super::CsvFormat;
use super::dialect::{
    EofRecord, RecordBuf, core_reader, count_lines, fast_eligible, prime, record_end,
};

/// The end of one span: a record with the blank and comment lines before it,
/// or (past the limit) a rejected record or a run of ignored lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordEnd {
    /// Offset just past the span's last byte (`\r\n` counts whole), relative
    /// to the chunk passed to `scan`. It is 0 when the span ended with a `\r`
    /// at the very end of the previous chunk and this chunk does not start
    /// with `\n`.
    pub end: usize,
    /// Line ends since the previous `RecordEnd` (of blank and comment lines
    /// before the record, inside it and its own terminator).
    pub lines: u64,
    pub kind: EndKind,
    /// The blank and comment lines at the span's start, before the record's
    /// first byte (for `Skipped`: the whole span).
    pub lead: Lead,
}

/// Blank and comment lines before a record: their bytes and line ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lead {
    pub bytes: u64,
    pub lines: u64,
}

/// What a span is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    /// A record within the limit.
    Record,
    /// A record longer than the limit: rejected from its first byte (past
    /// `lead`) to `end`, where scanning resumed.
    TooLarge,
    /// Blank and comment lines only, more bytes of them than the limit: no
    /// record. The next record starts at `end`.
    Skipped,
}

/// What the bytes after the last `RecordEnd` are, at EOF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// Nothing, or only blank/comment lines: no record.
    Empty,
    /// Exactly one complete record within the limit: one without terminator,
    /// or one ended by a `\r` as the stream's last byte (whose end waited for
    /// the next byte).
    Record,
    /// A record (within the limit) whose quoted field is never closed.
    UnterminatedQuote(Lead),
    /// A record longer than the limit with no line end after the limit: the
    /// rest of the stream from its first byte.
    TooLarge(Lead),
}

/// Finds record ends in consecutive chunks of one stream. (Not `Clone`:
/// csv-core 0.1.13 readers do not clone correctly.)
#[derive(Debug)]
pub struct RecordScanner {
    engine: Engine,
    comment: Option<u8>,
    /// The limit on a record's bytes (`u64::MAX`: none).
    max: u64,
    mode: Mode,
    /// Stream offset of the chunk being scanned.
    pos: u64,
    /// Stream offsets: where the span in progress began, and its record's
    /// first byte (in `Mode::Record` and `Mode::Resync`).
    span_start: u64,
    first: u64,
    /// Line ends since `span_start`, and those of them before `first`.
    lines: u64,
    lead_lines: u64,
    /// The previous chunk's last byte is a `\r` (a `\n` next ends no new line).
    prev_cr: bool,
    /// The span ended, as this kind, with a `\r` as the previous chunk's last
    /// byte: the next byte decides whether a `\n` joins it.
    pending: Option<EndKind>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between records: blank lines, comment lines (`comment`: inside one).
    Lead { comment: bool },
    /// Inside a record, within the limit.
    Record,
    /// Inside a record past the limit: looking for the next line end.
    Resync,
}

#[derive(Debug)]
enum Engine {
    Fast(fast::Fast),
    Core(Box<Core>),
}

/// The csv-core path, for any dialect; also the reference the fast path is
/// tested against. It is fed records only (from their first byte: the lead
/// is skipped here), and its field bytes land in scratch buffers, discarded.
#[derive(Debug)]
struct Core {
    rdr: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordScanner {
    /// A scanner without a limit on record size (see `with_limit`).
    pub fn new(fmt: &CsvFormat) -> Self {
        match fast_eligible(fmt) {
            true => Self::with(fmt, Engine::Fast(fast::Fast::new(fmt))),
            false => Self::reference(fmt),
        }
    }

    /// A scanner on the csv-core path whatever the dialect (the reference).
    pub(crate) fn reference(fmt: &CsvFormat) -> Self {
        let core = Core {
            rdr: core_reader(fmt),
            out: vec![0; 4096],
            ends: vec![0; 64],
        };
        Self::with(fmt, Engine::Core(Box::new(core)))
    }

    /// Rejects records longer than `max` bytes (at least 1).
    pub fn with_limit(mut self, max: u64) -> Self {
        self.max = max.max(1);
        self
    }

    fn with(fmt: &CsvFormat, engine: Engine) -> Self {
        RecordScanner {
            engine,
            comment: fmt.comment,
            max: u64::MAX,
            mode: Mode::Lead { comment: false },
            pos: 0,
            span_start: 0,
            first: 0,
            lines: 0,
            lead_lines: 0,
            prev_cr: false,
            pending: None,
        }
    }

    /// Scans the next chunk of the stream, appending the ends of the spans
    /// that complete in it to `out`.
    pub fn scan(&mut self, chunk: &[u8], out: &mut Vec<RecordEnd>) {
        let Some(&last) = chunk.last() else {
            return;
        };
        let mut i = 0;
        if let Some(kind) = self.pending.take() {
            // csv-core discards a '\n' after a terminating '\r' too: it joins
            // the span (its line end was counted at the '\r').
            i = usize::from(chunk[0] == b'\n');
            let kind = match kind {
                EndKind::Record => self.kind(i),
                other => other,
            };
            self.emit(out, i, kind);
        }
        let fast = matches!(self.engine, Engine::Fast(_));
        while i < chunk.len() {
            i = match self.mode {
                Mode::Resync => self.resync(chunk, i, out),
                _ if fast => self.fast(chunk, i, out),
                Mode::Lead { comment } => self.lead(chunk, i, comment, out),
                Mode::Record => self.core(chunk, i, out),
            };
        }
        self.prev_cr = last == b'\r';
        self.pos += chunk.len() as u64;
    }

    /// Whether the bytes since the last `RecordEnd` will not be wanted: the
    /// span in progress will end as `TooLarge` (or `Tail::TooLarge`) or
    /// `Skipped`. Until then they are at most twice the limit (blank or
    /// comment lines, then a record).
    pub fn discards(&self) -> bool {
        match (self.pending, self.mode) {
            (Some(kind), _) => kind != EndKind::Record,
            (None, Mode::Resync) => true,
            (None, Mode::Lead { .. }) => self.pos - self.span_start > self.max,
            (None, Mode::Record) => false,
        }
    }

    /// At EOF: what follows the last `RecordEnd`. Resets the scanner for a
    /// new stream.
    pub fn finish(&mut self) -> Tail {
        let lead = self.record_lead();
        let tail = match (self.pending, self.mode) {
            (Some(EndKind::Record), _) => Tail::Record,
            (Some(_), _) | (None, Mode::Resync) => Tail::TooLarge(lead),
            (None, Mode::Lead { .. }) => Tail::Empty,
            (None, Mode::Record) => match &mut self.engine {
                Engine::Fast(f) if f.in_quotes() => Tail::UnterminatedQuote(lead),
                Engine::Fast(_) => Tail::Record,
                Engine::Core(c) => match RecordBuf::new(64, 8).finish(&mut c.rdr) {
                    EofRecord::None => Tail::Empty,
                    EofRecord::Closed => Tail::Record,
                    EofRecord::Open => Tail::UnterminatedQuote(lead),
                },
            },
        };
        self.mode = Mode::Lead { comment: false };
        (self.pos, self.span_start, self.first) = (0, 0, 0);
        (self.lines, self.lead_lines) = (0, 0);
        (self.prev_cr, self.pending) = (false, None);
        self.fresh();
        tail
    }

    /// Puts the engine between records, as at the start of a stream.
    fn fresh(&mut self) {
        match &mut self.engine {
            Engine::Fast(f) => f.reset(),
            Engine::Core(c) => {
                c.rdr.reset();
                prime(&mut c.rdr);
            }
        }
    }

    /// Ends the span in progress at `end` of this chunk.
    #[inline]
    fn emit(&mut self, out: &mut Vec<RecordEnd>, end: usize, kind: EndKind) {
        let at = self.pos + end as u64;
        let lead = match kind {
            EndKind::Skipped => Lead {
                bytes: at - self.span_start,
                lines: self.lines,
            },
            _ => self.record_lead(),
        };
        out.push(RecordEnd {
            end,
            lines: std::mem::take(&mut self.lines),
            kind,
            lead,
        });
        self.span_start = at;
        self.mode = Mode::Lead { comment: false };
    }

    #[inline]
    fn record_lead(&self) -> Lead {
        Lead {
            bytes: self.first.saturating_sub(self.span_start),
            lines: self.lead_lines,
        }
    }

    /// The record's first byte is `chunk[i]`; a lead past the limit is cut
    /// off first.
    #[inline]
    fn start_record(&mut self, out: &mut Vec<RecordEnd>, i: usize) {
        let at = self.pos + i as u64;
        if at - self.span_start > self.max {
            self.emit(out, i, EndKind::Skipped);
        }
        self.first = at;
        self.lead_lines = self.lines;
        self.mode = Mode::Record;
    }

    /// The kind of the record in progress if it ends at `end` of this chunk.
    #[inline]
    fn kind(&self, end: usize) -> EndKind {
        match self.pos + end as u64 - self.first > self.max {
            true => EndKind::TooLarge,
            false => EndKind::Record,
        }
    }

    /// Where in a chunk of `n` bytes the record in progress reaches the limit.
    #[inline]
    fn limit(&self, n: usize) -> usize {
        let lim = self.first.saturating_add(self.max).saturating_sub(self.pos);
        lim.min(n as u64) as usize
    }

    /// A record byte past the limit at `chunk[i]`: from here on, look for the
    /// next line end.
    fn oversize(&mut self, i: usize) -> usize {
        self.mode = Mode::Resync;
        self.fresh();
        i
    }

    /// Whether the byte before `chunk[i]` is a `\r`.
    #[inline]
    fn cr_before(&self, chunk: &[u8], i: usize) -> bool {
        if i == 0 {
            self.prev_cr
        } else {
            chunk[i - 1] == b'\r'
        }
    }

    /// Counts the line ends of `chunk[from..to]`.
    fn count(&mut self, chunk: &[u8], from: usize, to: usize) {
        self.lines += count_lines(&chunk[from..to], self.cr_before(chunk, from));
    }

    /// Between records (csv-core path): skips what csv-core ignores there
    /// (blank-line bytes, comment lines) up to the record's first byte.
    fn lead(
        &mut self,
        chunk: &[u8],
        mut i: usize,
        mut comment: bool,
        out: &mut Vec<RecordEnd>,
    ) -> usize {
        while i < chunk.len() {
            if comment {
                // A comment runs to the next '\n' only (csv-core ignores '\r' there).
                let to = memchr(b'\n', &chunk[i..]).map_or(chunk.len(), |k| i + k + 1);
                self.count(chunk, i, to);
                comment = chunk[to - 1] != b'\n';
                i = to;
            } else {
                match chunk[i] {
                    b'\r' | b'\n' => self.count(chunk, i, i + 1),
                    b if Some(b) == self.comment => comment = true,
                    _ => {
                        self.start_record(out, i);
                        return i;
                    }
                }
                i += 1;
            }
        }
        self.mode = Mode::Lead { comment };
        i
    }

    /// Inside a record (csv-core path): feeds csv-core up to the record's
    /// end, the limit or the chunk's end.
    fn core(&mut self, chunk: &[u8], i: usize, out: &mut Vec<RecordEnd>) -> usize {
        let lim = self.limit(chunk.len());
        if i >= lim {
            return self.oversize(i);
        }
        let Engine::Core(c) = &mut self.engine else {
            unreachable!("the csv-core path runs on the csv-core engine");
        };
        let mut j = i;
        let ended = loop {
            let (res, nin, _, _) = c.rdr.read_record(&chunk[j..lim], &mut c.out, &mut c.ends);
            j += nin;
            match res {
                ReadRecordResult::Record => break true,
                // Scratch buffers full: their content is not needed, go on
                // (they are never empty, so csv-core always consumes).
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull if j < lim => {}
                _ => break false,
            }
        };
        if !ended {
            self.count(chunk, i, j);
            return j;
        }
        match record_end(chunk, j, false) {
            Some(end) => {
                self.count(chunk, i, end);
                self.emit(out, end, self.kind(end));
                end
            }
            None => {
                self.count(chunk, i, j);
                self.pending = Some(self.kind(j));
                j
            }
        }
    }

    /// Past the limit: the record ends at the next line end.
    fn resync(&mut self, chunk: &[u8], i: usize, out: &mut Vec<RecordEnd>) -> usize {
        let n = chunk.len();
        let Some(k) = memchr2(b'\r', b'\n', &chunk[i..]) else {
            return n;
        };
        match record_end(chunk, i + k + 1, false) {
            Some(end) => {
                self.count(chunk, i, end);
                self.emit(out, end, EndKind::TooLarge);
                end
            }
            None => {
                self.count(chunk, i, n);
                self.pending = Some(EndKind::TooLarge);
                n
            }
        }
    }
}
