//! Source identity, the key of every ledger row.
//!
//! A file is identified by its name, its size and a BLAKE3 hash of its whole
//! content: dropping the same file in again is recognised (and not loaded
//! twice) whatever its inode or timestamps, while a changed file, or another
//! file under another name, is new. Standard input gets a fresh identity on
//! every run.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What a directory rescan compares to tell a known file from a new one
/// without hashing it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileFingerprint {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileFingerprint {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        FileFingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// `name:size:hash` of a file (the hash is the first 16 bytes of BLAKE3, in hex).
pub fn file_identity(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let hash = hasher.finalize();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hex: String = hash.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((format!("{name}:{size}:{hex}"), size))
}

/// A new identity for one read of standard input.
pub fn stdin_identity() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("stdin:{}:{}", std::process::id(), now.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_name_same_identity() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        std::fs::write(&a, b"x,y\n1,2\n").unwrap();
        let (id1, size) = file_identity(&a).unwrap();
        assert_eq!(size, 8);
        // rewrite: new inode and mtime, same bytes
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"x,y\n1,2\n").unwrap();
        assert_eq!(file_identity(&a).unwrap().0, id1);
        std::fs::write(&a, b"x,y\n1,3\n").unwrap();
        assert_ne!(file_identity(&a).unwrap().0, id1);
        let b = d.path().join("b.csv");
        std::fs::write(&b, b"x,y\n1,2\n").unwrap();
        assert_ne!(file_identity(&b).unwrap().0, id1);
    }
}
