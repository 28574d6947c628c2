//! Column options with the real binary: `from` (a header field of another
//! name), `null_if` (per-column NULL texts, replacing the format's), a
//! `default` for a field the file lacks, a `constant`, a list of timestamp
//! formats tried in order, and `timestamptz` columns storing the instant
//! (offsets `Z`, `+02:00`, `-0700`) while a plain `timestamp` column rejects
//! an offset with a reason naming `timestamptz`. Into a real SQLite file and
//! the real PostgreSQL server; rejects land with line and reason.

use std::path::{Path, PathBuf};

use crate::support::config::{DAEMON, sink};
use crate::support::pg::Schema;
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    options_shape_each_value_into_sqlite,
    timestamptz_stores_the_instant_in_postgresql[Pg],
];

const COLUMNS: &str = r#"
[[jobs.j.columns]]
name = "id"
type = "int"
nullable = false

[[jobs.j.columns]]
name = "amount"
type = "decimal(8,2)"
from = "Betrag"
null_if = ["NA", "N/A"]

[[jobs.j.columns]]
name = "region"
type = "text"
default = "unknown"

[[jobs.j.columns]]
name = "channel"
type = "text"
constant = "web"

[[jobs.j.columns]]
name = "at"
type = "timestamptz"
format = ["%d/%b/%Y:%H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%:z"]

[[jobs.j.columns]]
name = "local"
type = "timestamp"
nullable = true
"#;

/// Job `j` into table `t` of sink `s` (`sink_body`), reading `in/*.csv`.
fn job(dir: &Path, sink_body: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "{DAEMON}{}\n[jobs.j]\nsink = \"s\"\ntable = \"t\"\ncreate_table = true\n\
         reject_dir = \"rejects\"\n\n[jobs.j.source]\nkind = \"dir\"\npath = \"in\"\n\
         pattern = \"*.csv\"\nsettle = \"200ms\"\n{COLUMNS}",
        sink("s", sink_body)
    );
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// The file: no `region` field (its default applies), `Betrag` feeds
/// `amount`, and the header has a field no column takes.
const FILE: &str = "id,Betrag,at,local,ignored\n\
    1,12.50,10/Oct/2000:13:55:36 -0700,2024-01-01 10:00,x\n\
    2,NA,2000-10-10T20:55:36+00:00,,x\n\
    3,,2000-10-10T20:55:36+00:00,,x\n\
    4,N/A,10/Oct/2000:13:55:36 +0200,2024-01-01T10:00Z,x\n\
    5,1.5,2000-10-10 20:55:36,,x\n\
    6,2,2000-10-10T22:55:36+02:00,,x\n";

fn options_shape_each_value_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(d, "kind = \"sqlite\"\npath = \"out/t.db\"");
    std::fs::write(d.join("in/a.csv"), FILE).unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains("j/a.csv: 3 rows loaded, 3 rejected"),
        "{}",
        ran.output()
    );
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, amount, region, channel, at, local FROM t ORDER BY id")
        .unwrap();
    type Row = (i64, Option<f64>, String, String, String, Option<String>);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let row = |id, amount, at: &str, local: Option<&str>| -> Row {
        (
            id,
            amount,
            "unknown".into(),
            "web".into(),
            at.into(),
            local.map(Into::into),
        )
    };
    assert_eq!(
        rows,
        vec![
            row(
                1,
                Some(12.5),
                "2000-10-10 20:55:36+00:00",
                Some("2024-01-01 10:00:00")
            ),
            row(2, None, "2000-10-10 20:55:36+00:00", None),
            row(6, Some(2.0), "2000-10-10 20:55:36+00:00", None),
        ]
    );
    // SQLite's own date functions read the stored instant as UTC.
    let unix: i64 = conn
        .query_row("SELECT unixepoch(at) FROM t WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(unix, 971_211_336);
    let notes = notes(&d.join("rejects/a.csv.bad.jsonl"));
    assert_eq!(
        lines_and_codes(&notes),
        vec![
            (4, "bad_decimal".to_string()),
            (5, "bad_timestamp".to_string()),
            (6, "bad_timestamp".to_string()),
        ]
    );
    let reasons: Vec<&str> = notes
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    // null_if replaced the format's NULL text: an empty amount is not NULL.
    assert_eq!(reasons[0], "amount: \"\" is not a decimal(8,2)");
    assert!(reasons[1].contains("timestamptz"), "{}", reasons[1]);
    assert!(
        reasons[2].contains("none of the timestamp formats"),
        "{}",
        reasons[2]
    );
}

fn timestamptz_stores_the_instant_in_postgresql() {
    let mut db = Schema::new("coloptions");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(d, &db.sink_toml());
    std::fs::write(d.join("in/a.csv"), FILE).unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains("j/a.csv: 3 rows loaded, 3 rejected"),
        "{}",
        ran.output()
    );
    let got = db.texts(
        "SELECT id || '|' || coalesce(amount::text, 'NULL') || '|' || region || '|' || channel \
         || '|' || extract(epoch from at)::bigint || '|' || coalesce(local::text, 'NULL') \
         || '|' || format_type(atttypid, atttypmod) \
         FROM t, pg_attribute WHERE attrelid = 't'::regclass AND attname = 'at' ORDER BY id",
    );
    assert_eq!(
        got,
        [
            "1|12.50|unknown|web|971211336|2024-01-01 10:00:00|timestamp with time zone",
            "2|NULL|unknown|web|971211336|NULL|timestamp with time zone",
            "6|2.00|unknown|web|971211336|NULL|timestamp with time zone",
        ]
    );
}
