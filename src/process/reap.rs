//! Reaping children: one `waitpid(-1, WNOHANG)` loop run on every SIGCHLD
//! (signals merge, so one SIGCHLD may stand for several exits).

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

/// Why a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCause {
    Code(i32),
    Signal { signal: i32, core_dumped: bool },
}

impl std::fmt::Display for ExitCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitCause::Code(c) => write!(f, "exit code {c}"),
            ExitCause::Signal {
                signal,
                core_dumped,
            } => {
                let name = nix::sys::signal::Signal::try_from(*signal)
                    .map(|s| s.as_str())
                    .unwrap_or("unknown signal");
                write!(f, "killed by signal {signal} ({name})")?;
                if *core_dumped {
                    f.write_str(", core dumped")?;
                }
                Ok(())
            }
        }
    }
}

/// Collects every child that has ended, without blocking.
pub fn reap_children() -> Vec<(u32, ExitCause)> {
    let mut out = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                out.push((pid.as_raw() as u32, ExitCause::Code(code)))
            }
            Ok(WaitStatus::Signaled(pid, sig, core)) => out.push((
                pid.as_raw() as u32,
                ExitCause::Signal {
                    signal: sig as i32,
                    core_dumped: core,
                },
            )),
            Ok(WaitStatus::StillAlive) | Err(_) => return out,
            Ok(_) => {} // stopped/continued: not an exit
        }
    }
}
