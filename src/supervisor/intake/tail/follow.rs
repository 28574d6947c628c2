//! Reading one followed file as it grows: bytes from a position, through the
//! one descriptor it was opened with, and what happened when there are none
//! (nothing yet, truncated, or moved or deleted under its path). Waiting for
//! growth is inotify's `IN_MODIFY` on the file, with a poll as fallback
//! (network filesystems, a missed event, no inotify).
//!
//! Owns the descriptor and the read position of one file. Must not decide
//! what a record is (the scanner does) or what is committed (the ledger).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// What a read found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// This many bytes, from the position.
    Data(usize),
    /// Nothing new; the path still names this file.
    Idle,
    /// The file is shorter than the position: truncated in place
    /// (`copytruncate`). What was read is all there will be of its old
    /// content through this descriptor.
    Truncated { size: u64 },
    /// Nothing new, and the path no longer names this file (renamed by a
    /// rotation, or deleted). A writer may still append through its own
    /// descriptor for a while.
    Moved,
}

/// One followed file.
pub struct Follow {
    path: PathBuf,
    file: Arc<File>,
    dev: u64,
    ino: u64,
    pos: u64,
    watch: Option<Inotify>,
}

impl Follow {
    /// Follows `file`, opened from `path`, from `pos`.
    pub fn new(path: &Path, file: Arc<File>, pos: u64) -> io::Result<Follow> {
        let meta = file.metadata()?;
        // Watching the inode, not the name: events keep coming after a rename.
        let watch = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| {
                i.add_watch(
                    path,
                    AddWatchFlags::IN_MODIFY
                        | AddWatchFlags::IN_ATTRIB
                        | AddWatchFlags::IN_MOVE_SELF
                        | AddWatchFlags::IN_DELETE_SELF,
                )
                .is_ok()
            });
        Ok(Follow {
            path: path.to_path_buf(),
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            pos,
            watch,
        })
    }

    /// The file's size now.
    pub fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Goes on reading from `pos`.
    pub fn seek(&mut self, pos: u64) {
        self.pos = pos;
    }

    /// Whether the file still begins with `head` (a file truncated and
    /// written again between two reads does not).
    pub fn begins_with(&self, head: &[u8]) -> io::Result<bool> {
        let mut now = vec![0u8; head.len()];
        let mut got = 0;
        while got < now.len() {
            match self.file.read_at(&mut now[got..], got as u64) {
                Ok(0) => return Ok(false),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(now == head)
    }

    /// The number of line ends in `[from, to)`.
    pub fn lines_between(&self, from: u64, to: u64) -> io::Result<u64> {
        let mut buf = vec![0u8; 256 * 1024];
        let (mut at, mut lines) = (from, 0);
        while at < to {
            let want = (to - at).min(buf.len() as u64) as usize;
            let n = match self.file.read_at(&mut buf[..want], at) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            at += n as u64;
        }
        Ok(lines)
    }

    /// Where the last complete line before `size` ends (`from` if none).
    pub fn last_line_end(&self, from: u64, size: u64) -> io::Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut end = size;
        while end > from {
            let start = end.saturating_sub(buf.len() as u64).max(from);
            let n = (end - start) as usize;
            self.file.read_exact_at(&mut buf[..n], start)?;
            if let Some(k) = memchr::memrchr(b'\n', &buf[..n]) {
                return Ok(start + k as u64 + 1);
            }
            end = start;
        }
        Ok(from)
    }

    /// Reads what follows the position into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<Step> {
        loop {
            match self.file.read_at(buf, self.pos) {
                Ok(0) => break,
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(Step::Data(n));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let size = self.size()?;
        if size < self.pos {
            return Ok(Step::Truncated { size });
        }
        Ok(match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Step::Idle,
            Ok(_) => Step::Moved,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Moved,
            Err(e) => return Err(e),
        })
    }

    /// Waits until the file may have changed, or `timeout` passed.
    pub fn wait(&mut self, timeout: Duration) {
        wait_events(self.watch.as_ref(), timeout);
    }
}

/// Waits for events of `watch` (without one, sleeps), at most `timeout`;
/// the events are read and dropped: what changed is looked at afterwards.
pub fn wait_events(watch: Option<&Inotify>, timeout: Duration) {
    let Some(watch) = watch else {
        std::thread::sleep(timeout);
        return;
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = [PollFd::new(watch.as_fd(), PollFlags::POLLIN)];
    let ready = poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    );
    if matches!(ready, Ok(n) if n > 0) {
        // Drain: one wake-up per batch of events is enough.
        while matches!(watch.read_events(), Ok(ev) if !ev.is_empty()) {}
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;

    fn open(path: &Path) -> Follow {
        Follow::new(path, Arc::new(File::open(path).unwrap()), 0).unwrap()
    }

    #[test]
    fn grows_then_idles_then_sees_truncation_and_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"one\n").unwrap();
        let mut f = open(&path);
        let mut buf = [0u8; 64];
        assert_eq!(f.read(&mut buf).unwrap(), Step::Data(4));
        assert_eq!(f.read(&mut buf).unwrap(), Step::Idle);
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        w.write_all(b"two\n").unwrap();
        assert_eq!(f.read(&mut buf).unwrap(), Step::Data(4));
        assert_eq!(&buf[..4], b"two\n");
        // copytruncate: the same inode, shorter than what was read.
        w.set_len(0).unwrap();
        assert_eq!(f.read(&mut buf).unwrap(), Step::Truncated { size: 0 });
        // rename-and-create: the old inode keeps its bytes and its writer.
        let mut g = open(&path);
        w.write_all(b"x\n").unwrap();
        assert_eq!(g.read(&mut buf).unwrap(), Step::Data(2));
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        std::fs::write(&path, b"new\n").unwrap();
        assert_eq!(g.read(&mut buf).unwrap(), Step::Moved);
        w.write_all(b"late\n").unwrap();
        assert_eq!(g.read(&mut buf).unwrap(), Step::Data(5));
        std::fs::remove_file(&path).unwrap();
        let mut h = open(&dir.path().join("app.log.1"));
        std::fs::remove_file(dir.path().join("app.log.1")).unwrap();
        assert_eq!(h.read(&mut buf).unwrap(), Step::Data(7));
        assert_eq!(h.read(&mut buf).unwrap(), Step::Moved);
    }

    #[test]
    fn wait_returns_on_growth_before_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, b"").unwrap();
        let mut f = open(&path);
        assert!(f.watch.is_some(), "inotify is available here");
        let p = path.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::OpenOptions::new()
                .append(true)
                .open(p)
                .unwrap()
                .write_all(b"hi\n")
                .unwrap();
        });
        let t0 = Instant::now();
        f.wait(Duration::from_secs(10));
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        writer.join().unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(f.read(&mut buf).unwrap(), Step::Data(3));
        // Without news, the timeout.
        let t0 = Instant::now();
        f.wait(Duration::from_millis(150));
        assert!(t0.elapsed() >= Duration::from_millis(140));
    }
}
