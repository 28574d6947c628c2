//! Landing directories: the `dir` source. A file counts as complete when
//! inotify reports it closed after writing (CLOSE_WRITE) or renamed in
//! (MOVED_TO); files found by the start-up scan or the slow periodic rescan
//! (inotify misses events on network filesystems and on queue overflow) are
//! taken once they have not changed for `settle`. A loaded file is archived,
//! deleted or kept (`on_done`); one set aside moves to the reject folder.
//!
//! Owns the watching thread, which announces every complete matching file it
//! sees, again on every rescan, and on the loop's side which announced files
//! are new (`accept`) and what happens to them at the end (`settle`).

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tracing::warn;

use tracing::error;

use super::identity::FileFingerprint;
use super::{Announce, Fate, Found, Input, Source};
use crate::config::{self, Job, OnDone};

/// A landing directory as a job's source.
pub struct DirSource {
    cfg: config::DirSource,
    job: String,
    reject_dir: PathBuf,
    rescan: Duration,
    once: bool,
    watch: Option<DirWatch>,
    /// Files taken and not yet let go (kept in place, or in progress): a
    /// rescan that finds one unchanged does not take it again.
    known: HashMap<PathBuf, FileFingerprint>,
}

impl DirSource {
    /// With `once`, only the start-up scan is made (every matching file counts
    /// as complete) and the source is exhausted after it.
    pub fn new(cfg: &config::DirSource, job: &Job, rescan: Duration, once: bool) -> Self {
        DirSource {
            cfg: cfg.clone(),
            job: job.name.clone(),
            reject_dir: job.reject_dir.clone(),
            rescan,
            once,
            watch: None,
            known: HashMap::new(),
        }
    }
}

impl Source for DirSource {
    fn start(&mut self, announce: Announce) -> std::io::Result<()> {
        self.watch = Some(watch(&self.cfg, self.rescan, self.once, announce)?);
        Ok(())
    }

    fn accept(&mut self, input: &Input) -> bool {
        let Some(path) = input.path() else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        let fp = FileFingerprint::of(&meta);
        if self.known.get(path) == Some(&fp) {
            return false;
        }
        self.known.insert(path.to_path_buf(), fp);
        true
    }

    fn settle(&mut self, input: &Input, fate: &Fate) {
        let Some(path) = input.path() else {
            return;
        };
        let (job, name) = (&self.job, input.name());
        let moved = match fate {
            Fate::Loaded => match self.cfg.on_done {
                // Stays known, so a rescan does not take it again.
                OnDone::Keep => return,
                OnDone::Delete => std::fs::remove_file(path).map(|()| None),
                OnDone::Archive => move_into(path, &self.cfg.archive_dir).map(Some),
            },
            Fate::SetAside { reason } => match move_into(path, &self.reject_dir) {
                Ok(to) => {
                    warn!(job = %job, file = %name, to = %to.display(), "file set aside: {reason}");
                    Ok(Some(to))
                }
                Err(e) => {
                    error!(job = %job, file = %name, "cannot set the file aside ({reason}): {e}");
                    Ok(None)
                }
            },
            // Read again when a rescan finds it.
            Fate::Unfinished => Ok(None),
        };
        if let Err(e) = moved {
            error!(job = %job, file = %name, "cannot {:?} the loaded file: {e}", self.cfg.on_done);
        }
        self.known.remove(path);
    }

    fn stop(&mut self) {
        if let Some(w) = self.watch.take() {
            w.stop();
        }
    }
}

/// Moves `path` into `dir` (created if missing), never overwriting: a name
/// already taken gets a timestamp suffix. Returns the new path.
fn move_into(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut to = dir.join(&name);
    if to.exists() {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
        to = dir.join(format!("{name}.{stamp}"));
    }
    match std::fs::rename(path, &to) {
        Ok(()) => Ok(to),
        // Another filesystem: copy, then remove the original.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(path, &to)?;
            std::fs::remove_file(path)?;
            Ok(to)
        }
        Err(e) => Err(e),
    }
}

/// The watching thread; dropping or `stop` ends it.
struct DirWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DirWatch {
    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DirWatch {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts watching `src`. With `once`, only the start-up scan is made and
/// the thread ends after announcing `Exhausted`.
fn watch(
    src: &config::DirSource,
    rescan: Duration,
    once: bool,
    deliver: Announce,
) -> std::io::Result<DirWatch> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = Watcher {
        dir: src.path.clone(),
        pattern: glob::Pattern::new(&src.pattern).map_err(std::io::Error::other)?,
        settle: src.settle,
        rescan,
        deliver,
        settling: HashMap::new(),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("dir-watch".into())
        .spawn(move || w.run(once))?;
    Ok(DirWatch {
        stop,
        thread: Some(thread),
    })
}

struct Watcher {
    dir: PathBuf,
    pattern: glob::Pattern,
    settle: Duration,
    rescan: Duration,
    deliver: Announce,
    /// Files seen by a scan but still changing: path -> last modification.
    settling: HashMap<PathBuf, SystemTime>,
    stop: Arc<AtomicBool>,
}

const TICK: Duration = Duration::from_millis(250);
const SETTLE_CHECK: Duration = Duration::from_secs(1);

impl Watcher {
    fn run(&mut self, once: bool) {
        if once {
            if self.scan(true) {
                (self.deliver)(Found::Exhausted);
            }
            return;
        }
        // Watch before the first scan so that nothing written in between is missed.
        let inotify = self.inotify();
        if !self.scan(false) {
            return;
        }
        let (mut next_rescan, mut next_settle) =
            (Instant::now() + self.rescan, Instant::now() + SETTLE_CHECK);
        while !self.stop.load(Ordering::Relaxed) {
            let mut overflow = false;
            if let Some(ino) = &inotify {
                let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
                let ms = TICK.as_millis() as u16;
                if poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) > 0 {
                    for ev in ino.read_events().unwrap_or_default() {
                        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                            overflow = true;
                        } else if let Some(name) = ev.name {
                            let path = self.dir.join(name);
                            if self.matches(&path) && !self.found(path) {
                                return;
                            }
                        }
                    }
                }
            } else {
                std::thread::sleep(TICK);
            }
            let now = Instant::now();
            if overflow || now >= next_rescan {
                if !self.scan(false) {
                    return;
                }
                next_rescan = now + self.rescan;
            }
            if now >= next_settle {
                if !self.recheck_settling() {
                    return;
                }
                next_settle = now + SETTLE_CHECK;
            }
        }
    }

    fn inotify(&self) -> Option<Inotify> {
        let flags = AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO;
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .and_then(|i| i.add_watch(&self.dir, flags).map(|_| i));
        match ino {
            Ok(i) => Some(i),
            Err(e) => {
                warn!(dir = %self.dir.display(), "inotify unavailable ({e}); relying on rescans");
                None
            }
        }
    }

    fn matches(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        // Hidden files are how writers commonly stage a file before renaming it in.
        !name.starts_with('.') && self.pattern.matches(name)
    }

    /// Reports `path` if it is (still) a regular file; false when nobody listens.
    fn found(&mut self, path: PathBuf) -> bool {
        self.settling.remove(&path);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => (self.deliver)(Found::Input(Input::File(path))),
            _ => true,
        }
    }

    /// Lists the directory; false when nobody listens any more.
    fn scan(&mut self, take_all: bool) -> bool {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                warn!(dir = %self.dir.display(), "cannot list the directory: {e}");
                return true;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| self.matches(p))
            .collect();
        paths.sort();
        for path in paths {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if take_all || self.settled(mtime) {
                if !self.found(path) {
                    return false;
                }
            } else {
                self.settling.insert(path, mtime);
            }
        }
        true
    }

    fn settled(&self, mtime: SystemTime) -> bool {
        SystemTime::now()
            .duration_since(mtime)
            .is_ok_and(|age| age >= self.settle)
    }

    fn recheck_settling(&mut self) -> bool {
        let paths: Vec<PathBuf> = self.settling.keys().cloned().collect();
        for path in paths {
            match std::fs::metadata(&path).and_then(|m| m.modified()) {
                Ok(mtime) if self.settled(mtime) => {
                    if !self.found(path) {
                        return false;
                    }
                }
                Ok(mtime) => {
                    self.settling.insert(path, mtime);
                }
                Err(_) => {
                    self.settling.remove(&path);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OnDone;

    fn source(d: &Path, on_done: OnDone) -> DirSource {
        let on_done = format!("{on_done:?}").to_lowercase();
        let source = format!("archive_dir = \"archive\"\non_done = \"{on_done}\"");
        let job = crate::supervisor::fixtures::job(d, &source);
        let config::Source::Dir(dir) = &job.source else {
            panic!("a dir source")
        };
        DirSource::new(dir, &job, Duration::from_secs(60), true)
    }

    #[test]
    fn a_file_is_taken_once_until_it_changes_or_is_let_go() {
        let d = tempfile::tempdir().unwrap();
        let mut src = source(d.path(), OnDone::Keep);
        let path = d.path().join("in/a.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let input = Input::File(path.clone());
        assert!(src.accept(&input));
        assert!(!src.accept(&input), "announced again by a rescan: not new");
        // Kept in place after loading: still known.
        src.settle(&input, &Fate::Loaded);
        assert!(path.exists());
        assert!(!src.accept(&input));
        // Changed: new.
        std::fs::write(&path, "x\n1\n2\n").unwrap();
        assert!(src.accept(&input));
        // Unfinished: forgotten, so the next rescan takes it again.
        src.settle(&input, &Fate::Unfinished);
        assert!(src.accept(&input));
        assert!(!src.accept(&Input::File(d.path().join("in/missing.csv"))));
    }

    #[test]
    fn settle_archives_deletes_or_sets_aside() {
        let d = tempfile::tempdir().unwrap();
        let mut archive = source(d.path(), OnDone::Archive);
        let a = d.path().join("in/a.csv");
        std::fs::write(&a, "x\n").unwrap();
        archive.settle(&Input::File(a.clone()), &Fate::Loaded);
        assert!(!a.exists() && d.path().join("archive/a.csv").exists());
        // The same name again: archived beside it, never over it.
        std::fs::write(&a, "y\n").unwrap();
        archive.settle(&Input::File(a.clone()), &Fate::Loaded);
        let archived = std::fs::read_dir(d.path().join("archive")).unwrap().count();
        assert_eq!(archived, 2);

        let mut delete = source(d.path(), OnDone::Delete);
        std::fs::write(&a, "x\n").unwrap();
        delete.settle(&Input::File(a.clone()), &Fate::Loaded);
        assert!(!a.exists());

        std::fs::write(&a, "x\n").unwrap();
        let aside = Fate::SetAside {
            reason: "too many rejects".into(),
        };
        delete.settle(&Input::File(a.clone()), &aside);
        assert!(!a.exists() && d.path().join("rejects/a.csv").exists());
    }
}
