//! JSONTestSuite (`tests/data/JSONTestSuite`, MIT) through the real binary
//! into SQLite: every file as one line of a JSON Lines file (each `\n` in
//! it a tab, see `src/format/jsonl/tests/conformance.rs` for the rules),
//! then every file as the value of a member (`{"v":FILE}`). Every `n_` line
//! is rejected with a reason, every `y_` object and every `y_` value loads
//! with the values serde_json reads in the file, the `i_` lines go as
//! documented, the counts add up, and no worker dies or hangs on any of it.

use std::path::Path;

use serde_json::Value;

use crate::support::config::{DAEMON, sink};
use crate::support::rejects::notes;
use crate::support::*;

trials![every_file_of_the_suite_as_a_record];

/// Every file of the suite by name, the two left out of the folder for
/// their size rebuilt (see its README).
fn suite() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/JSONTestSuite/test_parsing");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.push((
        "n_structure_100000_opening_arrays.json".into(),
        b"[".repeat(100_000),
    ));
    let mut open = b"[{\"\":".repeat(50_000);
    open.push(b'\n');
    files.push(("n_structure_open_array_object.json".into(), open));
    files.sort();
    assert_eq!(files.len(), 318);
    files
}

fn as_line(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| if b == b'\n' { b'\t' } else { b })
        .collect()
}

fn blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Whether a line is expected to load, by the suite's verdict and the
/// documented choices.
fn loads(name: &str, bytes: &[u8], as_value: bool) -> bool {
    let refused = [
        "y_object_duplicated_key.json",
        "y_object_duplicated_key_and_value.json",
    ];
    match &name[..2] {
        "y_" if refused.contains(&name) => false,
        "y_" => as_value || bytes.trim_ascii_start().starts_with(b"{"),
        "i_" => as_value && name.starts_with("i_number"),
        _ => false,
    }
}

fn every_file_of_the_suite_as_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("in")).unwrap();
    let config = d.join("ingestd.toml");
    std::fs::write(
        &config,
        format!(
            "{DAEMON}{}\n[jobs.j]\nsink = \"s\"\ntable = \"t\"\nreject_dir = \"rejects\"\n\
             create_table = true\nbatch_rows = 50\n\n[jobs.j.source]\nkind = \"dir\"\npath = \"in\"\n\
             pattern = \"*.jsonl\"\nsettle = \"200ms\"\n\n[jobs.j.format]\nkind = \"jsonl\"\n\
             extra_column = \"rest\"\n\n[[jobs.j.columns]]\nname = \"line\"\ntype = \"int\"\n\
             from = \"/line\"\n[[jobs.j.columns]]\nname = \"v\"\ntype = \"text\"\n\
             [[jobs.j.columns]]\nname = \"rest\"\ntype = \"text\"\n",
            sink("s", "kind = \"sqlite\"\npath = \"t.db\"")
        ),
    )
    .unwrap();
    let files = suite();
    // (line, name, as a value?, loads?)
    let mut expect = Vec::new();
    let mut data = Vec::new();
    let mut line = 0u64;
    for as_value in [false, true] {
        for (name, bytes) in &files {
            let text = match as_value {
                // The line number rides along, so that each row says where
                // it came from.
                true => [
                    format!("{{\"line\":{},\"v\":", line + 1).into_bytes(),
                    as_line(bytes),
                    b"}".to_vec(),
                ]
                .concat(),
                false => as_line(bytes),
            };
            data.extend_from_slice(&text);
            data.push(b'\n');
            line += 1;
            if !(blank(&text)) {
                expect.push((line, name.as_str(), as_value, loads(name, bytes, as_value)));
            }
        }
    }
    std::fs::write(d.join("in/suite.jsonl"), &data).unwrap();
    let ran = cli::run_once(&config).expect(3);
    let good = expect.iter().filter(|e| e.3).count();
    let bad = expect.len() - good;
    assert!(
        ran.stdout.contains(&format!(
            "j/suite.jsonl: {good} rows loaded, {bad} rejected"
        )),
        "{}",
        ran.output()
    );
    assert!(!ran.stderr.contains("worker ended"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("quarantine"), "{}", ran.stderr);

    let notes = notes(&d.join("rejects/suite.jsonl.bad.jsonl"));
    let mut rejected: Vec<u64> = notes.iter().map(|n| n["line"].as_u64().unwrap()).collect();
    rejected.sort();
    let want: Vec<u64> = expect.iter().filter(|e| !e.3).map(|e| e.0).collect();
    assert_eq!(rejected, want);
    for n in &notes {
        let (_, name, as_value, _) = expect.iter().find(|e| e.0 == n["line"]).unwrap();
        let code = n["code"].as_str().unwrap();
        let ok = match &name[..2] {
            "n_" => code == "bad_json" || code == "bad_utf8",
            "y_" if name.contains("duplicated_key") => code == "duplicate_key",
            "y_" => code == "not_object" && !as_value,
            _ => code != "not_object" || !as_value,
        };
        assert!(ok, "{name}: {n}");
        assert!(n["reason"].as_str().unwrap().len() > 20, "{n}");
    }

    // Each value line that loaded holds the file's value.
    let conn = rusqlite::Connection::open(d.join("t.db")).unwrap();
    let rows: Vec<(Option<i64>, Option<String>, Option<String>)> = conn
        .prepare("SELECT line, v, rest FROM t")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), good);
    let mut checked = 0;
    for (line, v, _) in rows.iter().filter(|r| r.0.is_some()) {
        let (_, name, ..) = expect.iter().find(|e| Some(e.0 as i64) == *line).unwrap();
        let bytes = &files.iter().find(|f| f.0 == *name).unwrap().1;
        if name.starts_with("i_number") {
            let kept: Vec<u8> = bytes
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            assert_eq!(v.as_deref().map(str::as_bytes), Some(&kept[..]), "{name}");
            checked += 1;
            continue;
        }
        let want: Value = serde_json::from_slice(bytes).unwrap();
        let got = match (&want, v) {
            (_, None) => Value::Null,
            (Value::String(_), Some(s)) => Value::String(s.clone()),
            (_, Some(s)) => serde_json::from_str(s).unwrap(),
        };
        assert_eq!(got, want, "{name}");
        checked += 1;
    }
    assert_eq!(checked, expect.iter().filter(|e| e.2 && e.3).count());
}
