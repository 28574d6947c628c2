//! A stray quote in a large file, with the real binary: a 200 MB file whose
//! second line opens a quote that never closes, in the landing folder of a
//! `run --once` job on SQLite, beside a good file. The quote costs one
//! rejected range, from line 2 to the first line end past
//! `max_record_bytes`, reported in `<file>.bad.jsonl` with its line; every
//! record after that point is loaded, and so is the good file; and neither
//! the supervisor nor any worker grows past 64 MiB (each logs its peak RSS
//! as it ends). The job keeps its default batch sizes: with records of the
//! usual size a batch is its 10,000 rows (under 1 MB).

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::support::rejects::notes;
use crate::support::*;

trials![a_stray_quote_in_a_200_mb_file_costs_one_rejected_range_and_little_memory];

/// The job's `max_record_bytes`: the default, written out.
const MAX_RECORD: u64 = 1 << 20;
const FILE_BYTES: u64 = 200_000_000;
const RSS_LIMIT_MIB: f64 = 64.0;
/// The good file's ids start here (the big file's stay below).
const GOOD_IDS: i64 = 10_000_000;

/// What was written to the big file.
struct Written {
    /// The rejected range: line 2's record up to the first line end at or
    /// past `MAX_RECORD` bytes into it.
    start: u64,
    resync: u64,
    /// The records from `resync` on (loaded): how many, the sum, least and
    /// greatest of their ids.
    after: (i64, i64, i64, i64),
    /// Records in all (the rejected range's among them).
    records: u64,
}

/// Writes the big file record by record (never held in memory): the header,
/// line 2 opening a quote it never closes, then about 2.6 million orders of
/// the usual size with no quote and no line break inside (a quote would
/// close the stray one), to `FILE_BYTES`.
fn write_big(path: &std::path::Path) -> Written {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(HEADER.as_bytes()).unwrap();
    let start = HEADER.len() as u64;
    let stray = "1,5,\"never closed,1.00,USD,2025-01-01T00:00:00,paid,\n";
    out.write_all(stray.as_bytes()).unwrap();
    let limit = start + MAX_RECORD;
    let (mut pos, mut resync) = (start + stray.len() as u64, None);
    let mut w = Written {
        start,
        resync: 0,
        after: (0, 0, i64::MAX, 0),
        records: 1,
    };
    let names = ["Mary Major", "Zoë Çelik", "Łukasz Nowak", "翔太", "O'Brien"];
    for id in 2u64.. {
        if pos >= FILE_BYTES {
            break;
        }
        let customer = id % 100_000 + 1;
        let cents = (id * 37 % 2_000_000) as i64 - 5_000;
        let name = names[id as usize % names.len()];
        let ts = format!(
            "2025-{:02}-{:02}T10:{:02}:00",
            id % 12 + 1,
            id % 28 + 1,
            id % 60
        );
        let note = (id % 3 != 0).then(|| format!("note {id}"));
        let sign = if cents < 0 { "-" } else { "" };
        let amount = format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100);
        let text = format!(
            "{id},{customer},{name},{amount},EUR,{ts},paid,{}\n",
            note.as_deref().unwrap_or("")
        );
        let end = pos + text.len() as u64;
        // The record holding the limit's byte ends the rejected range.
        if resync.is_none() && end > limit {
            resync = Some(end);
        } else if resync.is_some() {
            let (n, sum, min, max) = w.after;
            let id = id as i64;
            w.after = (n + 1, sum + id, min.min(id), max.max(id));
        }
        out.write_all(text.as_bytes()).unwrap();
        (pos, w.records) = (end, w.records + 1);
    }
    out.flush().unwrap();
    w.resync = resync.expect("the file is longer than the limit");
    w
}

/// `peak_rss_mib` of each exit line `message` in the JSON log `stderr`.
fn peaks(stderr: &str, message: &str) -> Vec<f64> {
    let lines = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok());
    lines
        .filter(|v| v["fields"]["message"] == message)
        .map(|v| {
            v["fields"]["peak_rss_mib"]
                .as_f64()
                .unwrap_or_else(|| panic!("no peak_rss_mib in {v}"))
        })
        .collect()
}

fn a_stray_quote_in_a_200_mb_file_costs_one_rejected_range_and_little_memory() {
    let s = Setup::new(
        &format!("workers = 2\nmax_record_bytes = {MAX_RECORD}\n"),
        "",
        "",
    );
    let big = write_big(&s.landing.join("big.csv"));
    let good = write_orders(&s.landing.join("good.csv"), 5_000, GOOD_IDS as u64, 7);

    let ran = ingestd(["--log-format", "json", "run", "--once", "--config"])
        .arg(&s.config)
        .deadline(Duration::from_secs(300))
        .run()
        .expect(3);

    // Memory: every process says its peak as it ends.
    let supervisor = peaks(&ran.stderr, "supervisor stopped");
    let workers = peaks(&ran.stderr, "pool closed");
    eprintln!("peak RSS (MiB): supervisor {supervisor:?}, workers {workers:?}");
    assert_eq!(supervisor.len(), 1, "{}", ran.stderr);
    assert_eq!(workers.len(), 2, "{}", ran.stderr);
    for (who, peak) in [("supervisor", supervisor[0])]
        .into_iter()
        .chain(workers.iter().map(|&p| ("a worker", p)))
    {
        assert!(peak < RSS_LIMIT_MIB, "{who} peaked at {peak} MiB");
    }

    // One rejected range, from line 2 to the first line end past the limit.
    let notes = notes(&s.rejects.join("big.csv.bad.jsonl"));
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let n = &notes[0];
    assert_eq!(
        (n["line"].as_u64(), n["code"].as_str()),
        (Some(2), Some("record_too_large"))
    );
    assert_eq!(n["offset"].as_u64(), Some(big.start), "{n}");
    assert_eq!(n["len"].as_u64(), Some(big.resync - big.start), "{n}");
    // The .bad file: the header and the rejected range's own bytes (read from
    // the file by the reject writer).
    let bad_len = std::fs::metadata(s.rejects.join("big.csv.bad"))
        .unwrap()
        .len();
    assert_eq!(bad_len, HEADER.len() as u64 + big.resync - big.start);

    // Every record after the range is loaded (its ids: count, sum, least,
    // greatest), and the good file.
    let ids = |what: &str| {
        let sql = format!("SELECT {what}(id) FROM orders WHERE id < {GOOD_IDS}");
        sqlite_count(&s.db, &sql)
    };
    let after = big.after;
    assert_eq!((ids("count"), ids("sum"), ids("min"), ids("max")), after);
    let summary = format!("big.csv: {} rows loaded, 1 rejected", after.0);
    assert!(ran.stdout.contains(&summary), "{summary}?\n{}", ran.stdout);
    assert!(big.records > after.0 as u64 + 1, "the range held records");
    let good_rows = format!("SELECT count(*) FROM orders WHERE id >= {GOOD_IDS}");
    assert_eq!(sqlite_count(&s.db, &good_rows), good.rows as i64);
    assert!(
        ran.stdout
            .contains("good.csv: 5000 rows loaded, 0 rejected"),
        "{}",
        ran.stdout
    );
}
