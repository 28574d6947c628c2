//! Landing directories: the `dir` source. A file counts as complete once it
//! has not changed for `settle`, however it was noticed: inotify reporting
//! it closed after writing (CLOSE_WRITE), the start-up scan, or the slow
//! periodic rescan (inotify misses events on network filesystems and on
//! queue overflow). A non-empty file renamed in (MOVED_TO) is taken at once:
//! writing it under a hidden or other name and renaming it in is the way to
//! hand over a file without waiting. A loaded file is archived,
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
use tracing::{error, info, warn};

use super::identity::FileFingerprint;
use super::{Accept, Announce, Disposal, Fate, Found, Input, Kept, OnLoaded, Source};
use crate::config::{self, Job, OnDone};

/// A landing directory as a job's source.
pub struct DirSource {
    cfg: config::DirSource,
    reject_dir: PathBuf,
    rescan: Duration,
    once: bool,
    watch: Option<DirWatch>,
    /// Files taken and not yet let go: a rescan that finds one unchanged
    /// does not take it again. Those loaded and kept in place also have what
    /// they were, so that a later change is told from a new file.
    known: HashMap<PathBuf, (FileFingerprint, Option<Kept>)>,
}

impl DirSource {
    /// With `once`, only the start-up scan is made (every matching file counts
    /// as complete) and the source is exhausted after it.
    pub fn new(cfg: &config::DirSource, job: &Job, rescan: Duration, once: bool) -> Self {
        DirSource {
            cfg: cfg.clone(),
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

    fn accept(&mut self, input: &Input) -> Accept {
        let Some(path) = input.path() else {
            return Accept::Skip;
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Accept::Skip;
        };
        let fp = FileFingerprint::of(&meta);
        match self.known.get(path) {
            Some((seen, _)) if *seen == fp => Accept::Skip,
            // Loaded and kept, changed since: its records are loaded already.
            Some((_, Some(kept))) => {
                let kept = kept.clone();
                self.known.insert(path.to_path_buf(), (fp, None));
                Accept::Changed(kept)
            }
            _ => {
                self.known.insert(path.to_path_buf(), (fp, None));
                Accept::Take
            }
        }
    }

    fn disposal(&self) -> Disposal {
        Disposal {
            loaded: match self.cfg.on_done {
                OnDone::Keep => OnLoaded::Keep,
                OnDone::Delete => OnLoaded::Delete,
                OnDone::Archive => OnLoaded::Archive(self.cfg.archive_dir.clone()),
            },
            aside: Some(self.reject_dir.clone()),
        }
    }

    fn settled(&mut self, input: &Input, _fate: &Fate, kept: Option<Kept>) {
        let Some(path) = input.path() else {
            return;
        };
        match kept {
            // Stays known as it was loaded, so a rescan does not take it again.
            Some(k) => {
                self.known
                    .insert(path.to_path_buf(), (k.snapshot.seen, Some(k)));
            }
            // Moved away, or to be read again when a rescan finds it.
            None => {
                self.known.remove(path);
            }
        }
    }

    fn stop(&mut self) {
        if let Some(w) = self.watch.take() {
            w.stop();
        }
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
        unreadable: false,
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
    /// The last listing failed: said once, until it works again.
    unreadable: bool,
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
        // Often enough that a file is taken soon after it settled.
        let settle_check = (self.settle / 2).clamp(Duration::from_millis(50), SETTLE_CHECK);
        let (mut next_rescan, mut next_settle) =
            (Instant::now() + self.rescan, Instant::now() + settle_check);
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
                            let moved = ev.mask.contains(AddWatchFlags::IN_MOVED_TO);
                            if self.matches(&path) && !self.noticed(path, moved) {
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
                next_settle = now + settle_check;
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

    /// inotify saw `path` closed after writing, or renamed in (`moved`). A
    /// writer may close a file and open it again (`>>` in a loop, some FTP
    /// servers), so a closed file is taken only once it has not changed for
    /// `settle`, as a scanned one is. A file renamed in is complete by the
    /// usual convention and is taken at once, unless it is empty (`touch`
    /// first, write next). False when nobody listens.
    fn noticed(&mut self, path: PathBuf, moved: bool) -> bool {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && moved && m.len() > 0 => self.found(path),
            Ok(m) if m.is_file() => {
                let mtime = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                self.settling.insert(path, mtime);
                true
            }
            _ => true,
        }
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
                if std::mem::replace(&mut self.unreadable, true) {
                    return true;
                }
                let reason = format!(
                    "cannot list the landing folder {} ({e}): no file in it can be loaded until \
                     it can be (check that it exists and that the daemon's user may read it)",
                    self.dir.display()
                );
                error!(dir = %self.dir.display(), "{reason}");
                return (self.deliver)(Found::Unreadable(reason));
            }
        };
        if std::mem::replace(&mut self.unreadable, false) {
            info!(dir = %self.dir.display(), "the landing folder can be listed again");
        }
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

    fn kept(path: &Path) -> Kept {
        let f = super::super::identity::open_file(path).unwrap();
        Kept {
            source: f.key,
            snapshot: f.snapshot,
            preamble: b"x\n".to_vec(),
        }
    }

    #[test]
    fn a_file_is_taken_once_until_it_is_let_go_and_a_kept_one_that_changes_is_told() {
        let d = tempfile::tempdir().unwrap();
        let mut src = source(d.path(), OnDone::Keep);
        let path = d.path().join("in/a.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let input = Input::File(path.clone());
        assert_eq!(src.accept(&input), Accept::Take);
        assert_eq!(
            src.accept(&input),
            Accept::Skip,
            "announced again by a rescan"
        );
        // Loaded and kept in place: still known, unchanged.
        let k = kept(&path);
        src.settled(&input, &Fate::Loaded, Some(k.clone()));
        assert!(path.exists());
        assert_eq!(src.accept(&input), Accept::Skip);
        // Changed since: not a new file to load whole.
        std::fs::write(&path, "x\n1\n2\n").unwrap();
        assert_eq!(src.accept(&input), Accept::Changed(k));
        assert_eq!(src.accept(&input), Accept::Skip, "told once");
        // Set aside (or unfinished): forgotten, so a new file there is new.
        src.settled(&input, &Fate::Unfinished, None);
        assert_eq!(src.accept(&input), Accept::Take);
        let missing = Input::File(d.path().join("in/missing.csv"));
        assert_eq!(src.accept(&missing), Accept::Skip);
    }

    #[test]
    fn disposal_follows_on_done() {
        let d = tempfile::tempdir().unwrap();
        let of = |on_done| source(d.path(), on_done).disposal();
        let aside = Some(d.path().join("rejects"));
        let archive = OnLoaded::Archive(d.path().join("archive"));
        assert_eq!(
            of(OnDone::Archive),
            Disposal {
                loaded: archive,
                aside: aside.clone()
            }
        );
        assert_eq!(of(OnDone::Delete).loaded, OnLoaded::Delete);
        assert_eq!(
            of(OnDone::Keep),
            Disposal {
                loaded: OnLoaded::Keep,
                aside
            }
        );
    }
}
