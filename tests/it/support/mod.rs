//! Shared helpers of the integration tests, one module per concern:
//! `harness` (trials and what each needs), `orders` (the test data and its
//! checksums), `logs` (access logs, Java logs and a line-format job), `mount` (a small tmpfs of a test's own), `config` (config text and a test folder), `cli` (one command
//! of the real binary), `daemon` (the binary running as a daemon, and its
//! processes seen from outside), `rejects` (reading reject files), `chaos`
//! (killing workers and the supervisor under load), `tmux` (a real
//! terminal for the live view), `tail` (a followed log,
//! its writer and logrotate), `nats` and `nats_publisher` (a nats-server
//! of the test's own, its stream and consumer, a steady publisher, daemons
//! sharing a consumer), `worker` (one worker process driven over its
//! pipes as the supervisor drives it), and per target `pg`, `cluster` (a PostgreSQL server of a test's own) and `oracle`.

pub mod chaos;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod harness;
pub mod logs;
pub mod mount;
pub mod nats;
pub mod nats_publisher;
pub mod oracle;
pub mod orders;
pub mod pg;
pub mod rejects;
pub mod tail;
pub mod tmux;
pub mod worker;

pub use cli::{Ran, ingestd};
pub use config::Setup;
pub use daemon::{Daemon, assert_each_logged, children, fd_targets, http_get, kill};
pub(crate) use harness::trials;
pub use orders::*;

/// The binary under test, as Cargo built it for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ingestd")
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `/dev/shm` as a tmpfs with 3 GiB free, on another device than the
/// system's temporary folder: else why not.
pub fn tmpfs_beside_disk() -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let shm = std::path::Path::new("/dev/shm");
    let st = nix::sys::statfs::statfs(shm).map_err(|e| format!("no /dev/shm: {e}"))?;
    if st.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return Err("/dev/shm is not a tmpfs".into());
    }
    let free = st.blocks_available() as u64 * st.block_size() as u64;
    if free < 3 << 30 {
        return Err(format!(
            "/dev/shm has {} MiB free, 3 GiB needed",
            free >> 20
        ));
    }
    let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    if dev(shm) == dev(&std::env::temp_dir()) {
        return Err("/dev/shm is on the same filesystem as the temporary folder".into());
    }
    Ok(())
}
