//! The scanner's record limit (`max_record_bytes`): a too-large record ends at
//! the first line end at or past the limit and scanning resumes there fresh;
//! blank/comment lines past the limit are skipped; the bytes a caller must
//! keep stay within twice the limit. The records a limited scan reports are
//! checked against the csv crate and that rule (`oracle::limited`), on hand
//! cases and generated inputs in random chunkings (proptest), on both
//! engines; spans, leads and lines against their hand-written values and the
//! line table.

use proptest::prelude::*;

use super::oracle::{self, Kind, resync_point};
use super::{dialects, inputs, line_table};
use crate::format::csv::dialect::{fast_eligible, skip_ignored};
use crate::format::{CsvFormat, EndKind, Lead, RecordScanner, Tail};

/// One span as the tests compare it: absolute end, kind, lead bytes.
type Span = (usize, EndKind, u64);

/// The records (first byte, end, kind) that spans and a tail stand for.
fn records(fmt: &CsvFormat, data: &[u8], spans: &[Span], tail: Tail) -> Vec<(usize, usize, Kind)> {
    let (mut out, mut start) = (Vec::new(), 0);
    for &(end, kind, lead) in spans {
        let first = start + lead as usize;
        match kind {
            EndKind::Record => out.push((first, end, Kind::Record)),
            EndKind::TooLarge => out.push((first, end, Kind::TooLarge)),
            EndKind::Skipped => {}
        }
        start = end;
    }
    let len = data.len();
    match tail {
        Tail::Empty => {}
        Tail::Record => out.push((skip_ignored(fmt, data, start), len, Kind::Record)),
        Tail::UnterminatedQuote(l) => out.push((start + l.bytes as usize, len, Kind::Open)),
        Tail::TooLarge(l) => out.push((start + l.bytes as usize, len, Kind::TooLarge)),
    }
    out
}

/// Scans `data` cut at `cuts` with limit `max`; checks what must hold at
/// every chunk's end, and returns the spans, the tail and its lead.
fn scan(sc: &mut RecordScanner, data: &[u8], cuts: &[usize], max: usize) -> (Vec<Span>, Tail) {
    let (mut spans, mut out, mut from) = (Vec::new(), Vec::new(), 0);
    let (mut span_start, mut discarded, mut after_skip) = (0, false, false);
    let line_at = line_table(data);
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        out.clear();
        sc.scan(&data[from..cut], &mut out);
        for e in &out {
            let end = from + e.end;
            let first = span_start + e.lead.bytes as usize;
            assert_eq!(line_at[end] - line_at[span_start], e.lines, "lines");
            assert_eq!(
                line_at[first] - line_at[span_start],
                e.lead.lines,
                "lead lines"
            );
            // Bytes a caller dropped on `discards` are never wanted after.
            assert!(
                !discarded || e.kind != EndKind::Record,
                "{e:?} after discards"
            );
            // A lead past the limit is skipped, and the record follows at once.
            let skipped = e.kind == EndKind::Skipped;
            assert_eq!(e.lead.bytes > max as u64, skipped, "{e:?} lead");
            assert!(!after_skip || e.lead.bytes == 0, "{e:?} after a skip");
            after_skip = skipped;
            spans.push((end, e.kind, e.lead.bytes));
            (span_start, discarded) = (end, false);
        }
        from = cut;
        if sc.discards() {
            discarded = true;
        } else {
            assert!(
                cut - span_start <= 2 * max,
                "kept {} bytes",
                cut - span_start
            );
        }
    }
    let tail = sc.finish();
    if let Tail::Record | Tail::UnterminatedQuote(_) = tail {
        assert!(!discarded, "{tail:?} after discards");
    }
    if let Tail::UnterminatedQuote(l) | Tail::TooLarge(l) = tail {
        let first = span_start + l.bytes as usize;
        assert_eq!(
            l.lines,
            line_at[first] - line_at[span_start],
            "tail lead lines"
        );
        assert!(l.bytes <= max as u64, "{tail:?} lead");
    }
    (spans, tail)
}

#[track_caller]
fn check(fmt: &CsvFormat, data: &[u8], cuts: &[usize], max: usize) -> (Vec<Span>, Tail) {
    let show = || {
        format!(
            "{:?} max {max} cuts {cuts:?} {fmt:?}",
            String::from_utf8_lossy(data)
        )
    };
    let (spans, tail) = scan(
        &mut RecordScanner::reference(fmt).with_limit(max as u64),
        data,
        cuts,
        max,
    );
    if fast_eligible(fmt) {
        let fast = scan(
            &mut RecordScanner::new(fmt).with_limit(max as u64),
            data,
            cuts,
            max,
        );
        assert_eq!(fast, (spans.clone(), tail), "fast vs csv-core: {}", show());
    }
    let want = oracle::limited(fmt, data, 0, max);
    assert_eq!(
        records(fmt, data, &spans, tail),
        want,
        "records: {}",
        show()
    );
    (spans, tail)
}

#[test]
fn hand_cases() {
    let d = CsvFormat {
        header: false,
        ..CsvFormat::default()
    };
    let com = CsvFormat {
        comment: Some(b'#'),
        ..d.clone()
    };
    use EndKind::{Record as R, Skipped as S, TooLarge as T};
    let none = |bytes, lines| Lead { bytes, lines };
    type Case<'a> = (&'a CsvFormat, &'a str, usize, &'a [Span], Tail);
    let cases: &[Case] = &[
        // Inside one chunk, outside quotes: the record's own line end.
        (
            &d,
            "ab\ncdefgh\nij\n",
            4,
            &[(3, R, 0), (10, T, 0), (13, R, 0)],
            Tail::Empty,
        ),
        // A stray quote: the first line end past the limit, then records again.
        (
            &d,
            "a\n\"b\nc\nd\ne\n",
            3,
            &[(2, R, 0), (7, T, 0), (9, R, 0), (11, R, 0)],
            Tail::Empty,
        ),
        (
            &d,
            "a\r\"b\rc\rd\re\r",
            3,
            &[(2, R, 0), (7, T, 0), (9, R, 0)],
            Tail::Record,
        ),
        // No line end after the limit: the rest is rejected.
        (
            &d,
            "a\n\"bcdefg",
            3,
            &[(2, R, 0)],
            Tail::TooLarge(none(0, 0)),
        ),
        (
            &d,
            "a\n\n\"bcd\nefgh",
            3,
            &[(2, R, 0), (8, T, 1)],
            Tail::TooLarge(none(0, 0)),
        ),
        (
            &d,
            "a\n\"bc",
            8,
            &[(2, R, 0)],
            Tail::UnterminatedQuote(none(0, 0)),
        ),
        // The '\n' of a '\r\n' is the record's: one byte over.
        (&d, "abc\r\nx\n", 4, &[(5, T, 0), (7, R, 0)], Tail::Empty),
        (&d, "abc\rx\n", 4, &[(4, R, 0), (6, R, 0)], Tail::Empty),
        (&d, "abcd\r", 4, &[], Tail::TooLarge(none(0, 0))),
        // Blank or comment lines past the limit are skipped, not rejected.
        (
            &d,
            "a\n\n\n\n\n\nb\n",
            3,
            &[(2, R, 0), (7, S, 5), (9, R, 0)],
            Tail::Empty,
        ),
        (
            &com,
            "#comment line\nb\n",
            4,
            &[(14, S, 14), (16, R, 0)],
            Tail::Empty,
        ),
        (&com, "a\n#long comment", 4, &[(2, R, 0)], Tail::Empty),
        // The lead does not count towards the record's size.
        (&d, "\n\n\nabc\n", 4, &[(7, R, 3)], Tail::Empty),
        (
            &d,
            "\n\n\nabcdef\ng\n",
            4,
            &[(10, T, 3), (12, R, 0)],
            Tail::Empty,
        ),
    ];
    for (fmt, data, max, want, tail) in cases {
        let data = data.as_bytes();
        let got = check(fmt, data, &[], *max);
        assert_eq!(
            got,
            (want.to_vec(), *tail),
            "{:?}",
            String::from_utf8_lossy(data)
        );
        for i in 0..=data.len() {
            for j in i..=data.len() {
                assert_eq!(check(fmt, data, &[i, j], *max), got);
            }
        }
    }
}

proptest! {
    /// Generated and mutated inputs, limits from 1 byte, random chunks.
    #[test]
    fn prop_a_limited_scan_reads_the_csv_crate_s_records_and_resyncs(
        data in inputs::input(),
        d in 0..6usize,
        max in 1..80usize,
        cuts in inputs::cuts(),
    ) {
        check(&dialects()[d], &data, &inputs::positions(&cuts, data.len()), max);
    }
}

/// A megabyte-sized stray quote in small chunks: one rejected range up to the
/// first line end past the limit, every line after it a record again.
#[test]
fn a_stray_quote_in_a_large_input_resumes_after_the_limit() {
    let fmt = CsvFormat {
        header: false,
        ..CsvFormat::default()
    };
    let mut data = b"id,name\n1,\"never closed\n".to_vec();
    let lines = 50_000;
    for i in 2..lines {
        data.extend(format!("{i},plain\n").as_bytes());
    }
    let max = 4096;
    let cuts: Vec<usize> = (1..data.len() / 1000).map(|k| k * 1000).collect();
    let (spans, tail) = check(&fmt, &data, &cuts, max);
    assert_eq!(tail, Tail::Empty);
    assert_eq!(spans[0], (8, EndKind::Record, 0));
    let r = resync_point(&data, 8 + max).unwrap();
    assert_eq!(spans[1], (r, EndKind::TooLarge, 0));
    assert!(spans[2..].iter().all(|s| s.1 == EndKind::Record));
    let resumed_at: u64 = std::str::from_utf8(&data[r..r + 6])
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(spans.len() - 2, (lines - resumed_at) as usize);
}
