//! ingestd: a data-ingestion daemon. A supervisor reads sources, cuts them
//! into record-aligned batches and feeds them over pipes to worker processes
//! it fork+execs; each worker owns its own database pool.
//!
//! The process boundary is module privacy: the sinks are private to
//! `worker` (`worker::sink`), the sources and the cutter private to
//! `supervisor` (`supervisor::intake`), so neither side can name the
//! other's stage (`.ci/boundary` checks that such a use fails to compile).
//! What both sides share: `config`, `protocol`, `format`, `process`,
//! `logging`, `status` (the report's shape) and `oracle_client` (a file
//! search that never loads the library). The command line is the only export
//! `main.rs` needs; the shared modules a supervisor needs to drive a worker
//! (its configuration, the records' format, the pipe protocol, fork+exec)
//! are exported too, so that the integration tests drive the real `ingestd
//! worker` process as the supervisor does. Neither side's stage is.

pub mod cli;
pub mod config;
pub mod format;
mod logging;
mod oracle_client;
pub mod process;
pub mod protocol;
mod status;
mod supervisor;
mod worker;

/// How a worker logs: part of `protocol::WorkerSetup` (the subscriber
/// itself stays private).
pub use logging::{LogFormat, LogSetup};
