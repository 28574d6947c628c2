//! The NATS chaos scenario of `nats` (three daemons on one consumer, one
//! SIGKILLed for good, workers SIGKILLed, the server SIGKILLed and started
//! again while 300,000 messages are published) into one SQLite file that
//! the three daemons share, with `max_batch_attempts = 3` and a poison
//! message first.
//!
//! The poison message is published alone, while the test holds SQLite's
//! write lock: the worker that gets its batch waits in `busy_timeout`, so
//! the batch is certainly being loaded whenever the test SIGKILLs every
//! worker of every daemon, 30 ms after any of them logs "worker ready"
//! (the batch goes out as soon as a worker is ready), until a daemon logs
//! "quarantining a batch". A message that small would otherwise be
//! committed before any kill could land. The lock is then released, so
//! that the quarantine is recorded and the message terminated. The bulk
//! follows with worker kills 1-2 s apart, too sparse to hit one batch three
//! times. Afterwards: the poison record is not in the table, its stream
//! sequence (1) is in a reject note with code `quarantined` and its payload
//! in the `.bad` file, every other record is there exactly once, and the
//! consumer has nothing pending or unacked (a terminated message is
//! settled).

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::nats::{Chaos, Fleet, Target};
use crate::support::nats::{STREAM, payload};
use crate::support::rejects::notes;

crate::support::trials![a_poison_message_is_quarantined_and_the_rest_lands_once[NatsServer]];

const RECORDS: u64 = 300_000;
const SEED: u64 = 20_261_102;
/// The poison record's id: outside the bulk's 1..=RECORDS.
const POISON: u64 = 0;

fn a_poison_message_is_quarantined_and_the_rest_lands_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("shared.db");
    let mut target = Sqlite(db.clone());
    let sink = format!("kind = \"sqlite\"\npath = {:?}\n", db.to_str().unwrap());
    let mut fleet = Fleet::start(
        &sink,
        "workers = 2\nbatch_rows = 500\nmax_batch_attempts = 3\n",
    );

    // The poison message, while the test holds the write lock.
    let lock = Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock");
    let poison = fleet.client.publish("events.poison", payload(SEED, POISON));
    assert_eq!(poison, 1, "the poison message's stream sequence");
    // Cut after batch_linger (200 ms), sent, waiting for the lock.
    std::thread::sleep(Duration::from_millis(700));
    let t0 = Instant::now();
    let mut rounds = 0;
    let mut ready = fleet.ready_count();
    fleet.kill_all_workers();
    while !fleet.logged("quarantining a batch") {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no quarantine after {rounds} rounds of kills:\n{}",
            fleet.report(Some(&mut target))
        );
        if fleet.ready_count() > ready {
            std::thread::sleep(Duration::from_millis(30));
            ready = fleet.ready_count();
            fleet.kill_all_workers();
            rounds += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    let said: Vec<String> = (fleet.daemons.iter())
        .flat_map(|d| d.log_text().lines().map(String::from).collect::<Vec<_>>())
        .filter(|l| l.contains("quarantining") || l.contains("worker died"))
        .collect();
    eprintln!(
        "quarantined after {rounds} more rounds of kills:\n{}",
        said.join("\n")
    );
    // Recorded, then terminated on the stream: settled.
    let note = fleet.wait(Duration::from_secs(60), |f| {
        let settled = f.client.consumer().is_ok_and(|c| c.settled());
        quarantine_notes(f.dir.path()).pop().filter(|_| settled)
    });
    assert_eq!(note.1["offset"], poison, "{note:?}");

    let chaos = Chaos {
        seed: SEED,
        ids: 1..=RECORDS,
        per_second: 5_000,
        kill_pause_ms: 1_000..2_000,
        in_stream: RECORDS + 1,
    };
    fleet.run(&mut target, &chaos);
    fleet.assert_exactly(&mut target, &chaos);

    // The poison message is the only reject, with its payload in `.bad`.
    let quarantined = quarantine_notes(fleet.dir.path());
    let all: Vec<PathBuf> = fleet.reject_files();
    assert_eq!(
        quarantined.len(),
        1,
        "{quarantined:?}; reject files {all:?}"
    );
    let (jsonl, note) = &quarantined[0];
    assert_eq!(note["offset"], poison, "{note}");
    assert_eq!(notes(jsonl).len(), 1, "one note in {}", jsonl.display());
    let bad = PathBuf::from(jsonl.to_str().unwrap().trim_end_matches(".jsonl"));
    let bytes = std::fs::read_to_string(&bad).unwrap();
    assert_eq!(bytes.trim_end(), payload(SEED, POISON), "{}", bad.display());
    assert_eq!(all.len(), 2, "only the poison message's files: {all:?}");
    fleet.stop_survivors();
}

/// Every reject note with code `quarantined` in the daemons' reject
/// folders (`rejects-*/EVENTS*.bad.jsonl`), with its file. A line still
/// being written (no newline yet) is left for the next look.
fn quarantine_notes(dir: &Path) -> Vec<(PathBuf, Value)> {
    let pattern = dir.join(format!("rejects-*/{STREAM}*.bad.jsonl"));
    let mut found = Vec::new();
    for p in glob::glob(pattern.to_str().unwrap()).unwrap().flatten() {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let note: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: {e}: {line}", p.display()));
            if note["code"] == "quarantined" {
                found.push((p.clone(), note));
            }
        }
    }
    found
}

/// The SQLite file the three daemons share.
struct Sqlite(PathBuf);

impl Sqlite {
    fn open(&self) -> Option<Connection> {
        Connection::open_with_flags(&self.0, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()
    }
}

impl Target for Sqlite {
    fn rows(&mut self) -> u64 {
        self.open()
            .and_then(|c| {
                c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
                    .ok()
            })
            .unwrap_or(0) as u64
    }

    fn counts(&mut self, ids: &RangeInclusive<u64>) -> (u64, u64, u64) {
        let sql = format!(
            "SELECT count(*), count(DISTINCT id), \
             coalesce(sum(id < {} OR id > {}), 0) FROM events",
            ids.start(),
            ids.end()
        );
        let c = self.open().expect("the SQLite file");
        c.query_row(&sql, [], |r| {
            let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
            Ok((n(0)?, n(1)?, n(2)?))
        })
        .expect(&sql)
    }

    fn all(&mut self) -> Vec<(i64, String)> {
        let c = self.open().expect("the SQLite file");
        let mut st = c
            .prepare("SELECT id, body FROM events ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}
