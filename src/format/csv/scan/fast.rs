//! The scanner's memchr fast path: a hand-written copy of csv-core's state
//! machine for the common dialect (no escape, no comment), jumping over bytes
//! that cannot change state, with the limit and line counting of `scan.rs`
//! inline. Owns nothing but that loop; spans, the limit's rules and what
//! follows a too-large record are `scan.rs`'s.

use memchr::memchr3;

use super::{Mode, RecordEnd, RecordScanner};
use crate::format::csv::CsvFormat;
use crate::format::csv::dialect::record_end;

#[derive(Clone, Debug)]
pub(super) struct Fast {
    delimiter: u8,
    quote: u8,
    double_quote: bool,
    /// Where a record in progress stands (`St::Record` between records).
    state: St,
}

/// csv-core states that matter for boundaries (csv-core's CRLF state behaves
/// like `Record` once the `\r\n` question is settled by `pending`).
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

impl Fast {
    pub fn new(fmt: &CsvFormat) -> Self {
        Fast {
            delimiter: fmt.delimiter,
            quote: fmt.quote,
            double_quote: fmt.double_quote,
            state: St::Record,
        }
    }

    pub fn reset(&mut self) {
        self.state = St::Record;
    }

    /// Whether the record in progress is inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.state == St::Quoted
    }
}

impl RecordScanner {
    /// Scans `chunk[i..]` between and inside records (`Mode::Lead` and
    /// `Mode::Record`) up to the chunk's end or a record byte past the limit
    /// (then `Mode::Resync`); returns where it stopped.
    pub(super) fn fast(&mut self, chunk: &[u8], mut i: usize, out: &mut Vec<RecordEnd>) -> usize {
        let super::Engine::Fast(f) = &self.engine else {
            unreachable!("the fast path runs on the fast engine");
        };
        let (delim, quote, double_quote) = (f.delimiter, f.quote, f.double_quote);
        let n = chunk.len();
        let mut st = match self.mode {
            Mode::Record => f.state,
            _ => St::Record,
        };
        let mut lim = self.limit(n);
        while i < n {
            // Invariant: `st` is the state before processing chunk[i]; in a
            // record, `lim` is where it would pass the limit.
            let term_at = match st {
                St::Record => {
                    match chunk[i] {
                        b'\n' => self.lines += u64::from(!self.cr_before(chunk, i)),
                        b'\r' => self.lines += 1,
                        _ => {
                            self.start_record(out, i);
                            st = St::Field;
                            lim = self.limit(n);
                            continue;
                        }
                    }
                    i += 1;
                    continue;
                }
                _ if i >= lim => {
                    self.set_state(St::Record);
                    return self.oversize(i);
                }
                St::Field | St::QuoteInQuoted => {
                    let b = chunk[i];
                    if b == b'\n' || b == b'\r' {
                        i
                    } else {
                        st = if b == quote && (st == St::Field || double_quote) {
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
                St::Unquoted => match memchr3(quote, b'\n', b'\r', &chunk[i..lim]) {
                    None => {
                        // Bytes up to the stop are delimiters or plain: the
                        // state is Field exactly when the last one is a delimiter.
                        if chunk[lim - 1] == delim {
                            st = St::Field;
                        }
                        i = lim;
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
                    match memchr3(quote, b'\n', b'\r', &chunk[i..lim]) {
                        None => i = lim,
                        Some(k) => {
                            let p = i + k;
                            match chunk[p] {
                                b'\r' => self.lines += 1,
                                b'\n' => self.lines += u64::from(!self.cr_before(chunk, p)),
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
            self.lines += 1;
            st = St::Record;
            match record_end(chunk, term_at + 1, false) {
                Some(end) => {
                    self.emit(out, end, self.kind(end));
                    i = end;
                }
                None => {
                    self.pending = Some(self.kind(n));
                    i = n;
                }
            }
        }
        self.set_state(st);
        self.mode = match st {
            St::Record => Mode::Lead { comment: false },
            _ => Mode::Record,
        };
        i
    }

    fn set_state(&mut self, st: St) {
        if let super::Engine::Fast(f) = &mut self.engine {
            f.state = st;
        }
    }
}
