//! Cutting record-aligned batches: whole records are appended until the row
//! or byte cap is reached; a gap in the offsets (a range already committed, a
//! record rejected on the supervisor side) always starts a new batch, so a
//! batch is one contiguous byte range of its source.
//!
//! Owns batch boundaries and ids only; reading sources and finding record
//! ends is done by the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::format::Layout;
use crate::protocol::{Batch, Verdict};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A process-wide unique batch id.
pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Accumulates records of one source into batches.
pub struct Batcher {
    source: String,
    file: String,
    layout: Layout,
    max_rows: u32,
    max_bytes: usize,
    open: Option<Open>,
}

struct Open {
    /// When its first record came (a followed file's batch is sent once
    /// this is `batch_linger` old).
    since: Instant,
    start: u64,
    first_line: u64,
    records: u32,
    data: Vec<u8>,
}

impl Batcher {
    pub fn new(source: &str, file: &str, layout: Layout, max_rows: u32, max_bytes: u32) -> Self {
        Batcher {
            source: source.to_string(),
            file: file.to_string(),
            layout,
            max_rows: max_rows.max(1),
            max_bytes: max_bytes.max(1) as usize,
            open: None,
        }
    }

    /// Adds one record that starts at byte `offset` on physical line `line`.
    /// Returns the batch this record closed, if any (the record itself then
    /// starts the next one).
    pub fn push(&mut self, offset: u64, line: u64, record: &[u8]) -> Option<Batch> {
        let mut done = None;
        if let Some(open) = &self.open {
            let end = open.start + open.data.len() as u64;
            let full =
                open.records >= self.max_rows || open.data.len() + record.len() > self.max_bytes;
            if end != offset || full {
                done = self.flush();
            }
        }
        let open = self.open.get_or_insert_with(|| Open {
            since: Instant::now(),
            start: offset,
            first_line: line,
            records: 0,
            data: Vec::with_capacity(record.len().max(self.max_bytes.min(1 << 20))),
        });
        open.data.extend_from_slice(record);
        open.records += 1;
        done
    }

    /// When the open batch got its first record.
    pub fn open_since(&self) -> Option<Instant> {
        self.open.as_ref().map(|o| o.since)
    }

    /// A batch of no record for `[start, end)`: committed, it tells later
    /// runs that these bytes are not to be loaded (a followed file taken up
    /// at its end).
    pub fn skipped(&self, start: u64, end: u64, line: u64) -> Batch {
        Batch {
            id: next_id(),
            source: self.source.clone(),
            file: self.file.clone(),
            start,
            end,
            first_line: line,
            records: 0,
            layout: self.layout.clone(),
            verdict: None,
            data: Vec::new(),
            stream: None,
        }
    }

    /// Closes the open batch, if any.
    pub fn flush(&mut self) -> Option<Batch> {
        let open = self.open.take()?;
        Some(Batch {
            id: next_id(),
            source: self.source.clone(),
            file: self.file.clone(),
            start: open.start,
            end: open.start + open.data.len() as u64,
            first_line: open.first_line,
            records: open.records,
            layout: self.layout.clone(),
            verdict: None,
            data: open.data,
            stream: None,
        })
    }

    /// A batch of one record that the supervisor rejects itself (too large,
    /// unterminated quote): its range goes through a worker into the ledger
    /// like any other, so the rejection is recorded exactly once.
    pub fn rejected(
        &self,
        offset: u64,
        len: u64,
        line: u64,
        data: Vec<u8>,
        verdict: Verdict,
    ) -> Batch {
        Batch {
            id: next_id(),
            source: self.source.clone(),
            file: self.file.clone(),
            start: offset,
            end: offset + len,
            first_line: line,
            records: 1,
            layout: self.layout.clone(),
            verdict: Some(verdict),
            data,
            stream: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher(rows: u32, bytes: u32) -> Batcher {
        let layout = Layout {
            columns: vec![],
            fields: vec![],
            field_count: 1,
        };
        Batcher::new("src", "f.csv", layout, rows, bytes)
    }

    #[test]
    fn cuts_by_rows() {
        let mut b = batcher(2, 1000);
        assert!(b.push(0, 1, b"a\n").is_none());
        assert!(b.push(2, 2, b"b\n").is_none());
        let first = b.push(4, 3, b"c\n").unwrap();
        assert_eq!((first.start, first.end, first.records), (0, 4, 2));
        assert_eq!(first.data, b"a\nb\n");
        let last = b.flush().unwrap();
        assert_eq!((last.start, last.end, last.first_line), (4, 6, 3));
        assert!(b.flush().is_none());
    }

    #[test]
    fn cuts_by_bytes_and_gaps() {
        let mut b = batcher(100, 5);
        assert!(b.push(0, 1, b"aa\n").is_none());
        let by_bytes = b.push(3, 2, b"bb\n").unwrap();
        assert_eq!((by_bytes.start, by_bytes.end), (0, 3));
        // offset 10 is not where the open batch ends: a gap closes it
        let by_gap = b.push(10, 7, b"cc\n").unwrap();
        assert_eq!((by_gap.start, by_gap.end), (3, 6));
        let last = b.flush().unwrap();
        assert_eq!((last.start, last.end, last.first_line), (10, 13, 7));
    }

    #[test]
    fn a_record_larger_than_the_cap_is_a_batch_of_its_own() {
        let mut b = batcher(100, 4);
        assert!(b.push(0, 1, b"0123456789\n").is_none());
        let big = b.push(11, 2, b"x\n").unwrap();
        assert_eq!((big.start, big.end, big.records), (0, 11, 1));
    }
}
