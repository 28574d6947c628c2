//! A JSON Lines file's preamble: BOM, skipped lines, and the first valid
//! object's keys, over heads cut anywhere.

use crate::format::Preamble;
use crate::format::csv::preamble::MAX_PREAMBLE;
use crate::format::jsonl::{JsonlFormat, read_preamble};

fn pre(start: u64, line: u64, header: Option<&[&str]>) -> Option<Preamble> {
    Some(Preamble {
        data_start: start,
        first_line: line,
        header: header.map(|h| h.iter().map(|s| s.to_string()).collect()),
    })
}

fn read(skip: u32, head: &[u8], eof: bool) -> Option<Preamble> {
    let fmt = JsonlFormat {
        skip_lines: skip,
        ..JsonlFormat::default()
    };
    read_preamble(&fmt, head, eof).unwrap()
}

#[test]
fn keys_of_the_first_valid_object() {
    let head = b"\xef\xbb\xbf\n{\"b\":1,\"a\":{\"z\":2}}\r\n{\"c\":1}\n";
    assert_eq!(read(0, head, false), pre(3, 1, Some(&["b", "a"])));
    // Lines before it that are not valid records are data, skipped here.
    let head = b"not json\n[1]\n{\"a\":1,\"a\":2}\n{\"k\":\"\\ud800\"}\n{\"x\":1}\n";
    assert_eq!(read(0, head, false), pre(0, 1, Some(&["x"])));
    // skip_lines first (a skipped line may be anything).
    assert_eq!(
        read(1, b"{\"skipped\":1}\n{\"y\":1}", true),
        pre(14, 2, Some(&["y"]))
    );
    // An object with no keys names none.
    assert_eq!(read(0, b"{}\n{\"a\":1}\n", true), pre(0, 1, Some(&[])));
}

#[test]
fn waits_for_a_whole_line() {
    let whole = b"{\"id\":1,\"name\":\"x\"}\n";
    for cut in 0..whole.len() {
        assert_eq!(read(0, &whole[..cut], false), None, "{cut}");
    }
    assert_eq!(read(0, whole, false), pre(0, 1, Some(&["id", "name"])));
    // At the end of the file the last line needs no `\n`.
    assert_eq!(
        read(0, &whole[..whole.len() - 1], true),
        pre(0, 1, Some(&["id", "name"]))
    );
    // Complete bad lines and a partial one: wait.
    assert_eq!(read(0, b"bad\n{\"a\"", false), None);
}

#[test]
fn no_object() {
    // Only blank lines: no record at all.
    assert_eq!(read(0, b"", true), pre(0, 1, None));
    assert_eq!(read(0, b" \n\t\r\n", true), pre(0, 1, None));
    assert_eq!(read(2, b"a\nb\n", true), pre(4, 3, None));
    // Lines, none a valid object: no keys.
    assert_eq!(read(0, b"[1]\nbad\n", true), pre(0, 1, Some(&[])));
    // Past the preamble limit, give up rather than read the whole file.
    let mut head = b"bad\n".repeat(MAX_PREAMBLE / 4);
    head.extend_from_slice(b"{\"late\":1");
    assert_eq!(read(0, &head, false), pre(0, 1, Some(&[])));
    let long = vec![b'x'; MAX_PREAMBLE];
    assert_eq!(read(0, &long, false), pre(0, 1, Some(&[])));
}
