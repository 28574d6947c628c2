//! The scanner's record limit (`max_record_bytes`): a too-large record ends at
//! the first line end at or past the limit and scanning resumes there fresh;
//! blank/comment lines past the limit are skipped; the bytes a caller must
//! keep stay within twice the limit. Checked against a model built from an
//! unlimited scan and that rule, on hand cases and random inputs in random
//! chunkings, on both engines.

use super::{Rng, dialects, line_table};
use crate::format::csv::dialect::{fast_eligible, skip_ignored};
use crate::format::{CsvFormat, EndKind, Lead, RecordScanner, Tail};

/// One span as the tests compare it: absolute end, kind, lead bytes.
type Span = (usize, EndKind, u64);

/// A tail without its lead (compared separately).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TailKind {
    Empty,
    Record,
    Open,
    TooLarge,
}

fn kind_of(t: Tail) -> (TailKind, Lead) {
    match t {
        Tail::Empty => (TailKind::Empty, Lead::default()),
        Tail::Record => (TailKind::Record, Lead::default()),
        Tail::UnterminatedQuote(l) => (TailKind::Open, l),
        Tail::TooLarge(l) => (TailKind::TooLarge, l),
    }
}

/// Where scanning resumes after a record that passes the limit at `at`: just
/// past the first line end whose last byte is at `at` or later.
fn resync_point(data: &[u8], at: usize) -> Option<usize> {
    (at..data.len()).find_map(|i| match data[i] {
        b'\n' => Some(i + 1),
        b'\r' => Some(i + 1 + usize::from(data.get(i + 1) == Some(&b'\n'))),
        _ => None,
    })
}

/// What a scanner limited to `max` must say about `data`: from an unlimited
/// scan of what follows each resynchronisation point.
fn model(fmt: &CsvFormat, data: &[u8], max: usize) -> (Vec<Span>, TailKind, usize) {
    let mut spans = Vec::new();
    let mut from = 0;
    'fresh: loop {
        let mut sc = RecordScanner::reference(fmt);
        let mut out = Vec::new();
        sc.scan(&data[from..], &mut out);
        let tail = sc.finish();
        let mut ends: Vec<usize> = out.iter().map(|e| from + e.end).collect();
        if tail != Tail::Empty {
            ends.push(data.len());
        }
        let mut start = from;
        for end in ends {
            let first = skip_ignored(fmt, data, start).min(end);
            if first - start > max {
                spans.push((first, EndKind::Skipped, (first - start) as u64));
                start = first;
            }
            let lead = (first - start) as u64;
            if end - first > max {
                match resync_point(data, first + max) {
                    // A '\r' as the last byte: its end waits for a next byte
                    // that never comes, so it is the tail.
                    Some(r) if r == data.len() && data[r - 1] == b'\r' => {
                        return (spans, TailKind::TooLarge, first);
                    }
                    Some(r) => {
                        spans.push((r, EndKind::TooLarge, lead));
                        from = r;
                        continue 'fresh;
                    }
                    None => return (spans, TailKind::TooLarge, first),
                }
            }
            if end == data.len() && tail != Tail::Empty {
                let kind = match tail {
                    Tail::UnterminatedQuote(_) => TailKind::Open,
                    _ => TailKind::Record,
                };
                return (spans, kind, first);
            }
            spans.push((end, EndKind::Record, lead));
            start = end;
        }
        return (spans, TailKind::Empty, data.len());
    }
}

/// Scans `data` cut at `cuts` with limit `max`; checks what must hold at
/// every chunk's end, and returns the spans, the tail and its lead.
fn scan(sc: &mut RecordScanner, data: &[u8], cuts: &[usize], max: usize) -> (Vec<Span>, Tail) {
    let (mut spans, mut out, mut from) = (Vec::new(), Vec::new(), 0);
    let (mut span_start, mut discarded) = (0, false);
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
    let (want, want_tail, first) = model(fmt, data, max);
    assert_eq!(spans, want, "spans: {}", show());
    let (kind, lead) = kind_of(tail);
    assert_eq!(kind, want_tail, "tail: {}", show());
    if let TailKind::Open | TailKind::TooLarge = kind {
        let start = spans.last().map_or(0, |s| s.0);
        assert_eq!(lead.bytes as usize, first - start, "tail lead: {}", show());
        let line_at = line_table(data);
        assert_eq!(
            lead.lines,
            line_at[first] - line_at[start],
            "tail lead lines: {}",
            show()
        );
    }
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

#[test]
fn random_inputs_and_limits_agree_with_the_model() {
    let alphabet = b"a,\"\n\r#\\;' ";
    let mut rng = Rng::new(13);
    for fmt in dialects() {
        for _ in 0..2500 {
            let data = rng.bytes(alphabet, 60);
            let max = 1 + rng.below(20);
            let mut cuts: Vec<usize> = (0..rng.below(5))
                .map(|_| rng.below(data.len() + 1))
                .collect();
            cuts.sort();
            check(&fmt, &data, &cuts, max);
        }
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
