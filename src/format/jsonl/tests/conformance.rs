//! JSONTestSuite (`tests/data/JSONTestSuite`, MIT) through the JSON Lines
//! reader, each file as one record:
//!
//! * The file's bytes are one line: each `\n` in them becomes a tab (ten
//!   files have one). A tab is JSON whitespace outside strings and, like a
//!   raw line break, a control character refused inside them, so no file
//!   changes between valid and invalid; none holds a `\r`. No file is left
//!   out; as lines of a batch, the two `n_` files that are empty or one
//!   space are blank lines, which JSON Lines skips (not records).
//! * `n_` files: refused as `bad_json` or `bad_utf8` with a reason, never
//!   `not_object` (which is only for valid JSON), both as the whole line and
//!   as a member's value (`{"v":FILE}`), where the reader's own checks (and
//!   not serde_json's parser alone) have to catch them.
//! * `y_` files: as a line, an object loads and anything else is
//!   `not_object`; as a member's value every one loads and comes out equal
//!   (as serde_json reads both) to the file, numbers with their exact text.
//!   Two are refused on purpose: `y_object_duplicated_key` and
//!   `y_object_duplicated_key_and_value` (RFC 8259 only says names SHOULD
//!   be unique; ingestd refuses a duplicate rather than pick one).
//! * `i_` files (left to the implementation): numbers however large or
//!   small are accepted with their text kept (a column type may refuse the
//!   value later); invalid UTF-8, UTF-16 and lone surrogates are refused;
//!   500 nested arrays are refused as `too_deep` (over 128 levels); a UTF-8
//!   BOM inside a line is refused (at the start of a file it is skipped,
//!   see the preamble tests).

use std::path::Path;

use super::strict::read;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/JSONTestSuite/test_parsing"
);

/// Every file of the suite, by name, with the two left out of the folder
/// for their size rebuilt (see its README).
pub(crate) fn suite() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(DIR)
        .expect("tests/data/JSONTestSuite/test_parsing")
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
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
    assert_eq!(files.len(), 318, "the suite has 318 files");
    assert!(Path::new(DIR).join("../LICENSE").exists());
    files
}

/// A file as one line (see the header).
pub(crate) fn as_line(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| if b == b'\n' { b'\t' } else { b })
        .collect()
}

/// `{"v":FILE}` as one line.
pub(crate) fn as_value(bytes: &[u8]) -> Vec<u8> {
    let mut line = b"{\"v\":".to_vec();
    line.extend(as_line(bytes));
    line.push(b'}');
    line
}

pub(crate) const REFUSED_ON_PURPOSE: [&str; 2] = [
    "y_object_duplicated_key.json",
    "y_object_duplicated_key_and_value.json",
];

fn is_object(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"{")
}

#[test]
fn n_files_are_refused_with_a_reason() {
    let mut n = 0;
    for (name, bytes) in suite().iter().filter(|(n, _)| n.starts_with("n_")) {
        for line in [as_line(bytes), as_value(bytes)] {
            let f = read(&line).expect_err(name);
            assert!(matches!(f.code, "bad_json" | "bad_utf8"), "{name}: {f:?}");
            assert!(f.reason().len() > 20, "{name}: {f:?}");
        }
        n += 1;
    }
    assert_eq!(n, 188);
}

#[test]
fn y_files_load() {
    let mut n = 0;
    for (name, bytes) in suite().iter().filter(|(n, _)| n.starts_with("y_")) {
        n += 1;
        let want: serde_json::Value = serde_json::from_slice(bytes).expect(name);
        if REFUSED_ON_PURPOSE.contains(&name.as_str()) {
            for line in [as_line(bytes), as_value(bytes)] {
                assert_eq!(read(&line).unwrap_err().code, "duplicate_key", "{name}");
            }
            continue;
        }
        match read(&as_line(bytes)) {
            Ok(members) => {
                assert!(is_object(bytes), "{name}");
                let want = want.as_object().unwrap();
                assert_eq!(members.len(), want.len(), "{name}");
                for (key, got) in &members {
                    assert_eq!(&as_json(got.as_deref(), &want[key]), &want[key], "{name}");
                }
            }
            Err(f) => {
                assert!(!is_object(bytes), "{name}: {f:?}");
                assert_eq!(f.code, "not_object", "{name}");
            }
        }
        let got = read(&as_value(bytes)).unwrap_or_else(|f| panic!("{name}: {f:?}"));
        assert_eq!(got.len(), 1);
        assert_eq!(as_json(got[0].1.as_deref(), &want), want, "{name}");
        if name.starts_with("y_number") {
            // The number's own text, not a float's.
            assert_eq!(got[0].1.as_deref(), Some(&*squeeze(bytes)), "{name}");
        }
    }
    assert_eq!(n, 95);
}

/// A number file (`[ 1.5e3 ]`: no strings) without its whitespace.
fn squeeze(bytes: &[u8]) -> String {
    let kept: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    String::from_utf8(kept).unwrap()
}

/// What a column got, read back as JSON: text from a string is the string.
fn as_json(got: Option<&str>, want: &serde_json::Value) -> serde_json::Value {
    match (got, want) {
        (None, _) => serde_json::Value::Null,
        (Some(s), serde_json::Value::String(_)) => serde_json::Value::String(s.into()),
        (Some(s), _) => serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}")),
    }
}

#[test]
fn i_files_as_documented() {
    let mut n = 0;
    for (name, bytes) in suite().iter().filter(|(n, _)| n.starts_with("i_")) {
        n += 1;
        let got = read(&as_value(bytes));
        if name.starts_with("i_number") {
            let got = got.unwrap_or_else(|f| panic!("{name}: {f:?}"));
            assert_eq!(got[0].1.as_deref(), Some(&*squeeze(bytes)), "{name}");
            continue;
        }
        let f = got.expect_err(name);
        let want = match name.as_str() {
            "i_structure_500_nested_arrays.json" => "too_deep",
            _ if std::str::from_utf8(bytes).is_err() => "bad_utf8",
            _ => "bad_json",
        };
        assert_eq!(f.code, want, "{name}: {f:?}");
        // Refused as a line of its own too (an array, but not valid).
        let f = read(&as_line(bytes)).expect_err(name);
        assert_ne!(f.code, "not_object", "{name}: {f:?}");
    }
    assert_eq!(n, 35);
}

/// The whole suite as one batch, each file a line (then each as a member's
/// value): the rejects are exactly the expected lines, and every other
/// line is a row whose columns hold the file's values.
#[test]
fn the_suite_as_one_batch() {
    use crate::format::jsonl::{Extra, JsonlFormat, layout, parse_batch};
    use crate::format::{Cell, ColumnSpec};
    let fmt = JsonlFormat {
        extra: Extra::Column("rest".into()),
        ..JsonlFormat::default()
    };
    let cols = [ColumnSpec::text("v"), ColumnSpec::text("rest")];
    let l = layout(&fmt, Some(&cols), None).unwrap();
    let files = suite();
    // As lines, two n_ files (empty, one space) are blank lines, which
    // JSON Lines skips: not records.
    let blank = |bytes: &[u8]| bytes.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
    for value in [false, true] {
        let wrap = if value { as_value } else { as_line };
        let mut data = Vec::new();
        for (_, bytes) in &files {
            data.extend(wrap(bytes));
            data.push(b'\n');
        }
        let p = parse_batch(&fmt, &l, 0, 1, &data);
        let skipped = files.iter().filter(|(_, b)| !value && blank(b)).count();
        assert_eq!(skipped, if value { 0 } else { 2 });
        assert_eq!(p.records, (files.len() - skipped) as u64);
        let mut row = 0;
        for (i, (name, bytes)) in files.iter().enumerate() {
            let line = i as u64 + 1;
            let reject = p.rejects.iter().find(|r| r.line == line);
            if !value && blank(bytes) {
                continue;
            }
            let loads = match name.as_bytes()[0] {
                b'y' => (value || is_object(bytes)) && !REFUSED_ON_PURPOSE.contains(&name.as_str()),
                b'n' => false,
                _ => value && name.starts_with("i_number"),
            };
            assert_eq!(reject.is_none(), loads, "{name}: {reject:?}");
            if let Some(r) = reject {
                let ok = match name.as_bytes()[0] {
                    b'n' => ["bad_json", "bad_utf8"].contains(&r.code.as_str()),
                    b'y' if REFUSED_ON_PURPOSE.contains(&name.as_str()) => {
                        r.code == "duplicate_key"
                    }
                    b'y' => r.code == "not_object",
                    _ => r.code != "not_object" || !value,
                };
                assert!(ok, "{name}: {r:?}");
            }
            if !loads {
                continue;
            }
            let cells = p.rows.row(row);
            row += 1;
            let text = |c: &Cell| match *c {
                Cell::Text { start, len } => Some(p.rows.text_of(start, len)),
                _ => None,
            };
            if name.starts_with("i_number") {
                // Beyond what serde_json reads as a number: the text is kept.
                assert_eq!(text(&cells[0]), Some(&*squeeze(bytes)), "{name}");
                continue;
            }
            let want: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            if value {
                assert_eq!(as_json(text(&cells[0]), &want), want, "{name}");
            } else if want.as_object().unwrap().is_empty() {
                assert_eq!(cells[1], Cell::Null, "{name}");
            } else {
                let rest: serde_json::Value =
                    serde_json::from_str(text(&cells[1]).unwrap()).unwrap();
                assert_eq!(rest, want, "{name}");
            }
        }
        assert_eq!(row, p.rows.len());
    }
}
