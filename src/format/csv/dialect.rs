//! The CSV dialect as csv-core sees it, shared by the scanner (supervisor), the
//! preamble reader and the batch parser (worker) so that all three agree on
//! what a record is. Pure functions over bytes: no files, pipes or databases.
//!
//! What a record is (csv-core's rules, which everything here follows):
//! * `\r`, `\n` and `\r\n` each end a record outside quotes; `\r\n` is one
//!   terminator and both bytes belong to the record it ends.
//! * Outside a record, `\r`/`\n` bytes (blank lines) and lines starting with
//!   the comment byte are ignored; they belong to the span of the next record.
//! * A quote opens a quoted field only as a field's first byte; elsewhere in
//!   an unquoted field it is literal (`ab"c`), and after a closing quote the
//!   field goes on unquoted (`"ab"cd` is `abcd`).
//!
//! What a physical line is (ours, for the line numbers in reject notes; the
//! csv crate counts `\n` bytes only): a line ends at `\n`, at `\r\n` (one
//! end) or at a lone `\r`, inside quoted fields and comment lines too, so a
//! CR-only file numbers its lines like an LF or CRLF one. `count_lines` is
//! the one counter the scanner, the preamble and the parser use.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::CsvFormat;

/// A csv-core reader configured from `fmt`.
///
/// csv-core strips a UTF-8 BOM from the first bytes it is given. Batches start
/// mid-file, where those bytes are data, so the BOM is handled once by the
/// preamble and the reader is primed here: a call with an empty output buffer
/// marks it as having read without consuming or changing state.
pub(crate) fn core_reader(fmt: &CsvFormat) -> Reader {
    let mut rdr = ReaderBuilder::new()
        .delimiter(fmt.delimiter)
        .quote(fmt.quote)
        .escape(fmt.escape)
        .double_quote(fmt.double_quote)
        .comment(fmt.comment)
        .build();
    prime(&mut rdr);
    rdr
}

/// Marks a fresh (or reset) reader as having read, so it keeps a leading BOM.
pub(crate) fn prime(rdr: &mut Reader) {
    let _ = rdr.read_record(b"x", &mut [], &mut []);
}

/// What is pending in a csv-core reader when its input ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EofRecord {
    /// No record: nothing, blank lines or comment lines.
    None,
    /// A record that simply lacks its terminator; its fields are in the buffers.
    Closed,
    /// A record whose quoted field is still open.
    Open,
}

/// One record's unescaped field bytes as csv-core writes them, with buffers
/// that grow as needed, up to their bounds, and are reused from record to
/// record.
pub(crate) struct RecordBuf {
    out: Vec<u8>,
    ends: Vec<usize>,
    nout: usize,
    nend: usize,
    /// `out` grows to at most this many bytes: more than the input's, which
    /// no record's field bytes can pass.
    max_out: usize,
    /// `ends` keeps at most this many field ends; further ones are counted in
    /// `dropped` (the record then has more fields than anyone wants).
    max_fields: usize,
    dropped: usize,
}

impl RecordBuf {
    pub fn new(bytes: usize, fields: usize) -> Self {
        RecordBuf {
            out: vec![0; bytes.max(64)],
            ends: vec![0; fields.max(8)],
            nout: 0,
            nend: 0,
            max_out: usize::MAX,
            max_fields: usize::MAX,
            dropped: 0,
        }
    }

    /// Bounds the buffers: records of input no longer than `input` bytes,
    /// of which only those with at most `fields` fields are wanted whole.
    pub fn bounded(mut self, input: usize, fields: usize) -> Self {
        self.max_out = input.saturating_add(1);
        self.max_fields = fields.max(1);
        self.out.truncate(self.max_out);
        self.ends.truncate(self.max_fields);
        self
    }

    /// Feeds `input` (not empty) to `rdr` until a record ends (`true`) or
    /// the input is used up (`false`); returns that and the bytes consumed.
    pub fn read(&mut self, rdr: &mut Reader, input: &[u8]) -> (bool, usize) {
        let mut nin = 0;
        loop {
            let (res, i, o, e) = rdr.read_record(
                &input[nin..],
                &mut self.out[self.nout..],
                &mut self.ends[self.nend..],
            );
            (nin, self.nout, self.nend) = (nin + i, self.nout + o, self.nend + e);
            match res {
                // Always by one byte at least, so that csv-core goes on.
                ReadRecordResult::OutputFull => {
                    let len = self.out.len();
                    self.out.resize((len * 2).min(self.max_out).max(len + 1), 0);
                }
                ReadRecordResult::OutputEndsFull => self.room_for_ends(),
                ReadRecordResult::Record => return (true, nin),
                ReadRecordResult::InputEmpty | ReadRecordResult::End => return (false, nin),
            }
        }
    }

    /// `ends` is full: grows it, or past `max_fields` counts what it holds
    /// and starts over (those field ends are not wanted).
    fn room_for_ends(&mut self) {
        let len = self.ends.len();
        if len < self.max_fields {
            self.ends.resize((len * 2).min(self.max_fields), 0);
        } else {
            self.dropped += self.nend;
            self.nend = 0;
        }
    }

    /// Ends the input of `rdr`, all of whose bytes have been fed; a pending
    /// record's fields land in this buffer.
    ///
    /// csv-core's own end-of-input call cannot tell an open quote from a
    /// missing terminator, and its DFA turns a comment line without `\n` at
    /// EOF into an empty record (its NFA does not; probing a clone is no way
    /// out: in csv-core 0.1.13 `Dfa::clone` drops the byte classes). So a `\n`
    /// is fed first: outside quotes it ends the record (with the fields EOF
    /// would give) or the comment; inside quotes it is data, and then EOF
    /// still yields a record.
    pub fn finish(&mut self, rdr: &mut Reader) -> EofRecord {
        if self.read(rdr, b"\n").0 {
            return EofRecord::Closed;
        }
        loop {
            let (res, _, o, e) =
                rdr.read_record(b"", &mut self.out[self.nout..], &mut self.ends[self.nend..]);
            (self.nout, self.nend) = (self.nout + o, self.nend + e);
            match res {
                ReadRecordResult::OutputEndsFull => self.room_for_ends(),
                ReadRecordResult::Record => return EofRecord::Open,
                _ => return EofRecord::None,
            }
        }
    }

    /// The fields of the record read: their bytes, and where each one ends
    /// (whole only when `field_count` is at most the bound on fields).
    pub fn fields(&self) -> (&[u8], &[usize]) {
        (&self.out[..self.nout], &self.ends[..self.nend])
    }

    /// How many fields the record read has.
    pub fn field_count(&self) -> usize {
        self.dropped + self.nend
    }

    /// Makes room for the next record.
    pub fn clear(&mut self) {
        (self.nout, self.nend, self.dropped) = (0, 0, 0);
    }
}

/// Whether the memchr fast path of the scanner may be used: no escape byte,
/// no comments, and delimiter/quote distinct from each other and from the
/// terminators (other dialects take the csv-core path).
pub(crate) fn fast_eligible(fmt: &CsvFormat) -> bool {
    let special = |b: u8| b == b'\r' || b == b'\n';
    fmt.escape.is_none()
        && fmt.comment.is_none()
        && fmt.delimiter != fmt.quote
        && !special(fmt.delimiter)
        && !special(fmt.quote)
}

/// Skips what csv-core ignores between records (blank-line bytes and comment
/// lines) starting at `from`; returns the offset of the record's first byte.
pub(crate) fn skip_ignored(fmt: &CsvFormat, bytes: &[u8], mut from: usize) -> usize {
    while let Some(&b) = bytes.get(from) {
        if b == b'\r' || b == b'\n' {
            from += 1;
        } else if fmt.comment == Some(b) {
            // A comment runs to the next '\n' only (csv-core ignores '\r' there).
            from = match memchr::memchr(b'\n', &bytes[from..]) {
                Some(k) => from + k + 1,
                None => bytes.len(),
            };
        } else {
            break;
        }
    }
    from
}

/// Physical line ends in `bytes`: every `\r`, and every `\n` not right after
/// a `\r` (a `\r\n` counts once, at its `\r`). `cr_before`: the byte just
/// before `bytes` is a `\r`, so a leading `\n` ends no further line.
pub(crate) fn count_lines(bytes: &[u8], cr_before: bool) -> u64 {
    let mut n = 0;
    for i in memchr::memchr2_iter(b'\r', b'\n', bytes) {
        let joined = bytes[i] == b'\n'
            && if i == 0 {
                cr_before
            } else {
                bytes[i - 1] == b'\r'
            };
        n += u64::from(!joined);
    }
    n
}

/// Whether the byte before `bytes[i]` is a `\r` (none is before `bytes[0]`).
pub(crate) fn cr_at(bytes: &[u8], i: usize) -> bool {
    i > 0 && bytes[i - 1] == b'\r'
}

/// Where a record that csv-core just ended by consuming `bytes[..pos]` really
/// ends: a `\n` right after a terminating `\r` belongs to it. `None` when the
/// terminator is a `\r` at the end of `bytes` and more input may follow.
pub(crate) fn record_end(bytes: &[u8], pos: usize, at_eof: bool) -> Option<usize> {
    if pos == 0 || bytes[pos - 1] != b'\r' {
        return Some(pos);
    }
    match bytes.get(pos) {
        Some(b'\n') => Some(pos + 1),
        Some(_) => Some(pos),
        None if at_eof => Some(pos),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primed_reader_keeps_a_bom_as_data() {
        let mut rdr = core_reader(&CsvFormat::default());
        let mut out = [0u8; 16];
        let mut ends = [0usize; 4];
        let (res, nin, nout, nend) = rdr.read_record(b"\xef\xbb\xbfa\n", &mut out, &mut ends);
        assert_eq!((res, nin, nout, nend), (ReadRecordResult::Record, 5, 4, 1));
        assert_eq!(&out[..4], b"\xef\xbb\xbfa");
    }

    #[test]
    fn eof_records() {
        let fmt = CsvFormat {
            comment: Some(b'#'),
            escape: Some(b'\\'),
            ..CsvFormat::default()
        };
        for (data, want, fields) in [
            (&b"a,b"[..], EofRecord::Closed, &[&b"a"[..], b"b"][..]),
            (b"x\n\"a\"\"\"", EofRecord::Closed, &[b"a\""]),
            (b"a,", EofRecord::Closed, &[b"a", b""]),
            (b"a,\"b", EofRecord::Open, &[]),
            (b"a,\"b\\", EofRecord::Open, &[]),
            (b"#c", EofRecord::None, &[]),
            (b"a\n#c", EofRecord::None, &[]),
            (b"a\r", EofRecord::None, &[]),
            (b"", EofRecord::None, &[]),
        ] {
            let mut rdr = core_reader(&fmt);
            let mut buf = RecordBuf::new(1, 1);
            let mut pos = 0;
            while pos < data.len() {
                let (record, nin) = buf.read(&mut rdr, &data[pos..]);
                pos += nin;
                if record {
                    buf.clear();
                }
            }
            let got = buf.finish(&mut rdr);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(data));
            if want == EofRecord::Closed {
                let (out, ends) = buf.fields();
                let mut start = 0;
                let split: Vec<&[u8]> = ends
                    .iter()
                    .map(|&e| &out[std::mem::replace(&mut start, e)..e])
                    .collect();
                assert_eq!(split, fields);
            }
        }
    }

    #[test]
    fn bounded_buffers_count_fields_they_do_not_keep() {
        let fmt = CsvFormat::default();
        let data = [&[b','; 100_000][..], b"x\n"].concat();
        let mut rdr = core_reader(&fmt);
        let mut buf = RecordBuf::new(64, 3).bounded(data.len(), 3);
        assert_eq!(buf.read(&mut rdr, &data), (true, data.len()));
        assert_eq!(buf.field_count(), 100_001);
        assert!(buf.ends.len() <= 3, "{}", buf.ends.len());
        buf.clear();
        assert_eq!(buf.read(&mut rdr, b"a,\"b\"\"c\"\n"), (true, 9));
        assert_eq!(buf.field_count(), 2);
        assert_eq!(buf.fields(), (&b"ab\"c"[..], &[1, 4][..]));
        // Field bytes never pass the input's length, whatever the record.
        let long = [&[b'y'; 10_000][..], b"\n"].concat();
        let mut buf = RecordBuf::new(64, 3).bounded(long.len(), 3);
        buf.read(&mut core_reader(&fmt), &long);
        assert!(buf.out.len() <= long.len() + 1, "{}", buf.out.len());
    }

    #[test]
    fn skip_ignored_follows_csv_core() {
        let mut fmt = CsvFormat {
            comment: Some(b'#'),
            ..CsvFormat::default()
        };
        assert_eq!(skip_ignored(&fmt, b"\r\n\n#x\r,y\nab", 0), 9);
        assert_eq!(skip_ignored(&fmt, b"#x", 0), 2);
        fmt.comment = None;
        assert_eq!(skip_ignored(&fmt, b"\n#x", 0), 1);
    }

    #[test]
    fn line_ends_are_lf_crlf_and_lone_cr() {
        for (bytes, cr_before, want) in [
            (&b""[..], false, 0),
            (b"a\nb\n", false, 2),
            (b"a\r\nb\r\n", false, 2),
            (b"a\rb\r", false, 2),
            (b"\r\r\n\n\r", false, 4),
            (b"\n\r\n", false, 2),
            // A `\r` just before the slice: its `\n` is the same line end.
            (b"\na", true, 0),
            (b"\ra", true, 1),
        ] {
            let got = count_lines(bytes, cr_before);
            assert_eq!(
                got,
                want,
                "{:?} {cr_before}",
                String::from_utf8_lossy(bytes)
            );
        }
        // Counting in two parts gives the same as counting the whole.
        let whole = b"x\r\ny\r\rz\n\r\n";
        for cut in 0..=whole.len() {
            let (a, b) = whole.split_at(cut);
            let parts = count_lines(a, false) + count_lines(b, cr_at(whole, cut));
            assert_eq!(parts, count_lines(whole, false), "cut {cut}");
        }
    }

    #[test]
    fn record_end_takes_the_lf_of_a_crlf() {
        assert_eq!(record_end(b"a\r\nb", 2, false), Some(3));
        assert_eq!(record_end(b"a\rb", 2, false), Some(2));
        assert_eq!(record_end(b"a\r", 2, false), None);
        assert_eq!(record_end(b"a\r", 2, true), Some(2));
        assert_eq!(record_end(b"a\nb", 2, false), Some(2));
    }
}
