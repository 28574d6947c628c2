//! A followed file's identity: the hash of its first lines.
//!
//! A growing file cannot be named by a hash of its content (the content is
//! not finished), and its inode is reused by the next file the filesystem
//! creates. Its first `lines` complete lines (at most `max` bytes: a longer
//! first line counts as its first `max` bytes) are written once and never
//! change while the file is appended to, renamed, or compressed by a log
//! rotator; a file truncated in place and written again gets new first
//! lines, so it is a new file; a copy (`copytruncate`'s) keeps them, so it is
//! the file it was copied from. The key is known as soon as those lines are
//! complete, and is the same after a restart, whatever happened to the file
//! meanwhile. Two files that begin with the same lines are one file to this
//! rule: `lines` is raised for files that begin with a fixed banner. A
//! header (CSV) is part of the bytes hashed and the lines are counted after
//! it. Works on the bytes the caller read; opens nothing.

/// The ledger key prefix of followed files.
pub const PREFIX: &str = "tail:";

/// A file's identity, once its first lines are complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// The ledger key: `tail:` and the hash in hex.
    pub key: String,
    /// How many bytes the hash covers.
    pub len: u64,
}

/// The identity of a file whose first bytes are `head`: its bytes up to the
/// end of the `lines`-th line after `data_start` (the header, if any, is
/// part of it), at most `max` bytes past `data_start`. `None` while those
/// lines are not complete, unless the file is `complete` (it will not grow):
/// then what there is.
pub fn identify(
    head: &[u8],
    data_start: usize,
    lines: u32,
    max: usize,
    complete: bool,
) -> Option<Fingerprint> {
    let cap = head.len().min(data_start.saturating_add(max));
    let mut seen = 0;
    for k in memchr::memchr_iter(b'\n', &head[data_start.min(cap)..cap]) {
        seen += 1;
        if seen >= lines.max(1) {
            return Some(key(&head[..data_start + k + 1]));
        }
    }
    (complete || cap == data_start.saturating_add(max)).then(|| key(&head[..cap]))
}

fn key(bytes: &[u8]) -> Fingerprint {
    Fingerprint {
        key: format!("{PREFIX}{}", blake3::hash(bytes).to_hex()),
        len: bytes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(data: &[u8], lines: u32, max: usize) -> Option<Fingerprint> {
        identify(data, 0, lines, max, false)
    }

    #[test]
    fn a_long_first_line_counts_as_its_first_max_bytes() {
        let long = vec![b'x'; 5000];
        let got = fp(&long, 1, 1024).unwrap();
        assert_eq!(got.len, 1024);
        let mut longer = long.clone();
        longer.extend_from_slice(b"\nnext\n");
        assert_eq!(fp(&longer, 1, 1024), Some(got));
        // A header is part of it; the lines counted follow it.
        let csv = b"id,name\n1,a\n2,b\n";
        let one = identify(csv, 8, 1, 1024, false).unwrap();
        assert_eq!(one.len, 12);
        assert_ne!(identify(b"id,name\n9,z\n", 8, 1, 1024, false), Some(one));
        // A file that will not grow is what it holds.
        assert_eq!(identify(b"id,name\n1,a", 8, 1, 1024, false), None);
        assert_eq!(identify(b"id,name\n1,a", 8, 1, 1024, true).unwrap().len, 11);
    }
}
