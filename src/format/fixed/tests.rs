//! `FixedFormat` over batches: positions, trimming, short lines rejected or
//! padded, characters split by a position, the layout. Test code only.

use super::*;
use crate::format::{Cell, ColumnType};

fn col(name: &str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        ty,
        ..ColumnSpec::text(name)
    }
}

fn pos(s: &str) -> Option<Position> {
    Some(Position::parse(s, 1000).unwrap())
}

fn run(
    f: &FixedFormat,
    cols: &[ColumnSpec],
    data: &[u8],
) -> (Vec<Vec<String>>, Vec<(u64, String)>) {
    let l = layout(f, Some(cols)).unwrap();
    let p = parse_batch(f, &l, 0, 1, data);
    assert_eq!(p.records, (p.rows.len() + p.rejects.len()) as u64);
    let rows = (0..p.rows.len())
        .map(|i| {
            (p.rows.row(i).iter())
                .map(|c| match *c {
                    Cell::Text { start, len } => {
                        format!("[{}]", &p.rows.text[start as usize..][..len as usize])
                    }
                    Cell::Null => "NULL".into(),
                    Cell::Int(v) => v.to_string(),
                    ref c => format!("{c:?}"),
                })
                .collect()
        })
        .collect();
    let rejects = (p.rejects.iter())
        .map(|r| (r.line, format!("{} {}", r.code, r.reason)))
        .collect();
    (rows, rejects)
}

fn text(name: &str) -> ColumnSpec {
    col(name, ColumnType::Text { max_chars: None })
}

#[test]
fn positions_parse_as_sql_loader_writes_them() {
    assert_eq!(
        pos("1:10"),
        Some(Position {
            start: 0,
            end: Some(10)
        })
    );
    assert_eq!(
        pos(" 3 - 3 "),
        Some(Position {
            start: 2,
            end: Some(3)
        })
    );
    assert_eq!(
        pos("11:*"),
        Some(Position {
            start: 10,
            end: None
        })
    );
    let err = |s: &str| Position::parse(s, 100).unwrap_err();
    assert!(
        err("0:5").contains("the start 0 is outside 1..=100"),
        "{}",
        err("0:5")
    );
    assert!(err("5:101").contains("the end 101 is outside 1..=100"));
    assert!(err("9:3").contains("the end 3 is before the start 9"));
    for bad in ["5", "a:b", "1:", ":3", "1:2:3", "*:4"] {
        assert!(
            err(bad).contains("expected \"start:end\""),
            "{bad}: {}",
            err(bad)
        );
    }
}

#[test]
fn columns_take_their_bytes_trimmed() {
    let mut f = FixedFormat {
        positions: vec![pos("1:5"), pos("6:10"), pos("11:*"), pos("3:7")],
        ..FixedFormat::default()
    };
    let cols = [
        col("id", ColumnType::Int),
        text("name"),
        text("rest"),
        text("overlap"),
    ];
    let data = b"   42Ann   tail  \r\n\n00007Bo   \n         x\n  x42Ann  \n";
    let (rows, rejects) = run(&f, &cols, data);
    assert_eq!(
        rows,
        [
            ["42", "[Ann]", "[tail]", "[42An]"],
            ["7", "[Bo]", "NULL", "[007Bo]"],
            ["NULL", "[x]", "NULL", "NULL"],
        ]
    );
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].1.starts_with("bad_int"), "{rejects:?}");
    assert_eq!(rejects[0].0, 5);
    let line = b"   42Ann   tail  \n";
    let texts = [text("a"), text("b"), text("c"), text("d")];
    for (trim, want) in [
        (Trim::None, ["[   42]", "[Ann  ]", "[ tail  ]", "[ 42An]"]),
        (Trim::Left, ["[42]", "[Ann  ]", "[tail  ]", "[42An]"]),
        (Trim::Right, ["[   42]", "[Ann]", "[ tail]", "[ 42An]"]),
    ] {
        f.trim = trim;
        let (rows, _) = run(&f, &texts, line);
        assert_eq!(rows, [want], "{trim:?}");
    }
}

#[test]
fn short_lines_are_rejected_or_padded() {
    let mut f = FixedFormat {
        positions: vec![pos("1:3"), pos("4:8")],
        ..FixedFormat::default()
    };
    let cols = [text("a"), text("b")];
    let data = b"abcdefgh\nabcde\nab\n";
    let (rows, rejects) = run(&f, &cols, data);
    assert_eq!(rows, [["[abc]", "[defgh]"]]);
    assert_eq!(
        rejects,
        [
            (2, "short_line the line is 5 bytes long; the layout reads 8 (pad_short = true reads a short line as if padded with spaces)".into()),
            (3, "short_line the line is 2 bytes long; the layout reads 8 (pad_short = true reads a short line as if padded with spaces)".into()),
        ]
    );
    f.pad_short = true;
    let (rows, _) = run(&f, &cols, data);
    assert_eq!(
        rows,
        [["[abc]", "[defgh]"], ["[abc]", "[de]"], ["[ab]", "NULL"]]
    );
    f.trim = Trim::None;
    let (rows, _) = run(&f, &cols, b"ab\n");
    assert_eq!(rows, [["[ab ]", "[     ]"]]);
}

#[test]
fn a_position_inside_a_character_is_rejected() {
    let f = FixedFormat {
        positions: vec![pos("1:2"), pos("3:4")],
        ..FixedFormat::default()
    };
    let cols = [text("a"), text("b")];
    // "é" is 2 bytes: "xé" fills 1:3, so 1:2 ends inside it.
    let (rows, rejects) = run(&f, &cols, "éxyz\nxéy\n".as_bytes());
    assert_eq!(rows, [["[é]", "[xy]"]]);
    assert_eq!(
        rejects,
        [(2, "split_character a: position 1:2 cuts a multi-byte UTF-8 character at byte 3 (positions count bytes)".into())]
    );
}

#[test]
fn layout_needs_positions() {
    let f = FixedFormat {
        positions: vec![pos("1:2"), None],
        ..FixedFormat::default()
    };
    let e = layout(&f, Some(&[text("a"), text("b")])).unwrap_err();
    assert_eq!(e, LayoutError::NoPosition { column: "b".into() });
    let c = ColumnSpec {
        constant: Some("k".into()),
        ..text("b")
    };
    let l = layout(&f, Some(&[text("a"), c])).unwrap();
    assert_eq!(
        l.fields,
        [Field::Span { start: 0, end: 2 }, Field::Constant]
    );
    assert_eq!(layout(&f, None).unwrap_err(), LayoutError::NoColumns);
}

#[test]
fn a_column_s_own_trim_replaces_the_format_s() {
    let f = FixedFormat {
        positions: vec![pos("1:4"), pos("5:8")],
        trims: vec![None, Some(Trim::None)],
        ..FixedFormat::default()
    };
    let (rows, _) = run(&f, &[text("a"), text("b")], b" ab  c  \n");
    assert_eq!(rows, [["[ab]", "[ c  ]"]]);
}
