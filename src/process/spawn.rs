//! Starting a worker: two `O_CLOEXEC` pipes, then fork and, at once, exec of
//! the daemon's own binary with the child's pipe ends on fds 3 and 4.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::pipe2;

/// The worker reads its frames from this descriptor...
pub const WORKER_IN_FD: i32 = 3;
/// ...and writes its answers to this one.
pub const WORKER_OUT_FD: i32 = 4;

/// Pipes of 1 MiB (the unprivileged maximum) hold a whole batch or two.
const PIPE_SIZE: i32 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("creating a pipe for a worker: {0}")]
    Pipe(#[source] nix::Error),
    #[error("starting worker {exe}: {source}")]
    Exec {
        exe: String,
        #[source]
        source: io::Error,
    },
}

/// A started worker: its pid and the supervisor's ends of its two pipes.
pub struct WorkerProcess {
    pub pid: u32,
    /// Frames to the worker.
    pub to_worker: File,
    /// Frames from the worker.
    pub from_worker: File,
}

/// Starts `exe worker` as a new process group (a terminal ^C reaches only the
/// supervisor), with stdout closed, stderr shared, no NOTIFY_SOCKET, and a
/// death signal if the spawning thread's process goes away.
pub fn spawn_worker(exe: &Path) -> Result<WorkerProcess, SpawnError> {
    let (child_in, to_worker) = pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    let (from_worker, child_out) = pipe2(OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    // Best effort: a smaller pipe only costs more wake-ups.
    let _ = fcntl(&to_worker, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
    let _ = fcntl(&from_worker, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));

    let parent = std::process::id() as libc::pid_t;
    let (a, b) = (child_in.as_raw_fd(), child_out.as_raw_fd());
    let mut cmd = Command::new(exe);
    cmd.arg("worker")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: it uses fcntl, dup2, prctl, getppid
    // and _exit only, allocates nothing and takes no locks. `a` and `b` are
    // plain integers copied in; the descriptors stay open in the parent until
    // `spawn` returns, so they are valid in the child.
    unsafe {
        cmd.pre_exec(move || {
            // Move both ends above the target numbers first, so that dup2 onto
            // 3 cannot clobber an end that happens to be 3 or 4 already.
            let a2 = libc::fcntl(a, libc::F_DUPFD_CLOEXEC, 10);
            let b2 = libc::fcntl(b, libc::F_DUPFD_CLOEXEC, 10);
            if a2 < 0 || b2 < 0 {
                return Err(io::Error::last_os_error());
            }
            // dup2 clears FD_CLOEXEC on the new descriptor: 3 and 4 survive exec.
            if libc::dup2(a2, WORKER_IN_FD) < 0 || libc::dup2(b2, WORKER_OUT_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The supervisor may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| SpawnError::Exec {
        exe: exe.display().to_string(),
        source,
    })?;
    let pid = child.id();
    // The child's ends are closed here; reaping is done by `reap_children`,
    // never through `Child::wait`.
    drop((child_in, child_out, child));
    Ok(WorkerProcess {
        pid,
        to_worker: File::from(to_worker),
        from_worker: File::from(from_worker),
    })
}

/// In a worker: takes ownership of the pipe ends the supervisor left on fds 3
/// and 4, after checking they are open, and marks them close-on-exec.
pub fn worker_pipes() -> io::Result<(File, File)> {
    let mut files = Vec::with_capacity(2);
    for fd in [WORKER_IN_FD, WORKER_OUT_FD] {
        // SAFETY: F_GETFD only inspects the descriptor table; it fails with
        // EBADF when `fd` is not open, which we report instead of adopting it.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(io::Error::other(format!(
                "file descriptor {fd} is not open: `ingestd worker` is started by the supervisor, not by hand"
            )));
        }
        // SAFETY: the descriptor is open (checked above), was given to this
        // process by the supervisor for exactly this use, and nothing else in
        // the worker owns it; OwnedFd becomes its only owner.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = fcntl(&owned, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
        files.push(File::from(owned));
    }
    let out = files.pop().expect("two descriptors");
    let input = files.pop().expect("two descriptors");
    Ok((input, out))
}
