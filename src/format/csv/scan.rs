//! Record boundaries over a byte stream, for the supervisor to cut batches on.
//!
//! Owns `RecordScanner`: fed consecutive chunks of one stream, it reports where
//! each record ends and how many physical lines passed (`\n`, `\r\n` or a
//! lone `\r`, see `dialect.rs`; a `\r\n` split between chunks is one), so the
//! caller can keep line numbers. It must agree exactly with the worker's parser
//! (`parse.rs`), so it follows csv-core's rules (see `dialect.rs`): the common
//! dialect (no escape, no comment) runs on a memchr fast path, anything else
//! through csv-core itself; tests prove the two agree. No files, pipes or
//! databases here.

use csv_core::ReadRecordResult;
use memchr::memchr3;

use super::CsvFormat;
use super::dialect::{
    EofRecord, RecordBuf, core_reader, count_lines, fast_eligible, prime, record_end,
};

/// The end of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordEnd {
    /// Offset just past the record's terminator (`\r\n` counts whole),
    /// relative to the chunk passed to `scan`. It is 0 when the record ended
    /// with a `\r` at the very end of the previous chunk and this chunk does not
    /// start with `\n`.
    pub end: usize,
    /// Line ends since the previous `RecordEnd` (of blank and comment lines
    /// before the record, inside it and its own terminator).
    pub lines: u64,
}

/// What the bytes after the last `RecordEnd` are, at EOF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// Nothing, or only blank/comment lines: no record.
    Empty,
    /// Exactly one complete record: one without terminator, or one ended by a
    /// `\r` as the stream's last byte (whose end waited for the next byte).
    Record,
    /// A record whose quoted field is never closed.
    UnterminatedQuote,
}

/// Finds record ends in consecutive chunks of one stream. (Not `Clone`:
/// csv-core 0.1.13 readers do not clone correctly.)
#[derive(Debug)]
pub struct RecordScanner {
    engine: Engine,
    /// Line ends seen since the last `RecordEnd`.
    lines: u64,
    /// A record ended with `\r` as the previous chunk's last byte: the next
    /// byte decides whether a `\n` joins it.
    pending_cr: bool,
    /// The previous chunk's last byte is a `\r` (a `\n` next ends no new line).
    prev_cr: bool,
}

#[derive(Debug)]
enum Engine {
    Fast(Fast),
    Core(Box<Core>),
}

/// The memchr fast path: a hand-written copy of csv-core's state machine for
/// the common dialect, jumping over bytes that cannot change state.
#[derive(Clone, Debug)]
struct Fast {
    delimiter: u8,
    quote: u8,
    double_quote: bool,
    state: St,
}

/// csv-core states that matter for boundaries (csv-core's CRLF state behaves
/// like `Record` once the `\r\n` question is settled by `pending_cr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Between records: `\r`/`\n` are blank lines.
    Record,
    /// At a field's first byte: a quote opens a quoted field.
    Field,
    /// Inside an unquoted field: a quote is literal.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field (closing, or the first of `""`).
    QuoteInQuoted,
}

/// The csv-core path, for any dialect; also the reference the fast path is
/// tested against. Field bytes are copied into scratch buffers and discarded.
#[derive(Debug)]
struct Core {
    rdr: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordScanner {
    pub fn new(fmt: &CsvFormat) -> Self {
        if fast_eligible(fmt) {
            Self::with(Engine::Fast(Fast {
                delimiter: fmt.delimiter,
                quote: fmt.quote,
                double_quote: fmt.double_quote,
                state: St::Record,
            }))
        } else {
            Self::reference(fmt)
        }
    }

    /// A scanner on the csv-core path whatever the dialect (the reference).
    pub(crate) fn reference(fmt: &CsvFormat) -> Self {
        Self::with(Engine::Core(Box::new(Core {
            rdr: core_reader(fmt),
            out: vec![0; 4096],
            ends: vec![0; 64],
        })))
    }

    fn with(engine: Engine) -> Self {
        RecordScanner {
            engine,
            lines: 0,
            pending_cr: false,
            prev_cr: false,
        }
    }

    /// Scans the next chunk of the stream, appending the ends of the records
    /// that complete in it to `out`.
    pub fn scan(&mut self, chunk: &[u8], out: &mut Vec<RecordEnd>) {
        let mut from = 0;
        if self.pending_cr && !chunk.is_empty() {
            self.pending_cr = false;
            if chunk[0] == b'\n' {
                // csv-core would discard this '\n' too: skipping it is the same
                // (the line end was counted at its '\r').
                from = 1;
            }
            self.emit(from, out);
        }
        let prev_cr = self.prev_cr;
        match &mut self.engine {
            Engine::Fast(f) => {
                f.scan(
                    chunk,
                    from,
                    prev_cr,
                    &mut self.lines,
                    &mut self.pending_cr,
                    out,
                );
            }
            Engine::Core(c) => {
                c.scan(
                    chunk,
                    from,
                    prev_cr,
                    &mut self.lines,
                    &mut self.pending_cr,
                    out,
                );
            }
        }
        if let Some(&last) = chunk.last() {
            self.prev_cr = last == b'\r';
        }
    }

    /// At EOF: what follows the last `RecordEnd`. Resets the scanner for a
    /// new stream.
    pub fn finish(&mut self) -> Tail {
        let tail = if self.pending_cr {
            Tail::Record
        } else {
            match &mut self.engine {
                Engine::Fast(f) => match f.state {
                    St::Record => Tail::Empty,
                    St::Quoted => Tail::UnterminatedQuote,
                    St::Field | St::Unquoted | St::QuoteInQuoted => Tail::Record,
                },
                Engine::Core(c) => c.finish(),
            }
        };
        self.lines = 0;
        self.pending_cr = false;
        self.prev_cr = false;
        match &mut self.engine {
            Engine::Fast(f) => f.state = St::Record,
            Engine::Core(c) => {
                c.rdr.reset();
                prime(&mut c.rdr);
            }
        }
        tail
    }

    fn emit(&mut self, end: usize, out: &mut Vec<RecordEnd>) {
        push_end(out, end, &mut self.lines);
    }
}

impl Fast {
    fn scan(
        &mut self,
        chunk: &[u8],
        mut i: usize,
        prev_cr: bool,
        lines: &mut u64,
        pending_cr: &mut bool,
        out: &mut Vec<RecordEnd>,
    ) {
        let (delim, quote, n) = (self.delimiter, self.quote, chunk.len());
        let mut st = self.state;
        while i < n {
            // Invariant: `st` is the state before processing chunk[i].
            let term_at = match st {
                St::Record => {
                    match chunk[i] {
                        b'\n' => *lines += u64::from(!cr_before(chunk, i, prev_cr)),
                        b'\r' => *lines += 1,
                        _ => {
                            st = St::Field;
                            continue;
                        }
                    }
                    i += 1;
                    continue;
                }
                St::Field | St::QuoteInQuoted => {
                    let b = chunk[i];
                    if b == b'\n' || b == b'\r' {
                        i
                    } else {
                        st = if b == quote && (st == St::Field || self.double_quote) {
                            St::Quoted
                        } else if b == delim {
                            St::Field
                        } else {
                            St::Unquoted
                        };
                        i += 1;
                        continue;
                    }
                }
                St::Unquoted => match memchr3(quote, b'\n', b'\r', &chunk[i..]) {
                    None => {
                        // Bytes up to the end are delimiters or plain: the
                        // state is Field exactly when the last one is a delimiter.
                        if chunk[n - 1] == delim {
                            st = St::Field;
                        }
                        i = n;
                        continue;
                    }
                    Some(k) if chunk[i + k] == quote => {
                        let p = i + k;
                        // The quote opens a field iff a delimiter (seen in
                        // this unquoted run) comes just before it.
                        if p > i && chunk[p - 1] == delim {
                            st = St::Quoted;
                        }
                        i = p + 1;
                        continue;
                    }
                    Some(k) => i + k,
                },
                St::Quoted => {
                    match memchr3(quote, b'\n', b'\r', &chunk[i..]) {
                        None => i = n,
                        Some(k) => {
                            let p = i + k;
                            match chunk[p] {
                                b'\r' => *lines += 1,
                                b'\n' => *lines += u64::from(!cr_before(chunk, p, prev_cr)),
                                _ => st = St::QuoteInQuoted,
                            }
                            i = p + 1;
                        }
                    }
                    continue;
                }
            };
            // chunk[term_at] is '\r' or '\n' ending a record, one line end
            // (a '\r' before it would have ended the record already; the '\n'
            // of a '\r\n' belongs to the line end of its '\r').
            *lines += 1;
            st = St::Record;
            match record_end(chunk, term_at + 1, false) {
                Some(end) => {
                    push_end(out, end, lines);
                    i = end;
                }
                None => {
                    *pending_cr = true;
                    i = n;
                }
            }
        }
        self.state = st;
    }
}

impl Core {
    fn scan(
        &mut self,
        chunk: &[u8],
        mut i: usize,
        prev_cr: bool,
        lines: &mut u64,
        pending_cr: &mut bool,
        out: &mut Vec<RecordEnd>,
    ) {
        let mut counted = i;
        while i < chunk.len() {
            let (res, nin, _, _) = self
                .rdr
                .read_record(&chunk[i..], &mut self.out, &mut self.ends);
            i += nin;
            if res == ReadRecordResult::Record {
                match record_end(chunk, i, false) {
                    Some(end) => {
                        *lines +=
                            count_lines(&chunk[counted..end], cr_before(chunk, counted, prev_cr));
                        counted = end;
                        push_end(out, end, lines);
                    }
                    None => *pending_cr = true,
                }
            }
            // Scratch buffers full: their content is not needed, go on (the
            // buffers are never empty, so csv-core always consumes; never spin).
            if nin == 0 {
                break;
            }
        }
        *lines += count_lines(&chunk[counted..], cr_before(chunk, counted, prev_cr));
    }

    fn finish(&mut self) -> Tail {
        match RecordBuf::new(64, 8).finish(&mut self.rdr) {
            EofRecord::None => Tail::Empty,
            EofRecord::Closed => Tail::Record,
            EofRecord::Open => Tail::UnterminatedQuote,
        }
    }
}

/// Whether the byte before `chunk[i]` is a `\r` (`prev_cr`: the previous
/// chunk's last byte is).
fn cr_before(chunk: &[u8], i: usize, prev_cr: bool) -> bool {
    if i == 0 {
        prev_cr
    } else {
        chunk[i - 1] == b'\r'
    }
}

/// Reports a record end with the line ends counted since the previous one.
fn push_end(out: &mut Vec<RecordEnd>, end: usize, lines: &mut u64) {
    out.push(RecordEnd {
        end,
        lines: std::mem::take(lines),
    });
}
