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
//! `main.rs` needs.

pub mod cli;
mod config;
mod format;
mod logging;
mod oracle_client;
mod process;
mod protocol;
mod status;
mod supervisor;
mod worker;
