//! Record ends -> batches, for one input being cut: the scanner's ends over
//! consecutive chunks, records carried across chunk boundaries, records
//! committed by an earlier run skipped, records the supervisor rejects itself
//! (longer than `max_record_bytes`, an unterminated quote at the end) sent as
//! one-record batches with a verdict, so that the ledger records them too.
//!
//! Owns the scanning state across chunks; reading is `cutter.rs`'s, batch
//! boundaries `batcher.rs`'s, what a too-large record is and where scanning
//! resumes after one `format/csv/scan.rs`'s. Memory: the bytes carried over a
//! chunk boundary are kept only while the scanner may want them, so they
//! never pass twice `max_record_bytes` (blank lines, then a record) whatever
//! the input; a too-large record's verdict carries no bytes (its range is
//! in the note, and its bytes are in the file).

use crate::format::{EndKind, Lead, RecordEnd, Scanner, SpanEnd, Tail};
use crate::protocol::{Batch, LedgerRange, Verdict};

use super::batcher::Batcher;
use super::cutter::{CutError, Run};

/// Where `Scan` hands over what it cuts: the cutter's `Run` (in tests, a list).
pub(super) trait Handover {
    /// One more record of the input has an answer coming (a batch or a verdict).
    fn count_record(&mut self);
    fn send(&mut self, batch: Batch) -> Result<(), CutError>;
}

impl Handover for Run<'_> {
    fn count_record(&mut self) {
        Run::count_record(self);
    }

    fn send(&mut self, batch: Batch) -> Result<(), CutError> {
        Run::send(self, batch)
    }
}

/// Scanning state across chunks.
pub(super) struct Scan {
    scanner: Scanner,
    batcher: Batcher,
    committed: Vec<LedgerRange>,
    next_committed: usize,
    /// Bytes the scanner still wants (`Scanner::wanted`) that lie in
    /// chunks already scanned: a record in progress, or (with continuation
    /// lines) a record whose end is not decided yet; they begin at stream
    /// offset `carry_at`.
    carry: Vec<u8>,
    carry_at: u64,
    /// A record whose bytes straddle `carry` and the chunk, put together.
    joined: Vec<u8>,
    /// Where the span in progress began, and its physical line.
    span_start: u64,
    line: u64,
    max_record: usize,
    ends: Vec<SpanEnd>,
    scratch: Vec<RecordEnd>,
}

impl Scan {
    /// Starts at `(offset, line)`, where the first record's span begins;
    /// records starting inside `committed` (sorted by start) are skipped;
    /// records longer than `max_record` bytes are rejected.
    pub fn new(
        scanner: impl Into<Scanner>,
        batcher: Batcher,
        committed: Vec<LedgerRange>,
        (offset, line): (u64, u64),
        max_record: usize,
    ) -> Self {
        Scan {
            scanner: scanner.into().with_limit(max_record as u64),
            batcher,
            committed,
            next_committed: 0,
            carry: Vec::new(),
            carry_at: offset,
            joined: Vec::new(),
            span_start: offset,
            line,
            max_record,
            ends: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Scans `chunk`, which starts at absolute offset `pos`.
    pub fn chunk(
        &mut self,
        run: &mut impl Handover,
        chunk: &[u8],
        pos: u64,
    ) -> Result<(), CutError> {
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        self.scanner.scan(chunk, pos, &mut ends, &mut self.scratch);
        let done = self.spans(run, &ends, chunk, pos);
        self.ends = ends;
        done?;
        let now = pos + chunk.len() as u64;
        let want = self.scanner.wanted(self.span_start, now);
        self.keep(want, chunk, pos);
        Ok(())
    }

    /// Hands over the spans that `ends` close; their bytes are in `carry`
    /// and `chunk` (at `pos`).
    fn spans(
        &mut self,
        run: &mut impl Handover,
        ends: &[SpanEnd],
        chunk: &[u8],
        pos: u64,
    ) -> Result<(), CutError> {
        for e in ends {
            match e.kind {
                EndKind::Record => {
                    let (start, end) = (self.span_start, e.end);
                    if start >= pos {
                        let bytes = &chunk[(start - pos) as usize..(end - pos) as usize];
                        self.record(run, end, bytes)?;
                    } else {
                        debug_assert!(start >= self.carry_at, "a record's bytes were let go");
                        let from = (start - self.carry_at) as usize;
                        let mut rec = std::mem::take(&mut self.joined);
                        rec.clear();
                        if end <= pos {
                            rec.extend_from_slice(
                                &self.carry[from..(end - self.carry_at) as usize],
                            );
                        } else {
                            rec.extend_from_slice(&self.carry[from..]);
                            rec.extend_from_slice(&chunk[..(end - pos) as usize]);
                        }
                        let done = self.record(run, end, &rec);
                        self.joined = rec;
                        done?;
                    }
                }
                EndKind::TooLarge => {
                    let reason = match self.scanner.whole_records() {
                        true => format!(
                            "the record (with its continuation lines) is longer than \
                             max_record_bytes ({} bytes); it is rejected whole",
                            self.max_record
                        ),
                        false => format!(
                            "the record is longer than max_record_bytes ({} bytes); the range \
                             rejected ends at the first line end past that size, where reading resumed",
                            self.max_record
                        ),
                    };
                    self.too_large(run, e.lead, e.end, reason)?;
                }
                // Only blank or comment lines: nothing to load or reject.
                EndKind::Skipped => {}
            }
            self.line += e.lines;
            self.span_start = e.end;
        }
        Ok(())
    }

    /// Keeps the bytes of `want` (which never reaches back before what is
    /// kept already) out of `carry` and `chunk` (at `pos`).
    fn keep(&mut self, want: std::ops::Range<u64>, chunk: &[u8], pos: u64) {
        if want.is_empty() {
            self.carry.clear();
            self.carry_at = want.end;
            return;
        }
        let kept_end = self.carry_at + self.carry.len() as u64;
        if want.start >= kept_end || want.start >= pos {
            self.carry.clear();
        } else {
            debug_assert!(want.start >= self.carry_at, "wanted bytes were let go");
            self.carry
                .truncate((want.end.min(kept_end) - self.carry_at) as usize);
            self.carry.drain(..(want.start - self.carry_at) as usize);
        }
        let from = want.start.max(pos);
        if want.end > from {
            self.carry
                .extend_from_slice(&chunk[(from - pos) as usize..(want.end - pos) as usize]);
        }
        self.carry_at = want.start;
    }

    /// One whole record, the span `[span_start, end)`.
    fn record(&mut self, run: &mut impl Handover, end: u64, bytes: &[u8]) -> Result<(), CutError> {
        let start = self.span_start;
        debug_assert_eq!(
            end - start,
            bytes.len() as u64,
            "a record's bytes are its span"
        );
        if self.committed_before(start) {
            return Ok(());
        }
        run.count_record();
        match self.batcher.push(start, self.line, bytes) {
            Some(b) => run.send(b),
            None => Ok(()),
        }
    }

    /// A record too large to load: from its first byte (past `lead`) to `end`.
    fn too_large(
        &mut self,
        run: &mut impl Handover,
        lead: Lead,
        end: u64,
        reason: String,
    ) -> Result<(), CutError> {
        let start = self.span_start + lead.bytes;
        if self.committed_before(start) {
            return Ok(());
        }
        run.count_record();
        let verdict = Verdict {
            code: "record_too_large".into(),
            reason,
        };
        let line = self.line + lead.lines;
        let b = self
            .batcher
            .rejected(start, end - start, line, Vec::new(), verdict);
        run.send(b)
    }

    /// Whether the record starting at `start` lies in a range committed by an
    /// earlier run (then it is neither loaded nor counted again).
    fn committed_before(&mut self, start: u64) -> bool {
        while self
            .committed
            .get(self.next_committed)
            .is_some_and(|r| r.end <= start)
        {
            self.next_committed += 1;
        }
        self.committed
            .get(self.next_committed)
            .is_some_and(|r| r.start <= start)
    }

    pub fn finish(mut self, run: &mut impl Handover, eof: u64) -> Result<(), CutError> {
        self.close(run, eof)?;
        self.flush(run)
    }

    /// Hands over the open batch, if any.
    pub fn flush(&mut self, run: &mut impl Handover) -> Result<(), CutError> {
        match self.batcher.flush() {
            Some(b) => run.send(b),
            None => Ok(()),
        }
    }

    /// When the open batch got its first record.
    pub fn open_since(&self) -> Option<std::time::Instant> {
        self.batcher.open_since()
    }

    /// Whether bytes before `pos` belong to no record handed over yet (a
    /// last line without its newline, a record whose end is undecided).
    pub fn pending(&self, pos: u64) -> bool {
        pos > self.span_start
    }

    /// Takes everything up to `eof` as if the input ended there (a last line
    /// without its newline becomes a record), then goes on scanning from
    /// `eof` as a new start (a followed file that stopped growing).
    pub fn cut_here(&mut self, run: &mut impl Handover, eof: u64) -> Result<(), CutError> {
        self.close(run, eof)?;
        self.carry.clear();
        self.carry_at = eof;
        self.span_start = eof;
        Ok(())
    }

    /// The scanner's undecided ends and what follows the last one, at `eof`.
    fn close(&mut self, run: &mut impl Handover, eof: u64) -> Result<(), CutError> {
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        let tail = self.scanner.finish(&mut ends);
        self.spans(run, &ends, &[], eof)?;
        // What follows the last end is all in `carry`, from `span_start`.
        let rest = |s: &Self| {
            let from = (s.span_start.saturating_sub(s.carry_at) as usize).min(s.carry.len());
            s.carry[from..].to_vec()
        };
        match tail {
            Tail::Empty => {}
            Tail::Record => {
                let rec = rest(self);
                self.record(run, eof, &rec)?;
            }
            Tail::UnterminatedQuote(lead) => {
                let start = self.span_start + lead.bytes;
                if !self.committed_before(start) {
                    if let Some(b) = self.batcher.flush() {
                        run.send(b)?;
                    }
                    run.count_record();
                    let verdict = Verdict {
                        code: "unterminated_quote".into(),
                        reason: "a quoted field opened in this record is never closed".into(),
                    };
                    // Within the limit (a longer one is `TooLarge`): kept.
                    let mut rec = rest(self);
                    rec.drain(..lead.bytes as usize);
                    let line = self.line + lead.lines;
                    let b = self
                        .batcher
                        .rejected(start, eof - start, line, rec, verdict);
                    run.send(b)?;
                }
            }
            Tail::TooLarge(lead) => {
                let reason = format!(
                    "the record is longer than max_record_bytes ({} bytes) and no line end \
                     follows that size: the rest of the input is rejected",
                    self.max_record
                );
                self.too_large(run, lead, eof, reason)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lines;
