//! The ledger names the target table: a job pointed at another table loads
//! its files into that one (the old table keeps its rows, and its ledger
//! rows still say what it holds), and a ledger an older version made
//! (without `target`) is upgraded in place when the job starts, without
//! loading anything twice into the table it loaded before. With the real
//! binary (`ingestd load` of one kept file), on SQLite and PostgreSQL.

use std::path::Path;

use crate::headers::{csv, header_job, summary};
use crate::support::pg::Schema;
use crate::support::*;

trials![
    pointing_a_sqlite_job_at_another_table_loads_into_it,
    an_old_sqlite_ledger_is_upgraded_and_nothing_is_loaded_twice,
    an_old_postgres_ledger_is_upgraded_and_another_table_is_loaded[Pg],
];

/// Points job `j` of `config` at `table`.
fn point_at(config: &Path, table: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let at = text.find("table = ").unwrap();
    let end = at + text[at..].find('\n').unwrap();
    let text = format!("{}table = {table:?}{}", &text[..at], &text[end..]);
    std::fs::write(config, text).unwrap();
}

/// `ingestd load` of `in/f.csv` (3 rows): exit 0 and its summary line.
fn load(dir: &Path, config: &Path) -> (String, Ran) {
    let ran = cli::load(config, "j", &[&dir.join("in/f.csv")]).expect(0);
    (summary(&ran, "f.csv").to_string(), ran)
}

#[track_caller]
fn loaded(line: &str) {
    assert!(
        line.starts_with("j/f.csv: 3 rows loaded, 0 rejected, ") && line.ends_with(" — loaded"),
        "{line}"
    );
}

#[track_caller]
fn skipped(line: &str) {
    assert!(
        line.starts_with("j/f.csv: 0 rows loaded, 0 rejected, ")
            && line.ends_with(" — already loaded by another run (3 rows, 0 rejected): skipped"),
        "{line}"
    );
}

fn rows_in(dir: &Path, table: &str) -> i64 {
    crate::support::sqlite_count(
        &dir.join("out/t.db"),
        &format!("SELECT count(*) FROM \"{table}\""),
    )
}

const LITE: &str = "kind = \"sqlite\"\npath = \"out/t.db\"";

fn pointing_a_sqlite_job_at_another_table_loads_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, LITE, "create_table = true");
    point_at(&config, "t1");
    csv(d, "f.csv", &["a", "b"], 3);
    loaded(&load(d, &config).0);
    skipped(&load(d, &config).0);
    point_at(&config, "t2");
    loaded(&load(d, &config).0);
    skipped(&load(d, &config).0);
    // Back to the first: its rows are there, and the ledger says so.
    point_at(&config, "t1");
    skipped(&load(d, &config).0);
    // SQLite ignores case in table names: T1 is t1.
    point_at(&config, "T1");
    skipped(&load(d, &config).0);
    assert_eq!((rows_in(d, "t1"), rows_in(d, "t2")), (3, 3));
}

/// Rebuilds the ledger of `db` as versions before `target` made it.
fn sqlite_downgrade(db: &Path) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch(
            "BEGIN;
             CREATE TABLE old (job TEXT NOT NULL, source TEXT NOT NULL, start_off INTEGER NOT NULL,
               end_off INTEGER NOT NULL, first_line INTEGER NOT NULL, rows_loaded INTEGER NOT NULL,
               rows_rejected INTEGER NOT NULL, rejects TEXT NOT NULL, worker_pid INTEGER NOT NULL,
               committed_at TEXT NOT NULL, PRIMARY KEY (job, source, start_off));
             INSERT INTO old SELECT job, source, start_off, end_off, first_line, rows_loaded,
               rows_rejected, rejects, worker_pid, committed_at FROM ingestd_ledger;
             DROP TABLE ingestd_ledger;
             ALTER TABLE old RENAME TO ingestd_ledger;
             COMMIT;",
        )
        .unwrap();
}

#[track_caller]
fn upgraded_and_claimed(ran: &Ran) {
    let log = ran.output();
    assert!(
        log.contains("ledger upgraded: it records each batch's target table now"),
        "{log}"
    );
    assert!(
        log.contains("ledger rows written before the ledger recorded targets now count for the job's table rows=1 table=t1"),
        "{log}"
    );
}

fn an_old_sqlite_ledger_is_upgraded_and_nothing_is_loaded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, LITE, "create_table = true");
    point_at(&config, "t1");
    csv(d, "f.csv", &["a", "b"], 3);
    loaded(&load(d, &config).0);
    sqlite_downgrade(&d.join("out/t.db"));
    let (line, ran) = load(d, &config);
    skipped(&line);
    upgraded_and_claimed(&ran);
    assert_eq!(rows_in(d, "t1"), 3, "nothing loaded twice");
    let targets = crate::support::sqlite_count(
        &d.join("out/t.db"),
        "SELECT count(*) FROM ingestd_ledger WHERE target = 't1'",
    );
    assert_eq!(targets, 1);
    point_at(&config, "t2");
    loaded(&load(d, &config).0);
    assert_eq!((rows_in(d, "t1"), rows_in(d, "t2")), (3, 3));
}

fn an_old_postgres_ledger_is_upgraded_and_another_table_is_loaded() {
    let mut db = Schema::new("ledtgt");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, &db.sink_toml(), "create_table = true");
    point_at(&config, "t1");
    csv(d, "f.csv", &["a", "b"], 3);
    loaded(&load(d, &config).0);
    // As versions before `target` made it.
    db.exec(
        "ALTER TABLE ingestd_ledger DROP CONSTRAINT ingestd_ledger_pkey; \
         ALTER TABLE ingestd_ledger DROP COLUMN target; \
         ALTER TABLE ingestd_ledger ADD PRIMARY KEY (job, source, start_off)",
    );
    let (line, ran) = load(d, &config);
    skipped(&line);
    upgraded_and_claimed(&ran);
    assert_eq!(db.int("SELECT count(*) FROM t1"), 3, "nothing loaded twice");
    let key = db.texts(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid \
         AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'ingestd_ledger'::regclass \
         AND i.indisprimary",
    );
    assert_eq!(key, ["job", "source", "start_off", "target"]);
    point_at(&config, "t2");
    loaded(&load(d, &config).0);
    skipped(&load(d, &config).0);
    point_at(&config, "t1");
    skipped(&load(d, &config).0);
    // PostgreSQL tells quoted names apart by case: "T1" is another table.
    point_at(&config, "T1");
    loaded(&load(d, &config).0);
    let counts = [
        db.int("SELECT count(*) FROM t1"),
        db.int("SELECT count(*) FROM t2"),
        db.int("SELECT count(*) FROM \"T1\""),
    ];
    assert_eq!(counts, [3, 3, 3]);
}
