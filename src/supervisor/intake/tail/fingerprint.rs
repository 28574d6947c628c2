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
//! rule: `lines` is raised for files that begin with a fixed banner or header.
//! Reads through the caller's reader; opens nothing.

use std::io::{self, Read};

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

/// Reads `reader` from the file's first byte until its first `lines` lines
/// are complete (or `max` bytes are read); `None` while they are not there
/// yet (the file is shorter, or ends inside them).
pub fn fingerprint(
    reader: &mut dyn Read,
    lines: u32,
    max: usize,
) -> io::Result<Option<Fingerprint>> {
    let mut head = Vec::with_capacity(max.min(64 * 1024));
    let mut buf = [0u8; 8192];
    let mut seen = 0u32;
    let mut scanned = 0;
    loop {
        if let Some(end) = lines_end(&head, &mut scanned, &mut seen, lines) {
            return Ok(Some(key(&head[..end])));
        }
        if head.len() >= max {
            return Ok(Some(key(&head[..max])));
        }
        let want = buf.len().min(max - head.len());
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&buf[..n]);
    }
}

/// Where the `lines`-th `\n` of `head` ends, scanning on from `scanned`.
fn lines_end(head: &[u8], scanned: &mut usize, seen: &mut u32, lines: u32) -> Option<usize> {
    for k in memchr::memchr_iter(b'\n', &head[*scanned..]) {
        *seen += 1;
        if *seen >= lines.max(1) {
            return Some(*scanned + k + 1);
        }
    }
    *scanned = head.len();
    None
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
        fingerprint(&mut &data[..], lines, max).unwrap()
    }

    #[test]
    fn first_lines_make_the_key() {
        // Not complete yet: no identity.
        assert_eq!(fp(b"", 1, 1024), None);
        assert_eq!(fp(b"2024-01-01 start", 1, 1024), None);
        let one = fp(b"2024-01-01 start\n", 1, 1024).unwrap();
        assert_eq!(one.len, 17);
        assert!(one.key.starts_with(PREFIX));
        // Growth does not change it; other first lines do.
        assert_eq!(
            fp(b"2024-01-01 start\nmore\nand more", 1, 1024),
            Some(one.clone())
        );
        assert_ne!(fp(b"2024-01-02 start\n", 1, 1024), Some(one.clone()));
        // Two lines: the second must be complete too.
        assert_eq!(fp(b"id,name\n1,a", 2, 1024), None);
        let two = fp(b"id,name\n1,a\n2,b\n", 2, 1024).unwrap();
        assert_eq!(two.len, 12);
        assert_ne!(fp(b"id,name\n9,z\n", 2, 1024), Some(two));
    }

    #[test]
    fn a_long_first_line_counts_as_its_first_max_bytes() {
        let long = vec![b'x'; 5000];
        let got = fp(&long, 1, 1024).unwrap();
        assert_eq!(got.len, 1024);
        let mut longer = long.clone();
        longer.extend_from_slice(b"\nnext\n");
        assert_eq!(fp(&longer, 1, 1024), Some(got));
        // Read in small pieces, as a slow reader gives them.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(3).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data = b"a\nbb\nccc\n";
        let slow = fingerprint(&mut Trickle(data), 3, 1024).unwrap();
        assert_eq!(slow, fp(data, 3, 1024));
        assert_eq!(slow.unwrap().len, 9);
    }
}
