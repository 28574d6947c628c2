//! The start of a file: an optional UTF-8 BOM, `skip_lines` physical lines
//! (each ended by `\n`, `\r\n` or a lone `\r`, see `dialect.rs`), then (when
//! the dialect has one) the header record. Supervisor side; it gets
//! the first bytes of a file from its caller and opens nothing itself.

use super::CsvFormat;
use super::dialect::{EofRecord, RecordBuf, core_reader, count_lines, record_end, skip_ignored};
use crate::format::error::FormatError;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Past this many bytes an incomplete preamble is an error rather than a
/// request for more: a header with an unclosed quote would otherwise make the
/// caller read the whole file.
pub const MAX_PREAMBLE: usize = 1 << 20;

/// Where a file's data begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preamble {
    /// Byte offset where the first data record's span begins: just past the
    /// header (or the skipped lines, or the BOM). Blank or comment lines
    /// between the header and the first record belong to that span.
    pub data_start: u64,
    /// Physical line (1-based) at `data_start`.
    pub first_line: u64,
    /// The header's fields, trimmed; `None` without a header or in a file
    /// that ends before it.
    pub header: Option<Vec<String>>,
}

/// Reads the preamble from `head`, the first bytes of a file. `Ok(None)`: more
/// bytes are needed (only when not `at_eof`). An empty file is valid.
pub fn read_preamble(
    fmt: &CsvFormat,
    head: &[u8],
    at_eof: bool,
) -> Result<Option<Preamble>, FormatError> {
    let mut pos = 0;
    if head.starts_with(BOM) {
        pos = BOM.len();
    } else if !at_eof && head.len() < BOM.len() && BOM.starts_with(head) {
        return Ok(None);
    }
    for _ in 0..fmt.skip_lines {
        // A `\r` as the last byte read may be the first half of a `\r\n`.
        let line_end = memchr::memchr2(b'\r', b'\n', &head[pos..])
            .and_then(|k| record_end(head, pos + k + 1, at_eof));
        match line_end {
            Some(end) => pos = end,
            None if at_eof => pos = head.len(),
            None if head.len() >= MAX_PREAMBLE => {
                return Err(FormatError::SkipLines {
                    lines: fmt.skip_lines,
                    limit: MAX_PREAMBLE,
                });
            }
            None => return Ok(None),
        }
    }
    let done = |end: usize, header| {
        Ok(Some(Preamble {
            data_start: end as u64,
            first_line: 1 + count_lines(&head[..end], false),
            header,
        }))
    };
    if !fmt.header {
        return done(pos, None);
    }
    let line = 1 + count_lines(&head[..skip_ignored(fmt, head, pos)], false);
    let fail = |reason: &str| {
        Err(FormatError::Header {
            line,
            reason: reason.to_string(),
        })
    };
    let mut buf = RecordBuf::new(1024, 64);
    let mut rdr = core_reader(fmt);
    let mut i = pos;
    let end = loop {
        if i == head.len() {
            if !at_eof {
                if head.len() >= MAX_PREAMBLE {
                    return fail(&format!(
                        "not complete within the first {MAX_PREAMBLE} bytes"
                    ));
                }
                return Ok(None);
            }
            match buf.finish(&mut rdr) {
                EofRecord::Closed => break i,
                EofRecord::Open => return fail("a quoted field is never closed"),
                // Only blank or comment lines: an empty file.
                EofRecord::None => return done(head.len(), None),
            }
        }
        let (record, nin) = buf.read(&mut rdr, &head[i..]);
        i += nin;
        if record {
            match record_end(head, i, at_eof) {
                Some(end) => break end,
                None => return Ok(None),
            }
        }
    };
    let (out, ends) = buf.fields();
    let mut fields = Vec::with_capacity(ends.len());
    let mut start = 0;
    for (n, &stop) in ends.iter().enumerate() {
        match std::str::from_utf8(&out[start..stop]) {
            Ok(s) => fields.push(s.trim().to_string()),
            Err(_) => return fail(&format!("field {} is not valid UTF-8", n + 1)),
        }
        start = stop;
    }
    done(end, Some(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(header: bool, skip_lines: u32) -> CsvFormat {
        CsvFormat {
            header,
            skip_lines,
            ..CsvFormat::default()
        }
    }

    fn pre(start: u64, line: u64, header: Option<&[&str]>) -> Option<Preamble> {
        Some(Preamble {
            data_start: start,
            first_line: line,
            header: header.map(|h| h.iter().map(|s| s.to_string()).collect()),
        })
    }

    #[test]
    fn header_with_bom_and_trimming() {
        let head = b"\xef\xbb\xbf id , Name\r\n1,a\r\n";
        let got = read_preamble(&fmt(true, 0), head, false).unwrap();
        assert_eq!(got, pre(15, 2, Some(&["id", "Name"])));
    }

    #[test]
    fn bom_split_and_header_split_across_calls() {
        let f = fmt(true, 0);
        let whole = b"\xef\xbb\xbfa,\"b\nc\"\r\n1,2\n";
        // Every prefix that stops before the header's "\r\n" asks for more.
        for cut in 0..=11 {
            assert_eq!(
                read_preamble(&f, &whole[..cut], false).unwrap(),
                None,
                "{cut}"
            );
        }
        let want = pre(12, 3, Some(&["a", "b\nc"]));
        assert_eq!(read_preamble(&f, &whole[..12], false).unwrap(), want);
        assert_eq!(read_preamble(&f, whole, false).unwrap(), want);
        // At EOF a header ended by a lone '\r' is complete.
        assert_eq!(
            read_preamble(&f, &whole[..11], true).unwrap(),
            pre(11, 3, Some(&["a", "b\nc"]))
        );
    }

    #[test]
    fn skip_lines_then_header() {
        let f = fmt(true, 2);
        let head = b"report\n\"generated\n\nid,v\n1,2\n";
        // The quote on line 2 is not special: skipped lines are physical lines.
        assert_eq!(
            read_preamble(&f, head, false).unwrap(),
            pre(24, 5, Some(&["id", "v"]))
        );
        assert_eq!(read_preamble(&f, b"report\n", false).unwrap(), None);
        // CR-only and CRLF lines are lines too; a `\r` at the end waits for
        // the byte after it.
        for (head, start) in [
            (&b"r\rg\rid,v\r1,2\r"[..], 9),
            (b"r\r\ng\r\nid,v\r\n1,2\r\n", 12),
        ] {
            let want = pre(start, 4, Some(&["id", "v"]));
            assert_eq!(read_preamble(&f, head, false).unwrap(), want);
        }
        assert_eq!(
            read_preamble(&fmt(false, 1), b"skip\r", false).unwrap(),
            None
        );
        assert_eq!(
            read_preamble(&fmt(false, 1), b"skip\r", true).unwrap(),
            pre(5, 2, None)
        );
        assert_eq!(
            read_preamble(&fmt(false, 2), b"a\r\rb", false).unwrap(),
            pre(3, 3, None)
        );
        assert_eq!(
            read_preamble(&fmt(false, 1), b"skip me\n1,2\n", false).unwrap(),
            pre(8, 2, None)
        );
    }

    #[test]
    fn empty_files() {
        for f in [fmt(true, 0), fmt(false, 0), fmt(true, 3)] {
            assert_eq!(read_preamble(&f, b"", true).unwrap(), pre(0, 1, None));
        }
        assert_eq!(read_preamble(&fmt(true, 0), b"", false).unwrap(), None);
        assert_eq!(
            read_preamble(&fmt(true, 0), b"\xef\xbb\xbf\n\n", true).unwrap(),
            pre(5, 3, None)
        );
        assert_eq!(
            read_preamble(&fmt(true, 1), b"a\nb", true).unwrap(),
            pre(3, 2, Some(&["b"]))
        );
        assert_eq!(
            read_preamble(&fmt(false, 0), b"\xef\xbb", true).unwrap(),
            pre(0, 1, None)
        );
    }

    #[test]
    fn bad_headers() {
        let err = read_preamble(&fmt(true, 0), b"\n\"a,b\n", true).unwrap_err();
        assert_eq!(
            err,
            FormatError::Header {
                line: 2,
                reason: "a quoted field is never closed".into()
            }
        );
        let err = read_preamble(&fmt(true, 0), b"a,\xff\n", true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "header (line 1): field 2 is not valid UTF-8"
        );
        let big = vec![b'"'; MAX_PREAMBLE];
        assert!(read_preamble(&fmt(true, 0), &big, false).is_err());
        let big = vec![b'x'; MAX_PREAMBLE];
        assert!(matches!(
            read_preamble(&fmt(true, 1), &big, false),
            Err(FormatError::SkipLines { .. })
        ));
    }
}
