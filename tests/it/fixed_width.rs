//! Fixed-width files with the real binary, SQL*Loader style: a generated
//! file (right-aligned numbers, left-aligned UTF-8 names padded by bytes, a
//! `N:*` rest-of-line column, CRLF lines) into a real SQLite file and into
//! PostgreSQL, each value compared with the test's own fields; short lines
//! rejected (`short_line`) or, with `pad_short`, loaded with what they have;
//! a position inside a UTF-8 character rejected (`split_character`); the
//! counts add up; configuration errors name the key.

use std::path::Path;

use crate::support::logs::{assert_same, line_job};
use crate::support::pg::Schema;
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    fixed_width_into_sqlite,
    short_lines_padded_when_asked,
    fixed_width_into_postgresql[Pg],
    fixed_configuration_errors_name_the_key,
];

const SQLITE: &str = "kind = \"sqlite\"\npath = \"out/t.db\"";

const COLUMNS: &str = r#"
[[jobs.j.columns]]
name = "id"
type = "int"
position = "1:8"
nullable = false
[[jobs.j.columns]]
name = "name"
type = "text"
position = "9:28"
[[jobs.j.columns]]
name = "amount"
type = "decimal(10,2)"
position = "29-38"
[[jobs.j.columns]]
name = "day"
type = "date"
position = "39:46"
format = "%Y%m%d"
[[jobs.j.columns]]
name = "code"
type = "varchar(3)"
position = "47:49"
[[jobs.j.columns]]
name = "note"
type = "text"
position = "50:*"
[[jobs.j.columns]]
name = "src"
type = "text"
constant = "mainframe"
"#;

/// One generated record, as the test knows it.
#[derive(Clone, Debug, PartialEq)]
struct Rec {
    id: i64,
    name: String,
    cents: i64,
    day: String,
    code: String,
    note: Option<String>,
}

const NAMES: [&str; 6] = [
    "Ann",
    "Zoë Ødegård",
    "中村 太郎",
    "O'Brien",
    "Jean-Luc Picard",
    "x",
];

/// The record's line: each field at its bytes, padded by bytes.
fn line(r: &Rec) -> String {
    let pad = |s: &str, n: usize, right: bool| {
        let fill = " ".repeat(n - s.len());
        match right {
            true => format!("{fill}{s}"),
            false => format!("{s}{fill}"),
        }
    };
    let amount = format!("{}.{:02}", r.cents / 100, r.cents % 100);
    format!(
        "{}{}{}{}{}{}",
        pad(&r.id.to_string(), 8, true),
        pad(&r.name, 20, false),
        pad(&amount, 10, true),
        r.day.replace('-', ""),
        pad(&r.code, 3, false),
        r.note.clone().unwrap_or_default()
    )
}

fn records(n: usize) -> Vec<Rec> {
    let mut rng = fastrand::Rng::with_seed(11);
    (0..n)
        .map(|i| Rec {
            id: i as i64 + 1,
            name: NAMES[rng.usize(..NAMES.len())].to_string(),
            cents: rng.i64(0..1_000_000_000),
            day: format!(
                "20{:02}-{:02}-{:02}",
                rng.u8(..30),
                rng.u8(1..13),
                rng.u8(1..29)
            ),
            code: ["A", "BC", "DEF"][rng.usize(..3)].to_string(),
            note: match rng.u8(..3) {
                0 => None,
                _ => Some(format!("  free text {i}  ")),
            },
        })
        .collect()
}

/// `s` cut at `n` bytes, or just before the character holding byte `n`.
fn cut(s: &str, mut n: usize) -> &str {
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// A generated file: its text, the records it loads, its rejects (line,
/// code) and their lines.
struct File {
    text: String,
    kept: Vec<Rec>,
    bad: Vec<(u64, String)>,
    bad_lines: Vec<String>,
}

/// The file: records as lines (CRLF), with bad lines at known places.
fn file(n: usize) -> File {
    let recs = records(n);
    let mut lines: Vec<String> = recs.iter().map(line).collect();
    let mut bad = Vec::new();
    let mut bad_lines = Vec::new();
    let mut reject = |lines: &mut Vec<String>, at: usize, text: String, code: &str| {
        lines[at - 1] = text.clone();
        bad.push((at as u64, code.to_string()));
        bad_lines.push(text);
    };
    let short = cut(&lines[9], 40).to_string();
    reject(&mut lines, 10, short, "short_line");
    let tiny = cut(&lines[19], 20).to_string();
    reject(&mut lines, 20, tiny, "short_line");
    // 19 bytes then a two-byte character: position 9:28 ends inside it.
    let split = format!("{:>8}{}é{}", 30, "a".repeat(19), &lines[29][28..]);
    reject(&mut lines, 30, split, "split_character");
    let amount = format!("{}{:>10}{}", &lines[39][..28], "12.345", &lines[39][38..]);
    reject(&mut lines, 40, amount, "too_many_decimals");
    let kept: Vec<Rec> = (recs.into_iter().enumerate())
        .filter(|(i, _)| ![9, 19, 29, 39].contains(i))
        .map(|(_, r)| r)
        .collect();
    lines.insert(50, "        ".into());
    File {
        text: lines.join("\r\n") + "\r\n",
        kept,
        bad,
        bad_lines,
    }
}

/// id, name, amount in cents, day, code, note, src.
type Row = (
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn want(r: &Rec) -> Row {
    (
        r.id,
        Some(r.name.clone()),
        Some(r.cents),
        Some(r.day.clone()),
        Some(r.code.clone()),
        r.note.as_ref().map(|n| n.trim().to_string()),
        "mainframe".into(),
    )
}

fn sqlite_rows(db: &Path) -> Vec<Row> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, name, CAST(round(amount * 100) AS INTEGER), day, code, note, src \
             FROM t ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn fixed_width_into_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = line_job(
        d,
        SQLITE,
        "*.dat",
        "kind = \"fixed\"",
        COLUMNS,
        "batch_rows = 333",
    );
    let File {
        text,
        kept,
        bad,
        bad_lines,
    } = file(3000);
    std::fs::write(d.join("in/f.dat"), &text).unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains(&format!(
            "j/f.dat: {} rows loaded, {} rejected",
            kept.len(),
            bad.len()
        )),
        "{}",
        ran.output()
    );
    let want: Vec<Row> = kept.iter().map(want).collect();
    assert_same(&sqlite_rows(&d.join("out/t.db")), &want);
    let notes = notes(&d.join("rejects/f.dat.bad.jsonl"));
    assert_eq!(lines_and_codes(&notes), bad);
    let reason = |line: u64| notes.iter().find(|n| n["line"] == line).unwrap()["reason"].clone();
    assert_eq!(
        reason(10),
        "the line is 40 bytes long; the layout reads 49 (pad_short = true reads a short line as if padded with spaces)"
    );
    assert_eq!(
        reason(30),
        "name: position 9:28 cuts a multi-byte UTF-8 character at byte 29 (positions count bytes)"
    );
    let bad_file = std::fs::read_to_string(d.join("rejects/f.dat.bad")).unwrap();
    let got: Vec<&str> = bad_file.split_terminator("\r\n").collect();
    let mut got = got;
    got.sort();
    let mut want: Vec<&str> = bad_lines.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want);
}

fn short_lines_padded_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let format = "kind = \"fixed\"\npad_short = true\nskip_lines = 1\ntrim = \"both\"";
    let config = line_job(d, SQLITE, "*.dat", format, COLUMNS, "");
    let recs = records(3);
    let lines = [
        "ID      NAME                AMOUNT    DAY     COD NOTE".to_string(),
        line(&recs[0]),
        line(&recs[1])[..38].to_string(),
        cut(&line(&recs[2]), 14).to_string(),
        "       4".to_string(),
    ];
    std::fs::write(d.join("in/p.dat"), lines.join("\n")).unwrap();
    let ran = cli::run_once(&config).expect(0);
    assert!(
        ran.stdout.contains("j/p.dat: 4 rows loaded, 0 rejected"),
        "{}",
        ran.output()
    );
    let short = |r: &Rec, name: Option<String>, amount: bool| -> Row {
        (
            r.id,
            name,
            amount.then_some(r.cents),
            None,
            None,
            None,
            "mainframe".into(),
        )
    };
    let prefix = |r: &Rec| {
        let n = cut(&line(r), 14)[8..].trim().to_string();
        (!n.is_empty()).then_some(n)
    };
    assert_eq!(
        sqlite_rows(&d.join("out/t.db")),
        vec![
            want(&recs[0]),
            short(&recs[1], Some(recs[1].name.clone()), true),
            short(&recs[2], prefix(&recs[2]), false),
            (4, None, None, None, None, None, "mainframe".into()),
        ]
    );
}

fn fixed_width_into_postgresql() {
    let mut db = Schema::new("fixedwidth");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = line_job(d, &db.sink_toml(), "*.dat", "kind = \"fixed\"", COLUMNS, "");
    let File {
        text, kept, bad, ..
    } = file(1000);
    std::fs::write(d.join("in/f.dat"), &text).unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains(&format!(
            "j/f.dat: {} rows loaded, {} rejected",
            kept.len(),
            bad.len()
        )),
        "{}",
        ran.output()
    );
    let got = db.texts(
        "SELECT id || '|' || name || '|' || amount || '|' || day || '|' || code || '|' \
         || coalesce(note, 'NULL') || '|' || src FROM t ORDER BY id",
    );
    let mut want: Vec<String> = kept
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}.{:02}|{}|{}|{}|mainframe",
                r.id,
                r.name,
                r.cents / 100,
                r.cents % 100,
                r.day,
                r.code,
                r.note.as_deref().map_or("NULL", str::trim)
            )
        })
        .collect();
    // `texts` sorts what it reads.
    want.sort();
    assert_same(&got, &want);
    let notes = notes(&d.join("rejects/f.dat.bad.jsonl"));
    assert_eq!(lines_and_codes(&notes), bad);
}

fn fixed_configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let col = |extra: &str| format!("[[jobs.j.columns]]\nname = \"a\"\ntype = \"text\"\n{extra}\n");
    let cases = [
        (
            "kind = \"fixed\"",
            col("position = \"0:5\""),
            "columns[0].position: position \"0:5\": the start 0 is outside 1..=1048576",
        ),
        (
            "kind = \"fixed\"",
            col("position = \"5:2000000\""),
            "the end 2000000 is outside 1..=1048576 (positions are bytes of a record, at most max_record_bytes = 1048576)",
        ),
        (
            "kind = \"fixed\"",
            col("position = \"9:3\""),
            "the end 3 is before the start 9",
        ),
        (
            "kind = \"fixed\"",
            col("position = \"10\""),
            "expected \"start:end\", 1-based and inclusive",
        ),
        (
            "kind = \"fixed\"",
            col(""),
            "columns[0].position: column \"a\" has no `position`",
        ),
        (
            "kind = \"csv\"\nheader = false",
            col("position = \"1:2\""),
            "`position` only applies to kind = \"fixed\" formats",
        ),
        (
            "kind = \"fixed\"\ntrim = \"sideways\"",
            col("position = \"1:2\""),
            "format.trim: invalid trim \"sideways\"",
        ),
        (
            "kind = \"csv\"\npad_short = true",
            col(""),
            "format.pad_short: `pad_short` does not apply to kind = \"csv\"",
        ),
        (
            "kind = \"fixed\"",
            String::new(),
            "kind = \"fixed\" needs [[jobs.j.columns]]",
        ),
    ];
    for (format, columns, message) in cases {
        let config = line_job(d, SQLITE, "*.dat", format, &columns, "");
        let ran = cli::check(&config).expect(78);
        assert!(
            ran.stderr.contains(message),
            "{format} {columns}: {}",
            ran.output()
        );
        assert!(ran.stderr.contains("ingestd.toml:"), "{}", ran.output());
    }
}
