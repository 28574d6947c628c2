//! `LineScanner` and `split` against a naive reference, over generated
//! inputs, limits and chunkings (proptest). Test code only.

use proptest::prelude::*;

use super::*;

/// What a reference reading of the whole input says: each span's end, kind,
/// and the record's first line; then the tail.
fn reference(data: &[u8], max: u64) -> (Vec<(usize, EndKind)>, Tail) {
    let mut out = Vec::new();
    let mut span_start = 0;
    let mut pos = 0;
    let mut first: Option<usize> = None;
    while pos < data.len() {
        let (end, has_nl) = match memchr(b'\n', &data[pos..]) {
            Some(k) => (pos + k + 1, true),
            None => (data.len(), false),
        };
        let line = &data[pos..end];
        let blank = line.iter().all(|&b| is_blank_byte(b) || b == b'\n');
        if blank {
            if has_nl && (end - span_start) as u64 > max {
                out.push((end, EndKind::Skipped));
                span_start = end;
            }
        } else {
            if !has_nl {
                first = Some(pos);
                break;
            }
            let kind = match (end - pos) as u64 > max {
                true => EndKind::TooLarge,
                false => EndKind::Record,
            };
            out.push((end, kind));
            span_start = end;
        }
        pos = end;
    }
    let tail = match first {
        None => Tail::Empty,
        Some(f) if (data.len() - f) as u64 >= max => Tail::TooLarge(Lead {
            bytes: (f - span_start) as u64,
            lines: memchr::memchr_iter(b'\n', &data[span_start..f]).count() as u64,
        }),
        Some(_) => Tail::Record,
    };
    (out, tail)
}

fn scanned(data: &[u8], max: u64, cuts: &[usize]) -> (Vec<(usize, EndKind)>, Tail) {
    let mut s = LineScanner::new().with_limit(max);
    let mut out = Vec::new();
    let mut ends = Vec::new();
    let mut pos = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    bounds.sort_unstable();
    bounds.push(data.len());
    for b in bounds {
        ends.clear();
        s.scan(&data[pos..b], &mut ends);
        out.extend(ends.iter().map(|e| (pos + e.end, e.kind)));
        pos = b;
    }
    (out, s.finish())
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'{'),
            Just(b' '),
            Just(b'\t'),
            Just(b'\r'),
            Just(b'\n'),
            Just(b'\n'),
            Just(b'"'),
        ],
        0..120,
    )
}

proptest! {
    #[test]
    fn scanner_agrees_with_reference(
        data in input(),
        max in 1u64..40,
        cuts in prop::collection::vec(0usize..120, 0..6),
    ) {
        let (want, want_tail) = reference(&data, max);
        let (got, tail) = scanned(&data, max, &cuts);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(tail, want_tail);
    }

    #[test]
    fn split_yields_the_scanners_records(data in input()) {
        let (ends, tail) = scanned(&data, u64::MAX, &[]);
        let lines: Vec<Line> = split(&data).collect();
        let mut want = ends.len();
        if tail == Tail::Record {
            want += 1;
        }
        prop_assert_eq!(lines.len(), want);
        for (l, (end, _)) in lines.iter().zip(&ends) {
            prop_assert_eq!(l.at + l.len, *end);
            prop_assert_eq!(l.line, memchr::memchr_iter(b'\n', &data[..l.at]).count() as u64);
        }
    }
}

#[test]
fn lines_and_blanks() {
    let data = b"\n  \r\n{\"a\":1}\r\n\t\nx\ny";
    let got: Vec<(usize, usize, u64, &[u8])> =
        split(data).map(|l| (l.at, l.len, l.line, l.text)).collect();
    assert_eq!(
        got,
        vec![
            (5, 9, 2, &b"{\"a\":1}"[..]),
            (16, 2, 4, &b"x"[..]),
            (18, 1, 5, &b"y"[..]),
        ]
    );
    // Leading blanks of a record are its own bytes (fixed width needs them).
    let got: Vec<&[u8]> = split(b"   a  \n").map(|l| l.text).collect();
    assert_eq!(got, vec![&b"   a  "[..]]);
}

#[test]
fn preamble_skips_bom_and_lines() {
    let p = read_preamble(2, b"\xef\xbb\xbfa\nb\nc\n", true)
        .unwrap()
        .unwrap();
    assert_eq!((p.data_start, p.first_line), (7, 3));
    assert_eq!(read_preamble(1, b"abc", false).unwrap(), None);
    assert_eq!(read_preamble(0, b"\xef\xbb", false).unwrap(), None);
    let p = read_preamble(0, b"{}", true).unwrap().unwrap();
    assert_eq!((p.data_start, p.first_line), (0, 1));
}
