//! The supervisor's scanner and the worker's parser must see the same records
//! as the csv crate: fast path vs csv-core path vs `parse_batch` vs the csv
//! crate (`oracle.rs`: where each record starts and ends, its fields, its
//! line), on hand cases, generated and mutated inputs in random chunkings
//! (proptest), every chunking of small inputs, bench-like data.

use proptest::prelude::*;

use super::{Rng, dialects, inputs, line_table, oracle, uniform};
use crate::format::csv::dialect::fast_eligible;
use crate::format::{
    Cell, ColumnType, CsvFormat, EndKind, Lead, RecordEnd, RecordScanner, Tail, parse_batch,
    read_preamble,
};

/// Scans `data` cut at `cuts`; returns absolute (end, lines) pairs and the tail.
fn scan(sc: &mut RecordScanner, data: &[u8], cuts: &[usize]) -> (Vec<(usize, u64)>, Tail) {
    let (mut got, mut out, mut from) = (vec![], vec![], 0);
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        out.clear();
        sc.scan(&data[from..cut], &mut out);
        // Without a limit every span is a record.
        assert!(out.iter().all(|e| e.kind == EndKind::Record), "{out:?}");
        got.extend(out.iter().map(|e: &RecordEnd| (from + e.end, e.lines)));
        from = cut;
    }
    (got, sc.finish())
}

/// (offset, len, line, unterminated) of every record `parse_batch` saw.
fn parsed(fmt: &CsvFormat, start: u64, line: u64, data: &[u8]) -> Vec<(u64, u64, u64, bool)> {
    let p = parse_batch(
        fmt,
        &uniform(1, ColumnType::Text { max_chars: None }),
        start,
        line,
        data,
    );
    let rows = p
        .rows
        .origins
        .iter()
        .map(|o| (o.offset, o.len as u64, o.line, false));
    let rejects = p
        .rejects
        .iter()
        .map(|r| (r.offset, r.len, r.line, r.code == "unterminated_quote"));
    let mut all: Vec<_> = rows.chain(rejects).collect();
    all.sort();
    assert_eq!(p.records as usize, all.len());
    all
}

/// Scans `data` cut at `cuts` on both paths (which must agree), checking the
/// lines of every end; returns the ends and the tail.
fn scanned(fmt: &CsvFormat, data: &[u8], cuts: &[usize]) -> (Vec<(usize, u64)>, Tail) {
    let (ends, tail) = scan(&mut RecordScanner::reference(fmt), data, cuts);
    let show = || format!("{:?} {fmt:?} cuts {cuts:?}", String::from_utf8_lossy(data));
    if fast_eligible(fmt) {
        let fast = scan(&mut RecordScanner::new(fmt), data, cuts);
        assert_eq!(fast, (ends.clone(), tail), "fast vs csv-core: {}", show());
    }
    // Lines: each RecordEnd counts exactly the line ends since the previous one.
    let line_at = line_table(data);
    let mut line = 1;
    for &(end, lines) in &ends {
        line += lines;
        assert_eq!(line, line_at[end], "lines: {}", show());
    }
    (ends, tail)
}

/// Checks every agreement for one input (scanned whole; chunkings are
/// compared with `scanned`); returns the record ends.
fn check(fmt: &CsvFormat, data: &[u8]) -> Vec<(usize, u64)> {
    let show = || format!("{:?} {fmt:?}", String::from_utf8_lossy(data));
    let (ends, tail) = scanned(fmt, data, &[]);
    let line_at = line_table(data);
    // The parser sees the same records, ending at the same bytes.
    let recs = parsed(fmt, 0, 1, data);
    let last = (tail != Tail::Empty) as usize;
    assert_eq!(recs.len(), ends.len() + last, "record count: {}", show());
    for (i, r) in recs.iter().enumerate() {
        if let Some(&(end, _)) = ends.get(i) {
            assert_eq!((r.0 + r.1) as usize, end, "record end: {}", show());
        }
        assert_eq!(r.2, line_at[r.0 as usize], "line: {}", show());
    }
    if last == 1 {
        let r = recs[recs.len() - 1];
        assert_eq!((r.0 + r.1) as usize, data.len(), "{}", show());
        assert_eq!(
            r.3,
            matches!(tail, Tail::UnterminatedQuote(_)),
            "tail kind: {}",
            show()
        );
    }
    // Batches cut at record ends parse to the same records as the whole.
    if let Some(&(mid, _)) = ends.get(ends.len() / 2) {
        let line = line_at[mid];
        let mut split = parsed(fmt, 0, 1, &data[..mid]);
        split.extend(parsed(fmt, mid as u64, line, &data[mid..]));
        assert_eq!(split, recs, "split batches: {}", show());
    }
    // The csv crate reads the same records, from and to the same bytes, with
    // the same fields; it counts lines by '\n' only, so its line is ours
    // where no '\r' comes before the record.
    let want = oracle::records(fmt, data, 0);
    let got: Vec<(usize, usize)> = recs
        .iter()
        .map(|r| (r.0 as usize, (r.0 + r.1) as usize))
        .collect();
    let csv: Vec<(usize, usize)> = want.iter().map(|w| (w.first, w.end)).collect();
    assert_eq!(got, csv, "csv crate: {}", show());
    for (i, w) in want.iter().enumerate() {
        let span = if i == 0 { 0 } else { want[i - 1].end };
        let open = i + 1 == want.len() && matches!(tail, Tail::UnterminatedQuote(_));
        if !open {
            let fields = fields_of(fmt, &data[span..w.end], w.fields.len());
            let utf8 = w.fields.iter().all(|f| std::str::from_utf8(f).is_ok());
            assert_eq!(fields, utf8.then(|| w.fields.clone()), "fields: {}", show());
        }
        if !data[..w.first].contains(&b'\r') {
            let lf = data[w.span..w.first]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            assert_eq!(
                line_at[w.first],
                w.csv_line + lf as u64,
                "csv line: {}",
                show()
            );
        }
    }
    ends
}

/// The fields `parse_batch` finds in `data`, one record of `n` fields (as
/// text: `None` when one is not UTF-8).
fn fields_of(fmt: &CsvFormat, data: &[u8], n: usize) -> Option<Vec<Vec<u8>>> {
    let p = parse_batch(
        fmt,
        &uniform(n, ColumnType::Text { max_chars: None }),
        0,
        1,
        data,
    );
    assert_eq!(p.records, 1, "{p:?}");
    let row = (p.rows.len() == 1).then(|| p.rows.row(0))?;
    let text = |c: &Cell| match *c {
        Cell::Text { start, len } => p.rows.text_of(start, len).as_bytes().to_vec(),
        // An empty field is NULL (the default `null`).
        Cell::Null => Vec::new(),
        ref other => panic!("{other:?}"),
    };
    Some(row.iter().map(text).collect())
}

proptest! {
    /// Generated and mutated inputs in random chunks, in every dialect, as
    /// the middle of a stream and as a whole file (its BOM skipped).
    #[test]
    fn prop_scanner_and_parser_read_the_csv_crate_s_records(
        data in inputs::input(),
        d in 0..6usize,
        cuts in inputs::cuts(),
    ) {
        let fmt = &dialects()[d];
        let pre = read_preamble(fmt, &data, true).unwrap().unwrap();
        let bom = data.starts_with(b"\xef\xbb\xbf");
        prop_assert_eq!((pre.data_start, pre.first_line), (if bom { 3 } else { 0 }, 1));
        for from in [0, pre.data_start as usize] {
            let data = &data[from..];
            let whole = (check(fmt, data), scanned(fmt, data, &[]).1);
            let chunked = scanned(fmt, data, &inputs::positions(&cuts, data.len()));
            prop_assert_eq!(chunked, whole);
        }
    }
}

#[test]
fn hand_cases() {
    let d = CsvFormat {
        header: false,
        ..CsvFormat::default()
    };
    let esc = CsvFormat {
        escape: Some(b'\\'),
        ..d.clone()
    };
    let com = CsvFormat {
        comment: Some(b'#'),
        ..d.clone()
    };
    type Case<'a> = (&'a CsvFormat, &'a str, &'a [(usize, u64)], Tail);
    let open = Tail::UnterminatedQuote(Lead::default());
    let cases: &[Case] = &[
        (&d, "a,b\nc,d\n", &[(4, 1), (8, 1)], Tail::Empty),
        (&d, "a,\"x\ny\"\nb", &[(8, 2)], Tail::Record),
        (&d, "a\r\nb\r\n", &[(3, 1), (6, 1)], Tail::Empty),
        (&d, "a\rb\n\r", &[(2, 1), (4, 1)], Tail::Empty),
        (&d, "a\rb\r\r\nc\r", &[(2, 1), (4, 1)], Tail::Record),
        (
            &d,
            "\"a\rb\r\n\"\r\n\r\rc\n",
            &[(9, 3), (13, 3)],
            Tail::Empty,
        ),
        (&d, "a\r", &[], Tail::Record),
        (&com, "#x\ry\r\na\r#z\r\nb\r", &[(8, 3)], Tail::Record),
        (&d, "\n\r\na\n\n\n", &[(5, 3)], Tail::Empty),
        (&d, "ab\"c,d\ne\n", &[(7, 1), (9, 1)], Tail::Empty),
        (&d, "\"ab\"cd,e\n", &[(9, 1)], Tail::Empty),
        (&d, "\"a\"\"b\n\"\n", &[(8, 2)], Tail::Empty),
        (&d, "a,\"b\n", &[], open),
        (&d, "a,\n,\n\"\"\n", &[(3, 1), (5, 1), (8, 1)], Tail::Empty),
        (&d, "\"a\\\",b\n\"\n", &[(7, 1)], open),
        (&esc, "\"a\\\",b\n\"\n", &[(9, 2)], Tail::Empty),
        (&esc, "\"a\\", &[], open),
        (&com, "#x,\"y\na\n#z\r\nb", &[(8, 2)], Tail::Record),
        (&com, "a\n#only a comment", &[(2, 1)], Tail::Empty),
        (&com, "a,#b\n", &[(5, 1)], Tail::Empty),
        (&d, "#x,\"y\n", &[], open),
    ];
    for (fmt, data, want, tail) in cases {
        let data = data.as_bytes();
        assert_eq!(
            check(fmt, data),
            *want,
            "{:?}",
            String::from_utf8_lossy(data)
        );
        let (_, got) = scan(&mut RecordScanner::new(fmt), data, &[]);
        assert_eq!(got, *tail, "{:?}", String::from_utf8_lossy(data));
        // Every single cut and every pair of cuts gives the same answer.
        for i in 0..=data.len() {
            for j in i..=data.len() {
                assert_eq!(scanned(fmt, data, &[i, j]).0, *want);
            }
        }
    }
}

#[test]
fn random_chunkings_of_one_input() {
    let mut rng = Rng::new(11);
    let data = bench_like(&mut rng, 300);
    for fmt in dialects() {
        let whole = check(&fmt, &data);
        for _ in 0..300 {
            let mut cuts: Vec<usize> = (0..rng.below(40))
                .map(|_| rng.below(data.len() + 1))
                .collect();
            cuts.sort();
            assert_eq!(scanned(&fmt, &data, &cuts).0, whole);
        }
    }
}

#[test]
fn bench_like_data_agrees() {
    let mut rng = Rng::new(3);
    let data = bench_like(&mut rng, 20_000);
    let fmt = CsvFormat::default();
    let ends = check(&fmt, &data);
    assert_eq!(scanned(&fmt, &data, &[1 << 16, 1 << 17, 3 << 17]).0, ends);
    assert_eq!(ends.len(), 20_000);
}

/// Rows shaped like bench/gen.py's: quoted names with commas, doubled quotes,
/// the odd embedded newline, CRLF now and then, empty NULL fields.
pub(super) fn bench_like(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let names = [
        "Mary Garcia",
        "\"Dunder Mifflin, GmbH\"",
        "\"The \"\"Best\"\" Co\"",
        "\"line\nbreak, Inc\"",
        "Zoë Çelik",
    ];
    let mut out = Vec::new();
    for i in 0..rows {
        let name = names[rng.below(names.len())];
        let note = ["", "\"paid by card, ref #4411\"", "gift wrap"][rng.below(3)];
        let eol = if rng.below(50) == 0 { "\r\n" } else { "\n" };
        let row = format!(
            "{},{},{name},{}.{:02},EUR,2024-11-28T19:43:37,paid,{note}{eol}",
            4_000_000_000u64 + i as u64,
            rng.below(2_000_000),
            rng.below(200),
            rng.below(100)
        );
        out.extend_from_slice(row.as_bytes());
    }
    out
}

#[test]
fn finish_resets_for_a_new_stream() {
    for fmt in dialects() {
        let mut sc = RecordScanner::new(&fmt);
        let mut out = vec![];
        sc.scan(&[b'a', b'\n', fmt.quote, b'o'], &mut out);
        assert_eq!(sc.finish(), Tail::UnterminatedQuote(Lead::default()));
        // A BOM mid-stream is data, after a reset too.
        out.clear();
        sc.scan(b"\xef\xbb\xbf\nb", &mut out);
        let lead = Lead::default();
        let kind = EndKind::Record;
        assert_eq!(
            out,
            vec![RecordEnd {
                end: 4,
                lines: 1,
                kind,
                lead
            }]
        );
        assert_eq!(sc.finish(), Tail::Record);
        assert_eq!(sc.finish(), Tail::Empty);
    }
}
