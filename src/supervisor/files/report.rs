//! What is said about an input at its end: the report (for the run's summary
//! and the log line operators read) and, for an input set aside, the
//! `.rest` file holding every record no run has committed.
//!
//! Owns those two outputs; the decision is `FileState::finish`'s.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use tracing::{info, warn};

use crate::config::Job;

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
            Outcome::Unfinished { reason } => {
                warn!(job = %r.job, file = %r.file, loaded = r.loaded, rejected = r.rejected, "file not finished: {reason}")
            }
        }
    }
}

/// `<reject_dir>/<name>.rest`: `preamble`, then every byte range of the file
/// at `path` outside `done` (the ranges committed by any run), in order.
pub fn write_rest(
    job: &Job,
    name: &str,
    path: &Path,
    preamble: &[u8],
    mut done: Vec<(u64, u64)>,
) -> io::Result<()> {
    let src = File::open(path)?;
    let size = src.metadata()?.len();
    done.sort();
    fs::create_dir_all(&job.reject_dir)?;
    let to = job.reject_dir.join(format!("{name}.rest"));
    let mut out = io::BufWriter::new(File::create(&to)?);
    out.write_all(preamble)?;
    let mut at = preamble.len() as u64;
    let mut buf = vec![0u8; 1 << 20];
    for (s, e) in done.into_iter().chain([(size, size)]) {
        while at < s {
            let n = ((s - at) as usize).min(buf.len());
            src.read_exact_at(&mut buf[..n], at)?;
            out.write_all(&buf[..n])?;
            at += n as u64;
        }
        at = at.max(e);
    }
    out.flush()?;
    info!(job = %job.name, file = %name, rest = %to.display(), "records not loaded were written to the .rest file");
    Ok(())
}
