//! ingestd: a data-ingestion daemon. A supervisor reads sources, cuts them into
//! record-aligned batches and feeds them over pipes to worker processes it
//! fork+execs; each worker owns its own database pool. See DESIGN in README.

pub mod batch;
pub mod cli;
pub mod commands;
pub mod config;
pub mod format;
pub mod logging;
pub mod probe;
pub mod process;
pub mod protocol;
pub mod sink;
pub mod source;
pub mod status;
pub mod supervisor;
pub mod worker;
