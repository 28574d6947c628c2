//! Every reject code with its exact physical line, offset and length, behind
//! records with embedded newlines; rows keep their origins; nothing panics.

use super::{Rng, dialects, line_table, orders_layout};
use crate::format::{
    Cell, ColumnSpec, ColumnType, CsvFormat, Field, Layout, RecordScanner, parse_batch,
};

fn layout() -> Layout {
    let col = |name: &str, ty| ColumnSpec {
        ty,
        nullable: name != "id",
        ..ColumnSpec::text(name)
    };
    let cols = vec![
        col("id", ColumnType::BigInt),
        col("qty", ColumnType::Int),
        col(
            "price",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
        ),
        col("ratio", ColumnType::Float),
        col("name", ColumnType::Text { max_chars: None }),
        col("code", ColumnType::Text { max_chars: Some(3) }),
        col("flag", ColumnType::Bool),
        col("day", ColumnType::Date),
        col("at", ColumnType::Timestamp),
    ];
    // The file's fields are in another order than the columns: `at` first.
    let mut fields: Vec<Field> = (1..=8).map(Field::At).collect();
    fields.push(Field::At(0));
    Layout {
        columns: cols,
        fields,
        field_count: 9,
    }
}

const GOOD: [&[u8]; 9] = [
    b"2024-01-31 10:00:00",
    b"1",
    b"2",
    b"3.50",
    b"1.5",
    b"\"multi\nline, \"\"name\"\"\n\"",
    b"abc",
    b"true",
    b"2024-01-31",
];

/// (field index, value, code, column) of one bad record each.
type Bad = (usize, &'static [u8], &'static str, Option<&'static str>);
const BAD: &[Bad] = &[
    (99, b"", "field_count", None),
    (1, b"x", "bad_bigint", Some("id")),
    (1, b"99999999999999999999", "out_of_range", Some("id")),
    (1, b"", "not_null", Some("id")),
    (2, b"1.0", "bad_int", Some("qty")),
    (2, b"2147483648", "out_of_range", Some("qty")),
    (3, b"N/A", "bad_decimal", Some("price")),
    (3, b"1.234", "too_many_decimals", Some("price")),
    (3, b"12345678901.00", "decimal_overflow", Some("price")),
    (4, b"abc", "bad_float", Some("ratio")),
    (5, b"\"bad \xff\nutf8\"", "bad_utf8", Some("name")),
    (6, b"ABCD", "too_long", Some("code")),
    (7, b"maybe", "bad_bool", Some("flag")),
    (8, b"2024-02-30", "bad_date", Some("day")),
    (0, b"2024-01-31T10:00:00Z", "bad_timestamp", Some("at")),
];

/// (offset, len, line, code, column) of an expected reject.
type Want<'a> = (u64, u64, u64, &'a str, Option<&'a str>);

/// A file alternating good records (with embedded newlines, then a blank
/// line) and bad ones, ending with an unterminated quote.
fn file(eol: &str) -> (Vec<u8>, Vec<Want<'static>>) {
    let (mut data, mut want) = (Vec::new(), Vec::new());
    let record = |fields: &[&[u8]]| [fields.join(&b","[..]), eol.as_bytes().to_vec()].concat();
    for &(field, value, code, column) in BAD {
        data.extend(record(&GOOD));
        data.extend(eol.as_bytes());
        let mut fields = GOOD.to_vec();
        if field == 99 {
            fields.pop();
        } else {
            fields[field] = value;
        }
        let (start, rec) = (data.len(), record(&fields));
        want.push((
            start as u64,
            rec.len() as u64,
            line_table(&data)[start],
            code,
            column,
        ));
        data.extend(rec);
    }
    let tail = b"2024-01-31,1,2,\"never closed\n,x";
    want.push((
        data.len() as u64,
        tail.len() as u64,
        line_table(&data)[data.len()],
        "unterminated_quote",
        None,
    ));
    data.extend(tail);
    (data, want)
}

#[test]
fn every_code_with_its_line() {
    for eol in ["\n", "\r\n", "\r"] {
        let (data, want) = file(eol);
        // Parsed as one batch from offset 1000 at line 40 (as if mid-file).
        let p = parse_batch(&CsvFormat::default(), &layout(), 1000, 40, &data);
        let got: Vec<Want> = p
            .rejects
            .iter()
            .map(|r| {
                assert_eq!(r.records, 1);
                (
                    r.offset - 1000,
                    r.len,
                    r.line - 39,
                    r.code.as_str(),
                    r.column.as_deref(),
                )
            })
            .collect();
        assert_eq!(got, want, "eol {eol:?}");
        assert_eq!(p.rows.len(), BAD.len());
        assert_eq!(p.records as usize, 2 * BAD.len() + 1);
        // Good rows: origins point at the record itself, after the blank line.
        let o = p.rows.origins[1];
        assert_eq!(o.line, 40 + 7);
        assert_eq!(&data[(o.offset - 1000) as usize..][..4], b"2024");
        // The scanner counts the same records.
        let mut ends = vec![];
        let mut sc = RecordScanner::new(&CsvFormat::default());
        sc.scan(&data, &mut ends);
        assert_eq!(ends.len(), 2 * BAD.len());
    }
}

#[test]
fn reasons_name_the_column_and_quote_the_value() {
    let (data, _) = file("\n");
    let p = parse_batch(&CsvFormat::default(), &layout(), 0, 1, &data);
    let reason = |code: &str| {
        p.rejects
            .iter()
            .find(|r| r.code == code)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(reason("field_count"), "expected 9 fields, found 8");
    assert_eq!(
        reason("bad_decimal"),
        "price: \"N/A\" is not a decimal(12,2)"
    );
    assert_eq!(
        reason("not_null"),
        "id: \"\" means NULL, and the column is NOT NULL"
    );
    assert_eq!(
        reason("bad_utf8"),
        "name: \"bad \u{fffd}\\nutf8\" is not valid UTF-8"
    );
    assert!(
        reason("bad_timestamp").starts_with("at: \"2024-01-31T10:00:00Z\" has a time zone offset")
    );
}

#[test]
fn rows_hold_typed_cells() {
    let (data, _) = file("\n");
    let p = parse_batch(&CsvFormat::default(), &layout(), 0, 1, &data);
    let row = p.rows.row(0);
    assert_eq!(row[0], Cell::Int(1));
    assert_eq!(
        row[2],
        Cell::Decimal {
            mantissa: 350,
            scale: 2
        }
    );
    let Cell::Text { start, len } = row[4] else {
        panic!("{:?}", row[4])
    };
    assert_eq!(p.rows.text_of(start, len), "multi\nline, \"name\"\n");
    assert_eq!(
        p.rows.origins[0].len as usize,
        GOOD.join(&b","[..]).len() + 1
    );
}

#[test]
fn trim_and_custom_null() {
    let fmt = CsvFormat {
        trim: true,
        null: "\\N".into(),
        ..CsvFormat::default()
    };
    let mut l = layout();
    l.columns[4].nullable = true;
    let data = b" 2024-01-31 10:00 , 7 , 8 , 1.5 , 2 ,\\N, ab ,yes,2024-01-31\n";
    let p = parse_batch(&fmt, &l, 0, 1, data);
    assert!(p.rejects.is_empty(), "{:?}", p.rejects);
    assert_eq!(p.rows.row(0)[4], Cell::Null);
    let p = parse_batch(&CsvFormat::default(), &l, 0, 1, data);
    assert_eq!(p.rejects[0].code, "bad_bigint");
}

#[test]
fn a_record_of_many_fields_is_counted_not_kept() {
    let data = [&[b','; 200_000][..], b"\n1,2\n"].concat();
    let l = super::uniform(2, ColumnType::Int);
    let p = parse_batch(&CsvFormat::default(), &l, 0, 1, &data);
    assert_eq!(p.rejects.len(), 1);
    assert_eq!(p.rejects[0].reason, "expected 2 fields, found 200001");
    assert_eq!((p.rows.len(), p.rows.origins[0].line), (1, 2));
}

#[test]
fn empty_and_blank_batches() {
    for data in [&b""[..], b"\n\r\n\n"] {
        let p = parse_batch(&CsvFormat::default(), &layout(), 0, 1, data);
        assert_eq!((p.records, p.rows.len(), p.rejects.len()), (0, 0, 0));
    }
}

#[test]
fn no_panic_on_random_input() {
    let alphabet = b"0123456789-+.:,T Z\"\n\r#\\;'aeE\xff\xef\xbb\xbf";
    let mut rng = Rng::new(99);
    let layouts = [
        layout(),
        orders_layout(),
        super::uniform(
            2,
            ColumnType::Decimal {
                precision: 40,
                scale: 3,
            },
        ),
    ];
    for fmt in dialects() {
        for l in &layouts {
            for _ in 0..1500 {
                let data = rng.bytes(alphabet, 60);
                let p = parse_batch(&fmt, l, 5, 3, &data);
                assert_eq!(p.records as usize, p.rows.len() + p.rejects.len());
                assert_eq!(p.rows.cells.len(), p.rows.len() * l.columns.len());
                let _ = crate::format::read_preamble(
                    &CsvFormat {
                        header: true,
                        skip_lines: 1,
                        ..fmt.clone()
                    },
                    &data,
                    rng.below(2) == 0,
                );
            }
        }
    }
}

#[test]
fn a_broken_layout_rejects_instead_of_panicking() {
    let mut l = super::uniform(2, ColumnType::Int);
    l.fields = vec![Field::At(0)];
    let p = parse_batch(&CsvFormat::default(), &l, 0, 1, b"1,2\n");
    assert_eq!(
        (p.rows.len(), p.rejects[0].code.as_str()),
        (0, "field_count")
    );
    l.fields = vec![Field::At(0), Field::At(7)];
    let p = parse_batch(&CsvFormat::default(), &l, 0, 1, b"1,2\n");
    assert_eq!(
        (p.rows.len(), p.rejects.len(), p.rows.cells.len()),
        (0, 1, 0)
    );
}
