//! `parse_batch` for JSON Lines: which value reaches which column, the
//! rejects with their lines, offsets, columns and codes, and the order in
//! which a record's problems are reported.

use crate::format::fixtures::col;
use crate::format::jsonl::{Extra, JsonlFormat, layout, parse_batch};
use crate::format::{Cell, ColumnSpec, ColumnType, Parsed};

const TEXT: ColumnType = ColumnType::Text { max_chars: None };

fn from(name: &str, ty: ColumnType, from: &str) -> ColumnSpec {
    ColumnSpec {
        from: Some(from.into()),
        ..col(name, ty, true)
    }
}

fn run(fmt: &JsonlFormat, columns: &[ColumnSpec], data: &str) -> Parsed {
    let l = layout(fmt, Some(columns), None).unwrap();
    parse_batch(fmt, &l, 1000, 7, data.as_bytes())
}

/// Each row as text (`None`: NULL), other cells as Debug.
fn table(p: &Parsed) -> Vec<Vec<Option<String>>> {
    (0..p.rows.len())
        .map(|i| {
            p.rows
                .row(i)
                .iter()
                .map(|c| match *c {
                    Cell::Null => None,
                    Cell::Text { start, len } => Some(p.rows.text_of(start, len).to_string()),
                    other => Some(format!("{other:?}")),
                })
                .collect()
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// (line, column, code) of each reject.
fn rejects(p: &Parsed) -> Vec<(u64, Option<&str>, &str)> {
    p.rejects
        .iter()
        .map(|r| (r.line, r.column.as_deref(), r.code.as_str()))
        .collect()
}

#[test]
fn values_reach_their_columns() {
    let cols = [
        col("id", ColumnType::BigInt, false),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            true,
        ),
        col("name", TEXT, true),
        from("uid", ColumnType::Int, "/user/id"),
        from("tag0", TEXT, "/user/tags/0"),
        from("user", TEXT, "user"),
        col("ok", ColumnType::Bool, true),
        col("missing", TEXT, true),
    ];
    let data = concat!(
        r#"{"id":1,"amount":12.50,"name":"a\"b","user":{"id":7,"tags":["x","y"]},"ok":true}"#,
        "\n\r\n  \n",
        r#"  {"ok":false,"name":"","amount":null,"id":"2","user":{ "tags" : [] } }  "#,
        "\r\n",
        r#"{"id":3,"user":[1],"other":{"deep":[1,2]},"name":"12"}"#,
    );
    let p = run(&JsonlFormat::default(), &cols, data);
    assert_eq!(rejects(&p), vec![]);
    assert_eq!(p.records, 3);
    let t = table(&p);
    assert_eq!(
        t[0],
        vec![
            s("Int(1)"),
            s("Decimal { mantissa: 1250, scale: 2 }"),
            s("a\"b"),
            s("Int(7)"),
            s("x"),
            s(r#"{"id":7,"tags":["x","y"]}"#),
            s("Bool(true)"),
            None,
        ]
    );
    // A string converts like any text; an empty string is not NULL; a
    // pointer into something else is absent.
    assert_eq!(
        t[1],
        vec![
            s("Int(2)"),
            None,
            s(""),
            None,
            None,
            s(r#"{"tags":[]}"#),
            s("Bool(false)"),
            None
        ]
    );
    assert_eq!(t[2][2], s("12"));
    assert_eq!(t[2][5], s("[1]"));
    // Physical lines from `first_line` 7, blank lines counted; offsets
    // from `start` 1000, lengths with the terminator.
    let lines: Vec<&str> = data.split_inclusive('\n').collect();
    let (l1, l2, l3) = (lines[0].len(), lines[3].len(), lines[4].len());
    assert!(lines[3].ends_with("\r\n") && !lines[4].ends_with('\n'));
    let o = &p.rows.origins;
    assert_eq!(
        o.iter()
            .map(|o| (o.line, o.offset, o.len as usize))
            .collect::<Vec<_>>(),
        vec![
            (7, 1000, l1),
            (10, 1000 + l1 as u64 + 5, l2),
            (11, 1000 + (l1 + 5 + l2) as u64, l3)
        ]
    );
}

#[test]
fn every_reject_with_its_line_and_column() {
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("n", ColumnType::Int, true),
        from("deep", ColumnType::Date, "/a/b"),
    ];
    let lines: &[(&[u8], Option<&str>, &str)] = &[
        (br#"{"id":1}"#, None, ""),
        (br#"{"id":1,}"#, None, "bad_json"),
        (b"{\"id\":\"\xff\"}", None, "bad_utf8"),
        (br#"[{"id":1}]"#, None, "not_object"),
        (br#"{"id":1,"id":2}"#, None, "duplicate_key"),
        (br#"{"id":1,"x":{"k":1,"k":1}}"#, None, "duplicate_key"),
        (br#"{"id":1,"x":"\udc00"}"#, None, "bad_json"),
        (br#"{"id":null}"#, Some("id"), "not_null"),
        (br#"{"n":1}"#, Some("id"), "not_null"),
        (br#"{"id":1.5}"#, Some("id"), "bad_bigint"),
        (br#"{"id":1,"n":3000000000}"#, Some("n"), "out_of_range"),
        (
            br#"{"id":1,"a":{"b":"2024-02-30"}}"#,
            Some("deep"),
            "bad_date",
        ),
        (br#"{"id":1,"a":{"b":"2024-02-29"}}"#, None, ""),
        (br#"{"id":01}"#, None, "bad_json"),
        (br#"{"id":NaN}"#, None, "bad_json"),
    ];
    let mut data = Vec::new();
    for (l, ..) in lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    let fmt = JsonlFormat::default();
    let l = layout(&fmt, Some(&cols), None).unwrap();
    let p = parse_batch(&fmt, &l, 0, 1, &data);
    let want: Vec<(u64, Option<&str>, &str)> = (lines.iter().enumerate())
        .filter(|(_, (_, _, code))| !code.is_empty())
        .map(|(i, (_, c, code))| (i as u64 + 1, *c, *code))
        .collect();
    assert_eq!(rejects(&p), want);
    assert_eq!(p.rows.len(), 2);
    assert_eq!(p.records, lines.len() as u64);
    // Each reject covers its whole line, terminator included.
    let mut at = 0;
    for (i, (l, ..)) in lines.iter().enumerate() {
        if let Some(r) = p.rejects.iter().find(|r| r.line == i as u64 + 1) {
            assert_eq!((r.offset, r.len), (at, l.len() as u64 + 1));
        }
        at += l.len() as u64 + 1;
    }
    let reason = |line: u64| &p.rejects.iter().find(|r| r.line == line).unwrap().reason;
    assert_eq!(reason(8), "id: is null, and the column is NOT NULL");
    assert_eq!(
        reason(9),
        "id: is absent from the record (no default), and the column is NOT NULL"
    );
    assert_eq!(reason(10), "id: \"1.5\" is not a bigint");
    assert!(reason(7).ends_with("(at /x)"), "{}", reason(7));
}

#[test]
fn invalid_json_is_reported_before_anything_else() {
    // The bad value is in a key no column takes, after a value that does
    // not fit and an extra key: the record is not valid JSON, first.
    let cols = [col("id", ColumnType::Int, true)];
    let fmt = JsonlFormat {
        extra: Extra::Reject,
        ..JsonlFormat::default()
    };
    let p = run(
        &fmt,
        &cols,
        r#"{"id":"x","other":1,"skip":{"a":[1,"\ud800"]}}"#,
    );
    assert_eq!(rejects(&p), vec![(7, None, "bad_json")]);
    assert!(
        p.rejects[0].reason.ends_with("(at /skip/a/1)"),
        "{}",
        p.rejects[0].reason
    );
    // Then the extra key, then the value.
    let p = run(&fmt, &cols, r#"{"id":"x","other":1}"#);
    assert_eq!(rejects(&p), vec![(7, None, "extra_key")]);
    assert_eq!(
        p.rejects[0].reason,
        "key \"other\" is not one the columns take (extra = \"reject\")"
    );
    let p = run(&fmt, &cols, r#"{"id":"x"}"#);
    assert_eq!(rejects(&p), vec![(7, Some("id"), "bad_int")]);
}

#[test]
fn extra_keys() {
    let cols = [
        col("id", ColumnType::Int, true),
        from("uid", TEXT, "/u/id"),
        col("extra", TEXT, true),
    ];
    let data = concat!(
        r#"{"z":[1, {"k" : "\u00e9\n"}],"id":1,"u":{"id":2,"more":3},"a":"x\"y","n":null,"f":1.50}"#,
        "\n",
        r#"{"id":2,"u":null}"#,
        "\n",
        r#"{"extra":"mine","id":3}"#,
    );
    let ignore = run(&JsonlFormat::default(), &cols, data);
    assert_eq!(rejects(&ignore), vec![]);
    assert_eq!(
        table(&ignore),
        vec![
            vec![s("Int(1)"), s("2"), None],
            vec![s("Int(2)"), None, None],
            vec![s("Int(3)"), None, s("mine")],
        ]
    );
    let reject = run(
        &JsonlFormat {
            extra: Extra::Reject,
            ..JsonlFormat::default()
        },
        &cols[..2],
        data,
    );
    assert_eq!(
        rejects(&reject),
        vec![(7, None, "extra_key"), (9, None, "extra_key")]
    );
    assert_eq!(table(&reject), vec![vec![s("Int(2)"), None]]);
    let column = run(
        &JsonlFormat {
            extra: Extra::Column("extra".into()),
            ..JsonlFormat::default()
        },
        &cols,
        data,
    );
    assert_eq!(rejects(&column), vec![]);
    let t = table(&column);
    // In the record's order, compact, values as JSON (a key the column is
    // named after is extra too: the column takes no key).
    assert_eq!(
        t[0][2],
        s(r#"{"z":[1,{"k":"é\n"}],"a":"x\"y","n":null,"f":1.50}"#)
    );
    assert_eq!(t[1][2], None);
    assert_eq!(t[2][2], s(r#"{"extra":"mine"}"#));
    let got: serde_json::Value = serde_json::from_str(t[0][2].as_deref().unwrap()).unwrap();
    assert_eq!(
        got,
        serde_json::json!({"z":[1,{"k":"é\n"}],"a":"x\"y","n":null,"f":1.50})
    );
}

#[test]
fn layout_from_the_first_object() {
    let fmt = JsonlFormat::default();
    let keys: Vec<String> = ["b", "a", "c"].iter().map(|k| k.to_string()).collect();
    let l = layout(&fmt, None, Some(&keys)).unwrap();
    assert_eq!(
        l.columns,
        vec![
            ColumnSpec::text("b"),
            ColumnSpec::text("a"),
            ColumnSpec::text("c")
        ]
    );
    let data = "{\"a\":1,\"b\":{\"x\":[]},\"c\":null}\n{\"c\":\"z\",\"d\":1}\n";
    let p = parse_batch(&fmt, &l, 0, 1, data.as_bytes());
    assert_eq!(
        table(&p),
        vec![
            vec![s(r#"{"x":[]}"#), s("1"), None],
            vec![None, None, s("z")]
        ]
    );
    let with_extra = JsonlFormat {
        extra: Extra::Column("rest".into()),
        ..JsonlFormat::default()
    };
    let l = layout(&with_extra, None, Some(&keys)).unwrap();
    assert_eq!(l.columns.last(), Some(&ColumnSpec::text("rest")));
    let p = parse_batch(&with_extra, &l, 0, 1, data.as_bytes());
    assert_eq!(table(&p)[1], vec![None, None, s("z"), s(r#"{"d":1}"#)]);
    for (keys, want) in [
        (
            vec![],
            "no columns are configured, and no line in the file's first 1048576 bytes",
        ),
        (
            vec!["a".to_string(), String::new()],
            "the first JSON object cannot name the columns: its key 2 is empty",
        ),
    ] {
        let e = layout(&fmt, None, Some(&keys)).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
    let e = layout(&with_extra, None, Some(&["rest".to_string()])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the first JSON object cannot name the columns: its key \"rest\" is also the \
         extra_column's name: rename extra_column"
    );
}

#[test]
fn constants_defaults_and_null_if() {
    let cols = [
        ColumnSpec {
            constant: Some("web".into()),
            ..col("src", TEXT, true)
        },
        ColumnSpec {
            default: Some("0".into()),
            ..col("n", ColumnType::Int, false)
        },
        ColumnSpec {
            null_if: Some(vec!["NA".into()]),
            ..col("v", TEXT, true)
        },
    ];
    let p = run(
        &JsonlFormat::default(),
        &cols,
        "{\"src\":\"x\",\"v\":\"NA\"}\n{\"n\":5,\"v\":\"ok\"}\n{\"n\":null}\n",
    );
    assert_eq!(
        table(&p),
        vec![
            vec![s("web"), s("Int(0)"), None],
            vec![s("web"), s("Int(5)"), s("ok")]
        ]
    );
    // A default is for an absent key: null is a value, and n is NOT NULL.
    assert_eq!(rejects(&p), vec![(9, Some("n"), "not_null")]);
}

#[test]
fn bad_pointer_in_layout() {
    let e = layout(
        &JsonlFormat::default(),
        Some(&[from("x", TEXT, "/a~2")]),
        None,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("column \"x\": \"/a~2\" is not a JSON Pointer"),
        "{e}"
    );
}
