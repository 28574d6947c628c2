//! What each `.rest` file is the rest of, so that loading it can never load
//! a record twice: `<reject_dir>/.rest/<hash>.json` records, for every
//! `.rest` written, its content hash and size (its identity, whatever it is
//! renamed to), its origin's ledger key and the origin's byte ranges it
//! holds.
//!
//! With it the cutter (`intake`) treats the two files as one:
//! - a `.rest` is loaded under a ledger key of its own (`rest:<hash>:<size>`,
//!   so renaming it changes nothing), and only while none of those origin
//!   ranges was committed since; otherwise it is obsolete (set aside);
//! - an origin taken again whose `.rest` was loaded whole counts the ranges
//!   the `.rest` holds as committed; one whose `.rest` is partly loaded is
//!   set aside until the `.rest` is finished;
//! - when the origin ends with every record answered, the `.rest` still in
//!   the reject folder is renamed `.rest.obsolete` (`files/end.rs`).
//!
//! Owns the registry's files and shape; writing the `.rest` itself is
//! `files/end.rs`'s, the ledger questions the cutter's. The registry lives
//! beside the reject files it describes (a hidden folder, which no landing
//! pattern takes).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One `.rest` file and the origin ranges it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestOf {
    /// The `.rest` file's content: first 16 bytes of BLAKE3, hex, and size.
    pub hash: String,
    pub size: u64,
    /// Where it was written.
    pub path: PathBuf,
    /// The origin: its ledger key and its file name.
    pub origin: String,
    pub origin_file: String,
    /// The origin's byte ranges `[start, end)` the `.rest` holds, in order,
    /// after a copy of the origin's preamble.
    pub ranges: Vec<(u64, u64)>,
    /// Where the copied records start in the `.rest` (its preamble's size).
    pub data_start: u64,
}

impl RestOf {
    /// Its ledger key: by content, so that a renamed copy is the same file.
    pub fn key(&self) -> String {
        format!("rest:{}:{}", self.hash, self.size)
    }
}

fn folder(reject_dir: &Path) -> PathBuf {
    reject_dir.join(".rest")
}

/// Records `rest`, durably (before the origin is let go).
pub fn register(reject_dir: &Path, rest: &RestOf) -> io::Result<()> {
    let dir = folder(reject_dir);
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{}.json", rest.hash, rest.size));
    let tmp = path.with_extension("json.tmp");
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(rest).map_err(io::Error::other)?)?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    fs::File::open(&dir)?.sync_all()
}

/// The `.rest` whose content is `hash`/`size`, if it is one.
pub fn find(reject_dir: &Path, hash: &str, size: u64) -> Option<RestOf> {
    let path = folder(reject_dir).join(format!("{hash}-{size}.json"));
    let text = fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Every `.rest` written of the origin whose ledger key is `origin`.
pub fn of_origin(reject_dir: &Path, origin: &str) -> Vec<RestOf> {
    let Ok(entries) = fs::read_dir(folder(reject_dir)) else {
        return Vec::new();
    };
    let mut out: Vec<RestOf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice::<RestOf>(&fs::read(e.path()).ok()?).ok())
        .filter(|r| r.origin == origin)
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// A hash in hex, as identities and the registry write it.
pub fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether any of `ranges` (sorted or not) overlaps any of `held`.
pub fn overlaps(ranges: &[(u64, u64)], held: &[(u64, u64)]) -> bool {
    ranges
        .iter()
        .any(|&(s, e)| held.iter().any(|&(hs, he)| s < he && hs < e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(dir: &Path, hash: &str, origin: &str) -> RestOf {
        RestOf {
            hash: hash.into(),
            size: 10,
            path: dir.join(format!("{hash}.rest.csv")),
            origin: origin.into(),
            origin_file: "a.csv".into(),
            ranges: vec![(10, 20), (30, 40)],
            data_start: 2,
        }
    }

    #[test]
    fn found_by_content_and_by_origin() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (rest(d.path(), "aa", "o1"), rest(d.path(), "bb", "o2"));
        register(d.path(), &a).unwrap();
        register(d.path(), &b).unwrap();
        assert_eq!(find(d.path(), "aa", 10), Some(a.clone()));
        assert_eq!(find(d.path(), "aa", 11), None, "another size");
        assert_eq!(of_origin(d.path(), "o1"), vec![a.clone()]);
        assert!(of_origin(d.path(), "o3").is_empty());
        assert_eq!(a.key(), "rest:aa:10");
        assert!(of_origin(&d.path().join("none"), "o1").is_empty());
    }

    #[test]
    fn overlap_of_ranges() {
        let held = [(10, 20), (30, 40)];
        assert!(!overlaps(&[(0, 10), (20, 30), (40, 50)], &held));
        assert!(overlaps(&[(19, 21)], &held));
        assert!(overlaps(&[(0, 100)], &held));
        assert!(!overlaps(&[], &held));
    }
}
