//! The csv crate (`csv::Reader`, `ByteRecord`, `position()`) as the oracle of
//! the scanner, the parser and the cutter: the records of an input from any
//! offset (first byte, end, fields), whether it ends inside a quoted field,
//! and from those and the rule of `scan.rs` the records a scan limited to
//! `max` bytes must report. Independent of the code under test but for
//! `skip_ignored`, which only says where a record's first byte is. Test code
//! only.
//!
//! Where the csv crate differs from ingestd on purpose, the oracle says so:
//! it counts lines by `\n` only (line numbers come from `line_table`), it
//! strips a BOM wherever its input starts (ingestd at a file's start only,
//! in the preamble),
//! its positions put the `\n` of a `\r\n` into the next record, and it reads
//! a comment line without `\n` at the very end as an empty record.

use crate::format::CsvFormat;
use crate::format::csv::dialect::skip_ignored;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// One record as the csv crate reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    /// The record's first byte (after blank and comment lines) and the end
    /// of its terminator (`\r\n` whole), as offsets of the whole input.
    pub first: usize,
    pub end: usize,
    pub fields: Vec<Vec<u8>>,
    /// The csv crate's line at the record's span start (`\n` bytes only).
    pub csv_line: u64,
    /// Where the record's span starts (after the previous record's end).
    pub span: usize,
}

/// The records of `data[from..]`, read as the middle of a stream (where a
/// BOM is data; at a file's start the preamble skips it: pass its end).
pub(crate) fn records(fmt: &CsvFormat, data: &[u8], from: usize) -> Vec<Rec> {
    // The csv crate strips a BOM at its input's start: give it one of its own.
    let input = [BOM, &data[from..]].concat();
    let at = |p: u64| (from + p as usize).saturating_sub(BOM.len()).max(from);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(fmt.delimiter)
        .quote(fmt.quote)
        .escape(fmt.escape)
        .double_quote(fmt.double_quote)
        .comment(fmt.comment)
        .from_reader(&input[..]);
    let mut rec = csv::ByteRecord::new();
    let mut out = Vec::new();
    while rdr
        .read_byte_record(&mut rec)
        .expect("byte records cannot fail")
    {
        let pos = rec.position().expect("the reader sets positions");
        let span = at(pos.byte());
        let first = skip_ignored(fmt, data, span);
        if first >= data.len() {
            // A comment line without '\n' at the end, read as an empty record.
            break;
        }
        let mut end = at(rdr.position().byte());
        if end > 0 && data[end - 1] == b'\r' && data.get(end) == Some(&b'\n') {
            end += 1;
        }
        out.push(Rec {
            first,
            end,
            fields: rec.iter().map(<[u8]>::to_vec).collect(),
            csv_line: pos.line(),
            span,
        });
    }
    out
}

/// Whether the csv crate, reading `data[from..]`, ends inside a quoted field:
/// a `\n` and a record appended do not end it but join its last field.
pub(crate) fn open_at_eof(fmt: &CsvFormat, data: &[u8], from: usize) -> bool {
    let probe = [data, b"\nZ\n"].concat();
    let recs = records(fmt, &probe, from);
    let last = recs.last().map(|r| (r.first, &r.fields[..]));
    last != Some((data.len() + 1, &[b"Z".to_vec()][..]))
}

/// What a record is for a scan with a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Record,
    /// A record within the limit whose quoted field never closes.
    Open,
    TooLarge,
}

/// Where scanning resumes after a record that passes the limit at `at`: just
/// past the first line end whose last byte is at `at` or later.
pub(crate) fn resync_point(data: &[u8], at: usize) -> Option<usize> {
    (at..data.len()).find_map(|i| match data[i] {
        b'\n' => Some(i + 1),
        b'\r' => Some(i + 1 + usize::from(data.get(i + 1) == Some(&b'\n'))),
        _ => None,
    })
}

/// The records (first byte, end, kind) a scan of `data[from..]` limited to
/// `max` bytes a record must report: the csv crate's, until one is longer
/// than `max`; that one is rejected up to the first line end at or past the
/// limit (or to the end), and the csv crate starts afresh there.
pub(crate) fn limited(
    fmt: &CsvFormat,
    data: &[u8],
    mut from: usize,
    max: usize,
) -> Vec<(usize, usize, Kind)> {
    let mut out = Vec::new();
    'fresh: loop {
        let recs = records(fmt, data, from);
        for (i, r) in recs.iter().enumerate() {
            if r.end - r.first > max {
                let end = resync_point(data, r.first + max).unwrap_or(data.len());
                out.push((r.first, end, Kind::TooLarge));
                if end == data.len() {
                    return out;
                }
                from = end;
                continue 'fresh;
            }
            let last = i + 1 == recs.len();
            let open = last && r.end == data.len() && open_at_eof(fmt, data, from);
            out.push((r.first, r.end, if open { Kind::Open } else { Kind::Record }));
        }
        return out;
    }
}

#[test]
fn the_oracle_reads_what_the_csv_crate_reads() {
    let fmt = CsvFormat {
        header: false,
        comment: Some(b'#'),
        ..CsvFormat::default()
    };
    let data = b"\xef\xbb\xbfa\r\n\r\n#c\n\"b\nc\",d\r\xef\xbb\xbfe\n#end";
    let recs = records(&fmt, data, 3);
    let got: Vec<(usize, usize, u64)> = recs.iter().map(|r| (r.first, r.end, r.csv_line)).collect();
    assert_eq!(got, [(3, 6, 1), (11, 19, 1), (19, 24, 5)]);
    assert_eq!(recs[1].fields, [b"b\nc".to_vec(), b"d".to_vec()]);
    // From an offset, a BOM is data.
    assert_eq!(
        records(&fmt, data, 19)[0].fields,
        [b"\xef\xbb\xbfe".to_vec()]
    );
    assert!(!open_at_eof(&fmt, data, 0));
    assert!(open_at_eof(&fmt, b"a\n\"b", 0));
    assert!(!open_at_eof(&fmt, b"a\n\"b\"", 0));
    let lim = limited(&fmt, b"a\n\"bcdef\ng\n\"h", 0, 4);
    let want = [
        (0, 2, Kind::Record),
        (2, 9, Kind::TooLarge),
        (9, 11, Kind::Record),
        (11, 13, Kind::Open),
    ];
    assert_eq!(lim, want);
}
