//! `ContinuedScanner` against the worker's `records` and against itself
//! over random chunkings, and against `LineScanner` when nothing continues
//! (proptest); the bytes it says to keep are enough to rebuild every record.
//! Test code only.

use proptest::prelude::*;

use super::*;
use crate::format::lines::LineScanner;

fn cont() -> Regex {
    Regex::new(r"^\s").unwrap()
}

/// Lines of the kinds that matter: records, continuation lines, blank lines
/// (empty, spaces, a lone `\r`), `\r` inside, long ones; `\n` or `\r\n`
/// terminated, the last one maybe unterminated.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let line = (0u8..9, 0usize..12, any::<bool>());
    (prop::collection::vec(line, 0..30), any::<bool>()).prop_map(|(lines, last_nl)| {
        let mut out = Vec::new();
        let n = lines.len();
        for (i, (kind, len, crlf)) in lines.into_iter().enumerate() {
            let body: Vec<u8> = match kind {
                0 | 1 => (0..=len).map(|k| b"abc"[k % 3]).collect(),
                2 | 3 => [b" at ".as_slice(), &vec![b'x'; len]].concat(),
                4 => b"\tmore".to_vec(),
                5 => vec![b' '; len % 3],
                6 => b"\r".to_vec(),
                7 => [b"a\rb".as_slice(), &vec![b'y'; len * 4]].concat(),
                _ => vec![b'z'; len * 5],
            };
            out.extend_from_slice(&body);
            if i + 1 < n || last_nl {
                out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
        }
        out
    })
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..400, 0..8)
}

/// Scans `data` cut at `cuts`, rebuilding each record's bytes from only what
/// `wanted` said to keep (as the supervisor's `Scan` does); returns the ends
/// and, for each `Record`, its span's bytes. Checks the kept bytes' bound.
fn scan(data: &[u8], re: &Regex, max: u64, cuts: &[usize]) -> (Vec<SpanEnd>, Vec<Vec<u8>>) {
    let mut s = ContinuedScanner::new(re.clone()).with_limit(max);
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    bounds.sort_unstable();
    bounds.push(data.len());
    let (mut ends, mut spans) = (Vec::new(), Vec::new());
    let (mut keep, mut keep_at) = (Vec::<u8>::new(), 0u64);
    let mut span_start = 0u64;
    let mut from = 0;
    let mut take = |ends: &mut Vec<SpanEnd>, new: usize, keep: &[u8], keep_at: u64, pos: u64| {
        for e in &ends[new..] {
            if e.kind == EndKind::Record {
                // Its bytes are in what was kept, or in this chunk.
                let mut bytes = Vec::new();
                for at in span_start..e.end {
                    if at < pos {
                        assert!(at >= keep_at, "byte {at} of a record was let go");
                        bytes.push(keep[(at - keep_at) as usize]);
                    } else {
                        bytes.push(data[at as usize]);
                    }
                }
                spans.push(bytes);
            }
            span_start = e.end;
        }
    };
    for b in bounds {
        let new = ends.len();
        s.scan(&data[from..b], &mut ends);
        take(&mut ends, new, &keep, keep_at, from as u64);
        let w = s.wanted();
        assert!(
            w.start >= keep_at.min(from as u64) && w.end <= b as u64,
            "{w:?}"
        );
        assert!(w.end - w.start <= 4 * max + 2, "kept {w:?} with max {max}");
        keep = (w.start..w.end).map(|at| data[at as usize]).collect();
        keep_at = w.start;
        from = b;
    }
    let new = ends.len();
    assert_eq!(s.finish(&mut ends), Tail::Empty);
    take(&mut ends, new, &keep, keep_at, data.len() as u64);
    (ends, spans)
}

/// The records `records` finds in `data`, as (at, len, line, text).
fn worker(data: &[u8], re: Option<&Regex>) -> Vec<(usize, usize, u64, Vec<u8>)> {
    let mut r = records(data, re);
    let mut out = Vec::new();
    while let Some(rec) = r.next() {
        out.push((rec.at, rec.len, rec.line, rec.text.to_vec()));
    }
    out
}

proptest! {
    #[test]
    fn prop_scanner_agrees_with_worker(data in input(), cuts in cuts(), max in 1u64..60) {
        let re = cont();
        let (ends, spans) = scan(&data, &re, max, &cuts);
        // Chunking changes nothing.
        let (whole, _) = scan(&data, &re, max, &[]);
        prop_assert_eq!(&ends, &whole);
        // Spans tile the input from its start; lines add up.
        let mut at = 0u64;
        for e in &ends {
            prop_assert!(e.end > at || (e.end == at && e.lines == 0 && e.kind != EndKind::Record));
            at = e.end;
        }
        prop_assert!(data[at as usize..].iter().all(|&b| b" \t\r\n".contains(&b)));
        let lines: u64 = ends.iter().map(|e| e.lines).sum();
        let nl = |d: &[u8]| d.iter().filter(|&&b| b == b'\n').count() as u64;
        prop_assert_eq!(lines, nl(&data[..at as usize]));
        // Each record span is one worker record, within the limit; each
        // too-large one is past it.
        let mut start = 0u64;
        let mut recs = spans.iter();
        let mut all = Vec::new();
        for e in &ends {
            let size = e.end - start - e.lead.bytes;
            match e.kind {
                EndKind::Record => {
                    let bytes = recs.next().unwrap();
                    let got = worker(bytes, Some(&re));
                    prop_assert_eq!(got.len(), 1, "{:?}", String::from_utf8_lossy(bytes));
                    let (a, len, line, _) = &got[0];
                    prop_assert_eq!((*a as u64, *len as u64, *line), (e.lead.bytes, size, e.lead.lines));
                    prop_assert!(size <= max);
                    all.push((start + e.lead.bytes, got[0].3.clone()));
                }
                EndKind::TooLarge => prop_assert!(size >= max),
                EndKind::Skipped => prop_assert!(e.lead.bytes > max),
            }
            start = e.end;
        }
        // Batches of consecutive records group as the scanner did.
        if !ends.iter().any(|e| e.kind != EndKind::Record) {
            let got = worker(&data, Some(&re));
            let got: Vec<_> = got.into_iter().map(|(a, _, _, t)| (a as u64, t)).collect();
            prop_assert_eq!(got, all);
        }
    }

    #[test]
    fn prop_nothing_continues_as_line_scanner(data in input(), cuts in cuts(), max in 1u64..60) {
        // A pattern no line matches: every record is one line.
        let never = Regex::new(r"\A\z").unwrap();
        let (ends, _) = scan(&data, &never, max, &cuts);
        let mut ls = LineScanner::new().with_limit(max);
        let (mut want, mut pos) = (Vec::new(), 0u64);
        let mut got = Vec::new();
        ls.scan(&data, &mut got);
        for e in got {
            want.push(SpanEnd { end: pos + e.end as u64, lines: e.lines, kind: e.kind, lead: e.lead });
        }
        pos = data.len() as u64;
        let span_start = want.last().map_or(0, |e| e.end) as usize;
        let rest = &data[span_start..];
        let nl = rest.iter().filter(|&&b| b == b'\n').count() as u64;
        // The tail's record is its last line, after the blank ones.
        let first = rest.iter().rposition(|&b| b == b'\n').map_or(0, |k| k + 1);
        let lead = Lead { bytes: first as u64, lines: nl };
        match ls.finish() {
            Tail::Empty => {}
            Tail::Record => want.push(SpanEnd { end: pos, lines: nl, kind: EndKind::Record, lead }),
            Tail::TooLarge(l) => {
                prop_assert_eq!(l, lead);
                want.push(SpanEnd { end: pos, lines: nl, kind: EndKind::TooLarge, lead });
            }
            Tail::UnterminatedQuote(_) => unreachable!("lines have no quotes"),
        }
        prop_assert_eq!(ends, want);
    }
}

#[test]
fn a_stack_trace_is_one_record() {
    let log = b"2026-12-03 07:30:58 ERROR boom\r\n\
        java.lang.IllegalStateException: x\r\n\
        \tat a.B.c(B.java:10)\r\n\
        \tat a.B.main(B.java:3)\r\n\
        2026-12-03 07:30:59 INFO next\n\
        \n\
        \tat orphan\n";
    let re = Regex::new(r"^\s+at |^[A-Za-z.]+(Exception|Error)\b|^Caused by:").unwrap();
    let got = worker(log, Some(&re));
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].3,
        b"2026-12-03 07:30:58 ERROR boom\njava.lang.IllegalStateException: x\n\
          \tat a.B.c(B.java:10)\n\tat a.B.main(B.java:3)"
    );
    assert_eq!((got[0].0, got[0].2), (0, 0));
    assert_eq!(got[1].3, b"2026-12-03 07:30:59 INFO next");
    assert_eq!(got[1].2, 4);
    // After a blank line, a continuation line starts a record of its own.
    assert_eq!((got[2].2, &got[2].3[..]), (6, &b"\tat orphan"[..]));
    let (ends, _) = scan(log, &re, 1 << 20, &[3, 40, 41, 90]);
    let got: Vec<_> = ends
        .iter()
        .map(|e| (e.end, e.lines, e.kind, e.lead))
        .collect();
    let lead = |bytes, lines| Lead { bytes, lines };
    assert_eq!(
        got,
        [
            (114, 4, EndKind::Record, lead(0, 0)),
            (144, 1, EndKind::Record, lead(0, 0)),
            (156, 2, EndKind::Record, lead(1, 1)),
        ]
    );
    // LF-only lines: the text is the batch's own bytes.
    let log = b"a\n b\n c\nd";
    let re = Regex::new(r"^ ").unwrap();
    let mut r = records(log, Some(&re));
    let first = r.next().unwrap();
    assert_eq!(first.text, b"a\n b\n c");
    assert_eq!(first.text.as_ptr(), log.as_ptr());
    assert_eq!(first.len, 8);
    assert_eq!(r.next().unwrap().text, b"d");
    assert!(r.next().is_none());
}

#[test]
fn a_record_too_large_is_rejected_through_its_last_continuation() {
    let re = Regex::new(r"^ ").unwrap();
    let log = b"head\n 1234567890\n 1234567890\nnext\n";
    let (ends, _) = scan(log, &re, 20, &[7]);
    assert_eq!(
        ends.iter().map(|e| (e.end, e.kind)).collect::<Vec<_>>(),
        [(29, EndKind::TooLarge), (34, EndKind::Record)]
    );
    // A continuation line longer than the limit is tested by its first bytes.
    let mut log = b"head\n ".to_vec();
    log.extend(vec![b'x'; 100]);
    log.extend_from_slice(b"\nnext\n");
    let (ends, _) = scan(&log, &re, 20, &[8, 30, 60]);
    assert_eq!(
        ends.iter().map(|e| (e.end, e.kind)).collect::<Vec<_>>(),
        [(107, EndKind::TooLarge), (112, EndKind::Record)]
    );
}
