//! The strict reader on its own: what it accepts, what it refuses, with
//! which code and reason, and what each value becomes.

use crate::format::jsonl::strict::{self, Fail, MAX_DEPTH, Value};

/// Every member of `line` with its value as a column would get it
/// (`None`: JSON null), or the first failure.
pub(crate) fn read(line: &[u8]) -> Result<Vec<(String, Option<String>)>, Fail> {
    let mut members = Vec::new();
    let text = strict::object(line, &mut members)?;
    let mut out = String::new();
    let mut got = Vec::new();
    let mut dup = None;
    for (key, raw) in &members {
        let v = match strict::value(text, raw, &mut out) {
            Ok(v) => v,
            Err(mut f) => {
                f.path.push(key.to_string());
                if f.code != "duplicate_key" {
                    return Err(f);
                }
                dup.get_or_insert(f);
                continue;
            }
        };
        let v = match v {
            Value::Null => None,
            Value::Text(t) => Some(t.to_string()),
            Value::Out(r) => Some(out[r].to_string()),
        };
        got.push((key.to_string(), v));
    }
    match dup {
        Some(f) => Err(f),
        None => Ok(got),
    }
}

fn ok(line: &str) -> Vec<(String, Option<String>)> {
    read(line.as_bytes()).unwrap_or_else(|f| panic!("{line:?}: {f:?}"))
}

fn fail(line: &[u8]) -> (&'static str, String) {
    match read(line) {
        Ok(v) => panic!("{:?} was accepted: {v:?}", String::from_utf8_lossy(line)),
        Err(f) => (f.code, f.reason()),
    }
}

fn kv(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect()
}

#[test]
fn values_as_columns_get_them() {
    let got = ok(
        r#" { "s": "plain", "e": "a\"b\u00e9\n", "n": -12.50e+3, "big": 123456789012345678901234567890,
        "t": true, "f": false, "z": null, "o": { "b" : [1, 2.0 , {"c":"\u00e9"}], "a": {} }, "arr": [ ] } "#,
    );
    assert_eq!(
        got,
        kv(&[
            ("s", Some("plain")),
            ("e", Some("a\"bé\n")),
            ("n", Some("-12.50e+3")),
            ("big", Some("123456789012345678901234567890")),
            ("t", Some("true")),
            ("f", Some("false")),
            ("z", None),
            ("o", Some(r#"{"b":[1,2.0,{"c":"é"}],"a":{}}"#)),
            ("arr", Some("[]")),
        ])
    );
    // Keys are unescaped; escapes in nested strings and keys are written
    // again as serde_json writes them (only what JSON requires).
    let got = ok(r#"{"\u0041\t":{"k\"ey":"x\u0000\/y"}}"#);
    assert_eq!(got, kv(&[("A\t", Some(r#"{"k\"ey":"x\u0000/y"}"#))]));
    assert_eq!(ok("{}"), kv(&[]));
    assert_eq!(ok("\t{ }\r "), kv(&[]));
    // Non-ASCII stays as it is; surrogate pairs are one character.
    assert_eq!(ok(r#"{"é":"\ud83d\ude00😀"}"#), kv(&[("é", Some("😀😀"))]));
}

#[test]
fn not_json() {
    for (line, want) in [
        (&br#"{"a":1,}"#[..], "trailing comma at byte 8"),
        (br#"{"a":01}"#, "invalid number at byte 7"),
        (br#"{"a":NaN}"#, "expected value at byte 6"),
        (br#"{"a":-Infinity}"#, "invalid number at byte 7"),
        (br#"{"a":1.}"#, "invalid number at byte 8"),
        (br#"{"a":.5}"#, "expected value at byte 6"),
        (br#"{"a":+1}"#, "expected value at byte 6"),
        (br#"{"a":0x10}"#, "expected `,` or `}` at byte 7"),
        (br#"{'a':1}"#, "key must be a string at byte 2"),
        (br#"{a:1}"#, "key must be a string at byte 2"),
        (br#"{"a":1} x"#, "trailing characters at byte 9"),
        (br#"{"a":1}{}"#, "trailing characters at byte 8"),
        (br#"{"a":"b"#, "EOF while parsing a string at byte 7"),
        (
            br#"{"a":"tab	"}"#,
            "control character (\\u0000-\\u001F) found while parsing a string at byte 9",
        ),
        (br#"{"a":"\x"}"#, "invalid escape at byte 8"),
        (br#"{"a":tru}"#, "expected true, false or null at byte 9"),
        (b"{\"a\":1}\x0c", "trailing characters at byte 8"),
        (br#"{"a" 1}"#, "expected `:` at byte 6"),
        (br#"{"a":[1,]}"#, "expected value at byte 9"),
        (br#"{"a":[1 2]}"#, "expected `,` or `]` at byte 9"),
        (br#"{"a":{"b"}}"#, "expected `:` at byte 10"),
        (b"{", "EOF while parsing an object at byte 1"),
    ] {
        let (code, reason) = fail(line);
        assert_eq!(code, "bad_json", "{}", String::from_utf8_lossy(line));
        assert_eq!(
            reason,
            format!("not valid JSON: {want}"),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn not_an_object() {
    for (line, what) in [
        ("[1,2]", "an array"),
        (" \"s\" ", "a string"),
        ("12", "a number"),
        ("null", "null"),
        ("true", "a boolean"),
    ] {
        assert_eq!(
            fail(line.as_bytes()),
            (
                "not_object",
                format!("the line is {what}, not an object: each line must be one JSON object")
            )
        );
    }
    // Not an object comes before a duplicate key inside it.
    assert_eq!(fail(br#"[{"a":1,"a":2}]"#).0, "not_object");
    // Not JSON at all is bad JSON, whatever it starts with.
    assert_eq!(fail(b"[1,]").0, "bad_json");
    assert_eq!(fail(b"hello").0, "bad_json");
    assert_eq!(fail(b"\xef\xbb\xbf{}").0, "bad_json");
}

#[test]
fn duplicate_keys_at_every_level() {
    assert_eq!(
        fail(br#"{"a":1,"b":2,"a":3}"#),
        (
            "duplicate_key",
            "key \"a\" appears twice in the record".into()
        )
    );
    // Escapes do not hide a duplicate.
    assert_eq!(fail(br#"{"a":1,"\u0061":2}"#).0, "duplicate_key");
    assert_eq!(
        fail(br#"{"x":{"u":[0,{"k":1,"k":2}]}}"#),
        (
            "duplicate_key",
            "key \"k\" appears twice in one object (at /x/u/1)".into()
        )
    );
    // Keys that only differ in case, or are equal once unescaped but
    // different raw, are different or equal as JSON says.
    assert_eq!(ok(r#"{"a":1,"A":2}"#).len(), 2);
    assert_eq!(fail(br#"{"o":{"\/":1,"/":2}}"#).0, "duplicate_key");
    // Past the short scan, the hashed check still finds them, and still
    // accepts many distinct keys.
    let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
    let line = format!("{{{}}}", many.join(","));
    assert_eq!(ok(&line).len(), 100);
    assert_eq!(ok(&format!("{{\"o\":{line}}}")).len(), 1);
    let line = format!("{{{},\"k57\":0}}", many.join(","));
    assert_eq!(fail(line.as_bytes()).0, "duplicate_key");
    let line = format!("{{\"o\":{{{},\"k7\":0}}}}", many.join(","));
    assert_eq!(
        fail(line.as_bytes()),
        (
            "duplicate_key",
            "key \"k7\" appears twice in one object (at /o)".into()
        )
    );
}

#[test]
fn invalid_json_wins_over_a_duplicate_before_it() {
    // A duplicate, then a lone surrogate later: the record is not JSON.
    for line in [
        &br#"{"a":1,"a":2,"b":"\ud800"}"#[..],
        br#"{"a":{"k":1,"k":2},"b":"\ud800"}"#,
        br#"{"a":{"k":1,"k":2,"s":["\udc00"]}}"#,
        br#"{"a":1,"a":2,"b":[{"x":"\ud800"}]}"#,
    ] {
        let (code, reason) = fail(line);
        assert_eq!(
            code,
            "bad_json",
            "{}: {reason}",
            String::from_utf8_lossy(line)
        );
    }
    // Otherwise the first duplicate, with where it is.
    assert_eq!(
        fail(br#"{"a":[{"k":1,"k":2}],"b":{"x":{"j":1,"j":2}}}"#),
        (
            "duplicate_key",
            "key \"k\" appears twice in one object (at /a/0)".into()
        )
    );
    assert_eq!(
        fail(br#"{"a":{"b":{"k":1,"k":2},"c":1},"a":2}"#),
        (
            "duplicate_key",
            "key \"a\" appears twice in the record".into()
        )
    );
}

#[test]
fn lone_surrogates_everywhere() {
    // serde_json only skips what it does not build: each of these places
    // is checked by the reader itself.
    for (line, at) in [
        (&br#"{"a":"\ud800"}"#[..], "/a"),
        (br#"{"a":"\udc00x"}"#, "/a"),
        (br#"{"a":"x\ud800\u0041"}"#, "/a"),
        (br#"{"\ud800":1}"#, ""),
        (br#"{"o":{"\udfff":1}}"#, "/o"),
        (br#"{"o":{"k":"\ud83d"}}"#, "/o/k"),
        (br#"{"o":["\ude00"]}"#, "/o/0"),
        (br#"{"o":[[{"a":[1,"\ud800"]}]]}"#, "/o/0/0/a/1"),
    ] {
        let (code, reason) = fail(line);
        assert_eq!(code, "bad_json", "{}", String::from_utf8_lossy(line));
        assert!(reason.contains("a lone surrogate"), "{reason}");
        match at {
            "" => assert!(!reason.contains("(at "), "{reason}"),
            _ => assert!(reason.ends_with(&format!("(at {at})")), "{reason}"),
        }
    }
    let (_, reason) = fail(br#"{"ok":1, "o":["\ude00"]}"#);
    assert_eq!(
        reason,
        "not valid JSON: a lone surrogate in a \\u escape (\\uD800 to \\uDFFF only come in pairs) \
         at byte 21 (at /o/0)"
    );
    // A pair is fine wherever it is.
    assert_eq!(
        ok(r#"{"o":{"\ud83d\ude00":["\ud83d\ude00"]}}"#),
        kv(&[("o", Some(r#"{"😀":["😀"]}"#))])
    );
}

#[test]
fn invalid_utf8_anywhere() {
    for line in [
        &b"{\"a\":\"\xff\"}"[..],
        b"{\"\xc3\":1}",
        b"{\"a\":\"\xed\xa0\x80\"}", // an encoded surrogate
        b"{\"a\":\"\xc0\xaf\"}",     // overlong
        b"{\"a\":1}\xff",
    ] {
        let (code, reason) = fail(line);
        assert_eq!(code, "bad_utf8");
        assert!(reason.contains("is not valid UTF-8"), "{reason}");
    }
    assert_eq!(
        fail(b"{\"a\":\"\xff\"}").1,
        "byte 7 is not valid UTF-8: JSON text must be UTF-8 (RFC 8259 section 8.1)"
    );
}

#[test]
fn nesting_limit() {
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // The record is level 1: values may open MAX_DEPTH - 1 more levels.
    let line = format!("{{\"a\":{}}}", nest(MAX_DEPTH - 1));
    assert_eq!(ok(&line), kv(&[("a", Some(&nest(MAX_DEPTH - 1)))]));
    let line = format!("{{\"a\":{}}}", nest(MAX_DEPTH));
    let (code, reason) = fail(line.as_bytes());
    assert_eq!(code, "too_deep");
    assert!(
        reason
            .starts_with("objects and arrays nest deeper than 128 levels at byte 133 (at /a/0/0/"),
        "{reason}"
    );
    assert!(reason.ends_with("/0/...)"), "{reason}");
    // Far deeper, and unclosed: refused without exhausting the stack.
    let line = format!("{{\"a\":{}}}", nest(200_000));
    assert_eq!(fail(line.as_bytes()).0, "too_deep");
    let line = format!("{{\"a\":{}", "[{\"\":".repeat(100_000));
    assert_eq!(fail(line.as_bytes()).0, "bad_json");
}

#[test]
fn write_str_escapes_what_json_requires() {
    let mut out = String::from("x");
    strict::write_str(&mut out, "a\"\\\n\u{1}é/");
    assert_eq!(out, r#"x"a\"\\\n\u0001é/""#);
}

/// What serde_json checks by itself, and so why the reader walks every
/// value again: it skips a value (a `RawValue`, `IgnoredAny`) without
/// checking `\u` escapes for lone surrogates, and its maps keep the last of
/// two equal keys. Only strings it builds are checked. If a release changes
/// this, the walk may have become redundant, never wrong.
#[test]
fn what_serde_json_leaves_to_the_reader() {
    use serde_json::value::RawValue;
    for skipped in [r#""\ud800""#, r#"{"\udc00":1}"#, r#"[["\ud83d"]]"#] {
        assert!(
            serde_json::from_str::<&RawValue>(skipped).is_ok(),
            "{skipped}"
        );
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(skipped).is_ok(),
            "{skipped}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(skipped).is_err(),
            "{skipped}"
        );
        let line = format!("{{\"v\":{skipped}}}");
        assert_eq!(fail(line.as_bytes()).0, "bad_json", "{skipped}");
    }
    let v: serde_json::Value = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(v["a"], 2);
    assert!(serde_json::from_str::<&RawValue>(r#"{"a":1,"a":2}"#).is_ok());
    assert_eq!(fail(br#"{"v":{"a":1,"a":2}}"#).0, "duplicate_key");
    // Its syntax checks hold in skipped values too: the reader relies on them.
    for bad in [
        "[1,]",
        "01",
        "NaN",
        "\"\\x\"",
        "\"a\tb\"",
        "{\"a\" 1}",
        "1.",
        "-",
    ] {
        assert!(serde_json::from_str::<&RawValue>(bad).is_err(), "{bad}");
    }
}
