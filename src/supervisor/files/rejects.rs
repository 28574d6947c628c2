//! Reject files of one source file, in SQL*Loader's convention:
//! `<reject_dir>/<file>.bad` holds the rejected records' original bytes
//! (after the file's own preamble, so it can be fixed and dropped back in) and
//! `<file>.bad.jsonl` one line per rejected record: line, byte offset,
//! column, code, reason.
//!
//! The files are a function of the ledger: when a file is (re)started they are
//! rewritten from the notes its committed ranges hold, then appended to as
//! batches commit, so a crash can neither lose nor repeat a reject. They are
//! made durable (`sync`) before their source file is let go: a source is
//! never archived or deleted while its rejects exist only in the ledger.
//!
//! Names always fit the filesystem's limit (`fit_name`): a long source name
//! is shortened and tagged with a hash of the whole name, which the
//! `.bad.jsonl` lines still carry in full.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::protocol::RejectNote;
use crate::supervisor::intake::Content;

/// One line of `<file>.bad.jsonl`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct RejectLine {
    pub file: String,
    pub source: String,
    pub line: u64,
    pub offset: u64,
    pub len: u64,
    pub records: u32,
    pub column: Option<String>,
    pub code: String,
    pub reason: String,
    /// False when the record's bytes could not be kept (larger than the
    /// record limit on standard input).
    pub bytes_saved: bool,
    /// A stream message's subject (`offset` is then its sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

pub struct RejectFiles {
    file: String,
    source: String,
    bad: BufWriter<File>,
    jsonl: BufWriter<File>,
}

/// The longest file name Linux filesystems take (`NAME_MAX`), in bytes.
const NAME_MAX: usize = 255;

/// `stem` followed by `tail`, shortened to fit `NAME_MAX` when needed: the
/// stem is cut (on a character boundary) and tagged with a hash of the whole
/// stem, so two long names sharing a prefix still get different names.
pub fn fit_name(stem: &str, tail: &str) -> String {
    if stem.len() + tail.len() <= NAME_MAX {
        return format!("{stem}{tail}");
    }
    let hash = blake3::hash(stem.as_bytes()).to_hex();
    let tag = &hash.as_str()[..16];
    let mut keep = NAME_MAX.saturating_sub(tail.len() + tag.len() + 1);
    while !stem.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}~{tag}{tail}", &stem[..keep])
}

pub fn bad_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(fit_name(file, ".bad"))
}

pub fn jsonl_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(fit_name(file, ".bad.jsonl"))
}

/// Where another source's reject files of the same name are moved: the
/// first free `.bad.<n>`.
fn aside_paths(dir: &Path, file: &str) -> (PathBuf, PathBuf) {
    let n = (1..)
        .find(|n| !dir.join(fit_name(file, &format!(".bad.{n}"))).exists())
        .unwrap_or(1);
    (
        dir.join(fit_name(file, &format!(".bad.{n}"))),
        dir.join(fit_name(file, &format!(".bad.{n}.jsonl"))),
    )
}

impl RejectFiles {
    /// Starts the reject files of `file` afresh. Files left there by another
    /// source of the same name are renamed aside (`.bad.<n>`) rather than
    /// overwritten; files of this same source are ours (a restart) and rebuilt.
    pub fn create(dir: &Path, file: &str, source: &str, preamble: &[u8]) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let (bad, jsonl) = (bad_path(dir, file), jsonl_path(dir, file));
        if let Some(other) = owner(&jsonl)
            && other != source
        {
            let (old_bad, old_jsonl) = aside_paths(dir, file);
            let _ = fs::rename(&bad, old_bad);
            fs::rename(&jsonl, old_jsonl)?;
        }
        let mut bad = BufWriter::new(File::create(&bad)?);
        bad.write_all(preamble)?;
        Ok(RejectFiles {
            file: file.to_string(),
            source: source.to_string(),
            bad,
            jsonl: BufWriter::new(File::create(&jsonl)?),
        })
    }

    /// Appends one note; `bytes` are the records' original bytes when known.
    pub fn append(&mut self, note: &RejectNote, bytes: Option<&[u8]>) -> io::Result<()> {
        self.append_message(note, bytes, None)
    }

    /// `append`, for a stream message: its subject goes into the note.
    pub fn append_message(
        &mut self,
        note: &RejectNote,
        bytes: Option<&[u8]>,
        subject: Option<&str>,
    ) -> io::Result<()> {
        if let Some(b) = bytes {
            self.bad.write_all(b)?;
            // Keep one record per line even when the last record of a file had
            // no line terminator.
            if !b.ends_with(b"\n") {
                self.bad.write_all(b"\n")?;
            }
        }
        self.note(note, bytes.is_some(), subject)
    }

    /// Appends one note whose records' bytes are read from the input's
    /// `content` at the note's offset, a chunk at a time: a record rejected
    /// for its size (up to the rest of a file) never sits in memory whole.
    pub fn append_from(&mut self, note: &RejectNote, content: &Content) -> io::Result<()> {
        let mut out = LastByte {
            inner: &mut self.bad,
            last: b'\n',
            written: 0,
        };
        content.copy_range(note.offset, Some(note.len), &mut out)?;
        if out.written != note.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the input ends before byte {}", note.offset + note.len),
            ));
        }
        if out.last != b'\n' {
            self.bad.write_all(b"\n")?;
        }
        self.note(note, true, None)
    }

    fn note(
        &mut self,
        note: &RejectNote,
        bytes_saved: bool,
        subject: Option<&str>,
    ) -> io::Result<()> {
        let line = RejectLine {
            file: self.file.clone(),
            source: self.source.clone(),
            line: note.line,
            offset: note.offset,
            len: note.len,
            records: note.records,
            column: note.column.clone(),
            code: note.code.clone(),
            reason: note.reason.clone(),
            bytes_saved,
            subject: subject.map(str::to_string),
        };
        serde_json::to_writer(&mut self.jsonl, &line).map_err(io::Error::other)?;
        self.jsonl.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.bad.flush()?;
        self.jsonl.flush()
    }

    /// Flushes and makes the files durable: their data, and their names in
    /// the folder.
    pub fn sync(&mut self, dir: &Path) -> io::Result<()> {
        self.flush()?;
        self.bad.get_ref().sync_all()?;
        self.jsonl.get_ref().sync_all()?;
        File::open(dir)?.sync_all()
    }
}

/// A writer that remembers the last byte written and how many.
struct LastByte<'a, W: Write> {
    inner: &'a mut W,
    last: u8,
    written: u64,
}

impl<W: Write> Write for LastByte<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if n > 0 {
            self.last = buf[n - 1];
            self.written += n as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Records why a whole file was set aside, as one line of its `.bad.jsonl`
/// (with code `file_set_aside`), so the reject folder tells the whole story.
pub fn note_failure(dir: &Path, file: &str, reason: &str) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(jsonl_path(dir, file))?;
    let line = serde_json::json!({"file": file, "code": "file_set_aside", "reason": reason});
    writeln!(f, "{line}")?;
    f.sync_all()
}

/// The source that wrote an existing `.bad.jsonl`, from its first line.
fn owner(jsonl: &Path) -> Option<String> {
    let f = File::open(jsonl).ok()?;
    let mut first = String::new();
    BufReader::new(f).read_line(&mut first).ok()?;
    serde_json::from_str::<RejectLine>(&first)
        .ok()
        .map(|l| l.source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(offset: u64, line: u64) -> RejectNote {
        RejectNote {
            offset,
            len: 4,
            line,
            records: 1,
            column: Some("amount".into()),
            code: "bad_decimal".into(),
            reason: "amount: \"x\" is not a decimal".into(),
        }
    }

    #[test]
    fn writes_bytes_after_the_preamble_and_one_json_line_per_note() {
        let d = tempfile::tempdir().unwrap();
        let mut r = RejectFiles::create(d.path(), "a.csv", "src1", b"id,amount\n").unwrap();
        r.append(&note(10, 3), Some(b"1,x\n")).unwrap();
        r.append(&note(20, 5), Some(b"2,y")).unwrap();
        r.flush().unwrap();
        let bad = fs::read_to_string(bad_path(d.path(), "a.csv")).unwrap();
        assert_eq!(bad, "id,amount\n1,x\n2,y\n");
        let lines: Vec<RejectLine> = fs::read_to_string(jsonl_path(d.path(), "a.csv"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[1].line, lines[1].offset), (5, 20));
    }

    #[test]
    fn long_names_are_shortened_to_fit_and_stay_distinct() {
        let long = format!("{}.csv", "é".repeat(120)); // 244 bytes
        let a = fit_name(&long, ".bad.jsonl");
        assert!(a.len() <= NAME_MAX && a.ends_with(".bad.jsonl"), "{a}");
        let other = format!("{}x.csv", "é".repeat(120));
        assert_ne!(a, fit_name(&other, ".bad.jsonl"));
        assert_eq!(fit_name("a.csv", ".bad"), "a.csv.bad");
        // The files can be created, and say the whole name inside.
        let d = tempfile::tempdir().unwrap();
        let mut r = RejectFiles::create(d.path(), &long, "s", b"").unwrap();
        r.append(&note(1, 2), Some(b"x\n")).unwrap();
        r.sync(d.path()).unwrap();
        let text = fs::read_to_string(jsonl_path(d.path(), &long)).unwrap();
        let line: RejectLine = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line.file, long);
    }

    #[test]
    fn another_sources_files_are_moved_aside_and_our_own_rebuilt() {
        let d = tempfile::tempdir().unwrap();
        let mut r = RejectFiles::create(d.path(), "a.csv", "old", b"").unwrap();
        r.append(&note(1, 2), Some(b"old\n")).unwrap();
        r.flush().unwrap();
        drop(r);
        let mut r = RejectFiles::create(d.path(), "a.csv", "new", b"").unwrap();
        r.append(&note(1, 2), Some(b"new\n")).unwrap();
        r.flush().unwrap();
        drop(r);
        assert_eq!(
            fs::read_to_string(d.path().join("a.csv.bad.1")).unwrap(),
            "old\n"
        );
        assert!(d.path().join("a.csv.bad.1.jsonl").exists());
        // same source again: rebuilt in place, nothing moved
        let r = RejectFiles::create(d.path(), "a.csv", "new", b"").unwrap();
        drop(r);
        assert!(!d.path().join("a.csv.bad.2").exists());
        assert_eq!(fs::read_to_string(bad_path(d.path(), "a.csv")).unwrap(), "");
    }
}
