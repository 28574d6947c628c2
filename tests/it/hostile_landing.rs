//! A hostile landing folder under `on_done = "delete"`, with the real binary
//! and a real SQLite file, in one daemon run: a file written by ten `>>`
//! appends with pauses shorter than `settle`; `touch` then write; a file
//! appended to after it was taken; a file truncated while it is cut; a file
//! renamed over another while it is cut. Afterwards no row is in the table
//! twice, and every row ever written is in the table or still in a file on
//! disk (landing or reject folder) with an error logged, except the rows the
//! writer itself truncated away.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

trials![no_row_is_lost_or_loaded_twice_whatever_the_writers_do];

/// Ids of each file's rows: disjoint ranges.
const B: u64 = 1_000_000;
const C: u64 = 2_000_000;
const A: u64 = 3_000_000;
const A2: u64 = 3_500_000;
const D: u64 = 4_000_000;
const E: u64 = 5_000_000;
const E2: u64 = 6_000_000;
/// Rows of the files that are attacked while they are cut: enough that
/// loading one takes seconds (one worker, 100-row batches, fsync each).
const BIG: u64 = 60_000;

/// `n` order lines with ids from `first`.
fn lines(first: u64, n: u64, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (first..first + n).map(|id| order(&mut rng, id).0).collect()
}

/// Writes `rows` under a hidden name and renames the file in as `name`.
fn drop_in(dir: &Path, name: &str, rows: &[String]) {
    let hidden = dir.join(format!(".{name}.tmp"));
    fs::write(&hidden, format!("{HEADER}{}", rows.concat())).unwrap();
    fs::rename(&hidden, dir.join(name)).unwrap();
}

fn ids_in_table(s: &Setup) -> Vec<u64> {
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM orders").unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|r| r.unwrap() as u64)
        .collect()
}

fn count_between(s: &Setup, lo: u64, hi: u64) -> i64 {
    sqlite_count(
        &s.db,
        &format!("SELECT count(*) FROM orders WHERE id >= {lo} AND id < {hi}"),
    )
}

fn wait(what: &str, d: &Daemon, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{what}:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The ids of every record in the data files below `dir` (not the reject
/// notes), read the way an operator would load them back.
fn ids_on_disk(dir: &Path, out: &mut BTreeSet<u64>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            ids_on_disk(&path, out);
            continue;
        }
        if path.extension().is_some_and(|e| e == "jsonl") {
            continue;
        }
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(fs::File::open(&path).unwrap());
        for rec in r.records().flatten() {
            if let Some(id) = rec.get(0).and_then(|f| f.parse().ok()) {
                out.insert(id);
            }
        }
    }
}

fn no_row_is_lost_or_loaded_twice_whatever_the_writers_do() {
    let s = Setup::new(
        "workers = 1\nbatch_rows = 100\n",
        "synchronous = \"full\"",
        "on_done = \"delete\"",
    );
    // Longer than the pauses of the appending writer below.
    s.edit(|t| t.replace("settle = \"200ms\"", "settle = \"1s\""));
    let land = &s.landing;
    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("daemon.log"));
    d.expect_log("worker ready", 1, Duration::from_secs(30));
    let mut written: BTreeMap<&str, Vec<u64>> = BTreeMap::new();

    // B: ten appends, 300 ms apart (settle is 1 s): taken once, whole.
    let b = lines(B, 1_000, 1);
    for (i, chunk) in b.chunks(100).enumerate() {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(land.join("b.csv"))
            .unwrap();
        if i == 0 {
            f.write_all(HEADER.as_bytes()).unwrap();
        }
        f.write_all(chunk.concat().as_bytes()).unwrap();
        drop(f);
        std::thread::sleep(Duration::from_millis(300));
    }
    written.insert("b", (B..B + 1_000).collect());
    wait("b loaded and deleted", &d, || !land.join("b.csv").exists());

    // C: touch, then write half a second later.
    fs::File::create(land.join("c.csv")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    fs::write(
        land.join("c.csv"),
        format!("{HEADER}{}", lines(C, 500, 2).concat()),
    )
    .unwrap();
    written.insert("c", (C..C + 500).collect());
    wait("c loaded and deleted", &d, || !land.join("c.csv").exists());

    // A: appended to once it is being loaded.
    drop_in(land, "a.csv", &lines(A, BIG, 3));
    wait("a being loaded", &d, || count_between(&s, A, A + BIG) > 0);
    let mut f = OpenOptions::new()
        .append(true)
        .open(land.join("a.csv"))
        .unwrap();
    f.write_all(lines(A2, 1_000, 4).concat().as_bytes())
        .unwrap();
    drop(f);
    written.insert("a", (A..A + BIG).collect());
    written.insert("a2", (A2..A2 + 1_000).collect());
    wait("a set aside", &d, || !land.join("a.csv").exists());

    // D: truncated to 40% while it is cut.
    let d_rows = lines(D, BIG, 5);
    drop_in(land, "d.csv", &d_rows);
    wait("d being loaded", &d, || count_between(&s, D, D + BIG) > 0);
    let size = fs::metadata(land.join("d.csv")).unwrap().len();
    let cut = size * 2 / 5;
    OpenOptions::new()
        .write(true)
        .open(land.join("d.csv"))
        .unwrap()
        .set_len(cut)
        .unwrap();
    // Records wholly past the cut are gone by the writer's own doing.
    let mut at = HEADER.len() as u64;
    let mut destroyed = BTreeSet::new();
    for (i, line) in d_rows.iter().enumerate() {
        if at >= cut {
            destroyed.insert(D + i as u64);
        }
        at += line.len() as u64;
    }
    written.insert("d", (D..D + BIG).collect());
    wait("d set aside", &d, || !land.join("d.csv").exists());

    // E: another file renamed over it while it is cut.
    drop_in(land, "e.csv", &lines(E, BIG, 6));
    wait("e being loaded", &d, || count_between(&s, E, E + BIG) > 0);
    drop_in(land, "e.csv", &lines(E2, 2_000, 7));
    written.insert("e", (E..E + BIG).collect());
    written.insert("e2", (E2..E2 + 2_000).collect());
    wait("e and the file renamed over it loaded", &d, || {
        count_between(&s, E, E + BIG) == BIG as i64
            && count_between(&s, E2, E2 + 2_000) == 2_000
            && !land.join("e.csv").exists()
    });
    d.stop(Duration::from_secs(30));
    let log = d.log_text();

    // None twice, none from nowhere.
    let table = ids_in_table(&s);
    let loaded: BTreeSet<u64> = table.iter().copied().collect();
    assert_eq!(loaded.len(), table.len(), "rows loaded twice");
    let all: BTreeSet<u64> = written.values().flatten().copied().collect();
    assert!(loaded.is_subset(&all), "rows nobody wrote");
    // None lost: in the table, or in a file on disk.
    let mut on_disk = BTreeSet::new();
    ids_on_disk(land, &mut on_disk);
    ids_on_disk(&s.rejects, &mut on_disk);
    let lost: Vec<u64> = all
        .iter()
        .filter(|id| !loaded.contains(id) && !on_disk.contains(id) && !destroyed.contains(id))
        .copied()
        .take(10)
        .collect();
    assert!(lost.is_empty(), "rows lost, e.g. {lost:?}\n{log}");
    // Whole where nothing went wrong.
    for (name, ids) in [
        ("b", &written["b"]),
        ("c", &written["c"]),
        ("a", &written["a"]),
        ("e", &written["e"]),
        ("e2", &written["e2"]),
    ] {
        let missing = ids.iter().filter(|id| !loaded.contains(id)).count();
        assert_eq!(missing, 0, "{name}: {missing} rows not loaded\n{log}");
    }
    // What came after a was taken is not loaded: it waits in its .rest file.
    assert!(written["a2"].iter().all(|id| !loaded.contains(id)));
    let rest_file = s.rejects.join("a.rest.csv");
    let rest_ids: BTreeSet<u64> = csv::Reader::from_path(&rest_file)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    assert_eq!(
        rest_ids,
        written["a2"].iter().copied().collect(),
        "a's .rest holds what was appended"
    );
    // Each set-aside file said why.
    assert!(
        log.contains("file set aside") && log.contains("a.csv"),
        "{log}"
    );
    assert!(log.contains("grew from"), "{log}");
    assert!(
        log.contains("d.csv")
            && (log.contains("shrank") || log.contains("changed after it was taken")),
        "{log}"
    );
}
