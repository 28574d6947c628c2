//! Reading what a load rejected: `<file>.bad.jsonl` (one note per rejected
//! record: line, code, column, reason) and `<file>.bad` (the header and the
//! rejected records' own bytes, to be fixed and dropped back in).

use std::path::Path;

use serde_json::Value;

use super::orders::{BadRecord, HEADER};

/// The notes of a `.bad.jsonl` file, one JSON object a line.
pub fn notes(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `(line, code)` of each note, sorted.
pub fn lines_and_codes(notes: &[Value]) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = notes
        .iter()
        .map(|n| {
            let line = n["line"].as_u64().unwrap_or_else(|| panic!("no line: {n}"));
            let code = n["code"].as_str().unwrap_or_else(|| panic!("no code: {n}"));
            (line, code.to_string())
        })
        .collect();
    v.sort();
    v
}

/// The rejects of `file` in reject folder `dir` are exactly `bad`: each
/// has its note (line and code) in `FILE.bad.jsonl`, and `FILE.bad` is the
/// header and their records. Returns the notes' text, for what a test
/// looks for in it besides.
#[track_caller]
pub fn assert_rejected(dir: &Path, file: &str, bad: &[BadRecord]) -> String {
    let jsonl = dir.join(format!("{file}.bad.jsonl"));
    let notes = notes(&jsonl);
    let mut want: Vec<(u64, String)> = bad.iter().map(|b| (b.line, b.code.to_string())).collect();
    want.sort();
    assert_eq!(lines_and_codes(&notes), want, "reject notes: {notes:#?}");
    let records: Vec<&str> = bad.iter().map(|b| b.text.as_str()).collect();
    assert_bad_file(&dir.join(format!("{file}.bad")), HEADER, &records);
    std::fs::read_to_string(jsonl).unwrap()
}

/// The `.bad` file at `path` holds `header` and exactly `records` (whole
/// lines, in any order: batches finish in any order).
#[track_caller]
pub fn assert_bad_file(path: &Path, header: &str, records: &[&str]) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(text.starts_with(header), "{}:\n{text}", path.display());
    let mut got: Vec<&str> = text.split_inclusive('\n').collect();
    let mut want: Vec<&str> = std::iter::once(header)
        .chain(records.iter().copied())
        .flat_map(|t| t.split_inclusive('\n'))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{}", path.display());
}
