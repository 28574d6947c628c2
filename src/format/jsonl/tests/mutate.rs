//! Records mutated byte by byte (proptest) against serde_json's own verdict:
//! whatever serde_json refuses is rejected; what it reads as an object
//! loads with the same values, unless the record has a key twice (which
//! serde_json's `Value` keeps quietly, the last one winning) or it is not
//! an object; nothing panics and every line is a row or a reject.

use proptest::prelude::*;
use serde::Deserializer as _;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::format::jsonl::{Extra, JsonlFormat, layout, parse_batch};
use crate::format::{Cell, ColumnSpec};

const SEEDS: [&str; 5] = [
    r#"{"a":1,"b":"x\"y","c":[1,2.50,{"d":null}],"e":true}"#,
    r#"{"a":-0.5e+3,"b":"\u00e9\ud83d\ude00","c":{},"e":false}"#,
    r#"{ "a" : [ ] , "b" : "" , "c" : { "k" : [ "v" ] } }"#,
    r#"{"b":"é😀","c":[[[[]]]],"e":null}"#,
    r#"{"a":12345678901234567890,"c":"\\\/\b\f\n\r\t"}"#,
];

/// Bytes the edits put in: JSON's structure, escapes, digits, literals'
/// letters, whitespace, and bytes that are not UTF-8 on their own.
const ALPHABET: &[u8] =
    b"{}[]\",:\\/u0123456789abcdefABCDEF+-.eEtrunls \t\r\x0c\x00\xff\xc3\xa9\xed\xa0";

#[derive(Clone, Debug)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = (0..ALPHABET.len()).prop_map(|i| ALPHABET[i]);
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(p, b)| Edit::Replace(p, b)),
        (any::<usize>(), byte).prop_map(|(p, b)| Edit::Insert(p, b)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut line = seed.as_bytes().to_vec();
    for e in edits {
        let n = line.len().max(1);
        match *e {
            Edit::Replace(p, b) if !line.is_empty() => line[p % n] = b,
            Edit::Insert(p, b) => line.insert(p % (line.len() + 1), b),
            Edit::Delete(p) if !line.is_empty() => {
                line.remove(p % n);
            }
            _ => {}
        }
    }
    // One line: a `\n` would make two records.
    line.retain(|&b| b != b'\n');
    line
}

/// Whether some object in `line` (valid JSON) has a key twice.
fn has_duplicate(line: &[u8]) -> bool {
    fn dup(raw: &RawValue) -> bool {
        let t = raw.get();
        match t.as_bytes()[0] {
            b'{' => {
                let members = serde_json::Deserializer::from_str(t)
                    .deserialize_map(Members)
                    .unwrap();
                let keys: std::collections::HashSet<&String> =
                    members.iter().map(|m| &m.0).collect();
                keys.len() < members.len() || members.iter().any(|m| dup(m.1))
            }
            b'[' => serde_json::from_str::<Vec<&RawValue>>(t)
                .unwrap()
                .iter()
                .any(|v| dup(v)),
            _ => false,
        }
    }
    dup(serde_json::from_slice::<&RawValue>(line).unwrap())
}

/// An object's members in order, duplicates kept.
struct Members;

impl<'de> Visitor<'de> for Members {
    type Value = Vec<(String, &'de RawValue)>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::new();
        while let Some(e) = m.next_entry()? {
            v.push(e);
        }
        Ok(v)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]
    #[test]
    fn mutated_records_agree_with_serde_json(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let line = apply(SEEDS[seed], &edits);
        let fmt = JsonlFormat { extra: Extra::Column("rest".into()), ..JsonlFormat::default() };
        let cols: Vec<ColumnSpec> = ["a", "b", "c", "e", "rest"].iter().map(|n| ColumnSpec::text(n)).collect();
        let l = layout(&fmt, Some(&cols), None).unwrap();
        let mut data = line.clone();
        data.push(b'\n');
        let p = parse_batch(&fmt, &l, 0, 1, &data);
        let blank = line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
        prop_assert_eq!(p.records, u64::from(!blank));
        prop_assert_eq!(p.rows.len() + p.rejects.len(), p.records as usize);
        if blank {
            return Ok(());
        }
        let theirs = serde_json::from_slice::<Value>(&line);
        if theirs.as_ref().is_err_and(|e| e.to_string().starts_with("number out of range")) {
            // Valid JSON that serde_json's Value cannot hold (1e999): the
            // record keeps the number's text, nothing to compare with.
            return Ok(());
        }
        match (&theirs, p.rejects.first()) {
            (Err(_), None) => prop_assert!(false, "accepted what serde_json refuses: {:?}", String::from_utf8_lossy(&line)),
            (Err(_), Some(r)) => prop_assert!(["bad_json", "bad_utf8"].contains(&r.code.as_str()), "{:?}", r),
            (Ok(v), Some(r)) => {
                let why = match r.code.as_str() {
                    "not_object" => !v.is_object(),
                    "duplicate_key" => has_duplicate(&line),
                    _ => false,
                };
                prop_assert!(why, "refused what serde_json reads: {:?} {:?}", String::from_utf8_lossy(&line), r);
            }
            (Ok(v), None) => {
                let o = v.as_object().unwrap();
                let row = p.rows.row(0);
                let text = |c: &Cell| match *c {
                    Cell::Text { start, len } => Some(p.rows.text_of(start, len).to_string()),
                    _ => None,
                };
                for (i, k) in ["a", "b", "c", "e"].iter().enumerate() {
                    let got = text(&row[i]);
                    let want = match o.get(*k) {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(other) => Some(other.to_string()),
                    };
                    match (o.get(*k), &got) {
                        // Numbers keep their text: compare as JSON.
                        (Some(Value::Number(_) | Value::Array(_) | Value::Object(_)), Some(g)) => {
                            let g: Value = serde_json::from_str(g).unwrap();
                            prop_assert_eq!(Some(&g), o.get(*k));
                        }
                        _ => prop_assert_eq!(&got, &want),
                    }
                }
            }
        }
    }
}
