//! `Scan` with line formats: with continuation lines, over generated logs,
//! limits and chunk sizes (proptest), every record of the whole input
//! reaches the workers once, as a row at its line or as a too-large verdict
//! over its whole range, and the bytes carried stay bounded. Test code only.

use proptest::prelude::*;

use super::{Handover, Scan};
use crate::format::lines::records;
use crate::format::regex::Matcher;
use crate::format::{Cell, Format, RegexFormat, Scanner};
use crate::protocol::Batch;
use crate::supervisor::intake::batcher::Batcher;
use crate::supervisor::intake::cutter::CutError;

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

/// Everything a record holds, as one text column; lines starting with a
/// blank continue.
fn format() -> Format {
    let m = Matcher::Pattern {
        source: r"(?P<all>(?s-u:.*))".into(),
        named: None,
    };
    Format::Regex(RegexFormat::new(m, Some(r"^\s".into()), "\u{0}".into(), 0).unwrap())
}

/// (first byte, end, line, text or verdict code) of what the workers get.
fn cut(data: &[u8], chunk: usize, max: usize) -> (Vec<(u64, u64, u64, String)>, u64) {
    let f = format();
    let layout = f.layout(None, None).unwrap();
    let batcher = Batcher::new("src", "f.log", layout.clone(), 7, 1 << 16);
    let mut scan = Scan::new(Scanner::new(&f), batcher, vec![], (0, 1), max);
    let mut sent = Sent::default();
    for (i, c) in data.chunks(chunk).enumerate() {
        assert!(scan.chunk(&mut sent, c, (i * chunk) as u64).is_ok());
        // Blank lines, a record, the line after it: each within the limit.
        assert!(
            scan.carry.len() <= 3 * max + 2,
            "{} carried",
            scan.carry.len()
        );
    }
    assert!(scan.finish(&mut sent, data.len() as u64).is_ok());
    let mut out = Vec::new();
    for b in &sent.batches {
        if let Some(v) = &b.verdict {
            out.push((b.start, b.end, b.first_line, v.code.clone()));
            continue;
        }
        assert_eq!(b.data, &data[b.start as usize..b.end as usize]);
        let p = f.parse_batch(&b.layout, b.start, b.first_line, &b.data);
        assert!(p.rejects.is_empty(), "{:?}", p.rejects);
        assert_eq!(p.records, u64::from(b.records));
        for (i, o) in p.rows.origins.iter().enumerate() {
            let Cell::Text { start, len } = p.rows.row(i)[0] else {
                panic!("{:?}", p.rows.row(i));
            };
            let text = p.rows.text[start as usize..][..len as usize].to_string();
            out.push((o.offset, o.offset + u64::from(o.len), o.line, text));
        }
    }
    (out, sent.records)
}

fn log() -> impl Strategy<Value = Vec<u8>> {
    let line = (0u8..6, 0usize..30, any::<bool>());
    prop::collection::vec(line, 0..40).prop_map(|lines| {
        let mut out = Vec::new();
        for (i, (kind, len, crlf)) in lines.into_iter().enumerate() {
            match kind {
                0 | 1 => out.extend(format!("E{i} {}", "m".repeat(len)).bytes()),
                2 | 3 => out.extend(format!("\tat f{}", "x".repeat(len)).bytes()),
                4 => out.extend(" ".repeat(len % 3).bytes()),
                _ => out.extend("é".repeat(len).bytes()),
            }
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        if out.last() == Some(&b'\n') && out.len() % 3 == 0 {
            out.pop();
        }
        out
    })
}

proptest! {
    #[test]
    fn prop_continued_records_reach_workers_once(data in log(), max in 8..120usize, chunk in 1..50usize) {
        let (got, counted) = cut(&data, chunk, max);
        // The whole input, grouped by the worker's rule in one piece.
        let mut want = Vec::new();
        let cont = regex::bytes::Regex::new(r"^\s").unwrap();
        let mut r = records(&data, Some(&cont));
        while let Some(rec) = r.next() {
            let (start, end) = (rec.at as u64, (rec.at + rec.len) as u64);
            let line = 1 + data[..rec.at].iter().filter(|&&b| b == b'\n').count() as u64;
            // The last record may lack its `\n`: at the limit it is too large.
            let over = end - start > max as u64
                || (end == data.len() as u64 && data.last() != Some(&b'\n') && end - start >= max as u64);
            let what = match over {
                true => "record_too_large".to_string(),
                false => String::from_utf8(rec.text.to_vec()).unwrap(),
            };
            want.push((start, end, line, what));
        }
        let mut got = got;
        got.sort();
        prop_assert_eq!(counted, want.len() as u64);
        prop_assert_eq!(got, want);
    }
}

/// A followed file that stops growing: `cut_here` takes a last line
/// without its newline, or a record whose continuation lines may still
/// come, as a record now, and scanning goes on after it.
#[test]
fn cut_here_takes_what_waits_and_goes_on() {
    let f = format();
    let layout = f.layout(None, None).unwrap();
    let batcher = Batcher::new("src", "f.log", layout, 100, 1 << 16);
    let mut scan = Scan::new(Scanner::new(&f), batcher, vec![], (0, 1), 1024);
    let mut sent = Sent::default();
    let first = b"one\n more\n";
    assert!(scan.chunk(&mut sent, first, 0).is_ok());
    assert_eq!(
        sent.records, 0,
        "its end is not decided: a continuation may follow"
    );
    assert!(scan.pending(first.len() as u64));
    assert!(scan.cut_here(&mut sent, first.len() as u64).is_ok());
    assert!(!scan.pending(first.len() as u64));
    assert_eq!(sent.records, 1);
    let next = b"two\nthree";
    let at = first.len() as u64;
    assert!(scan.chunk(&mut sent, next, at).is_ok());
    let end = at + next.len() as u64;
    assert!(scan.cut_here(&mut sent, end).is_ok());
    assert!(scan.flush(&mut sent).is_ok());
    assert_eq!(sent.records, 3);
    let all: Vec<(u64, u64)> = sent.batches.iter().map(|b| (b.start, b.end)).collect();
    assert_eq!(all, [(0, end)], "one contiguous batch of the three");
    assert_eq!(sent.batches[0].data, b"one\n more\ntwo\nthree");
}
