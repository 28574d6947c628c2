//! The end of an input, off the event loop: a thread per job runs each `End`
//! (checking that the file is still the one that was loaded, writing
//! `.rest`, archiving across filesystems can take long) and sends the loop
//! `Event::Ended`. So status, signals and the watchdog are answered while a
//! multi-GB file is copied.
//!
//! The rule: a file is deleted or archived only if it is still the file that
//! was loaded, unchanged (device, inode, size, modification time; the hash
//! of its first bytes when only the time moved). A file that grew is set
//! aside with the bytes added after it was taken in `.rest`; one rewritten is
//! set aside untouched; one renamed over is left to be taken as the new file
//! it is. What is loaded stays loaded: the ledger holds it.
//!
//! Owns those checks and the moves; the outcome of the records is decided
//! before (`FileState::into_end`), what the source does next after
//! (`intake::Source::settled`).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Sender, unbounded};
use tracing::{error, info, warn};

use super::rejects;
use super::report::{FileReport, Outcome};
use crate::config::Job;
use crate::supervisor::event::Event;
use crate::supervisor::intake::{
    Change, Codec, Content, Disposal, Fate, Input, Kept, OnLoaded, Snapshot,
};
use crate::supervisor::rests;

/// What was read of a file: its snapshot, its descriptor, its preamble, and
/// every byte range some run committed.
pub struct Taken {
    /// Its ledger key.
    pub source: String,
    pub snapshot: Snapshot,
    pub file: Arc<File>,
    /// What it holds, in the positions of `done` (decompressed).
    pub content: Content,
    pub preamble: Vec<u8>,
    pub done: Vec<(u64, u64)>,
}

/// What the records' outcome asks for, before the file is looked at again.
pub enum Verdict {
    Loaded {
        already: bool,
    },
    /// With `rest`, the records not committed go to `.rest`.
    SetAside {
        reason: String,
        rest: bool,
    },
    Unfinished {
        reason: String,
    },
}

/// One input's end, to be run off the event loop.
pub struct End {
    pub job: Arc<Job>,
    pub input: Input,
    pub report: FileReport,
    pub verdict: Verdict,
    pub taken: Option<Taken>,
    pub disposal: Disposal,
}

/// What an end did, for the loop and the input's source.
pub struct Ended {
    pub report: FileReport,
    pub input: Input,
    pub fate: Fate,
    /// Kept in place unchanged: what it was, to recognise a later change.
    pub kept: Option<Kept>,
    /// Another file is at its path now: take it as a new input.
    pub retake: bool,
}

/// Starts the thread that runs the ends of job `index`'s inputs; it ends when
/// the sender is dropped, after the ends already sent.
pub fn spawn(
    index: usize,
    events: Sender<Event>,
) -> io::Result<(Sender<End>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = unbounded::<End>();
    let thread = std::thread::Builder::new()
        .name(format!("end-{index}"))
        .spawn(move || {
            for end in rx {
                let ended = Box::new(end.run());
                if events.send(Event::Ended { job: index, ended }).is_err() {
                    return;
                }
            }
        })?;
    Ok((tx, thread))
}

impl End {
    /// The end of a file loaded and kept in place earlier that has changed
    /// since (`Source::accept` said so): checked like any loaded file, so it
    /// is set aside (with what grew in `.rest`) rather than loaded again
    /// whole. `None` when another file is at the path now: a new input.
    pub fn of_kept(job: &Arc<Job>, path: &Path, kept: Kept, disposal: Disposal) -> Option<End> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        let seen = &kept.snapshot.seen;
        if (meta.dev(), meta.ino()) != (seen.dev, seen.ino) {
            return None;
        }
        let name = Input::File(path.to_path_buf()).name();
        let data_start = kept.preamble.len() as u64;
        let file = Arc::new(file);
        let codec = Codec::of(job.compression, path);
        let content = Content::new(file.clone(), codec, meta.len());
        Some(End {
            job: job.clone(),
            report: FileReport {
                job: job.name.clone(),
                file: name,
                loaded: 0,
                rejected: 0,
                prior_loaded: 0,
                prior_rejected: 0,
                seconds: 0.0,
                outcome: Outcome::AlreadyLoaded,
                followed: false,
            },
            input: Input::File(path.to_path_buf()),
            verdict: Verdict::Loaded { already: true },
            taken: Some(Taken {
                source: kept.source,
                // Plain: what it held then. (A compressed one that changed
                // is set aside without a `.rest`.)
                done: vec![(data_start, seen.size)],
                snapshot: kept.snapshot,
                file,
                content,
                preamble: kept.preamble,
            }),
            disposal,
        })
    }

    pub fn run(mut self) -> Ended {
        let mut ended = Ended {
            report: self.report.clone(),
            input: self.input.clone(),
            fate: Fate::Unfinished,
            kept: None,
            retake: false,
        };
        let outcome = match std::mem::replace(&mut self.verdict, Verdict::Loaded { already: false })
        {
            Verdict::Unfinished { reason } => Outcome::Unfinished { reason },
            Verdict::SetAside { reason, rest } => self.set_aside(reason, rest, &mut ended),
            Verdict::Loaded { already } => self.loaded(already, &mut ended),
        };
        ended.report.outcome = outcome;
        ended.report.log();
        ended
    }

    /// Every record has an answer: dispose of the file if it is unchanged.
    fn loaded(&mut self, already: bool, ended: &mut Ended) -> Outcome {
        let done = match already {
            true => Outcome::AlreadyLoaded,
            false => Outcome::Done,
        };
        ended.fate = Fate::Loaded;
        let (Some(path), Some(t)) = (self.input.path().map(Path::to_path_buf), &self.taken) else {
            return done;
        };
        retire_rests(&self.job, &self.report.file, &t.source);
        let size = t.snapshot.seen.size;
        let (job, name) = (&self.job.name, &self.report.file);
        match t.snapshot.compare(&path, &t.file) {
            Ok(Change::Same) => {}
            // Bytes appended to a compressed file are no records of it.
            Ok(Change::Grew { to }) if t.content.codec() != Codec::Plain => {
                let reason = format!(
                    "the {} file grew from {size} to {to} bytes after it was taken: the \
                     records loaded are those it had before; it is set aside as it is now",
                    t.content.codec().name()
                );
                return self.set_aside(reason, false, ended);
            }
            Ok(Change::Grew { to }) => {
                let reason = format!(
                    "the file grew from {size} to {to} bytes after it was taken: its first {size} \
                     bytes are loaded, the bytes added since are in the .rest file"
                );
                return self.set_aside(reason, true, ended);
            }
            Ok(Change::Rewritten { size: now }) => {
                let reason = format!(
                    "the file changed after it was taken (now {now} bytes; its first {size} bytes \
                     are not those loaded): the records loaded are those it had before; it is \
                     set aside as it is now, not loaded again, so that none is loaded twice"
                );
                return self.set_aside(reason, false, ended);
            }
            Ok(Change::Replaced) => {
                info!(job = %job, file = %name, "another file was renamed over this one while it was loaded: its records are loaded; the new file is taken next");
                ended.retake = true;
                return done;
            }
            Ok(Change::Gone) => {
                warn!(job = %job, file = %name, "the file was removed while it was loaded; its records are loaded");
                return done;
            }
            Err(e) => {
                let reason = format!(
                    "its records are loaded, but it cannot be checked unchanged ({e}): it is left \
                     in place, to be {} when it can be",
                    self.disposal.loaded.done_word()
                );
                error!(job = %job, file = %name, "{reason}");
                ended.fate = Fate::Unfinished;
                return Outcome::Unfinished { reason };
            }
        }
        let moved = match &self.disposal.loaded {
            OnLoaded::Keep => {
                ended.kept = Some(Kept {
                    source: t.source.clone(),
                    snapshot: t.snapshot.clone(),
                    preamble: t.preamble.clone(),
                });
                Ok(())
            }
            OnLoaded::Delete => fs::remove_file(&path),
            OnLoaded::Archive(dir) => move_into(&path, dir).map(drop),
        };
        if let Err(e) = moved {
            let reason = format!(
                "its records are loaded, but it cannot be {} ({e}): it stays in the landing \
                 folder (a later attempt finds it loaded and tries again)",
                self.disposal.loaded.done_word()
            );
            error!(job = %job, file = %name, "{reason}");
            ended.fate = Fate::Unfinished;
            return Outcome::Unfinished { reason };
        }
        done
    }

    /// Writes `.rest` (with `rest`) and the note of why, and moves the file
    /// to the reject folder if it is still ours.
    fn set_aside(&mut self, reason: String, rest: bool, ended: &mut Ended) -> Outcome {
        let (job, name) = (&self.job, self.report.file.as_str());
        if rest && let Some(t) = &self.taken {
            match write_rest(job, name, t) {
                Ok(to) => {
                    info!(job = %job.name, file = %name, rest = %to.display(), "records not loaded were written to the .rest file")
                }
                Err(e) => error!(job = %job.name, file = %name, "cannot write the .rest file: {e}"),
            }
        }
        if let Err(e) = rejects::note_failure(&job.reject_dir, name, &reason) {
            error!(job = %job.name, file = %name, "cannot write the reject notes: {e}");
        }
        ended.fate = Fate::SetAside {
            reason: reason.clone(),
        };
        let ours = match (&self.taken, self.input.path()) {
            (Some(t), Some(p)) => !matches!(
                t.snapshot.compare(p, &t.file),
                Ok(Change::Replaced | Change::Gone)
            ),
            (None, p) => p.is_some(),
            (Some(_), None) => false,
        };
        match (&self.disposal.aside, self.input.path()) {
            (Some(dir), Some(path)) if ours => match move_into(path, dir) {
                Ok(to) => {
                    warn!(job = %job.name, file = %name, to = %to.display(), "file set aside: {reason}")
                }
                Err(e) => {
                    error!(job = %job.name, file = %name, "cannot set the file aside ({reason}): {e}")
                }
            },
            _ => warn!(job = %job.name, file = %name, "file stopped: {reason}"),
        }
        Outcome::SetAside { reason }
    }
}

/// Every record of the origin `source` has an answer: a `.rest` of it still
/// where it was written holds nothing to load any more, so it is renamed
/// `.rest....obsolete` (which no pattern for the origin takes). A copy of it
/// dropped in elsewhere is still known as obsolete (`rests`).
fn retire_rests(job: &Job, name: &str, source: &str) {
    for rest in rests::of_origin(&job.reject_dir, source) {
        let same = fs::metadata(&rest.path).is_ok_and(|m| m.len() == rest.size);
        if !same {
            continue;
        }
        let file = rest.path.file_name().unwrap_or_default().to_string_lossy();
        let to = rest
            .path
            .with_file_name(rejects::fit_name(&file, ".obsolete"));
        match fs::rename(&rest.path, &to) {
            Ok(()) => {
                info!(job = %job.name, file = %name, rest = %to.display(), "every record of the file has an answer: its .rest file is obsolete")
            }
            Err(e) => {
                warn!(job = %job.name, file = %name, rest = %rest.path.display(), "cannot rename the obsolete .rest file: {e}")
            }
        }
    }
}

/// Moves `path` into `dir` (created if missing), never overwriting: a name
/// already taken gets a timestamp suffix. Returns the new path.
fn move_into(path: &Path, dir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut to = dir.join(&name);
    if to.exists() {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
        to = dir.join(rejects::fit_name(&name, &format!(".{stamp}")));
    }
    match fs::rename(path, &to) {
        Ok(()) => Ok(to),
        // Another filesystem: copy, then remove the original.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            fs::copy(path, &to)?;
            fs::remove_file(path)?;
            Ok(to)
        }
        Err(e) => Err(e),
    }
}

/// The `.rest` file of `name`: the preamble, then every byte of its content
/// (a plain file as its descriptor reads it now) outside the committed
/// ranges, in order, stored as the file was (a gzip file's `.rest` is gzip);
/// registered (`rests`) as holding those ranges of the origin. Removed
/// again if it cannot be written whole.
fn write_rest(job: &Job, name: &str, t: &Taken) -> io::Result<PathBuf> {
    fs::create_dir_all(&job.reject_dir)?;
    let pattern = match &job.source {
        crate::config::Source::Dir(d) => Some(d.pattern.as_str()),
        _ => None,
    };
    let to = rest_path(&job.reject_dir, name, pattern);
    let file = File::create_new(&to)?;
    let written = copy_rest(t, &file);
    let (hash, size, ranges) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = fs::remove_file(&to);
            return Err(e);
        }
    };
    let rest = rests::RestOf {
        hash,
        size,
        path: to.clone(),
        origin: t.source.clone(),
        origin_file: name.to_string(),
        ranges,
        data_start: t.preamble.len() as u64,
    };
    rests::register(&job.reject_dir, &rest)?;
    Ok(to)
}

/// A `.rest` as written: its hash and size as stored, and the origin
/// ranges it holds.
type RestWritten = (String, u64, Vec<(u64, u64)>);

/// Writes the `.rest` of `t` into `file`.
fn copy_rest(t: &Taken, file: &File) -> io::Result<RestWritten> {
    let mut done = t.done.clone();
    done.sort();
    let stored = Hashing {
        inner: io::BufWriter::new(file),
        hasher: blake3::Hasher::new(),
        size: 0,
    };
    let mut out = t.content.codec().encoder(stored)?;
    out.write_all(&t.preamble)?;
    let mut cursor = t.content.cursor();
    let mut at = t.preamble.len() as u64;
    let mut ranges = Vec::new();
    // A file that shrank: what it no longer holds is neither rest nor read.
    for (s, e) in done
        .into_iter()
        .map(|(s, e)| (s, Some(e)))
        .chain([(u64::MAX, None)])
    {
        if at < s {
            cursor.skip_to(at)?;
            let n = cursor.copy(e.map(|_| s - at), &mut out)?;
            if n > 0 {
                ranges.push((at, at + n));
            }
        }
        at = at.max(e.unwrap_or(at));
    }
    let mut stored = out.finish()?;
    stored.inner.flush()?;
    file.sync_all()?;
    let hash = rests::hex(&stored.hasher.finalize().as_bytes()[..16]);
    Ok((hash, stored.size, ranges))
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A free name in `dir` for the rest of `name` that the job's `pattern`
/// matches, so it can be dropped back in as it is: `orders.rest.csv`, then
/// `orders.rest2.csv`... (the tag before the last extension, else before the
/// first, else at the end).
fn rest_path(dir: &Path, name: &str, pattern: Option<&str>) -> PathBuf {
    let pattern = pattern.and_then(|p| glob::Pattern::new(p).ok());
    let cut = |at: Option<usize>| match at.filter(|&i| i > 0) {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    let shapes = [cut(name.rfind('.')), cut(name.find('.')), (name, "")];
    for n in 1.. {
        let tag = match n {
            1 => "rest".to_string(),
            n => format!("rest{n}"),
        };
        let names = shapes.map(|(stem, ext)| rejects::fit_name(stem, &format!(".{tag}{ext}")));
        let fits = names
            .iter()
            .find(|c| pattern.as_ref().is_none_or(|p| p.matches(c)))
            .unwrap_or(&names[0]);
        let path = dir.join(fits);
        if !path.exists() {
            return path;
        }
    }
    unreachable!("an unbounded search ends")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_names_match_the_pattern_and_never_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = rest_path(d.path(), "orders.csv", Some("*.csv"));
        assert_eq!(p, d.path().join("orders.rest.csv"));
        fs::write(&p, "").unwrap();
        let p2 = rest_path(d.path(), "orders.csv", Some("*.csv"));
        assert_eq!(p2, d.path().join("orders.rest2.csv"));
        let p = rest_path(d.path(), "orders-1.csv.gz", Some("orders-*.csv.gz"));
        assert_eq!(p, d.path().join("orders-1.rest.csv.gz"));
        let p = rest_path(d.path(), "orders", None);
        assert_eq!(p, d.path().join("orders.rest"));
    }
}
