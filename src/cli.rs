//! Command line: `run`, `load`, `check`, and the hidden `worker` that the
//! supervisor execs. Owns argument definitions only.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ingestd",
    version,
    about = "Loads files, logs and streams into Oracle, PostgreSQL and SQLite, exactly once."
)]
pub struct Cli {
    /// Log line format (stderr or the configured log file).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch every job's source and load what arrives.
    Run {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Load what the sources hold now, wait until it is committed, and exit.
        #[arg(long)]
        once: bool,
    },
    /// Load the given files (or `-` for standard input) with one job's format and sink.
    Load {
        #[arg(short, long)]
        config: PathBuf,
        /// The job whose table, columns, format and sink to use.
        #[arg(short, long)]
        job: String,
        /// Files to load; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate the configuration without touching any database.
    Check {
        #[arg(short, long)]
        config: PathBuf,
        /// Also start one worker per job that opens and closes its pool and
        /// checks the job's table and columns.
        #[arg(long)]
        connect: bool,
    },
    /// Ask the running daemon what it is doing.
    Status {
        #[arg(short, long)]
        config: PathBuf,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Internal: a worker process, started by the supervisor.
    #[command(hide = true)]
    Worker,
}

/// Process exit codes (also documented in the README).
pub mod exit {
    /// Everything loaded.
    pub const OK: u8 = 0;
    /// Another failure: a file could not be read, a job stopped, interrupted.
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Everything has an answer, but some records were rejected.
    pub const REJECTS: u8 = 3;
    /// The configuration is invalid (also: a job stopped on a configuration error).
    pub const CONFIG: u8 = 78;
}
