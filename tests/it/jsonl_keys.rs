//! JSON Lines keys with the real binary into SQLite: keys no column names
//! ignored, rejected (`extra_key`, with the key in the reason) or gathered
//! as compact JSON into the extra column; and without columns, the first
//! object's keys naming them (in its order), a bad first line rejected as
//! a record, a file of blank lines loaded empty, a file with no object set
//! aside with the reason, and one whose first object has a key the table
//! lacks set aside as a CSV file whose header does not fit.

use serde_json::json;

use crate::jsonl::job;
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    extra_keys_ignored_rejected_or_gathered,
    columns_from_the_first_object,
    a_first_object_that_does_not_fit_the_table_sets_its_file_aside,
];

/// A file of three records: `a` is the only column; `b` and `c` are extra.
const EXTRA: &str = "{\"a\":1}\n{\"b\":[1, {\"c\" : null}],\"a\":2}\n{\"a\":3,\"c\":\"\\u00e9\"}\n";

fn extra_keys_ignored_rejected_or_gathered() {
    let a = "[[jobs.j.columns]]\nname = \"a\"\ntype = \"int\"\n";
    let with_rest = format!("{a}[[jobs.j.columns]]\nname = \"rest\"\ntype = \"text\"\n");
    for (format, columns, want, rejects) in [
        ("", a, vec!["1|", "2|", "3|"], vec![]),
        (
            "extra = \"reject\"",
            a,
            vec!["1|"],
            vec![(2, "extra_key"), (3, "extra_key")],
        ),
        (
            "extra = \"column\"\nextra_column = \"rest\"",
            &*with_rest,
            vec!["1|", r#"2|{"b":[1,{"c":null}]}"#, r#"3|{"c":"é"}"#],
            vec![],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = job(
            d,
            "kind = \"sqlite\"\npath = \"t.db\"",
            format,
            columns,
            "create_table = true",
        );
        std::fs::write(d.join("in/e.jsonl"), EXTRA).unwrap();
        let ran = cli::run_once(&config);
        let ran = ran.expect(if rejects.is_empty() { 0 } else { 3 });
        let conn = rusqlite::Connection::open(d.join("t.db")).unwrap();
        let sql = match columns == a {
            true => "SELECT a || '|' FROM t ORDER BY a",
            false => "SELECT a || '|' || coalesce(rest, '') FROM t ORDER BY a",
        };
        let got: Vec<String> = conn
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, want, "{format}: {}", ran.output());
        if !rejects.is_empty() {
            let notes = notes(&d.join("rejects/e.jsonl.bad.jsonl"));
            let want: Vec<(u64, String)> =
                rejects.iter().map(|(l, c)| (*l, c.to_string())).collect();
            assert_eq!(lines_and_codes(&notes), want);
            assert_eq!(
                notes[0]["reason"],
                json!("key \"b\" is not one the columns take (extra = \"reject\")")
            );
        }
    }
}

fn columns_from_the_first_object() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(
        d,
        "kind = \"sqlite\"\npath = \"t.db\"",
        "",
        "",
        "create_table = true",
    );
    // The first line is no object: it is a record (rejected), and the next
    // one names the columns, in its order; later keys are ignored.
    std::fs::write(
        d.join("in/a.jsonl"),
        "not json\n\n{\"b\":1,\"a\":{\"x\":[1, 2]}}\n{\"a\":\"s\",\"c\":true}\n{\"b\":null}\n",
    )
    .unwrap();
    // Only blank lines: nothing to load. No object at all: nothing names
    // the columns, and the file is set aside.
    std::fs::write(d.join("in/blank.jsonl"), "\n  \r\n").unwrap();
    std::fs::write(d.join("in/none.jsonl"), "[1]\n\"s\"\n").unwrap();
    let checked = cli::check(&config).expect(0).stdout;
    assert!(
        checked.contains("columns from each file's first JSON object")
            && checked.contains("format: jsonl (other keys ignored)"),
        "{checked}"
    );
    let ran = cli::run_once(&config).expect(3);
    let out = ran.output();
    assert!(
        out.contains("j/a.jsonl: 3 rows loaded, 1 rejected"),
        "{out}"
    );
    assert!(
        out.contains("j/blank.jsonl: 0 rows loaded, 0 rejected"),
        "{out}"
    );
    assert!(
        out.contains("no line in the file's first 1048576 bytes is a JSON object with keys"),
        "{out}"
    );
    let conn = rusqlite::Connection::open(d.join("t.db")).unwrap();
    let cols: Vec<(String, String)> = conn
        .prepare("SELECT name, type FROM pragma_table_info('t') ORDER BY cid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        cols,
        [("b".into(), "TEXT".into()), ("a".into(), "TEXT".into())]
    );
    let rows: Vec<(Option<String>, Option<String>)> = conn
        .prepare("SELECT b, a FROM t ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            (Some("1".into()), Some(r#"{"x":[1,2]}"#.into())),
            (None, Some("s".into())),
            (None, None)
        ]
    );
    let notes = notes(&d.join("rejects/a.jsonl.bad.jsonl"));
    assert_eq!(lines_and_codes(&notes), vec![(1, "bad_json".to_string())]);
}

fn a_first_object_that_does_not_fit_the_table_sets_its_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(d, "kind = \"sqlite\"\npath = \"t.db\"", "", "", "");
    let conn = rusqlite::Connection::open(d.join("t.db")).unwrap();
    conn.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
    std::fs::write(d.join("in/x.jsonl"), "{\"a\":1,\"b\":2}\n{\"a\":3}\n").unwrap();
    std::fs::write(d.join("in/y.jsonl"), "{\"a\":4}\n").unwrap();
    let ran = cli::run_once(&config).expect(3);
    let out = ran.output();
    assert!(
        out.contains("j/x.jsonl: 0 rows loaded, 0 rejected"),
        "{out}"
    );
    assert!(
        out.contains(
            "set aside: the keys of its first JSON object do not fit table t: missing column(s) b \
             (the table has a); fix the file (or the table), then drop the file in again"
        ),
        "{out}"
    );
    // The job went on with the next file; nothing of the first was loaded.
    assert!(
        out.contains("j/y.jsonl: 1 rows loaded, 0 rejected"),
        "{out}"
    );
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert!(d.join("rejects/x.jsonl").exists());
}
