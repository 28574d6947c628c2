//! `RegexFormat` over batches: fields by group, absent groups, no_match
//! with lines, multi-line records, logfmt, the layout's errors. Test code
//! only.

use super::*;
use crate::format::{Cell, ColumnType, Parsed};

fn fmt(pattern: &str, cont: Option<&str>) -> RegexFormat {
    let m = Matcher::Pattern {
        source: pattern.into(),
        named: None,
    };
    RegexFormat::new(m, cont.map(str::to_string), String::new(), 0).unwrap()
}

fn col(name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        ty,
        ..ColumnSpec::text(name)
    }
}

/// A reject as (line, code, column).
type Reject = (u64, String, Option<String>);

/// Each row as text (NULL as "NULL"), and each reject.
fn run(
    f: &RegexFormat,
    cols: Option<&[ColumnSpec]>,
    data: &[u8],
) -> (Vec<Vec<String>>, Vec<Reject>) {
    let layout = layout(f, cols).unwrap();
    let p = parse_batch(f, &layout, 100, 10, data);
    assert_eq!(p.records, (p.rows.len() + p.rejects.len()) as u64);
    let rows = (0..p.rows.len())
        .map(|i| {
            p.rows
                .row(i)
                .iter()
                .map(|c| match *c {
                    Cell::Text { start, len } => {
                        p.rows.text[start as usize..][..len as usize].to_string()
                    }
                    Cell::Null => "NULL".into(),
                    Cell::Int(v) => v.to_string(),
                    Cell::TimestampTz(t) => format!("{t}Z"),
                    ref c => format!("{c:?}"),
                })
                .collect()
        })
        .collect();
    let rejects = p
        .rejects
        .iter()
        .map(|r| (r.line, r.code.clone(), r.column.clone()))
        .collect();
    (rows, rejects)
}

#[test]
fn groups_feed_columns_and_unmatched_groups_are_null() {
    let f = fmt(
        r"(?P<level>[A-Z]+) (?:user=(?P<user>\w+) )?(?P<n>\d+)",
        None,
    );
    let cols = [
        col("n", ColumnType::BigInt),
        col("LEVEL", ColumnType::Text { max_chars: None }),
        col("user", ColumnType::Text { max_chars: None }),
    ];
    let data =
        b"INFO user=ann 12\nWARN 7\r\n\n  \nWARN 7 trailing\nERROR x\nINFO 99999999999999999999";
    let (rows, rejects) = run(&f, Some(&cols), data);
    assert_eq!(rows, [["12", "INFO", "ann"], ["7", "WARN", "NULL"]]);
    assert_eq!(
        rejects,
        [
            (14, "no_match".into(), None),
            (15, "no_match".into(), None),
            (16, "out_of_range".into(), Some("n".into())),
        ]
    );
    // Without columns, every named group is a text column.
    let (rows, _) = run(&f, None, b"INFO 3\n");
    assert_eq!(rows, [["INFO", "NULL", "3"]]);
}

#[test]
fn reject_notes_carry_offsets_and_reasons() {
    let f = RegexFormat::named("common").unwrap();
    let l = layout(&f, None).unwrap();
    let good =
        br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
    let data = [&good[..], b"\n", b"garbage\n", good].concat();
    let p = parse_batch(&f, &l, 1000, 5, &data);
    assert_eq!(p.rows.len(), 2);
    let r = &p.rejects[0];
    assert_eq!(
        (r.offset, r.len, r.line),
        (1000 + good.len() as u64 + 1, 8, 6)
    );
    assert_eq!(r.reason, "the record does not match the pattern common");
}

#[test]
fn access_log_time_into_timestamptz() {
    let f = RegexFormat::named("nginx_combined").unwrap();
    let cols = [
        ColumnSpec {
            formats: vec!["%d/%b/%Y:%H:%M:%S %z".into()],
            ..col("time", ColumnType::TimestampTz)
        },
        col("status", ColumnType::Int),
        col("bytes", ColumnType::BigInt),
        col("referer", ColumnType::Text { max_chars: None }),
    ];
    let line = br#"93.180.71.3 - - [17/May/2015:08:05:32 -0700] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3""#;
    let (rows, rejects) = run(&f, Some(&cols), line);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(rows, [["2015-05-17 15:05:32Z", "304", "0", "NULL"]]);
}

#[test]
fn continuation_lines_make_one_record() {
    let f = fmt(
        r"(?P<time>\S+ \S+) (?P<level>[A-Z]+) (?P<message>(?s:.*))",
        Some(r"^\s+at |^Caused by: "),
    );
    let data = b"2026-12-03 07:30:58 ERROR boom\r\n\tat a.B(B.java:1)\r\nCaused by: x\n\
                 2026-12-03 07:30:59 INFO ok\n    at not-a-continuation-after-blank\n";
    let (rows, rejects) = run(&f, None, data);
    assert_eq!(
        rows,
        [
            [
                "2026-12-03 07:30:58",
                "ERROR",
                "boom\n\tat a.B(B.java:1)\nCaused by: x"
            ],
            [
                "2026-12-03 07:30:59",
                "INFO",
                "ok\n    at not-a-continuation-after-blank"
            ],
        ]
    );
    assert!(rejects.is_empty());
    // After a blank line the continuation starts a record, which does not match.
    let data = b"2026-12-03 07:30:59 INFO ok\n\n    at x\n";
    let (rows, rejects) = run(&f, None, data);
    assert_eq!(rows.len(), 1);
    assert_eq!(rejects, [(12, "no_match".into(), None)]);
    // `.` does not cross lines unless the pattern says so.
    let f = fmt(r"(?P<m>.*)", Some("^ "));
    let (rows, rejects) = run(&f, None, b"a\n b\nc\n");
    assert_eq!(rows, [["c"]]);
    assert_eq!(rejects, [(10, "no_match".into(), None)]);
}

#[test]
fn logfmt_keys_feed_columns() {
    let f = RegexFormat::named("logfmt").unwrap();
    let cols = [
        col("level", ColumnType::Text { max_chars: None }),
        ColumnSpec {
            from: Some("msg".into()),
            ..col("message", ColumnType::Text { max_chars: None })
        },
        col("count", ColumnType::Int),
        ColumnSpec {
            default: Some("7".into()),
            ..col("retries", ColumnType::Int)
        },
    ];
    let data = b"level=info msg=\"a \\\"b\\\"\" count=3 other=x\n\
                 msg=bare count=\n\
                 level=warn level=error\n\
                 level=warn =x\n\
                 count=x\n";
    let (rows, rejects) = run(&f, Some(&cols), data);
    assert_eq!(
        rows,
        [["info", "a \"b\"", "3", "7"], ["NULL", "bare", "NULL", "7"]]
    );
    assert_eq!(
        rejects,
        [
            (12, "duplicate_key".into(), Some("level".into())),
            (13, "bad_logfmt".into(), None),
            (14, "bad_int".into(), Some("count".into())),
        ]
    );
    assert_eq!(layout(&f, None).unwrap_err(), LayoutError::NoColumns);
}

#[test]
fn layout_names_missing_groups() {
    let f = fmt(r"(?P<a>x)(?P<B>y)(z)", None);
    let cols = [
        col("b", ColumnType::Text { max_chars: None }),
        ColumnSpec {
            from: Some("a".into()),
            ..col("a2", ColumnType::Text { max_chars: None })
        },
        col("a", ColumnType::Text { max_chars: None }),
        ColumnSpec {
            constant: Some("k".into()),
            ..col("c", ColumnType::Text { max_chars: None })
        },
        ColumnSpec {
            default: Some("d".into()),
            ..col("nowhere", ColumnType::Text { max_chars: None })
        },
    ];
    let l = layout(&f, Some(&cols)).unwrap();
    assert_eq!(
        l.fields,
        [
            Field::At(2),
            Field::At(1),
            Field::At(1),
            Field::Constant,
            Field::Absent
        ]
    );
    let (rows, _) = run(&f, Some(&cols), b"xyz\n");
    assert_eq!(rows, [["y", "x", "x", "k", "d"]]);
    let e = layout(&f, Some(&[col("c", ColumnType::Int)])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column \"c\" takes group \"c\", which the pattern does not have (groups: a, B)"
    );
}

#[test]
fn patterns_that_do_not_compile_say_why() {
    let bad = |p: &str, c: Option<&str>| {
        let m = Matcher::Pattern {
            source: p.into(),
            named: None,
        };
        RegexFormat::new(m, c.map(str::to_string), String::new(), 0).unwrap_err()
    };
    assert!(matches!(bad("(?P<a>x", None), PatternError::Pattern(_)));
    assert_eq!(bad("(x)", None), PatternError::NoGroups);
    assert!(matches!(
        bad("(?P<a>x)", Some("(")),
        PatternError::Continue(_)
    ));
    // A top-level alternation is anchored as a whole.
    let f = fmt("(?P<a>a)|(?P<b>b)", None);
    let (rows, rejects) = run(&f, None, b"a\nb\nab\n");
    assert_eq!(rows, [["a", "NULL"], ["NULL", "b"]]);
    assert_eq!(rejects.len(), 1);
}

#[test]
fn a_format_from_the_wire_compiles_itself() {
    let f = RegexFormat::named("syslog_rfc5424").unwrap();
    let wire = postcard::to_stdvec(&f).unwrap();
    let back: RegexFormat = postcard::from_bytes(&wire).unwrap();
    assert_eq!(back, f);
    let (rows, _) = run(&back, None, b"<13>1 - - - - - - hello\n");
    assert_eq!(rows[0].last().unwrap(), "hello");
}

#[test]
fn the_access_log_fast_path_parses_as_the_regex() {
    let lines = [
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
        r#"93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3""#,
        r#"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] "-" 400 0 "-" "-""#,
        r#"10.0.0.1 x - [03/Dec/2026:07:30:58 +0000] "-" 400 - "-" "-""#,
        r#"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] "GET /" 200 1 "-" "-" extra"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
    ];
    let data = lines.join("\r\n");
    for name in ["nginx_combined", "apache_combined", "common"] {
        let fast = RegexFormat::named(name).unwrap();
        let Matcher::Pattern { source, .. } = &fast.matcher else {
            unreachable!()
        };
        let slow = fmt(source, None);
        let l = layout(&fast, None).unwrap();
        assert_eq!(l, layout(&slow, None).unwrap());
        let (a, b) = (
            parse_batch(&fast, &l, 7, 3, data.as_bytes()),
            parse_batch(&slow, &l, 7, 3, data.as_bytes()),
        );
        assert!(!a.rows.is_empty(), "{name}");
        assert_eq!(a.rows, b.rows, "{name}");
        let codes = |p: &Parsed| {
            (p.rejects.iter())
                .map(|r| (r.line, r.offset, r.len, r.code.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&a), codes(&b), "{name}");
    }
}

#[test]
fn rfc5424_timestamps_need_no_format() {
    let f = RegexFormat::named("syslog_rfc5424").unwrap();
    let cols = [
        col("timestamp", ColumnType::TimestampTz),
        col("msgid", ColumnType::Text { max_chars: None }),
    ];
    let data = b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - x\n\
                 <34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - y\n\
                 <34>1 - h a - - - z\n";
    let (rows, rejects) = run(&f, Some(&cols), data);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(
        rows,
        [
            ["2003-08-24 12:14:15.000003Z", "NULL"],
            ["2003-10-11 22:14:15.003Z", "ID47"],
            ["NULL", "NULL"],
        ]
    );
}
