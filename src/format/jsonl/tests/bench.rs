//! A measurement on the orders JSON Lines file of ../shared/bench/gen.py
//! (ignored: it needs the file; run in release). It prints figures and
//! asserts only correctness, never time:
//!   python3 ../shared/bench/gen.py 1000000 --out /tmp/fmtbench
//!   INGESTD_BENCH_JSONL=/tmp/fmtbench/orders.jsonl \
//!   cargo test --release --lib format::jsonl::tests::bench -- --ignored --nocapture

use std::time::{Duration, Instant};

use crate::format::fixtures::orders_columns;
use crate::format::jsonl::{JsonlFormat, layout, parse_batch};

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn parse_throughput() {
    let path = std::env::var("INGESTD_BENCH_JSONL").unwrap_or("/tmp/fmtbench/orders.jsonl".into());
    let data =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (set INGESTD_BENCH_JSONL)"));
    let fmt = JsonlFormat::default();
    let l = layout(&fmt, Some(&orders_columns()), None).unwrap();
    // Batches of 10,000 lines, as the cutter makes them by default.
    let mut batches = Vec::new();
    let mut start = 0;
    for (i, nl) in memchr::memchr_iter(b'\n', &data).enumerate() {
        if i % 10_000 == 9_999 {
            batches.push((start, nl + 1));
            start = nl + 1;
        }
    }
    batches.push((start, data.len()));
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        rows = 0;
        for &(s, e) in &batches {
            let p = parse_batch(&fmt, &l, s as u64, 1, &data[s..e]);
            assert!(p.rejects.is_empty(), "{:?}", &p.rejects[..1]);
            rows += p.rows.len();
        }
        best = best.min(t.elapsed());
    }
    let mb = data.len() as f64 / 1e6;
    eprintln!(
        "jsonl parse {mb:.1} MB, {rows} rows: {:.0} MB/s, {:.0} ns/row ({:.1} ms)",
        mb / best.as_secs_f64(),
        best.as_secs_f64() * 1e9 / rows as f64,
        best.as_secs_f64() * 1e3
    );
}
