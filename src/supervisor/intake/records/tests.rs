//! `Scan` over chunked inputs: what reaches the workers (batches, verdicts)
//! for records past the limit, stray quotes, unterminated quotes at the end,
//! long runs of blank lines and committed ranges, and for generated inputs
//! against the csv crate (proptest), with the bytes it carries between
//! chunks checked against the limit after every chunk. Test code only.

use proptest::prelude::*;

use super::{Handover, Scan};
use crate::format::tests::oracle::{self, Kind};
use crate::format::tests::{dialects, inputs, line_table};
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
    cut_as(&csv(), data, chunk, max, committed)
}

fn cut_as(
    fmt: &CsvFormat,
    data: &[u8],
    chunk: usize,
    max: usize,
    committed: Vec<LedgerRange>,
) -> Sent {
    let layout = Layout {
        columns: vec![ColumnSpec::text("k"), ColumnSpec::text("v")],
        fields: vec![crate::format::Field::At(0), crate::format::Field::At(1)],
        field_count: 2,
    };
    let batcher = Batcher::new("src", "f.csv", layout, 1000, 1 << 16);
    let mut scan = Scan::new(RecordScanner::new(fmt), batcher, committed, (0, 1), max);
    let mut sent = Sent::default();
    for (i, c) in data.chunks(chunk).enumerate() {
        assert!(scan.chunk(&mut sent, c, (i * chunk) as u64).is_ok());
        // Blank lines, then a record, each within the limit; no more.
        assert!(scan.carry.len() <= 2 * max, "{} carried", scan.carry.len());
        let cap = scan.carry.capacity();
        assert!(
            cap <= (4 * max).max(8),
            "{cap} reserved (a Vec<u8> takes 8 at least)"
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

/// (first byte, end, kind, line) of every record the workers get, as they
/// see them: records of the data batches as `parse_batch` finds them (rows
/// and rejects alike), verdicts as they come.
fn seen(fmt: &CsvFormat, sent: &Sent, data: &[u8]) -> Vec<(usize, usize, Kind, u64)> {
    let line_at = line_table(data);
    let mut out = Vec::new();
    for b in &sent.batches {
        let (start, end) = (b.start as usize, b.end as usize);
        if let Some(v) = &b.verdict {
            let kind = match v.code.as_str() {
                "record_too_large" => Kind::TooLarge,
                "unterminated_quote" => Kind::Open,
                other => panic!("{other}"),
            };
            out.push((start, end, kind, b.first_line));
            continue;
        }
        assert_eq!(b.data, &data[start..end], "a batch holds its range's bytes");
        assert_eq!(b.first_line, line_at[start]);
        let p = parse_batch(fmt, &b.layout, b.start, b.first_line, &b.data);
        assert_eq!(
            p.records,
            u64::from(b.records),
            "the batch's count is the parser's"
        );
        let rows = p
            .rows
            .origins
            .iter()
            .map(|o| (o.offset, o.len as u64, o.line));
        let rejects = p.rejects.iter().map(|r| {
            assert_ne!(r.code, "unterminated_quote", "an open record is a verdict");
            (r.offset, r.len, r.line)
        });
        for (offset, len, line) in rows.chain(rejects) {
            out.push((offset as usize, (offset + len) as usize, Kind::Record, line));
        }
    }
    out.sort();
    out
}

proptest! {
    /// Generated and mutated inputs in every dialect, limits from 1 byte,
    /// chunks from 1 byte: the workers get the csv crate's records, each
    /// once, at its physical line, or its verdict where the limit's rule
    /// (`oracle::limited`) says so.
    #[test]
    fn prop_batches_hold_the_csv_crate_s_records(
        data in inputs::input(),
        d in 0..6usize,
        max in 1..80usize,
        chunk in 1..64usize,
    ) {
        let fmt = &dialects()[d];
        let sent = cut_as(fmt, &data, chunk, max, vec![]);
        let line_at = line_table(&data);
        let want: Vec<_> = oracle::limited(fmt, &data, 0, max)
            .into_iter()
            .map(|(first, end, kind)| (first, end, kind, line_at[first]))
            .collect();
        prop_assert_eq!(seen(fmt, &sent, &data), want.clone());
        prop_assert_eq!(sent.records, want.len() as u64);
    }
}
