//! Jobs whose columns come from each file's header, with the real binary
//! and the real PostgreSQL server: header fields match the table's columns
//! exactly, else ignoring case when only one column matches; a header
//! that cannot map (two fields for one column, a column the table lacks,
//! more columns than PostgreSQL allows, a name longer than it keeps) sets
//! that file aside with the reason, and the job goes on: `run --once`
//! exits 3.

use crate::headers::{csv, header_job, set_aside, summary, wide};
use crate::support::pg::Schema;
use crate::support::*;

trials![
    fields_match_exactly_else_ignoring_case_and_the_rest_is_set_aside[Pg],
    more_columns_or_longer_names_than_postgresql_allows_set_the_file_aside[Pg],
];

fn fields_match_exactly_else_ignoring_case_and_the_rest_is_set_aside() {
    let mut db = Schema::new("hdrcase");
    // Unquoted: PostgreSQL folds these names to lower case.
    db.exec("CREATE TABLE t (A text, B text)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, &db.sink_toml(), "workers = 2");
    csv(d, "1-AB.csv", &["A", "B"], 2);
    csv(d, "2-aA.csv", &["a", "A"], 2);
    csv(d, "3-abB.csv", &["a", "b", "B"], 2);
    csv(d, "4-bAa.csv", &["b", "A", "a"], 2);
    csv(d, "5-abc.csv", &["a", "b", "c"], 2);
    csv(d, "6-ba.csv", &["b", "a"], 1);
    let ran = cli::run_once(&config).expect(3);
    let t = format!("table \"{}\".\"t\"", db.name);
    let both = |x: &str, y: &str, col: &str| {
        format!(
            "{t}: {x:?} and {y:?} both name column {col:?} ({x:?} exactly): one column cannot \
             take two values"
        )
    };
    set_aside(d, &ran, "2-aA.csv", &both("a", "A", "a"));
    set_aside(d, &ran, "3-abB.csv", &both("b", "B", "b"));
    set_aside(d, &ran, "4-bAa.csv", &both("a", "A", "a"));
    set_aside(
        d,
        &ran,
        "5-abc.csv",
        &format!("{t}: missing column(s) c (the table has a, b)"),
    );
    assert!(summary(&ran, "1-AB.csv").starts_with("j/1-AB.csv: 2 rows loaded, 0 rejected"));
    assert!(summary(&ran, "6-ba.csv").starts_with("j/6-ba.csv: 1 rows loaded, 0 rejected"));
    let got = db.texts("SELECT a || '|' || b FROM t");
    assert_eq!(got, ["0.0|0.1", "0.1|0.0", "1.0|1.1"]);
}

fn more_columns_or_longer_names_than_postgresql_allows_set_the_file_aside() {
    let mut db = Schema::new("hdrwide");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = header_job(d, &db.sink_toml(), "create_table = true\nworkers = 1");
    let more = wide(1601);
    let more: Vec<&str> = more.iter().map(String::as_str).collect();
    let long = "n".repeat(64);
    csv(d, "1-too-many.csv", &more, 2);
    csv(d, "2-good.csv", &["a", "b"], 2);
    csv(d, "3-long.csv", &["a", &long], 2);
    let ran = cli::run_once(&config).expect(3);
    let t = format!("table \"{}\".\"t\"", db.name);
    set_aside(
        d,
        &ran,
        "1-too-many.csv",
        &format!(
            "{t}: 1601 columns, more than the 1600 PostgreSQL allows in one table (from \
             \"c1601\" on)"
        ),
    );
    set_aside(
        d,
        &ran,
        "3-long.csv",
        &format!("{t}: {long:?} is 64 bytes long; PostgreSQL names are at most 63 bytes"),
    );
    assert!(summary(&ran, "2-good.csv").starts_with("j/2-good.csv: 2 rows loaded, 0 rejected"));
    assert_eq!(db.int("SELECT count(*) FROM t"), 2);
    let columns = db.texts(&format!(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = '{}' \
         AND table_name = 't'",
        db.name
    ));
    assert_eq!(columns, ["a", "b"]);
}
