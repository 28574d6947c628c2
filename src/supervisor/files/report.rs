//! What is said about an input at its end: the report, for the run's
//! summary and the log line operators read.
//!
//! Owns the report's shape and its log line; the outcome is decided by
//! `FileState::into_end` and `End::run`.

use tracing::{debug, info, warn};

/// How an input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every record is loaded or rejected.
    Done,
    /// Every range was committed by an earlier run: nothing to do.
    AlreadyLoaded,
    /// Moved to the reject folder (too many rejects, unusable header).
    SetAside { reason: String },
    /// Not finished (unreadable, job stopped, shutdown); it is tried again later.
    Unfinished { reason: String },
}

/// The summary of one input, for the log and the run's report.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub job: String,
    pub file: String,
    pub loaded: u64,
    pub rejected: u64,
    /// Loaded and rejected by earlier runs (from the ledger).
    pub prior_loaded: u64,
    pub prior_rejected: u64,
    pub seconds: f64,
    pub outcome: Outcome,
    /// A followed file, let go (rotated away, idle, truncated) rather than
    /// finished: said at info level, it is the normal course of a log.
    pub followed: bool,
}

impl FileReport {
    /// One log line; rejects and set-aside inputs at warning level, so that
    /// `journalctl -p warning` shows what wants a look.
    pub fn log(&self) {
        let r = self;
        let rate = if r.seconds > 0.0 {
            (r.loaded as f64 / r.seconds) as u64
        } else {
            0
        };
        let seconds = format!("{:.2}", r.seconds);
        match &r.outcome {
            Outcome::Done | Outcome::AlreadyLoaded | Outcome::Unfinished { .. } if r.followed => {
                if r.loaded + r.rejected == 0 {
                    return debug!(job = %r.job, file = %r.file, "followed file let go, nothing new in it");
                }
                let why = match &r.outcome {
                    Outcome::Unfinished { reason } => reason.as_str(),
                    _ => "rotated away, idle or truncated",
                };
                info!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, seconds, "followed file let go ({why}); reading resumes from the ledger when it is taken again")
            }
            Outcome::Done if r.rejected > 0 => {
                warn!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, seconds, rows_per_s = rate, "file done with rejects")
            }
            Outcome::Done => {
                info!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, seconds, rows_per_s = rate, "file done")
            }
            Outcome::AlreadyLoaded => {
                info!(job = %r.job, file = %r.file, loaded_before = r.prior_loaded, rejected_before = r.prior_rejected, "file already loaded: nothing to do")
            }
            Outcome::SetAside { reason } => {
                warn!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, seconds, "file set aside: {reason}")
            }
            // Nothing of it was answered in this run (the stop came before
            // its ledger answer, or before its first batch): nothing to look
            // at, so not a warning.
            Outcome::Unfinished { reason } if r.loaded + r.rejected == 0 => {
                info!(job = %r.job, file = %r.file, "file left for the next start, nothing of it loaded in this run: {reason}")
            }
            Outcome::Unfinished { reason } => {
                warn!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, "file not finished: {reason}")
            }
        }
    }
}
