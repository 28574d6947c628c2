//! Shared helpers of the integration tests, one module per concern:
//! `harness` (trials and what each needs), `orders` (the test data and its
//! checksums), `config` (config text and a test folder), `cli` (one command
//! of the real binary), `daemon` (the binary running as a daemon, and its
//! processes seen from outside), `rejects` (reading reject files), `chaos`
//! (killing workers and the supervisor under load), `worker` (one worker
//! process driven over its pipes as the supervisor drives it), and per
//! target `pg`, `cluster` (a PostgreSQL server of a test's own) and `oracle`.

pub mod chaos;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod harness;
pub mod oracle;
pub mod orders;
pub mod pg;
pub mod rejects;
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
