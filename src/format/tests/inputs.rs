//! Inputs for the property tests (proptest): bytes built from what matters to
//! record boundaries (fields, quoted fields holding delimiters, quotes and
//! line ends, `\n`/`\r\n`/`\r` in any mixture, BOMs, long fields, stray
//! quotes, escapes, blank and comment lines, any byte), then mutated (a byte
//! changed, inserted or removed), with the cuts that chunk them. Failures
//! shrink to few pieces. Test code only.
//!
//! Cases per property: proptest's default (256), or `PROPTEST_CASES=N` to
//! run longer, e.g. `PROPTEST_CASES=20000 cargo test --lib tests::prop_`.

use proptest::prelude::*;
use proptest::sample::{Index, select};

fn piece() -> impl Strategy<Value = Vec<u8>> {
    let plain = prop::collection::vec(select(b"abz 09".to_vec()), 0..6);
    let quoted_body = prop::collection::vec(select(b"ab,;\"'\\#\n\r ".to_vec()), 0..10);
    let comment = prop::collection::vec(select(b"ab ,\"\r".to_vec()), 0..8);
    prop_oneof![
        4 => plain,
        // The dialects' delimiters, quotes, escape and comment byte.
        3 => select(b",;\"'\\#".to_vec()).prop_map(|b| vec![b]),
        3 => select(vec![&b"\n"[..], b"\r\n", b"\r"]).prop_map(<[u8]>::to_vec),
        2 => (select(b"\"'".to_vec()), quoted_body)
            .prop_map(|(q, body)| [&[q][..], &body, &[q]].concat()),
        1 => Just(b"\xef\xbb\xbf".to_vec()),
        // Long fields, long runs of delimiters or of quotes.
        1 => (1..300usize, select(b"x,\"".to_vec())).prop_map(|(n, b)| vec![b; n]),
        1 => select(vec![&b"\n\n"[..], b"\r\n\r\n", b"\r\r", b"\n\r"]).prop_map(<[u8]>::to_vec),
        1 => comment.prop_map(|c| [&b"#"[..], &c, b"\n"].concat()),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ]
}

/// The bytes of one input.
pub(crate) fn input() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(piece(), 0..40);
    let edits = prop::collection::vec((any::<Index>(), 0..3u8, any::<u8>()), 0..4);
    (pieces, edits).prop_map(|(pieces, edits)| {
        let mut data = pieces.concat();
        for (at, op, b) in edits {
            let i = at.index(data.len() + 1);
            match op {
                0 if i < data.len() => data[i] = b,
                1 => data.insert(i, b),
                2 if i < data.len() => {
                    data.remove(i);
                }
                _ => {}
            }
        }
        data
    })
}

/// Where to cut an input into chunks (see `positions`).
pub(crate) fn cuts() -> impl Strategy<Value = Vec<Index>> {
    prop::collection::vec(any::<Index>(), 0..8)
}

/// The cuts as sorted offsets of an input of `len` bytes.
pub(crate) fn positions(cuts: &[Index], len: usize) -> Vec<usize> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(len + 1)).collect();
    at.sort();
    at
}
