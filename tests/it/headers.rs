//! Jobs whose columns come from each file's header, with the real binary
//! and a real SQLite file: a header that cannot map onto the table (a
//! column the table lacks, names SQLite takes for one, more columns than a
//! SQLite table can have) sets that file aside, with the reason naming the
//! header fields, and the job goes on with the next files; nothing of the
//! file is loaded, no value lands in a column it was not meant for, and
//! `run --once` exits 3 (a file set aside). Run again, or reloaded in the
//! daemon, nothing stops.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::config::{DAEMON, sink};
use crate::support::*;

trials![
    names_sqlite_takes_for_one_set_their_file_aside,
    an_extra_column_sets_its_file_aside_and_the_files_after_it_load,
    more_columns_than_a_sqlite_table_can_have_set_the_file_aside,
    in_the_daemon_a_file_set_aside_neither_stops_the_job_nor_comes_back_on_reload,
];

/// The end of the reason every header set aside gives.
pub const FIX: &str = "fix the header (or the table), then drop the file in again";

/// A config with job `j` (columns from the header, table `t`, `job_extra`)
/// on sink `s` (`sink_body`), reading `in/*.csv`, rejects in `rejects/`.
pub fn header_job(dir: &Path, sink_body: &str, job_extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "{DAEMON}{}\n[jobs.j]\nsink = \"s\"\ntable = \"t\"\nreject_dir = \"rejects\"\n{job_extra}\n\
         [jobs.j.source]\nkind = \"dir\"\npath = \"in\"\npattern = \"*.csv\"\nsettle = \"200ms\"\n",
        sink("s", sink_body)
    );
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// `in/NAME`: `header`, then `rows` records whose fields are `r.f`.
pub fn csv(dir: &Path, name: &str, header: &[&str], rows: usize) {
    let mut s = header.join(",");
    s.push('\n');
    for r in 0..rows {
        let fields: Vec<String> = (0..header.len()).map(|f| format!("{r}.{f}")).collect();
        let _ = writeln!(s, "{}", fields.join(","));
    }
    std::fs::write(dir.join("in").join(name), s).unwrap();
}

/// `c1,c2,...,cN`
pub fn wide(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("c{i}")).collect()
}

fn names(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The summary line of `file` of job `j`.
#[track_caller]
pub fn summary<'a>(ran: &'a Ran, file: &str) -> &'a str {
    let prefix = format!("j/{file}: ");
    ran.stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no summary line for {file}:\n{}", ran.output()))
}

/// `file` was set aside, nothing of it loaded, for `why` (the text between
/// "the header does not fit " and the advice), and moved to `rejects/` with
/// the reason as its note.
#[track_caller]
pub fn set_aside(dir: &Path, ran: &Ran, file: &str, why: &str) {
    let line = summary(ran, file);
    let reason = format!("the header does not fit {why}; {FIX}");
    assert!(
        line.starts_with(&format!("j/{file}: 0 rows loaded, 0 rejected, ")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(" — set aside: {reason}")),
        "{line}\nwanted the reason: {reason}"
    );
    assert!(!dir.join("in").join(file).exists(), "{file} left in place");
    assert!(dir.join("rejects").join(file).exists(), "{file} not moved");
    let notes = std::fs::read_to_string(dir.join(format!("rejects/{file}.bad.jsonl"))).unwrap();
    let note: serde_json::Value = serde_json::from_str(notes.lines().last().unwrap()).unwrap();
    assert_eq!(note["code"], "file_set_aside");
    assert_eq!(note["reason"], reason.as_str());
    assert!(
        !ran.output().contains("job stopped"),
        "the job stopped:\n{}",
        ran.output()
    );
}

/// Every row of `t`, in order of `a`.
fn rows(db: &Path, columns: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let n = columns.split(',').count();
    let mut stmt = conn
        .prepare(&format!("SELECT {columns} FROM t ORDER BY a"))
        .unwrap();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

const LITE: &str = "kind = \"sqlite\"\npath = \"out/t.db\"";

fn names_sqlite_takes_for_one_set_their_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, LITE, "create_table = true\nworkers = 2");
    csv(d, "1-good.csv", &["a", "b"], 2);
    csv(d, "2-aA.csv", &["a", "A"], 2);
    csv(d, "3-abB.csv", &["a", "b", "B"], 2);
    csv(d, "4-bAa.csv", &["b", "A", "a"], 2);
    csv(d, "5-good.csv", &["b", "a"], 1);
    let ran = cli::run_once(&config).expect(3);
    let one = |a: &str, b: &str| {
        format!(
            "table t: {a:?} and {b:?} are one name in SQLite, which ignores case in names: they cannot be two columns"
        )
    };
    set_aside(d, &ran, "2-aA.csv", &one("a", "A"));
    set_aside(d, &ran, "3-abB.csv", &one("b", "B"));
    set_aside(d, &ran, "4-bAa.csv", &one("A", "a"));
    assert!(summary(&ran, "1-good.csv").ends_with(" — loaded"));
    assert!(summary(&ran, "5-good.csv").ends_with(" — loaded"));
    assert!(
        ran.stdout
            .contains("total: 5 files, 3 rows loaded, 0 rejected")
    );
    // Every value in its own column; none of the set-aside files' values.
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows(&d.join("out/t.db"), "a, b"),
        [
            [s("0.0"), s("0.1")],
            [s("0.1"), s("0.0")],
            [s("1.0"), s("1.1")]
        ]
    );
    // Run again: the files set aside are not in the landing folder anymore.
    let again = cli::run_once(&config).expect(0);
    assert!(
        again.stdout.contains("total: 0 files"),
        "{}",
        again.output()
    );
}

fn an_extra_column_sets_its_file_aside_and_the_files_after_it_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("out")).unwrap();
    rusqlite::Connection::open(d.join("out/t.db"))
        .unwrap()
        .execute_batch("CREATE TABLE t (a TEXT, b TEXT)")
        .unwrap();
    // Small batches over two workers: several batches of the bad file are
    // in flight when the first is refused.
    let config = header_job(d, LITE, "workers = 2\nbatch_rows = 10");
    csv(d, "1.csv", &["a", "b"], 30);
    csv(d, "2.csv", &["a", "b", "c"], 100);
    csv(d, "3.csv", &["A", "B"], 30);
    csv(d, "4.csv", &["b", "a"], 30);
    let ran = cli::run_once(&config).expect(3);
    set_aside(
        d,
        &ran,
        "2.csv",
        "table t: missing column(s) c (the table has a, b)",
    );
    for f in ["1.csv", "3.csv", "4.csv"] {
        let line = summary(&ran, f);
        assert!(line.starts_with(&format!("j/{f}: 30 rows loaded, 0 rejected")));
        assert!(line.ends_with(" — loaded"), "{line}");
    }
    assert!(
        ran.stdout
            .contains("total: 4 files, 90 rows loaded, 0 rejected"),
        "{}",
        ran.output()
    );
    assert_eq!(rows(&d.join("out/t.db"), "a, b").len(), 90);
    assert!(!d.join("rejects/2.rest.csv").exists(), "nothing was loaded");
    // Once the table has the column, the file loads as it is.
    rusqlite::Connection::open(d.join("out/t.db"))
        .unwrap()
        .execute_batch("ALTER TABLE t ADD COLUMN c TEXT")
        .unwrap();
    std::fs::rename(d.join("rejects/2.csv"), d.join("in/2.csv")).unwrap();
    let again = cli::run_once(&config).expect(0);
    assert!(summary(&again, "2.csv").starts_with("j/2.csv: 100 rows loaded, 0 rejected"));
    assert_eq!(rows(&d.join("out/t.db"), "a, b, c").len(), 190);
}

fn more_columns_than_a_sqlite_table_can_have_set_the_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, LITE, "create_table = true\nworkers = 1");
    let most = wide(2000);
    let more = wide(2001);
    csv(d, "1-too-many.csv", &names(&more), 3);
    csv(d, "2-most.csv", &names(&most), 3);
    csv(d, "3-too-many.csv", &names(&more), 3);
    let ran = cli::run_once(&config).expect(3);
    let why = "table t: 2001 columns, more than the 2000 SQLite allows in one table (from \
               \"c2001\" on)";
    set_aside(d, &ran, "1-too-many.csv", why);
    set_aside(d, &ran, "3-too-many.csv", why);
    assert!(summary(&ran, "2-most.csv").starts_with("j/2-most.csv: 3 rows loaded, 0 rejected"));
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    let got: (i64, String) = conn
        .query_row("SELECT count(*), max(c2000) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(got, (3, "2.1999".to_string()));
}

/// Writes `in/NAME` under a hidden name and renames it in: taken at once.
fn drop_in(dir: &Path, name: &str, header: &[&str], rows: usize) {
    csv(dir, &format!(".{name}"), header, rows);
    std::fs::rename(dir.join(format!("in/.{name}")), dir.join("in").join(name)).unwrap();
}

fn in_the_daemon_a_file_set_aside_neither_stops_the_job_nor_comes_back_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("out")).unwrap();
    rusqlite::Connection::open(d.join("out/t.db"))
        .unwrap()
        .execute_batch("CREATE TABLE t (a TEXT, b TEXT)")
        .unwrap();
    let config = header_job(d, LITE, "workers = 2\nbatch_rows = 10");
    let config_arg = config.to_str().unwrap();
    let mut daemon = Daemon::start(&["run", "--config", config_arg], &d.join("daemon.log"));
    let wait = Duration::from_secs(60);
    daemon.expect_log("worker ready", 2, wait);
    drop_in(d, "1.csv", &["a", "b"], 20);
    daemon.expect_log("file done job=j file=1.csv", 1, wait);
    drop_in(d, "2.csv", &["a", "b", "c"], 50);
    let why = "the header does not fit table t: missing column(s) c (the table has a, b)";
    daemon.expect_log(
        &format!("file set aside: {why}; {FIX} job=j file=2.csv"),
        1,
        wait,
    );
    drop_in(d, "3.csv", &["b", "a"], 20);
    daemon.expect_log("file done job=j file=3.csv", 1, wait);
    // A reload that restarts the job: it finds the folder without 2.csv.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("batch_rows = 10", "batch_rows = 20")).unwrap();
    daemon.signal(1);
    daemon.expect_log("configuration reloaded", 1, wait);
    drop_in(d, "4.csv", &["a", "b"], 20);
    daemon.expect_log("file done job=j file=4.csv", 1, wait);
    daemon.stop(wait);
    let log = daemon.log_text();
    assert!(!log.contains("job stopped: "), "{log}");
    let aside: Vec<&str> = log.lines().filter(|l| l.contains("set aside")).collect();
    assert!(!aside.is_empty(), "{log}");
    assert!(aside.iter().all(|l| l.contains("file=2.csv")), "{log}");
    assert_eq!(rows(&d.join("out/t.db"), "a, b").len(), 60);
    assert!(d.join("rejects/2.csv").exists() && !d.join("in/2.csv").exists());
}
