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

use crate::format::{EndKind, Lead, RecordEnd, Scanner, Tail};
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
    /// Bytes of the span in progress (a record and the blank or comment lines
    /// before it) that began in an earlier chunk, while the scanner wants them.
    carry: Vec<u8>,
    /// Where the span in progress began, and its physical line.
    span_start: u64,
    line: u64,
    max_record: usize,
    ends: Vec<RecordEnd>,
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
            span_start: offset,
            line,
            max_record,
            ends: Vec::new(),
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
        self.scanner.scan(chunk, &mut ends);
        let mut p = 0;
        for e in &ends {
            let end = pos + e.end as u64;
            match e.kind {
                EndKind::Record if self.carry.is_empty() => {
                    self.record(run, end, &chunk[p..e.end])?;
                }
                EndKind::Record => {
                    let mut rec = std::mem::take(&mut self.carry);
                    rec.extend_from_slice(&chunk[p..e.end]);
                    self.record(run, end, &rec)?;
                    self.carry = rec;
                }
                EndKind::TooLarge => {
                    let reason = format!(
                        "the record is longer than max_record_bytes ({} bytes); the range \
                         rejected ends at the first line end past that size, where reading resumed",
                        self.max_record
                    );
                    self.too_large(run, e.lead, end, reason)?;
                }
                // Only blank or comment lines: nothing to load or reject.
                EndKind::Skipped => {}
            }
            self.line += e.lines;
            self.span_start = end;
            self.carry.clear();
            p = e.end;
        }
        self.ends = ends;
        if self.scanner.discards() {
            self.carry.clear();
        } else {
            self.carry.extend_from_slice(&chunk[p..]);
        }
        Ok(())
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
        match self.scanner.finish() {
            Tail::Empty => {}
            Tail::Record => {
                let rec = std::mem::take(&mut self.carry);
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
                    let mut rec = std::mem::take(&mut self.carry);
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
        if let Some(b) = self.batcher.flush() {
            run.send(b)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
