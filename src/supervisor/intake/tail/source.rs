//! Finding followed files: the folder is listed at start, on its inotify
//! events (a file created, renamed in, written) and every `poll_interval`;
//! each regular file whose name matches the followed pattern, or a rotated
//! one, is announced unless it is followed already or was let go unchanged.
//!
//! Owns the watcher thread and the source's side of `Shared`. Must not open
//! or read the files (their readers do).

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tracing::warn;

use super::follow::wait_events;
use super::{Followed, Seen, Shared};
use crate::config;
use crate::supervisor::intake::{
    Accept, Announce, Disposal, Fate, Found, Input, Kept, OnLoaded, Source,
};

/// Scans at most this often, however busy the folder is.
const MIN_GAP: Duration = Duration::from_millis(100);

pub struct TailSource {
    shared: Arc<Shared>,
    once: bool,
    stop: Arc<AtomicBool>,
}

impl TailSource {
    /// `state_dir` keeps the moment the job first followed files.
    pub fn new(
        job: &str,
        settings: &config::TailSource,
        state_dir: &Path,
        once: bool,
    ) -> io::Result<TailSource> {
        let since = super::first_start(state_dir, job).unwrap_or_else(|e| {
            warn!(job, "cannot keep when the job first followed files ({e}): rotated copies the ledger does not know are loaded only when newer than this start");
            std::time::SystemTime::now()
        });
        Ok(TailSource {
            shared: Arc::new(Shared::new(settings.clone(), since)),
            once,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

impl Source for TailSource {
    fn start(&mut self, mut announce: Announce) -> io::Result<()> {
        let (shared, stop, once) = (self.shared.clone(), self.stop.clone(), self.once);
        let watch = watch(&shared.settings.dir);
        std::thread::Builder::new()
            .name("tail-watch".into())
            .spawn(move || {
                let mut said = None;
                loop {
                    let next = Instant::now() + MIN_GAP;
                    match scan(&shared) {
                        Ok(found) => {
                            said = None;
                            for f in found {
                                if !announce(Found::Input(Input::Tail(f))) {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let why = format!(
                                "cannot list the followed files' folder {}: {e}",
                                shared.settings.dir.display()
                            );
                            if said.as_ref() != Some(&why)
                                && !announce(Found::Unreadable(why.clone()))
                            {
                                return;
                            }
                            said = Some(why);
                        }
                    }
                    if once {
                        announce(Found::Exhausted);
                        return;
                    }
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                    wait_events(watch.as_ref(), shared.settings.poll_interval);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            })?;
        Ok(())
    }

    fn accept(&mut self, input: &Input) -> Accept {
        match input {
            Input::Tail(f) if self.shared.take(f) => Accept::Take,
            _ => Accept::Skip,
        }
    }

    fn disposal(&self) -> Disposal {
        // A followed file is never moved: the writer and the rotator own it.
        Disposal {
            loaded: OnLoaded::Keep,
            aside: None,
        }
    }

    fn settled(&mut self, input: &Input, fate: &Fate, _kept: Option<Kept>) {
        if let Input::Tail(f) = input {
            let dropped = matches!(fate, Fate::SetAside { .. });
            self.shared.release(f, dropped);
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The files of the folder that are followed or rotated copies, and wanted.
fn scan(shared: &Shared) -> io::Result<Vec<Followed>> {
    let s = &shared.settings;
    let names = glob::Pattern::new(&s.names).map_err(io::Error::other)?;
    let rotated: Vec<glob::Pattern> = s
        .rotated
        .iter()
        .filter_map(|g| glob::Pattern::new(g).ok())
        .collect();
    let mut out = Vec::new();
    let mut found = HashSet::new();
    for entry in std::fs::read_dir(&s.dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_rotated = !names.matches(&name);
        if is_rotated && !rotated.iter().any(|g| g.matches(&name)) {
            continue;
        }
        // Following links: a log may be a link to where it is written.
        let path = entry.path();
        let Ok(m) = std::fs::metadata(&path) else {
            continue;
        };
        if !m.is_file() {
            continue;
        }
        found.insert((m.dev(), m.ino()));
        if shared.wanted((m.dev(), m.ino()), Seen::of(&m)) {
            let f = Followed {
                path,
                dev: m.dev(),
                ino: m.ino(),
                rotated: is_rotated,
            };
            out.push(((!is_rotated, m.mtime(), m.mtime_nsec()), f));
        }
    }
    shared.keep_only(&found);
    // Rotated copies first, oldest first: a rotated copy holds what comes
    // before the file now under the name.
    out.sort_by_key(|(order, _)| *order);
    Ok(out.into_iter().map(|(_, f)| f).collect())
}

fn watch(dir: &Path) -> Option<Inotify> {
    let i = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
    let flags = AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_ATTRIB;
    i.add_watch(dir, flags).ok()?;
    Some(i)
}
