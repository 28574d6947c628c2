//! Measurements on files from ../shared/bench/gen.py (ignored: they need the
//! files; run in release). They print figures and assert only correctness,
//! never time:
//!   python3 ../shared/bench/gen.py 1000000 --out /tmp/fmtbench
//!   python3 ../shared/bench/gen.py 200000 --crlf --bad 20 --out /tmp/fmtcrlf
//!   INGESTD_BENCH_CSV=/tmp/fmtbench/orders.csv INGESTD_BAD_CSV=/tmp/fmtcrlf/orders.csv \
//!   cargo test --release --lib format::tests::bench -- --ignored --nocapture --test-threads=1

use std::time::{Duration, Instant};

use super::orders_layout;
use crate::format::{CsvFormat, RecordEnd, RecordScanner, Tail, parse_batch, read_preamble};

/// The bench file (python3 ../shared/bench/gen.py 1000000 --out /tmp/fmtbench).
/// These tests run only when asked for (`--ignored`): a missing file fails.
fn bench_file() -> Vec<u8> {
    let path = std::env::var("INGESTD_BENCH_CSV").unwrap_or("/tmp/fmtbench/orders.csv".into());
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (set INGESTD_BENCH_CSV)"))
}

/// Scans `data` in 1 MiB chunks; absolute record ends.
fn scan_all(mut sc: RecordScanner, data: &[u8]) -> (Vec<usize>, Tail) {
    let (mut ends, mut out) = (Vec::new(), Vec::<RecordEnd>::new());
    for (i, chunk) in data.chunks(1 << 20).enumerate() {
        out.clear();
        sc.scan(chunk, &mut out);
        ends.extend(out.iter().map(|e| (i << 20) + e.end));
    }
    (ends, sc.finish())
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = (Duration::MAX, None);
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        let dt = t.elapsed();
        if dt < best.0 {
            best = (dt, Some(v));
        }
    }
    (best.0, best.1.unwrap())
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn scan_throughput() {
    let data = bench_file();
    let fmt = CsvFormat::default();
    let pre = read_preamble(&fmt, &data, true).unwrap().unwrap();
    let body = &data[pre.data_start as usize..];
    let mb = body.len() as f64 / 1e6;
    let (t_fast, fast) = best_of(5, || scan_all(RecordScanner::new(&fmt), body));
    let (t_core, core) = best_of(2, || scan_all(RecordScanner::reference(&fmt), body));
    eprintln!(
        "scan {mb:.1} MB, {} records: fast path {:.0} MB/s ({:.1} ms), csv-core path {:.0} MB/s",
        fast.0.len(),
        mb / t_fast.as_secs_f64(),
        t_fast.as_secs_f64() * 1e3,
        mb / t_core.as_secs_f64(),
    );
    assert_eq!(
        fast, core,
        "fast path and csv-core disagree on the bench file"
    );
    assert_eq!(fast.1, Tail::Empty);
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn parse_throughput() {
    let data = bench_file();
    let fmt = CsvFormat::default();
    let layout = orders_layout();
    let pre = read_preamble(&fmt, &data, true).unwrap().unwrap();
    let start = pre.data_start as usize;
    let (ends, _) = scan_all(RecordScanner::new(&fmt), &data[start..]);

    // One 10,000-row batch, as a worker gets it.
    let batch = &data[start..start + ends[9_999]];
    let (t, p) = best_of(30, || {
        parse_batch(&fmt, &layout, start as u64, pre.first_line, batch)
    });
    assert_eq!(
        (p.rows.len(), p.rejects.len()),
        (10_000, 0),
        "{:?}",
        p.rejects.first()
    );
    eprintln!(
        "parse+convert one 10,000-row batch ({} KB): {:.2} ms (best of 30)",
        batch.len() / 1000,
        t.as_secs_f64() * 1e3
    );

    // The whole file in 10,000-record batches, one thread.
    let (t, rows) = best_of(2, || {
        let (mut from, mut line, mut rows) = (0, pre.first_line, 0);
        for chunk in ends.chunks(10_000) {
            let to = chunk[chunk.len() - 1];
            let b = &data[start + from..start + to];
            let p = parse_batch(&fmt, &layout, (start + from) as u64, line, b);
            assert!(p.rejects.is_empty(), "{:?}", p.rejects.first());
            rows += p.rows.len();
            line += crate::format::csv::dialect::count_lines(b, false);
            from = to;
        }
        rows
    });
    eprintln!(
        "parse+convert whole file: {rows} rows in {:.0} ms, {:.2} M rows/s, {:.0} MB/s",
        t.as_secs_f64() * 1e3,
        rows as f64 / t.as_secs_f64() / 1e6,
        (data.len() - start) as f64 / 1e6 / t.as_secs_f64()
    );
}

/// A file from `gen.py N --bad K`: the rejects found batch by batch (cut by
/// the scanner, lines carried by `RecordEnd::lines`) must be exactly the
/// records listed in its `.bad.tsv`, at the same physical lines.
#[test]
#[ignore = "needs a file from ../shared/bench/gen.py --bad K (INGESTD_BAD_CSV); run with --ignored"]
fn gen_bad_records_at_their_lines() {
    let path = std::env::var("INGESTD_BAD_CSV").unwrap_or("/tmp/fmtcrlf/orders.csv".into());
    let (Ok(data), Ok(tsv)) = (
        std::fs::read(&path),
        std::fs::read_to_string(path.replace(".csv", ".bad.tsv")),
    ) else {
        panic!("{path} or its .bad.tsv is missing (set INGESTD_BAD_CSV)");
    };
    let fmt = CsvFormat::default();
    let layout = orders_layout();
    let pre = read_preamble(&fmt, &data, true).unwrap().unwrap();
    let mut sc = RecordScanner::new(&fmt);
    let (mut out, mut rejects) = (Vec::new(), Vec::new());
    let body = pre.data_start as usize;
    let (mut line, mut n) = (pre.first_line, 0);
    let (mut batch_start, mut batch_line) = (body, line);
    for (i, chunk) in data[body..].chunks(1 << 16).enumerate() {
        out.clear();
        sc.scan(chunk, &mut out);
        for e in &out {
            let end = body + (i << 16) + e.end;
            line += e.lines;
            n += 1;
            if n % 10_000 == 0 {
                let b = &data[batch_start..end];
                rejects
                    .extend(parse_batch(&fmt, &layout, batch_start as u64, batch_line, b).rejects);
                (batch_start, batch_line) = (end, line);
            }
        }
    }
    assert_eq!(sc.finish(), Tail::Empty);
    let last = &data[batch_start..];
    rejects.extend(parse_batch(&fmt, &layout, batch_start as u64, batch_line, last).rejects);
    let want: Vec<(u64, &str)> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let code = match f[3] {
                "wrong_column_count" => "field_count",
                "bad_amount" => "bad_decimal",
                _ => "bad_timestamp",
            };
            (f[1].parse().unwrap(), code)
        })
        .collect();
    let got: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.code.as_str())).collect();
    assert_eq!(got, want);
    eprintln!(
        "{} bad records found at their lines; first: {:?}",
        got.len(),
        rejects[0]
    );
}
