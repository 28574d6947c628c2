//! Source identity, the key of every ledger row, and what a file was when it
//! was taken.
//!
//! A file is identified by its name, its size and a BLAKE3 hash of its whole
//! content: dropping the same file in again is recognised (and not loaded
//! twice) whatever its inode or timestamps, while a changed file, or another
//! file under another name, is new. The hash is computed through the one
//! descriptor the file is then read with, up to the size it had when it was
//! opened (`Snapshot`), so what is loaded is exactly what was identified:
//! bytes appended later are not read, and a file renamed over the path
//! meanwhile is not either. `Snapshot::compare` tells later what became of
//! the path. Standard input gets a fresh identity on every run.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;

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

/// A file as it was taken: where it was (device, inode), how big, when last
/// modified, and the hash of those bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub seen: FileFingerprint,
    pub hash: [u8; 16],
}

/// What became of the path of a file since its snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The same file, unchanged.
    Same,
    /// The same file with bytes appended (the first `size` bytes unchanged).
    Grew { to: u64 },
    /// The same file, but its first bytes are no longer those loaded.
    Rewritten { size: u64 },
    /// Another file is at the path now (renamed over it); ours is elsewhere.
    Replaced,
    /// Nothing is at the path any more.
    Gone,
}

impl Snapshot {
    /// Compares the file at `path` with this snapshot. `ours` is the
    /// descriptor the snapshot was taken through, for re-hashing the first
    /// bytes (never `path` itself: it may hold another file by then).
    pub fn compare(&self, path: &Path, ours: &File) -> io::Result<Change> {
        let now = match std::fs::symlink_metadata(path) {
            Ok(m) => FileFingerprint::of(&m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Change::Gone),
            Err(e) => return Err(e),
        };
        let was = &self.seen;
        if (now.dev, now.ino) != (was.dev, was.ino) {
            return Ok(Change::Replaced);
        }
        if now == *was {
            return Ok(Change::Same);
        }
        // Same file, touched since: unchanged only if its first bytes are.
        let prefix_kept = now.size >= was.size && hash_prefix(ours, was.size)?.0 == self.hash;
        Ok(match (prefix_kept, now.size > was.size) {
            (true, true) => Change::Grew { to: now.size },
            (true, false) => Change::Same,
            (false, _) => Change::Rewritten { size: now.size },
        })
    }
}

/// A file opened for loading: its ledger key, its snapshot and the
/// descriptor (shared: read to the snapshot's size with `Bounded`, and again
/// at offsets later).
pub struct OpenedFile {
    pub key: String,
    pub snapshot: Snapshot,
    pub file: Arc<File>,
}

/// Opens `path` and identifies it: `name:size:hash` (the hash is the first
/// 16 bytes of BLAKE3, in hex).
pub fn open_file(path: &Path) -> io::Result<OpenedFile> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let seen = FileFingerprint::of(&meta);
    let (hash, got) = hash_prefix(&file, seen.size)?;
    if got < seen.size {
        return Err(io::Error::other(Shrank {
            from: seen.size,
            to: got,
        }));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hex = crate::supervisor::rests::hex(&hash);
    let file = Arc::new(file);
    Ok(OpenedFile {
        key: format!("{name}:{}:{hex}", seen.size),
        snapshot: Snapshot { seen, hash },
        file,
    })
}

/// The first 16 bytes of BLAKE3 over the first `size` bytes of `f`, and how
/// many bytes there were (fewer than `size` if the file is shorter now).
fn hash_prefix(f: &File, size: u64) -> io::Result<([u8; 16], u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut at = 0u64;
    while at < size {
        let want = ((size - at) as usize).min(buf.len());
        let n = match f.read_at(&mut buf[..want], at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    Ok((out, at))
}

/// The file got shorter than its snapshot while it was read: what was read
/// is no longer what is there.
#[derive(Debug, thiserror::Error)]
#[error("the file shrank from {from} to {to} bytes while it was read")]
pub struct Shrank {
    pub from: u64,
    pub to: u64,
}

/// Reads a file from byte 0 to its snapshot's size through its descriptor
/// (positional reads: the descriptor is shared). Ending early is `Shrank`.
pub struct Bounded {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Bounded {
    /// `file` from byte 0 to `end`.
    pub fn new(file: Arc<File>, end: u64) -> Self {
        Bounded { file, pos: 0, end }
    }
}

impl Read for Bounded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = ((self.end - self.pos) as usize).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            let shrank = Shrank {
                from: self.end,
                to: self.pos,
            };
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, shrank));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Copies standard input to an unnamed file in `dir` (gone when closed) and
/// identifies that: `stdin:NAME:size:hash` with a `name`, else a key of its
/// own for this read (`stdin:pid:time`).
pub fn spool_stdin(dir: &Path, name: Option<&str>) -> io::Result<OpenedFile> {
    std::fs::create_dir_all(dir)?;
    let file = tempfile::tempfile_in(dir)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, &file);
    io::copy(&mut io::stdin().lock(), &mut out)?;
    out.flush()?;
    drop(out);
    let seen = FileFingerprint::of(&file.metadata()?);
    let (hash, _) = hash_prefix(&file, seen.size)?;
    let key = match name {
        Some(n) => {
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            format!("stdin:{n}:{}:{hex}", seen.size)
        }
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format!("stdin:{}:{}", std::process::id(), now.as_nanos())
        }
    };
    let file = Arc::new(file);
    Ok(OpenedFile {
        key,
        snapshot: Snapshot { seen, hash },
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &Path) -> String {
        open_file(p).unwrap().key
    }

    #[test]
    fn same_content_same_name_same_identity() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        std::fs::write(&a, b"x,y\n1,2\n").unwrap();
        let id1 = key(&a);
        assert!(id1.starts_with("a.csv:8:"), "{id1}");
        // rewrite: new inode and mtime, same bytes
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"x,y\n1,2\n").unwrap();
        assert_eq!(key(&a), id1);
        std::fs::write(&a, b"x,y\n1,3\n").unwrap();
        assert_ne!(key(&a), id1);
        let b = d.path().join("b.csv");
        std::fs::write(&b, b"x,y\n1,2\n").unwrap();
        assert_ne!(key(&b), id1);
    }

    #[test]
    fn reads_exactly_what_was_identified() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        std::fs::write(&a, b"x\n1\n").unwrap();
        let opened = open_file(&a).unwrap();
        // Appended after it was taken: not read.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&a)
            .unwrap()
            .write_all(b"2\n")
            .unwrap();
        let mut got = Vec::new();
        Bounded::new(opened.file.clone(), opened.snapshot.seen.size)
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, b"x\n1\n");
        let change = opened.snapshot.compare(&a, &opened.file).unwrap();
        assert_eq!(change, Change::Grew { to: 6 });
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_error_not_a_short_file() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        std::fs::write(&a, b"x\n1\n2\n").unwrap();
        let opened = open_file(&a).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&a)
            .unwrap()
            .set_len(3)
            .unwrap();
        let mut got = Vec::new();
        let e = Bounded::new(opened.file.clone(), opened.snapshot.seen.size)
            .read_to_end(&mut got)
            .unwrap_err();
        assert!(e.get_ref().is_some_and(|e| e.is::<Shrank>()), "{e}");
        let change = opened.snapshot.compare(&a, &opened.file).unwrap();
        assert_eq!(change, Change::Rewritten { size: 3 });
    }

    #[test]
    fn a_path_renamed_over_or_removed_is_told_apart() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.csv"), d.path().join("b.csv"));
        std::fs::write(&a, b"x\n1\n").unwrap();
        let opened = open_file(&a).unwrap();
        assert_eq!(
            opened.snapshot.compare(&a, &opened.file).unwrap(),
            Change::Same
        );
        std::fs::write(&b, b"x\n9\n").unwrap();
        std::fs::rename(&b, &a).unwrap();
        let change = opened.snapshot.compare(&a, &opened.file).unwrap();
        assert_eq!(change, Change::Replaced);
        std::fs::remove_file(&a).unwrap();
        let change = opened.snapshot.compare(&a, &opened.file).unwrap();
        assert_eq!(change, Change::Gone);
        // Rewritten in place with the same size: the hash tells.
        std::fs::write(&a, b"x\n1\n").unwrap();
        let opened = open_file(&a).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&a, b"x\n2\n").unwrap();
        let change = opened.snapshot.compare(&a, &opened.file).unwrap();
        assert_eq!(change, Change::Rewritten { size: 4 });
    }
}
