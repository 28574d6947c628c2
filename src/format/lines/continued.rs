//! Records of several lines (`continue = "..."`): a line that the continue
//! pattern matches belongs to the record before it. Both sides: the
//! supervisor's `ContinuedScanner` (record ends over a stream) and the
//! worker's `Records` (a batch's records), which must agree exactly.
//!
//! The rules, on top of `lines.rs`' (what a line and a blank line are):
//! * a non-blank line starts a record unless a record is in progress and the
//!   continue pattern matches the line's text (searched, as `grep` does: a
//!   pattern anchors itself with `^`); the first line of a file, of a batch
//!   and after a blank line always starts one;
//! * a blank line ends the record in progress (continuation lines follow
//!   their record directly) and is skipped, as everywhere;
//! * a record's bytes run from its first line's first byte through its last
//!   line's terminator; its text is its lines' texts joined with `\n`;
//! * a record longer than the limit is rejected whole, through its last
//!   continuation line. A line longer than the limit is tested against the
//!   pattern by its first `limit` bytes (it makes its record too large
//!   whichever record that is), so the scanner keeps at most that much of it.
//!
//! The scanner decides where a record ends only when the next line is
//! complete, so its ends are absolute stream offsets, possibly in an earlier
//! chunk than the one being scanned; `wanted` says which bytes its caller
//! must still hold. No files, pipes or databases.

use std::ops::Range;

use ::regex::bytes::Regex;
use memchr::memchr;

use super::{Line, split};
use crate::format::{EndKind, Lead, Tail};

/// The end of one span (a record and the blank lines before it, or a run of
/// blank lines past the limit), as a stream offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanEnd {
    /// Offset just past the span's last byte, in the stream.
    pub end: u64,
    /// Line ends since the previous `SpanEnd`.
    pub lines: u64,
    pub kind: EndKind,
    /// The blank lines at the span's start (for `Skipped`: the whole span).
    pub lead: Lead,
}

/// The record in progress.
#[derive(Clone, Copy, Debug)]
struct Rec {
    first: u64,
    /// Past its last line's terminator.
    end: u64,
    lead_lines: u64,
    too_large: bool,
}

/// Finds record ends in consecutive chunks of one stream.
#[derive(Debug)]
pub struct ContinuedScanner {
    cont: Regex,
    max: u64,
    /// Stream offset of the next chunk.
    pos: u64,
    /// The line in progress: where it began, its bytes so far (without
    /// `\n`), its first `max` bytes when it began in an earlier chunk,
    /// whether it has a non-blank byte, and its last byte.
    line_start: u64,
    line_len: u64,
    head: Vec<u8>,
    nonblank: bool,
    last: u8,
    /// The span in progress: where it began and the line ends since.
    span_start: u64,
    lines: u64,
    rec: Option<Rec>,
}

impl ContinuedScanner {
    /// A scanner without a limit on record size (see `with_limit`).
    pub fn new(cont: Regex) -> Self {
        ContinuedScanner {
            cont,
            max: u64::MAX,
            pos: 0,
            line_start: 0,
            line_len: 0,
            head: Vec::new(),
            nonblank: false,
            last: 0,
            span_start: 0,
            lines: 0,
            rec: None,
        }
    }

    /// Rejects records longer than `max` bytes (at least 1).
    pub fn with_limit(mut self, max: u64) -> Self {
        self.max = max.max(1);
        self
    }

    /// Scans the next chunk, appending the ends it decides to `out`.
    pub fn scan(&mut self, chunk: &[u8], out: &mut Vec<SpanEnd>) {
        let mut i = 0;
        while i < chunk.len() {
            let Some(k) = memchr(b'\n', &chunk[i..]) else {
                self.take(&chunk[i..]);
                break;
            };
            let j = i + k;
            if self.line_len == 0 {
                // The whole line is in this chunk: test it where it lies.
                self.take_counts(&chunk[i..j]);
                self.complete(out, Some(&chunk[i..j]), true);
            } else {
                self.take(&chunk[i..j]);
                self.complete(out, None, true);
            }
            i = j + 1;
        }
        self.pos += chunk.len() as u64;
    }

    /// The bytes the caller must still hold (stream offsets): those of the
    /// span in progress that can still be part of a record within the limit
    /// (the rest will end as `TooLarge` or `Skipped`, whose bytes nobody
    /// wants). At most the limit of blank lines, a record within the limit
    /// and the line being read while it is within the limit.
    /// Makes `pos` the stream offset of the next chunk when nothing is in
    /// progress (a new scanner, or one reset by `finish`, reading on from
    /// the middle of a stream: past a header, or where a followed file's
    /// ledger ends).
    pub fn rebase(&mut self, pos: u64) {
        if self.pos != pos && self.line_len == 0 && self.rec.is_none() {
            (self.pos, self.line_start, self.span_start) = (pos, pos, pos);
        }
        debug_assert_eq!(self.pos, pos, "chunks are consecutive");
    }

    pub fn wanted(&self) -> Range<u64> {
        let now = self.pos;
        let long = self.line_len >= self.max;
        match (self.rec, long) {
            (None, false) => self.span_start..now,
            (Some(r), false) if !r.too_large => self.span_start..now,
            (Some(r), true) if !r.too_large => self.span_start..r.end,
            (Some(_), false) => self.line_start..now,
            (_, true) => now..now,
        }
    }

    /// At EOF: the ends still undecided go to `out`, and what follows the
    /// last of them is returned (always `Tail::Empty` here: every record
    /// ends in `out`). Resets the scanner for a new stream.
    pub fn finish(&mut self, out: &mut Vec<SpanEnd>) -> Tail {
        if self.line_len > 0 {
            self.complete(out, None, false);
        }
        if let Some(rec) = self.rec.take() {
            self.emit(out, rec);
        }
        let (cont, max) = (self.cont.clone(), self.max);
        *self = ContinuedScanner::new(cont).with_limit(max);
        Tail::Empty
    }

    /// More bytes of the line in progress, which began in an earlier chunk
    /// (or goes on into a later one).
    fn take(&mut self, bytes: &[u8]) {
        let room = (self.max as usize).saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.take_counts(bytes);
    }

    fn take_counts(&mut self, bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.last = b;
        }
        self.nonblank = self.nonblank || bytes.iter().any(|&b| !super::is_blank_byte(b));
        self.line_len += bytes.len() as u64;
    }

    /// The line in progress is complete (`nl`: ended by a `\n`); `whole` is
    /// its bytes when they all lie in the current chunk, else `head` has them.
    fn complete(&mut self, out: &mut Vec<SpanEnd>, whole: Option<&[u8]>, nl: bool) {
        let end = self.line_start + self.line_len + u64::from(nl);
        if !self.nonblank {
            if let Some(rec) = self.rec.take() {
                self.emit(out, rec);
            }
            self.lines += u64::from(nl);
            if nl && end - self.span_start > self.max {
                // A long run of blank lines ends as its own span, so that no
                // caller has to keep it (as `LineScanner` does).
                let lines = std::mem::take(&mut self.lines);
                out.push(SpanEnd {
                    end,
                    lines,
                    kind: EndKind::Skipped,
                    lead: Lead {
                        bytes: end - self.span_start,
                        lines,
                    },
                });
                self.span_start = end;
            }
        } else {
            let joins = self.rec.is_some() && {
                // The text as `split` gives it (a `\r` before the `\n` is
                // the terminator's), cut at the limit.
                let text_len = self.line_len - u64::from(nl && self.last == b'\r');
                let text = whole.unwrap_or(&self.head);
                self.cont
                    .is_match(&text[..(text_len.min(text.len() as u64)) as usize])
            };
            // A record is larger than the limit past it; one the input ends
            // without a terminator, already at it (as `LineScanner` says).
            let max = self.max;
            let over = |first: u64| end - first > max || (!nl && end - first >= max);
            match self.rec.as_mut() {
                Some(rec) if joins => {
                    rec.end = end;
                    rec.too_large |= over(rec.first);
                }
                _ => {
                    if let Some(rec) = self.rec.take() {
                        self.emit(out, rec);
                    }
                    self.rec = Some(Rec {
                        first: self.line_start,
                        end,
                        lead_lines: self.lines,
                        too_large: over(self.line_start),
                    });
                }
            }
            self.lines += u64::from(nl);
        }
        self.line_start = end;
        self.line_len = 0;
        self.head.clear();
        self.nonblank = false;
    }

    /// Ends the span of `rec`: called as soon as the line after its last
    /// one is complete, so every line end counted since the span began is
    /// the span's.
    fn emit(&mut self, out: &mut Vec<SpanEnd>, rec: Rec) {
        out.push(SpanEnd {
            end: rec.end,
            lines: std::mem::take(&mut self.lines),
            kind: match rec.too_large {
                true => EndKind::TooLarge,
                false => EndKind::Record,
            },
            lead: Lead {
                bytes: rec.first - self.span_start,
                lines: rec.lead_lines,
            },
        });
        self.span_start = rec.end;
    }
}

/// One record of a batch: its first line's place, its bytes' length (with
/// the last terminator) and its text.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub at: usize,
    pub len: usize,
    /// Line ends in the batch before its first line.
    pub line: u64,
    /// Its lines' texts joined with `\n`.
    pub text: &'a [u8],
}

/// The records of a batch (worker side), grouped as `ContinuedScanner`
/// groups them; without a pattern, one record per non-blank line.
pub fn records<'a, 'r>(
    data: &'a [u8],
    cont: Option<&'r Regex>,
) -> Records<'a, 'r, impl Iterator<Item = Line<'a>> + use<'a>> {
    Records {
        data,
        lines: split(data).peekable(),
        cont,
        parts: Vec::new(),
        joined: Vec::new(),
    }
}

/// See `records`.
pub struct Records<'a, 'r, I: Iterator<Item = Line<'a>>> {
    data: &'a [u8],
    lines: std::iter::Peekable<I>,
    cont: Option<&'r Regex>,
    /// The lines of the record being read, and its joined text when it is
    /// not the batch's own bytes.
    parts: Vec<Line<'a>>,
    joined: Vec<u8>,
}

impl<'a, I: Iterator<Item = Line<'a>>> Records<'a, '_, I> {
    /// The next record; its text may live in a buffer the next call reuses.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Record<'_>> {
        let first = self.lines.next()?;
        let whole = |first: &Line<'a>, text: &'a [u8]| Record {
            at: first.at,
            len: first.len,
            line: first.line,
            text,
        };
        let Some(cont) = self.cont else {
            return Some(whole(&first, first.text));
        };
        self.parts.clear();
        self.parts.push(first);
        let mut last = first;
        while let Some(next) = self
            .lines
            .next_if(|next| next.at == last.at + last.len && cont.is_match(next.text))
        {
            self.parts.push(next);
            last = next;
        }
        if self.parts.len() == 1 {
            return Some(whole(&first, first.text));
        }
        let len = last.at + last.len - first.at;
        // With every line but the last ended by a bare `\n`, the joined text
        // is the batch's own bytes.
        let (init, _) = self.parts.split_at(self.parts.len() - 1);
        let text = if init.iter().all(|l| l.len == l.text.len() + 1) {
            &self.data[first.at..last.at + last.text.len()]
        } else {
            self.joined.clear();
            for (i, l) in self.parts.iter().enumerate() {
                if i > 0 {
                    self.joined.push(b'\n');
                }
                self.joined.extend_from_slice(l.text);
            }
            &self.joined[..]
        };
        Some(Record {
            at: first.at,
            len,
            line: first.line,
            text,
        })
    }
}

#[cfg(test)]
mod tests;
