//! Line formats in the configuration: a regex format by pattern or by name
//! with its continue pattern, a fixed-width format with its positions, and
//! where each error points (file:line:column and key). Test code only.

use super::Fixture;
use crate::format::fixed::{Position, Trim};
use crate::format::regex::Matcher;
use crate::format::{Field, Format};

const HEAD: &str = r#"[sinks.local]
kind = "sqlite"
path = "out.db"

[jobs.j.source]
kind = "dir"
path = "landing"

[jobs.j]
sink = "local"
"#;

#[test]
fn a_regex_format_by_name_or_pattern() {
    let f = Fixture::new();
    let c = f.ok(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"regex\"\nnamed = \"syslog_rfc3164\"\ncontinue = '^\\s'\nskip_lines = 2\n"
    ));
    let Format::Regex(r) = &c.jobs["j"].format else {
        panic!("{:?}", c.jobs["j"].format)
    };
    assert!(matches!(&r.matcher, Matcher::Pattern { named: Some(n), .. } if n == "syslog_rfc3164"));
    assert_eq!((r.continuation.as_deref(), r.skip_lines), (Some("^\\s"), 2));
    assert!(r.continue_regex().is_some());
    // Without columns, the groups are the columns.
    let l = c.jobs["j"].format.layout(None, None).unwrap();
    assert_eq!(l.columns[0].name, "pri");
    let c = f.ok(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"regex\"\npattern = '(?P<a>\\d+) (?P<b>.*)'\n\n\
         [[jobs.j.columns]]\nname = \"B\"\ntype = \"text\"\n"
    ));
    let l = c.jobs["j"]
        .format
        .layout(c.jobs["j"].columns.as_deref(), None)
        .unwrap();
    assert_eq!(l.fields, [Field::At(2)]);
}

#[test]
fn a_fixed_format_takes_positions_from_its_columns() {
    let f = Fixture::new();
    let c = f.ok(&format!(
        "{HEAD}max_record_bytes = \"1KiB\"\n\n[jobs.j.format]\nkind = \"fixed\"\ntrim = \"right\"\npad_short = true\n\n\
         [[jobs.j.columns]]\nname = \"a\"\ntype = \"int\"\nposition = \"1:4\"\n\
         [[jobs.j.columns]]\nname = \"k\"\ntype = \"text\"\nconstant = \"x\"\n\
         [[jobs.j.columns]]\nname = \"b\"\ntype = \"text\"\nposition = \"5-*\"\ntrim = false\n"
    ));
    let Format::Fixed(x) = &c.jobs["j"].format else {
        panic!("{:?}", c.jobs["j"].format)
    };
    assert_eq!((x.trim, x.pad_short), (Trim::Right, true));
    assert_eq!(x.trims, [None, None, Some(Trim::None)]);
    assert_eq!(
        x.positions,
        [
            Some(Position {
                start: 0,
                end: Some(4)
            }),
            None,
            Some(Position {
                start: 4,
                end: None
            })
        ]
    );
    // Past max_record_bytes (1 KiB here): the position's own place.
    let e = f.err(&format!(
        "{HEAD}max_record_bytes = \"1KiB\"\n\n[jobs.j.format]\nkind = \"fixed\"\n\n\
         [[jobs.j.columns]]\nname = \"a\"\ntype = \"int\"\nposition = \"1:1025\"\n"
    ));
    assert!(
        e.starts_with(":19:12: jobs.j.columns[0].position: position \"1:1025\": the end 1025 is outside 1..=1024"),
        "{e}"
    );
}

#[test]
fn keys_of_other_kinds_and_bad_patterns_point_at_themselves() {
    let f = Fixture::new();
    let e = f.err(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"fixed\"\nquote = \"'\"\n"
    ));
    assert!(
        e.starts_with(":14:9: jobs.j.format.quote: `quote` does not apply to kind = \"fixed\""),
        "{e}"
    );
    let e = f.err(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"regex\"\npattern = '(?P<a>[a-'\n"
    ));
    assert!(
        e.starts_with(":14:11: jobs.j.format.pattern: the pattern does not compile"),
        "{e}"
    );
    let e = f.err(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"regex\"\npattern = '(a)'\n"
    ));
    assert!(e.contains("the pattern has no named group"), "{e}");
    let e = f.err(&format!(
        "{HEAD}\n[jobs.j.format]\nkind = \"csv\"\ntrim = \"both\"\n"
    ));
    assert!(
        e.contains("jobs.j.format.trim: invalid trim \"both\": a CSV format takes true or false"),
        "{e}"
    );
    let e = f.err(&format!(
        "{HEAD}\n[[jobs.j.columns]]\nname = \"a\"\ntype = \"text\"\ntrim = \"left\"\n"
    ));
    assert!(
        e.contains("jobs.j.columns[0].trim: a column's `trim` only applies to kind = \"fixed\""),
        "{e}"
    );
    let e = f.err(&format!("{HEAD}\n[jobs.j.format]\nkind = \"regex\"\n"));
    assert!(e.contains("kind = \"regex\" needs `pattern`"), "{e}");
}
