//! Record ends -> batches, for one input being cut: the scanner's ends over
//! consecutive chunks, records carried across chunk boundaries, records
//! committed by an earlier run skipped, records the supervisor rejects itself
//! (larger than `max_record_bytes`, an unterminated quote at the end) sent as
//! one-record batches with a verdict, so that the ledger records them too.
//!
//! Owns the scanning state across chunks; reading is `cutter.rs`'s, batch
//! boundaries `batcher.rs`'s.

use crate::format::{RecordEnd, RecordScanner, Tail};
use crate::protocol::{LedgerRange, Verdict};

use super::batcher::Batcher;
use super::cutter::{CutError, Run};

/// Scanning state across chunks.
pub(super) struct Scan {
    scanner: RecordScanner,
    batcher: Batcher,
    committed: Vec<LedgerRange>,
    next_committed: usize,
    /// Bytes of the record in progress that began in an earlier chunk.
    record: Vec<u8>,
    record_start: u64,
    /// Physical line at `record_start`.
    line: u64,
    /// The record in progress is over `max_record`; its bytes are not kept.
    oversize: bool,
    max_record: usize,
    ends: Vec<RecordEnd>,
}

impl Scan {
    /// Starts at `(offset, line)`, where the first record's span begins;
    /// records starting inside `committed` (sorted by start) are skipped.
    pub fn new(
        scanner: RecordScanner,
        batcher: Batcher,
        committed: Vec<LedgerRange>,
        (offset, line): (u64, u64),
        max_record: usize,
    ) -> Self {
        Scan {
            scanner,
            batcher,
            committed,
            next_committed: 0,
            record: Vec::new(),
            record_start: offset,
            line,
            oversize: false,
            max_record,
            ends: Vec::new(),
        }
    }

    /// Scans `chunk`, which starts at absolute offset `pos`.
    pub fn chunk(&mut self, run: &mut Run, chunk: &[u8], pos: u64) -> Result<(), CutError> {
        let mut ends = std::mem::take(&mut self.ends);
        ends.clear();
        self.scanner.scan(chunk, &mut ends);
        let mut p = 0;
        for e in &ends {
            let end = pos + e.end as u64;
            if self.oversize {
                self.emit(run, end, None)?;
            } else if self.record.is_empty() {
                self.emit(run, end, Some(&chunk[p..e.end]))?;
            } else {
                let mut rec = std::mem::take(&mut self.record);
                rec.extend_from_slice(&chunk[p..e.end]);
                self.emit(run, end, Some(&rec))?;
                rec.clear();
                self.record = rec;
            }
            self.line += e.lines;
            self.record_start = end;
            self.oversize = false;
            p = e.end;
        }
        self.ends = ends;
        if !self.oversize {
            self.record.extend_from_slice(&chunk[p..]);
            if self.record.len() > self.max_record {
                self.oversize = true;
                self.record = Vec::new();
            }
        }
        Ok(())
    }

    /// One whole record `[record_start, end)`; `bytes` is None when too large.
    fn emit(&mut self, run: &mut Run, end: u64, bytes: Option<&[u8]>) -> Result<(), CutError> {
        let start = self.record_start;
        if self.committed_before(start) {
            return Ok(());
        }
        run.count_record();
        let batch = match bytes {
            Some(b) => self.batcher.push(start, self.line, b),
            None => {
                let verdict = Verdict {
                    code: "record_too_large".into(),
                    reason: format!(
                        "the record is larger than max_record_bytes ({} bytes)",
                        self.max_record
                    ),
                };
                Some(
                    self.batcher
                        .rejected(start, end - start, self.line, Vec::new(), verdict),
                )
            }
        };
        match batch {
            Some(b) => run.send(b),
            None => Ok(()),
        }
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

    pub fn finish(mut self, run: &mut Run, eof: u64) -> Result<(), CutError> {
        match self.scanner.finish() {
            Tail::Empty => {}
            Tail::Record => {
                let rec = std::mem::take(&mut self.record);
                let bytes = (!self.oversize).then_some(&rec[..]);
                self.emit(run, eof, bytes)?;
            }
            Tail::UnterminatedQuote if !self.committed_before(self.record_start) => {
                if let Some(b) = self.batcher.flush() {
                    run.send(b)?;
                }
                run.count_record();
                let verdict = Verdict {
                    code: "unterminated_quote".into(),
                    reason: "a quoted field opened in this record is never closed".into(),
                };
                let start = self.record_start;
                let rec = std::mem::take(&mut self.record);
                let b = self
                    .batcher
                    .rejected(start, eof - start, self.line, rec, verdict);
                run.send(b)?;
            }
            Tail::UnterminatedQuote => {}
        }
        if let Some(b) = self.batcher.flush() {
            run.send(b)?;
        }
        Ok(())
    }
}
