//! Landing directories: announces files that are complete. A file counts as
//! complete when inotify reports it closed after writing (CLOSE_WRITE) or
//! renamed in (MOVED_TO); files found by the start-up scan or the slow
//! periodic rescan (inotify misses events on network filesystems and on queue
//! overflow) are taken once they have not changed for `settle`.
//!
//! Owns the watching thread only. It announces every complete matching file
//! it sees, again on every rescan; telling new files from known ones is the
//! caller's business.

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

use crate::config::DirSource;

/// What the watcher reports.
#[derive(Debug, PartialEq, Eq)]
pub enum DirEvent {
    /// A complete file matching the pattern.
    Found(PathBuf),
    /// The start-up scan has been reported in full (`--once` stops here).
    ScanDone,
}

/// The watching thread; dropping or `stop` ends it.
pub struct DirWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DirWatch {
    pub fn stop(mut self) {
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

/// Starts watching `src`. With `once`, only the start-up scan is made (every
/// matching file counts as complete) and the thread ends after `ScanDone`.
/// `deliver` returns false when nobody listens any more.
pub fn watch(
    src: &DirSource,
    rescan: Duration,
    once: bool,
    deliver: impl FnMut(DirEvent) -> bool + Send + 'static,
) -> std::io::Result<DirWatch> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = Watcher {
        dir: src.path.clone(),
        pattern: glob::Pattern::new(&src.pattern).map_err(std::io::Error::other)?,
        settle: src.settle,
        rescan,
        deliver: Box::new(deliver),
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
    deliver: Box<dyn FnMut(DirEvent) -> bool + Send>,
    /// Files seen by a scan but still changing: path -> last modification.
    settling: HashMap<PathBuf, SystemTime>,
    stop: Arc<AtomicBool>,
}

const TICK: Duration = Duration::from_millis(250);
const SETTLE_CHECK: Duration = Duration::from_secs(1);

impl Watcher {
    fn run(&mut self, once: bool) {
        if once {
            self.scan(true);
            (self.deliver)(DirEvent::ScanDone);
            return;
        }
        // Watch before the first scan so that nothing written in between is missed.
        let inotify = self.inotify();
        if !self.scan(false) || !(self.deliver)(DirEvent::ScanDone) {
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
            Ok(m) if m.is_file() => (self.deliver)(DirEvent::Found(path)),
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
