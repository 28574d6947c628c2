//! Throughput of the sink on the benchmark's row shape, in the situations
//! that decide its speed (page size, rejects, upserts), beside a plain
//! prepared INSERT on the same rows in the same run (ignored by default):
//! `cargo test --release --lib worker::sink::sqlite::tests::bench -- --ignored --nocapture`.
//! Disk-bound in part: repeat it, and note the machine's load with it.

use crate::config::WriteMode;
use std::time::{Duration, Instant};

use rusqlite::params;

use super::{cfg, count, open, peek};
use crate::config::SqliteSink;
use crate::format::fixtures::{orders_columns, text_cell};
use crate::format::types::RowOrigin;
use crate::format::{Cell, Rows};
use crate::worker::sink::{WriteOutcome, WriteRequest};

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
        let name = text_cell(&mut rows, NAMES[pick(1) % 4]);
        rows.cells.push(name);
        let cents = (r % 100_000) as i128 * if pick(2) == 0 { -1 } else { 1 };
        rows.cells.push(Cell::Decimal {
            mantissa: cents,
            scale: 2,
        });
        let cur = text_cell(&mut rows, CURRENCIES[pick(3) % 3]);
        rows.cells.push(cur);
        let at = epoch + chrono::Duration::milliseconds((r % 94_608_000_000) as i64);
        rows.cells.push(Cell::Timestamp(at));
        let status = text_cell(&mut rows, STATUSES[pick(4) % 4]);
        rows.cells.push(status);
        let note = match pick(5) {
            0..=8 => Cell::Null,
            k => text_cell(&mut rows, NOTES[k % 3]),
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

const TOTAL: usize = 1_000_000;
const BATCH: usize = 10_000;

/// `../shared/bench/schema.sqlite.sql`, as `benches/sqlite.sh` has sqlite3
/// create it (in a file of SQLite's default 4 KiB pages).
const BENCH_SCHEMA: &str = "CREATE TABLE orders (id INTEGER, customer_id INTEGER, \
     customer_name TEXT, amount NUMERIC, currency TEXT, created_at TEXT, status TEXT, note TEXT)";

struct Scenario {
    name: &'static str,
    /// SQL run on the new file before the sink opens it; empty: the sink
    /// creates file and table (`create_table`).
    setup: &'static str,
    mode: WriteMode,
    /// Loads of the same rows (as other sources): the second of an upsert
    /// updates every row.
    passes: usize,
}

/// Loads the rows `passes` times; prints rows/s per pass.
fn run(s: &Scenario) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 5000);
    if !s.setup.is_empty() {
        std::fs::create_dir_all(cfg.path.parent().expect("folder")).expect("mkdir");
        peek(&cfg).execute_batch(s.setup).expect("setup");
    }
    let mut sink = open(&cfg);
    let cols = orders_columns();
    sink.ensure_table("orders", &cols, s.setup.is_empty(), &s.mode)
        .expect("table");
    for pass in 0..s.passes {
        let source = format!("bench-{pass}");
        let (mut seed, mut in_write) = (42u64, Duration::ZERO);
        let (mut loaded, mut rejected) = (0, 0);
        for k in 0..TOTAL / BATCH {
            let rows = bench_rows((k * BATCH) as u64, BATCH, &mut seed);
            let req = WriteRequest {
                job: "orders",
                mode: &s.mode,
                table: "orders",
                columns: &cols,
                rows: &rows,
                source: &source,
                start: (k * BATCH) as u64 * 80,
                end: ((k + 1) * BATCH) as u64 * 80,
                first_line: (k * BATCH) as u64 + 2,
                rejects: &[],
            };
            let t = Instant::now();
            let out = sink.write(&req).expect("write");
            in_write += t.elapsed();
            let WriteOutcome::Committed { loaded: l, rejects } = out else {
                panic!("not committed: {out:?}")
            };
            (loaded, rejected) = (loaded + l, rejected + rejects.len());
        }
        assert_eq!(loaded as usize + rejected, TOTAL);
        let rate = TOTAL as f64 / in_write.as_secs_f64();
        println!(
            "{:<44} pass {}: {rate:>9.0} rows/s, {:.2} ms per {BATCH}-row batch ({rejected} rejected)",
            s.name,
            pass + 1,
            in_write.as_secs_f64() * 1e3 / (TOTAL / BATCH) as f64,
        );
    }
    sink.close().expect("close");
    let rows = count(&peek(&cfg), "SELECT COUNT(*) FROM orders") as usize;
    assert!(rows <= TOTAL && rows > TOTAL * 9 / 10, "{rows}");
}

#[test]
#[ignore = "measurement; run in release with --ignored --nocapture"]
fn throughput_of_the_benchmark_shape() {
    println!("{TOTAL} rows of the bench's orders shape, 10,000-row batches, time in write() only");
    let upsert = WriteMode::Upsert {
        key: vec!["id".into()],
    };
    let scenarios = [
        Scenario {
            name: "insert, new file (sink's 16 KiB pages)",
            setup: "",
            mode: WriteMode::Insert,
            passes: 1,
        },
        Scenario {
            name: "insert, sqlite3-made table (4 KiB pages)",
            setup: BENCH_SCHEMA,
            mode: WriteMode::Insert,
            passes: 1,
        },
        Scenario {
            name: "insert, 4 KiB pages, CHECK refuses 1% of rows",
            setup: "CREATE TABLE orders (id INTEGER, \
                customer_id INTEGER CHECK (customer_id % 100 != 0), customer_name TEXT, \
                amount NUMERIC, currency TEXT, created_at TEXT, status TEXT, note TEXT)",
            mode: WriteMode::Insert,
            passes: 1,
        },
        Scenario {
            name: "upsert on id, new file (then all updates)",
            setup: "",
            mode: upsert,
            passes: 2,
        },
    ];
    for s in &scenarios {
        run(s);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    plain_reference(&cfg(dir.path(), 5000));
}

/// The same rows through a plain prepared INSERT (owned text for decimals
/// and timestamps, no ledger), as FACTS measured it: the reference.
fn plain_reference(cfg: &SqliteSink) {
    std::fs::create_dir_all(cfg.path.parent().expect("folder")).expect("mkdir");
    let db = peek(cfg);
    db.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; {BENCH_SCHEMA}"
    ))
    .expect("plain table");
    let (mut seed, mut plain) = (42u64, Duration::ZERO);
    for k in 0..TOTAL / BATCH {
        let rows = bench_rows((k * BATCH) as u64, BATCH, &mut seed);
        let t = Instant::now();
        let tx = db.unchecked_transaction().expect("begin");
        let mut stmt = tx
            .prepare_cached("INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
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
        "{:<44}       : {:>9.0} rows/s",
        "reference: plain INSERT, 4 KiB pages, no ledger",
        TOTAL as f64 / plain.as_secs_f64()
    );
}
