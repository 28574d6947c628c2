//! A ledger made by a version before `target`: upgraded in place when a
//! worker opens the file, its rows kept and claimed by their job's table,
//! so that nothing is loaded twice; and what a job pointed at another
//! table then does.

use rusqlite::Connection;

use super::{REC, batch, cfg, committed, count, open, peek};
use crate::config::WriteMode;
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};
use crate::worker::sink::WriteOutcome;

/// The ledger exactly as versions before `target` created it.
const OLD_LEDGER: &str = "CREATE TABLE IF NOT EXISTS ingestd_ledger (
  job TEXT NOT NULL,
  source TEXT NOT NULL,
  start_off INTEGER NOT NULL,
  end_off INTEGER NOT NULL,
  first_line INTEGER NOT NULL,
  rows_loaded INTEGER NOT NULL,
  rows_rejected INTEGER NOT NULL,
  rejects TEXT NOT NULL,
  worker_pid INTEGER NOT NULL,
  committed_at TEXT NOT NULL,
  PRIMARY KEY (job, source, start_off)
)";

const NO_NOTES: &str = r#"{"texts":[],"notes":[]}"#;

/// An old ledger holding the ranges [0, 20) and [20, 40) of `src` for job
/// `orders` (their 4 rows in table `t`) and one range of job `other`.
fn old_file(db: &Connection) {
    db.execute_batch(OLD_LEDGER).expect("old ledger");
    db.execute_batch("CREATE TABLE t (id INTEGER)").expect("t");
    for (job, start) in [("orders", 0), ("orders", 20), ("other", 0)] {
        db.execute(
            "INSERT INTO ingestd_ledger VALUES (?1, 'src', ?2, ?2 + 20, ?2 / 10 + 1, 2, 0, ?3, 1, 'x')",
            rusqlite::params![job, start, NO_NOTES],
        )
        .expect("old row");
    }
    db.execute_batch("INSERT INTO t VALUES (1), (2), (3), (4)")
        .expect("rows");
}

fn targets(db: &Connection) -> Vec<(String, String, i64)> {
    db.prepare("SELECT job, target, start_off FROM ingestd_ledger ORDER BY job, start_off")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn an_old_ledger_is_upgraded_and_its_rows_count_for_the_table_of_their_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    std::fs::create_dir_all(cfg.path.parent().unwrap()).unwrap();
    old_file(&Connection::open(&cfg.path).unwrap());

    let mut sink = open(&cfg);
    let db = peek(&cfg);
    let legacy = |job: &str, start| (job.to_string(), "(legacy)".to_string(), start);
    assert_eq!(
        targets(&db),
        [
            legacy("orders", 0),
            legacy("orders", 20),
            legacy("other", 0)
        ],
        "every row kept, none with a target yet"
    );
    let pk: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('ingestd_ledger') WHERE pk > 0 ORDER BY pk")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pk, ["job", "target", "source", "start_off"]);
    assert!(sink.committed("orders", "t", "src").unwrap().is_empty());

    // The job's first start after the upgrade: its table claims them.
    assert_eq!(sink.claim_legacy("orders", "T").expect("claim"), 2);
    assert_eq!(sink.claim_legacy("orders", "t").expect("again"), 0);
    let ranges = sink.committed("orders", "t", "src").expect("committed");
    let got: Vec<(u64, u64)> = ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(got, [(0, 20), (20, 40)]);
    assert_eq!(
        targets(&db)[2],
        legacy("other", 0),
        "another job's rows wait"
    );

    // Loaded already into t: a redelivery, not a second copy.
    let cols = [col("id", ColumnType::BigInt, true)];
    sink.ensure_table("t", &cols, false, &WriteMode::Insert)
        .expect("t");
    let b = batch(0, &[vec![V::I(1)], vec![V::I(2)]], 0);
    let out = sink.write(&b.req("t", &cols, "src")).expect("write");
    assert!(matches!(out, WriteOutcome::AlreadyCommitted(_)), "{out:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM t"), 4);

    // Pointed at another table, the job loads the same ranges into it.
    sink.ensure_table("u", &cols, true, &WriteMode::Insert)
        .expect("u");
    assert_eq!(
        committed(sink.write(&b.req("u", &cols, "src")).unwrap()).0,
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM u"), 2);
    assert_eq!(sink.committed("orders", "t", "src").unwrap().len(), 2);
    assert_eq!(sink.committed("orders", "u", "src").unwrap().len(), 1);
    sink.close().expect("close");

    // A second open finds it upgraded and changes nothing.
    let again = open(&cfg);
    assert_eq!(count(&db, "SELECT count(*) FROM ingestd_ledger"), 4);
    again.close().expect("close");
    assert_eq!(b.end, 2 * REC);
}

#[test]
fn a_new_file_gets_the_ledger_with_target_and_an_older_version_s_rows_are_legacy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let sink = open(&cfg);
    let db = peek(&cfg);
    // What an older version writes into it: no target, so the default.
    db.execute(
        "INSERT INTO ingestd_ledger (job, source, start_off, end_off, first_line, rows_loaded, \
         rows_rejected, rejects, worker_pid, committed_at) VALUES ('orders', 's', 0, 10, 1, 1, 0, \
         '[]', 1, 'x')",
        [],
    )
    .expect("an old version's insert");
    assert_eq!(targets(&db), [("orders".into(), "(legacy)".into(), 0)]);
    sink.close().expect("close");
}
