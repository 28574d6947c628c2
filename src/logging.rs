//! Logging to stderr with tracing: one line per event. The supervisor and its
//! workers share stderr, so every worker line carries job, worker and pid.
//!
//! Owns subscriber setup only; what to log is decided where things happen.

use serde::{Deserialize, Serialize};

/// How to log; decided by the supervisor and handed to workers in `WorkerSetup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSetup {
    /// An `EnvFilter` directive (`info`, `ingestd=debug`...).
    pub filter: String,
    /// stderr is the systemd journal: `<N>` priority prefixes, no timestamps.
    pub journal: bool,
    /// Colours (a terminal).
    pub ansi: bool,
}

impl LogSetup {
    /// From the environment: `INGESTD_LOG` (else `info`), `JOURNAL_STREAM`, and
    /// whether stderr is a terminal.
    pub fn from_env() -> Self {
        use std::io::IsTerminal;
        LogSetup {
            filter: std::env::var("INGESTD_LOG").unwrap_or_else(|_| "info".to_string()),
            journal: std::env::var_os("JOURNAL_STREAM").is_some(),
            ansi: std::io::stderr().is_terminal(),
        }
    }
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(setup: &LogSetup) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&setup.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(setup.ansi)
        .with_target(false);
    if setup.journal {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
