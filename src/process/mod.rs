//! Processes: fork+exec of workers with their pipes, reaping, signals, and the
//! worker's side of the pipes. This is the only module with `unsafe` code.
//!
//! Owns file descriptors and process ids; knows nothing of batches, jobs or
//! databases (callers give it a program path and get pipes and pids back).

// The crate denies `unsafe_code` (Cargo.toml `[lints]`); fork+exec and
// adopting inherited descriptors need it, here and nowhere else.
#![allow(unsafe_code)]

mod reap;
mod signals;
mod spawn;

pub use reap::{ExitCause, reap_children};
pub use signals::{default_sigpipe, forward_signals};
pub use spawn::{SpawnError, spawn_worker, worker_pipes};

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn kill(pid: u32, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

/// CPU seconds (user + system) this process used itself, its children
/// not counted: for the exit log lines, from which the benchmarks tell the
/// supervisor's share from the workers'.
pub fn cpu_seconds() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(((secs(u.user_time()) + secs(u.system_time())) * 1000.0).round() / 1000.0)
}

/// This process's peak resident set size in MiB (`VmHWM`), for the exit log
/// lines that the benchmarks and operators read.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
