//! `Scan` over chunked inputs: what reaches the workers (batches, verdicts)
//! for records past the limit, stray quotes, unterminated quotes at the end,
//! long runs of blank lines and committed ranges, with the bytes it carries
//! between chunks checked against the limit after every chunk. Test code only.

use super::{Handover, Scan};
use crate::format::{ColumnSpec, CsvFormat, Layout, RecordScanner, parse_batch};
use crate::protocol::{Batch, LedgerRange};
use crate::supervisor::intake::batcher::Batcher;
use crate::supervisor::intake::cutter::CutError;

/// What a cut handed over.
#[derive(Default)]
struct Sent {
    batches: Vec<Batch>,
    records: u64,
}

impl Handover for Sent {
    fn count_record(&mut self) {
        self.records += 1;
    }

    fn send(&mut self, batch: Batch) -> Result<(), CutError> {
        self.batches.push(batch);
        Ok(())
    }
}

impl Sent {
    fn verdicts(&self) -> Vec<(u64, u64, u64, &str)> {
        let v = self.batches.iter().filter_map(|b| {
            let v = b.verdict.as_ref()?;
            Some((b.start, b.end, b.first_line, v.code.as_str()))
        });
        v.collect()
    }

    /// (line, first field) of every row the workers would load.
    fn rows(&self) -> Vec<(u64, String)> {
        let mut rows = Vec::new();
        for b in self.batches.iter().filter(|b| b.verdict.is_none()) {
            let p = parse_batch(&csv(), &b.layout, b.start, b.first_line, &b.data);
            assert!(p.rejects.is_empty(), "{:?}", p.rejects);
            assert_eq!(p.records, u64::from(b.records));
            for (i, o) in p.rows.origins.iter().enumerate() {
                let first = match p.rows.row(i)[0] {
                    crate::format::Cell::Text { start, len } => {
                        p.rows.text[start as usize..][..len as usize].to_string()
                    }
                    ref c => panic!("{c:?}"),
                };
                rows.push((o.line, first));
            }
        }
        rows
    }
}

fn csv() -> CsvFormat {
    CsvFormat {
        header: false,
        ..CsvFormat::default()
    }
}

/// Cuts `data` (from offset 0, line 1) in chunks of `chunk` bytes with the
/// limit `max`, `committed` skipped.
fn cut(data: &[u8], chunk: usize, max: usize, committed: Vec<LedgerRange>) -> Sent {
    let layout = Layout {
        columns: vec![ColumnSpec::text("k"), ColumnSpec::text("v")],
        fields: vec![0, 1],
        field_count: 2,
    };
    let batcher = Batcher::new("src", "f.csv", layout, 1000, 1 << 16);
    let mut scan = Scan::new(RecordScanner::new(&csv()), batcher, committed, (0, 1), max);
    let mut sent = Sent::default();
    for (i, c) in data.chunks(chunk).enumerate() {
        assert!(scan.chunk(&mut sent, c, (i * chunk) as u64).is_ok());
        // Blank lines, then a record, each within the limit; no more.
        assert!(scan.carry.len() <= 2 * max, "{} carried", scan.carry.len());
        assert!(
            scan.carry.capacity() <= 4 * max,
            "{}",
            scan.carry.capacity()
        );
    }
    assert!(scan.finish(&mut sent, data.len() as u64).is_ok());
    sent
}

fn committed(start: u64, end: u64) -> LedgerRange {
    LedgerRange {
        start,
        end,
        first_line: 0,
        loaded: 0,
        rejected: 1,
        rejects: vec![],
    }
}

#[test]
fn a_record_past_the_limit_inside_one_chunk_is_a_verdict() {
    let data = [&b"a,b\n"[..], &[b'x'; 100], b",y\nc,d\n"].concat();
    for chunk in [data.len(), 7, 1] {
        let sent = cut(&data, chunk, 16, vec![]);
        assert_eq!(
            sent.verdicts(),
            [(4, 107, 2, "record_too_large")],
            "{chunk}"
        );
        let verdict = sent.batches.iter().find(|b| b.verdict.is_some()).unwrap();
        assert!(verdict.data.is_empty(), "no bytes of a too-large record");
        assert_eq!(sent.rows(), [(1, "a".into()), (3, "c".into())]);
        assert_eq!(sent.records, 3);
    }
}

#[test]
fn a_stray_quote_is_rejected_up_to_the_first_line_end_past_the_limit() {
    let mut data = b"1,\"never closed\n".to_vec();
    for k in 2..=3000 {
        data.extend(format!("{k},v\r\n").as_bytes());
    }
    let max = 1000;
    let sent = cut(&data, 100, max, vec![]);
    // Past the limit, the first line end: the '\n' of a "k,v\r\n".
    let resync = data[max..].iter().position(|&b| b == b'\n').unwrap() + max + 1;
    assert_eq!(sent.verdicts(), [(0, resync as u64, 1, "record_too_large")]);
    let rows = sent.rows();
    let first = rows[0].0;
    assert_eq!(rows[0].1, first.to_string(), "every line after it is a row");
    assert_eq!(rows.len() as u64, 3000 - first + 1);
    assert!(rows.iter().all(|(line, k)| *k == line.to_string()));
    assert_eq!(sent.records, 1 + rows.len() as u64);
}

#[test]
fn an_unterminated_quote_at_the_end_keeps_its_bytes() {
    let data = b"a,b\n\n\"c,d\ne";
    for chunk in 1..=data.len() {
        let sent = cut(data, chunk, 64, vec![]);
        assert_eq!(sent.verdicts(), [(5, 11, 3, "unterminated_quote")]);
        let verdict = sent.batches.iter().find(|b| b.verdict.is_some()).unwrap();
        assert_eq!(verdict.data, b"\"c,d\ne");
        assert_eq!(sent.rows(), [(1, "a".into())]);
    }
}

#[test]
fn past_the_limit_without_a_line_end_the_rest_is_one_rejected_range() {
    let data = [&b"a,b\n\r\n\"x"[..], &[b'x'; 1000]].concat();
    let sent = cut(&data, 50, 64, vec![]);
    assert_eq!(
        sent.verdicts(),
        [(6, data.len() as u64, 3, "record_too_large")]
    );
    let verdict = sent.batches.iter().find_map(|b| b.verdict.as_ref());
    let reason = &verdict.unwrap().reason;
    assert!(reason.contains("rest of the input"), "{reason}");
}

#[test]
fn blank_lines_past_the_limit_are_neither_kept_nor_rejected() {
    let data = [&b"a,b\n"[..], &[b'\n'; 500], b"c,d\n"].concat();
    let sent = cut(&data, 30, 16, vec![]);
    assert!(sent.verdicts().is_empty());
    assert_eq!(sent.rows(), [(1, "a".into()), (502, "c".into())]);
    assert_eq!(sent.records, 2);
}

#[test]
fn verdicts_in_committed_ranges_are_not_sent_again() {
    let data = [&b"a,b\n"[..], &[b'x'; 100], b",y\nc,d\n"].concat();
    let sent = cut(&data, 10, 16, vec![committed(4, 107)]);
    assert!(sent.verdicts().is_empty());
    assert_eq!(sent.records, 2);
    let data = b"a,b\n\n\"c,d\ne";
    let sent = cut(data, 4, 64, vec![committed(0, 4), committed(5, 11)]);
    assert!(sent.batches.is_empty());
    assert_eq!(sent.records, 0);
}
