//! The tail source: files still being written, followed through rotation
//! and loaded exactly once.
//!
//! * `source.rs`: finds the followed files and their rotated copies in one
//!   folder (inotify on the folder, a rescan every `poll_interval`), and
//!   takes each file (device and inode) once at a time; a file let go with
//!   nothing left to read is not taken again until it changes.
//! * `read.rs`: one followed file, from its identity to its release: the
//!   fingerprint of its first lines is its ledger key, reading resumes at the
//!   end of what the ledger holds of that key (never ahead of it), complete
//!   records only, batches sent after `batch_linger`, a last line without
//!   its newline loaded after `partial_timeout`; let go when rotated away and
//!   quiet (`rotate_wait`), idle (`idle_close`), truncated or replaced.
//! * `fingerprint.rs`: the key from the first lines; `follow.rs`: reading a
//!   growing file through its descriptor, and waiting for growth.
//!
//! Exactly once rests on three rules: a key's records are read by one
//! reader at a time (the job parks a second reader's ledger question until
//! the first has every answer, `job/keys.rs`), each reader starts from the
//! ledger, and the ledger refuses a range committed twice. A copy made by
//! `copytruncate` has the key of the file it was copied from, so what was
//! not read before the truncation is read from the copy.
//!
//! Owns following files; never talks to workers or writes reject files.

pub mod fingerprint;
pub mod follow;
pub mod read;
mod source;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::config::TailSource as Settings;

pub use source::TailSource;

/// A file found by the tail source: where, which one (device and inode, as
/// found), and whether it is a rotated copy rather than a followed name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Followed {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub rotated: bool,
}

impl Followed {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }

    fn id(&self) -> Id {
        (self.dev, self.ino)
    }
}

/// How far a followed file is read, and its size, as its reader last saw.
#[derive(Debug, Default)]
pub struct Progress {
    read: AtomicU64,
    size: AtomicU64,
}

impl Progress {
    fn set(&self, read: u64, size: u64) {
        self.read.store(read, Ordering::Relaxed);
        self.size.store(size, Ordering::Relaxed);
    }

    /// (bytes read, size).
    pub fn get(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.size.load(Ordering::Relaxed),
        )
    }
}

type Id = (u64, u64);

/// What a file looked like: size and modification time (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen(u64, i128);

impl Seen {
    fn of(m: &std::fs::Metadata) -> Seen {
        Seen(
            m.len(),
            i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        )
    }
}

#[derive(Default)]
struct Files {
    /// Being followed (or waiting for a reader).
    following: HashSet<Id>,
    /// Let go with nothing left to read, as they were then.
    ended: HashMap<Id, Seen>,
    /// Given up on (a header that does not fit the columns): not taken
    /// again while it is this file (until it is replaced, the job reloaded
    /// or the daemon restarted), however it grows.
    dropped: HashSet<Id>,
}

/// What the source and the readers of one job share.
pub struct Shared {
    pub settings: Settings,
    /// When the job first followed files: a rotated copy older than this
    /// whose key the ledger does not know is history, not loaded.
    pub since: SystemTime,
    files: Mutex<Files>,
}

impl Shared {
    fn new(settings: Settings, since: SystemTime) -> Shared {
        Shared {
            settings,
            since,
            files: Mutex::new(Files::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a file found now may be announced (or taken).
    fn wanted(&self, id: Id, seen: Seen) -> bool {
        let f = self.lock();
        !f.following.contains(&id) && f.ended.get(&id) != Some(&seen) && !f.dropped.contains(&id)
    }

    /// Takes `f` if it is still the file found and not followed already.
    fn take(&self, f: &Followed) -> bool {
        let Ok(m) = std::fs::metadata(&f.path) else {
            return false;
        };
        if (m.dev(), m.ino()) != f.id() || !self.wanted(f.id(), Seen::of(&m)) {
            return false;
        }
        let mut files = self.lock();
        files.ended.remove(&f.id());
        files.following.insert(f.id())
    }

    /// `f`'s reader let it go with nothing left to read, as `m` says it is.
    fn ended(&self, f: &Followed, m: &std::fs::Metadata) {
        // A deleted file's inode may come back as another file.
        if m.nlink() > 0 {
            self.lock().ended.insert(f.id(), Seen::of(m));
        }
    }

    /// `f`'s input is over; `dropped`: not to be taken again unchanged.
    fn release(&self, f: &Followed, dropped: bool) {
        let mut files = self.lock();
        files.following.remove(&f.id());
        if dropped {
            files.dropped.insert(f.id());
        }
    }

    /// Forgets what it knows of files no longer found.
    fn keep_only(&self, found: &HashSet<Id>) {
        let mut files = self.lock();
        files.ended.retain(|id, _| found.contains(id));
        files.dropped.retain(|id| found.contains(id));
    }
}

/// The moment `job` first followed files, kept in `state_dir/tail/`; now,
/// written there, the first time.
fn first_start(state_dir: &Path, job: &str) -> std::io::Result<SystemTime> {
    let path = state_dir.join("tail").join(format!("{job}.since"));
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(secs) = text.trim().parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    std::fs::create_dir_all(path.parent().unwrap_or(state_dir))?;
    let tmp = path.with_extension("since.tmp");
    std::fs::write(&tmp, format!("{secs:.6}\n"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(now)
}
