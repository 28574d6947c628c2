//! Throughput of the sink on the benchmark's row shape, beside a plain
//! prepared INSERT on the same rows in the same run (ignored by default):
//! `cargo test --release --lib sink::sqlite::tests_bench -- --ignored --nocapture`.

use crate::config::WriteMode;
use std::time::{Duration, Instant};

use rusqlite::params;

use super::tests::{cfg, col, count, open, peek};
use crate::format::types::RowOrigin;
use crate::format::{Cell, ColumnSpec, ColumnType, Rows};
use crate::sink::{WriteOutcome, WriteRequest};

/// The benchmark's `orders` shape (see ../shared/bench/gen.py).
fn bench_columns() -> Vec<ColumnSpec> {
    let text = ColumnType::Text { max_chars: None };
    vec![
        col("id", ColumnType::BigInt, false),
        col("customer_id", ColumnType::Int, false),
        col("customer_name", text, false),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            false,
        ),
        col("currency", ColumnType::Text { max_chars: Some(3) }, false),
        col("created_at", ColumnType::Timestamp, false),
        col("status", text, false),
        col("note", text, true),
    ]
}

fn push_text(rows: &mut Rows, s: &str) -> Cell {
    let start = rows.text.len() as u32;
    rows.text.push_str(s);
    Cell::Text {
        start,
        len: s.len() as u32,
    }
}

/// `n` rows of the benchmark shape, ids from `first_id`, pseudo-random but fixed.
fn bench_rows(first_id: u64, n: usize, seed: &mut u64) -> Rows {
    const NAMES: [&str; 4] = [
        "Mary Smith",
        "Zoë O'Brien",
        "Acme, Inc.",
        "José \"Bud\" Núñez",
    ];
    const CURRENCIES: [&str; 3] = ["USD", "EUR", "GBP"];
    const STATUSES: [&str; 4] = ["delivered", "shipped", "paid", "pending"];
    const NOTES: [&str; 3] = ["leave at door", "gift wrap", "café order ☕"];
    let epoch = chrono::NaiveDate::from_ymd_opt(2023, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("epoch");
    let mut rows = Rows::new(8);
    rows.cells.reserve(n * 8);
    for i in 0..n {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = *seed >> 16;
        let pick = |k: usize| (r as usize >> (k * 4)) % 16;
        rows.cells
            .push(Cell::Int((4_294_967_296 + first_id + i as u64) as i64));
        rows.cells.push(Cell::Int((r % 2_000_000) as i64 + 1));
        let name = push_text(&mut rows, NAMES[pick(1) % 4]);
        rows.cells.push(name);
        let cents = (r % 100_000) as i128 * if pick(2) == 0 { -1 } else { 1 };
        rows.cells.push(Cell::Decimal {
            mantissa: cents,
            scale: 2,
        });
        let cur = push_text(&mut rows, CURRENCIES[pick(3) % 3]);
        rows.cells.push(cur);
        let at = epoch + chrono::Duration::milliseconds((r % 94_608_000_000) as i64);
        rows.cells.push(Cell::Timestamp(at));
        let status = push_text(&mut rows, STATUSES[pick(4) % 4]);
        rows.cells.push(status);
        let note = match pick(5) {
            0..=8 => Cell::Null,
            k => push_text(&mut rows, NOTES[k % 3]),
        };
        rows.cells.push(note);
        rows.origins.push(RowOrigin {
            offset: (first_id + i as u64) * 80,
            len: 80,
            line: first_id + i as u64 + 2,
        });
    }
    rows
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn throughput_of_the_benchmark_shape() {
    const TOTAL: usize = 1_000_000;
    const BATCH: usize = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 5000);
    let mut sink = open(&cfg);
    let cols = bench_columns();
    sink.ensure_table("orders", &cols, true, &WriteMode::Insert)
        .expect("create");
    let (mut seed, mut in_write, mut built) = (42u64, Duration::ZERO, Duration::ZERO);
    for k in 0..TOTAL / BATCH {
        let t = Instant::now();
        let rows = bench_rows((k * BATCH) as u64, BATCH, &mut seed);
        built += t.elapsed();
        let req = WriteRequest {
            job: "orders",
            mode: &WriteMode::Insert,
            table: "orders",
            columns: &cols,
            rows: &rows,
            source: "bench",
            start: (k * BATCH) as u64 * 80,
            end: ((k + 1) * BATCH) as u64 * 80,
            first_line: (k * BATCH) as u64 + 2,
            rejects: &[],
        };
        let t = Instant::now();
        let out = sink.write(&req).expect("write");
        in_write += t.elapsed();
        assert!(matches!(out, WriteOutcome::Committed { loaded, .. } if loaded == BATCH as u64));
    }
    sink.close().expect("close");
    assert_eq!(
        count(&peek(&cfg), "SELECT COUNT(*) FROM orders"),
        TOTAL as i64
    );
    println!(
        "sqlite sink: {TOTAL} rows in {BATCH}-row batches: {:.3} s in write(), {:.0} rows/s \
         (building the rows took {:.3} s, not counted)",
        in_write.as_secs_f64(),
        TOTAL as f64 / in_write.as_secs_f64(),
        built.as_secs_f64()
    );

    // The same rows through a plain prepared INSERT (owned text for decimals
    // and timestamps, no ledger), as FACTS measured it: the reference.
    let db = peek(&cfg);
    db.execute_batch("CREATE TABLE plain AS SELECT * FROM orders WHERE 0")
        .expect("plain table");
    let (mut seed, mut plain) = (42u64, Duration::ZERO);
    for k in 0..TOTAL / BATCH {
        let rows = bench_rows((k * BATCH) as u64, BATCH, &mut seed);
        let t = Instant::now();
        let tx = db.unchecked_transaction().expect("begin");
        let mut stmt = tx
            .prepare_cached("INSERT INTO plain VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .expect("prepare");
        for i in 0..rows.len() {
            let text = |c: &Cell| match *c {
                Cell::Text { start, len } => Some(rows.text_of(start, len)),
                _ => None,
            };
            let r = rows.row(i);
            let (Cell::Int(id), Cell::Int(cid)) = (r[0], r[1]) else {
                panic!("ints")
            };
            let (Cell::Decimal { mantissa, .. }, Cell::Timestamp(at)) = (r[3], r[5]) else {
                panic!("decimal, timestamp")
            };
            let sign = if mantissa < 0 { "-" } else { "" };
            let (units, cents) = (mantissa.abs() / 100, mantissa.abs() % 100);
            let amount = format!("{sign}{units}.{cents:02}");
            let (name, cur, status, note) = (text(&r[2]), text(&r[4]), text(&r[6]), text(&r[7]));
            stmt.execute(params![
                id,
                cid,
                name,
                amount,
                cur,
                at.to_string(),
                status,
                note
            ])
            .expect("insert");
        }
        drop(stmt);
        tx.commit().expect("commit");
        plain += t.elapsed();
    }
    println!(
        "plain prepared INSERT, same rows and file: {:.0} rows/s",
        TOTAL as f64 / plain.as_secs_f64()
    );
}
