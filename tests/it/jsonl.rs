//! JSON Lines with the real binary, into a real SQLite file and the real
//! PostgreSQL server: valid records loaded value for value (checked against
//! serde_json's own reading of each line), nested values by JSON Pointer, a
//! nested object into `json` and `jsonb` columns as compact JSON, the keys
//! no column names gathered into one column; each kind of malformed record
//! rejected with its physical line, column and reason, its bytes in the
//! `.bad` file; the counts add up. The extra-key modes and columns named by
//! a file's first object are `jsonl_keys.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::config::{DAEMON, sink};
use crate::support::pg::Schema;
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    events_into_sqlite_value_for_value,
    events_into_postgresql_with_json_and_jsonb[Pg],
];

const BOM: &str = "\u{feff}";

/// The events job's columns: top-level keys, pointers, the same nested
/// object twice (for a `json` and a `jsonb` column in PostgreSQL), and
/// `rest` for the keys no column names.
const COLUMNS: &str = r#"
[[jobs.j.columns]]
name = "id"
type = "bigint"
nullable = false
[[jobs.j.columns]]
name = "name"
type = "text"
[[jobs.j.columns]]
name = "amount"
type = "decimal(12,2)"
[[jobs.j.columns]]
name = "at"
type = "timestamp"
[[jobs.j.columns]]
name = "uid"
type = "int"
from = "/user/id"
[[jobs.j.columns]]
name = "tag1"
type = "text"
from = "/user/tags/1"
[[jobs.j.columns]]
name = "user"
type = "text"
[[jobs.j.columns]]
name = "user_json"
type = "text"
from = "user"
[[jobs.j.columns]]
name = "flag"
type = "bool"
[[jobs.j.columns]]
name = "note"
type = "text"
[[jobs.j.columns]]
name = "rest"
type = "text"
"#;

/// Job `j` into table `t` of sink `s`, reading `in/*.jsonl`; `format` is
/// the rest of its `[jobs.j.format]`, `columns` its columns (or none).
pub fn job(dir: &Path, sink_body: &str, format: &str, columns: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("in")).unwrap();
    let text = format!(
        "{DAEMON}{}\n[jobs.j]\nsink = \"s\"\ntable = \"t\"\nreject_dir = \"rejects\"\n\
         max_record_bytes = \"4KiB\"\nbatch_rows = 37\n{extra}\n[jobs.j.source]\nkind = \"dir\"\npath = \"in\"\n\
         pattern = \"*.jsonl\"\nsettle = \"200ms\"\n\n[jobs.j.format]\nkind = \"jsonl\"\n{format}\n{columns}",
        sink("s", sink_body)
    );
    let config = dir.join("ingestd.toml");
    std::fs::write(&config, text).unwrap();
    config
}

/// A malformed record: its line, the code and column of its reject.
struct Bad {
    line: u64,
    code: &'static str,
    column: Option<&'static str>,
}

/// The events file: a BOM, valid records with every kind of value (escapes,
/// non-ASCII, surrogate pairs, nested objects, nulls, absent keys, keys no
/// column names), blank and CRLF lines, and each kind of malformed record
/// at a known line.
struct Events {
    bytes: Vec<u8>,
    /// Each valid record's line number and serde_json's reading of it.
    good: Vec<(u64, Value)>,
    bad: Vec<Bad>,
}

fn events() -> Events {
    let bads: [(&str, Option<&str>, Vec<u8>); 18] = [
        ("bad_json", None, r#"{"id":1,}"#.into()),
        ("bad_json", None, r#"{"id":01}"#.into()),
        ("bad_json", None, r#"{"id":NaN}"#.into()),
        (
            "bad_json",
            None,
            r#"{"id":1,"name":"tab	in a string"}"#.into(),
        ),
        ("bad_utf8", None, b"{\"id\":1,\"name\":\"\xff\"}".to_vec()),
        ("not_object", None, r#"[{"id":1}]"#.into()),
        (
            "duplicate_key",
            None,
            r#"{"id":1,"name":"a","id":2}"#.into(),
        ),
        (
            "duplicate_key",
            None,
            r#"{"id":1,"user":{"id":1,"tags":[],"id":2}}"#.into(),
        ),
        (
            "bad_json",
            None,
            r#"{"id":1,"skipped":{"deep":["\udead"]}}"#.into(),
        ),
        (
            "too_deep",
            None,
            format!(
                "{{\"id\":1,\"user\":{}{}}}",
                "[".repeat(130),
                "]".repeat(130)
            )
            .into(),
        ),
        ("not_null", Some("id"), r#"{"name":"no id"}"#.into()),
        ("not_null", Some("id"), r#"{"id":null}"#.into()),
        (
            "too_many_decimals",
            Some("amount"),
            r#"{"id":1,"amount":1.234}"#.into(),
        ),
        (
            "bad_decimal",
            Some("amount"),
            r#"{"id":1,"amount":1e3}"#.into(),
        ),
        (
            "bad_timestamp",
            Some("at"),
            r#"{"id":1,"at":"2024-13-01T00:00:00"}"#.into(),
        ),
        (
            "out_of_range",
            Some("uid"),
            r#"{"id":1,"user":{"id":3000000000}}"#.into(),
        ),
        (
            "bad_bool",
            Some("flag"),
            r#"{"id":1,"flag":"maybe"}"#.into(),
        ),
        (
            "record_too_large",
            None,
            format!("{{\"id\":1,\"name\":\"{}\"}}", "x".repeat(5000)).into(),
        ),
    ];
    let mut ev = Events {
        bytes: BOM.as_bytes().to_vec(),
        good: Vec::new(),
        bad: Vec::new(),
    };
    let mut line = 0u64;
    let mut push = |ev: &mut Events, s: &[u8], end: &str| {
        ev.bytes.extend_from_slice(s);
        ev.bytes.extend_from_slice(end.as_bytes());
        line += 1;
        line
    };
    let names = [
        "plain",
        "quote \" and \\ back",
        "line\nbreak",
        "é and \u{1F600}",
        "",
    ];
    for i in 0..200u64 {
        let name = names[i as usize % names.len()];
        // Escapes as a JSON writer other than serde_json might write them.
        let name_json = match i % 3 {
            0 => serde_json::to_string(name).unwrap(),
            _ => json_escaped(name),
        };
        let mut rec = format!(
            "{{\"id\":{i},\"name\":{name_json},\"amount\":{}.{:02},\"at\":\"2024-01-{:02}T10:{:02}:00\",\
             \"user\":{{\"id\":{},\"tags\":[\"t{i}\",{i}]}}",
            i * 3,
            i % 100,
            i % 28 + 1,
            i % 60,
            i * 7
        );
        match i % 4 {
            0 => rec.push_str(",\"flag\":true,\"note\":null"),
            1 => rec.push_str(",\"flag\":false,\"note\":\"n\",\"x\":{\"k\":[1,2.50]},\"y\":\"s\""),
            2 => rec.push_str(",\"y\":null"),
            _ => {}
        }
        rec.push('}');
        let end = if i % 5 == 0 { "\r\n" } else { "\n" };
        let n = push(&mut ev, rec.as_bytes(), end);
        ev.good.push((n, serde_json::from_str(&rec).unwrap()));
        if i % 10 == 3 {
            push(&mut ev, b"  \t", "\n");
        }
        if let Some((code, column, text)) = bads.get(i as usize / 11).filter(|_| i % 11 == 5) {
            let n = push(&mut ev, text, "\n");
            ev.bad.push(Bad {
                line: n,
                code,
                column: *column,
            });
        }
    }
    assert_eq!(ev.bad.len(), bads.len());
    ev
}

/// `s` as JSON with every non-ASCII character and control escaped as
/// `\uXXXX` (surrogate pairs beyond the BMP).
fn json_escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

fn write_events(dir: &Path, ev: &Events) {
    std::fs::write(dir.join("in/events.jsonl"), &ev.bytes).unwrap();
}

/// What each column should hold for a valid record, as text (NULL: None),
/// from serde_json's reading of it.
fn expected(v: &Value) -> Vec<Option<String>> {
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    let o = v.as_object().unwrap();
    let mut rest = serde_json::Map::new();
    for (k, v) in o {
        if !["id", "name", "amount", "at", "user", "flag", "note"].contains(&k.as_str()) {
            rest.insert(k.clone(), v.clone());
        }
    }
    vec![
        text(&v["id"]),
        text(&v["name"]),
        Some(format!("{:.2}", v["amount"].as_f64().unwrap())),
        Some(v["at"].as_str().unwrap().replace('T', " ")),
        text(&v["user"]["id"]),
        text(&v["user"]["tags"][1]),
        // serde_json writes an object compactly, its keys sorted: those of
        // `user` and of `rest` are in that order in the file too.
        Some(v["user"].to_string()),
        Some(v["user"].to_string()),
        v.get("flag")
            .and_then(Value::as_bool)
            .map(|b| b.to_string()),
        v.get("note").and_then(text),
        (!rest.is_empty()).then(|| Value::Object(rest).to_string()),
    ]
}

/// The rejects are exactly `ev.bad`, with lines, codes and columns, and the
/// `.bad` file holds the BOM (the file's preamble) and their bytes.
fn assert_rejects(dir: &Path, ev: &Events) {
    let notes = notes(&dir.join("rejects/events.jsonl.bad.jsonl"));
    let want: Vec<(u64, String)> = ev
        .bad
        .iter()
        .map(|b| (b.line, b.code.to_string()))
        .collect();
    assert_eq!(lines_and_codes(&notes), want, "{notes:#?}");
    for b in &ev.bad {
        let n = notes.iter().find(|n| n["line"] == b.line).unwrap();
        assert_eq!(n["column"].as_str(), b.column, "{n}");
        assert!(n["reason"].as_str().unwrap().len() > 10, "{n}");
    }
    let reason = |code: &str| {
        let line = ev.bad.iter().find(|b| b.code == code).unwrap().line;
        notes.iter().find(|n| n["line"] == line).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        reason("not_object"),
        "the line is an array, not an object: each line must be one JSON object"
    );
    assert!(
        reason("bad_utf8").starts_with("byte 17 is not valid UTF-8"),
        "{}",
        reason("bad_utf8")
    );
    assert_eq!(
        reason("not_null"),
        "id: is absent from the record (no default), and the column is NOT NULL"
    );
    assert!(reason("too_deep").ends_with("(at /user/0/0/0/0/0/0/0/0/0/0/0/...)"));
    let bad_file = std::fs::read(dir.join("rejects/events.jsonl.bad")).unwrap();
    // The bytes of each rejected record, and the BOM before them.
    assert!(bad_file.starts_with(BOM.as_bytes()));
    let lines: Vec<&[u8]> = ev.bytes[3..].split_inclusive(|&b| b == b'\n').collect();
    let mut want: Vec<&[u8]> = ev.bad.iter().map(|b| lines[b.line as usize - 1]).collect();
    let mut got: Vec<&[u8]> = bad_file[3..].split_inclusive(|&b| b == b'\n').collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

/// A loaded row against what it should be: `rest` (and the `jsonb` copy of
/// `user`, when `jsonb`) compared as JSON, the rest as text.
#[track_caller]
fn assert_row(got: &[Option<String>], want: &[Option<String>], line: u64, jsonb: bool) {
    let as_json = |s: &Option<String>| {
        s.as_deref()
            .map(|s| serde_json::from_str::<Value>(s).unwrap())
    };
    for i in 0..want.len() {
        match i == 10 || (i == 6 && jsonb) {
            true => assert_eq!(
                as_json(&got[i]),
                as_json(&want[i]),
                "line {line}, column {i}"
            ),
            false => assert_eq!(got[i], want[i], "line {line}, column {i}"),
        }
    }
}

fn events_into_sqlite_value_for_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(
        d,
        "kind = \"sqlite\"\npath = \"out/t.db\"",
        "extra_column = \"rest\"",
        COLUMNS,
        "create_table = true",
    );
    let ev = events();
    write_events(d, &ev);
    let ran = cli::run_once(&config).expect(3);
    let (good, bad) = (ev.good.len(), ev.bad.len());
    assert!(
        ran.stdout.contains(&format!(
            "j/events.jsonl: {good} rows loaded, {bad} rejected"
        )),
        "{}",
        ran.output()
    );
    assert!(!ran.stderr.contains("worker ended"), "{}", ran.stderr);
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, name, printf('%.2f', amount), at, uid, tag1, user, user_json, \
             CASE flag WHEN 1 THEN 'true' WHEN 0 THEN 'false' END, note, rest FROM t ORDER BY id",
        )
        .unwrap();
    let rows: Vec<Vec<Option<String>>> = stmt
        .query_map([], |r| {
            (0..11)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                        v => Some(v.as_str().unwrap().to_string()),
                    })
                })
                .collect()
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), ev.good.len());
    for (got, (line, v)) in rows.iter().zip(&ev.good) {
        assert_row(got, &expected(v), *line, false);
    }
    // Numbers keep their text in JSON: 2.50, not 2.5.
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM t WHERE rest LIKE '%[1,2.50]%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        n,
        ev.good.iter().filter(|(_, v)| v.get("x").is_some()).count() as i64
    );
    assert_rejects(d, &ev);
}

fn events_into_postgresql_with_json_and_jsonb() {
    let mut db = Schema::new("jsonl");
    db.exec(
        "CREATE TABLE t (id bigint NOT NULL, name text, amount numeric(12,2), at timestamp, \
         uid int, tag1 text, \"user\" jsonb, user_json json, flag boolean, note text, rest jsonb)",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = job(d, &db.sink_toml(), "extra_column = \"rest\"", COLUMNS, "");
    let ev = events();
    write_events(d, &ev);
    let ran = cli::run_once(&config).expect(3);
    let (good, bad) = (ev.good.len(), ev.bad.len());
    assert!(
        ran.stdout.contains(&format!(
            "j/events.jsonl: {good} rows loaded, {bad} rejected"
        )),
        "{}",
        ran.output()
    );
    db.exec("SELECT 1");
    let rows = db
        .client
        .query(
            "SELECT id::text, name, amount::text, to_char(at, 'YYYY-MM-DD HH24:MI:SS'), uid::text, tag1, \
             \"user\"::text, user_json::text, flag::text, note, rest::text FROM t ORDER BY t.id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), good);
    for (row, (line, v)) in rows.iter().zip(&ev.good) {
        let got: Vec<Option<String>> = (0..11).map(|i| row.get(i)).collect();
        // jsonb keeps the value, not the text: compared as JSON; json
        // keeps the text it was given: the compact text exactly.
        assert_row(&got, &expected(v), *line, true);
    }
    // jsonb keeps a number's digits too: 2.50, not 2.5.
    let n = db.int("SELECT count(*) FROM t WHERE rest::text LIKE '%2.50%'");
    assert_eq!(
        n,
        ev.good.iter().filter(|(_, v)| v.get("x").is_some()).count() as i64
    );
    assert_rejects(d, &ev);
}
