//! One source file's progress through a job, and its fate once every batch
//! has an answer: archive, delete or keep it; set it aside with the records
//! not loaded in `<file>.rest` after too many rejects; leave it for the next
//! start when it could not be read.
//!
//! Owns per-file counts, reject files and the moves; never talks to workers.

pub mod rejects;

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tracing::{error, info, warn};

use crate::config::{Job, OnDone, Source};
use crate::protocol::{Batch, RejectNote};
use crate::supervisor::event::FileStart;
use crate::supervisor::intake::Input;

use rejects::RejectFiles;

/// How a file ended.
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

/// The summary of one file, for the log and the run's report.
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

pub struct FileState {
    pub input: Input,
    pub name: String,
    pub stop: Arc<AtomicBool>,
    pub began: Instant,
    pub start: Option<Box<FileStart>>,
    pub loaded: u64,
    pub rejected: u64,
    pub prior_loaded: u64,
    pub prior_rejected: u64,
    /// Batches the cutter handed over, once it is done with the file.
    pub produced: Option<u64>,
    /// Batches answered or dropped.
    pub handled: u64,
    pub bytes_done: u64,
    /// Ranges committed in this run.
    pub covered: Vec<(u64, u64)>,
    rejects: Option<RejectFiles>,
    /// Why the file was cut short (too many rejects).
    pub stopped: Option<String>,
    /// Why it could not be read, and whether to set it aside.
    pub failed: Option<(String, bool)>,
}

impl FileState {
    pub fn new(input: Input) -> Self {
        FileState {
            name: input.name(),
            input,
            stop: Arc::new(AtomicBool::new(false)),
            began: Instant::now(),
            start: None,
            loaded: 0,
            rejected: 0,
            prior_loaded: 0,
            prior_rejected: 0,
            produced: None,
            handled: 0,
            bytes_done: 0,
            covered: Vec::new(),
            rejects: None,
            stopped: None,
            failed: None,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.input {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        }
    }

    /// The cutter opened the file: remember its preamble and rebuild the
    /// reject files from the notes of ranges committed earlier.
    pub fn started(&mut self, job: &Job, start: Box<FileStart>) -> io::Result<()> {
        self.prior_loaded = start.prior.iter().map(|r| r.loaded).sum();
        self.prior_rejected = start.prior.iter().map(|r| r.rejected).sum();
        if !start.prior_rejects.is_empty() {
            let mut files =
                RejectFiles::create(&job.reject_dir, &self.name, &start.source, &start.preamble)?;
            for (note, bytes) in &start.prior_rejects {
                files.append(note, Some(bytes))?;
            }
            files.flush()?;
            self.rejects = Some(files);
        }
        self.start = Some(start);
        Ok(())
    }

    /// Counts a batch's answer and records its rejects.
    pub fn batch_done(
        &mut self,
        job: &Job,
        batch: &Batch,
        loaded: u64,
        notes: &[RejectNote],
    ) -> io::Result<()> {
        self.loaded += loaded;
        self.handled += 1;
        self.bytes_done += batch.end - batch.start;
        self.covered.push((batch.start, batch.end));
        if notes.is_empty() {
            return Ok(());
        }
        if self.rejects.is_none() {
            let (source, preamble) = match &self.start {
                Some(s) => (s.source.as_str(), s.preamble.as_slice()),
                None => (batch.source.as_str(), &[][..]),
            };
            self.rejects = Some(RejectFiles::create(
                &job.reject_dir,
                &self.name,
                source,
                preamble,
            )?);
        }
        let files = self.rejects.as_mut().expect("created above");
        for note in notes {
            self.rejected += u64::from(note.records);
            let bytes = record_bytes(batch, &self.input, note);
            files.append(note, bytes.as_deref())?;
        }
        files.flush()
    }

    pub fn total_rejected(&self) -> u64 {
        self.prior_rejected + self.rejected
    }

    pub fn complete(&self) -> bool {
        self.produced == Some(self.handled)
    }

    /// Decides the file's fate and reports it. Called once, when complete (or
    /// when the run ends with the file unfinished).
    pub fn finish(mut self, job: &Job, unfinished: Option<String>) -> FileReport {
        if let Some(r) = &mut self.rejects
            && let Err(e) = r.flush()
        {
            error!(job = %job.name, file = %self.name, "cannot write reject files: {e}");
        }
        let outcome = if let Some(reason) = unfinished {
            Outcome::Unfinished { reason }
        } else if let Some((reason, set_aside)) = self.failed.clone() {
            if set_aside {
                self.set_aside(job, &reason, false);
                Outcome::SetAside { reason }
            } else {
                Outcome::Unfinished { reason }
            }
        } else if let Some(reason) = self.stopped.clone() {
            self.set_aside(job, &reason, true);
            Outcome::SetAside { reason }
        } else {
            self.dispose(job);
            if self.loaded + self.rejected == 0 && self.prior_loaded + self.prior_rejected > 0 {
                Outcome::AlreadyLoaded
            } else {
                Outcome::Done
            }
        };
        let report = FileReport {
            job: job.name.clone(),
            file: self.name.clone(),
            loaded: self.loaded,
            rejected: self.rejected,
            prior_loaded: self.prior_loaded,
            prior_rejected: self.prior_rejected,
            seconds: self.began.elapsed().as_secs_f64(),
            outcome,
        };
        log_report(&report);
        report
    }

    /// Archive, delete or keep a fully loaded file of a directory source.
    fn dispose(&self, job: &Job) {
        let (Source::Dir(dir), Some(path)) = (&job.source, self.path()) else {
            return;
        };
        let res = match dir.on_done {
            OnDone::Keep => Ok(()),
            OnDone::Delete => fs::remove_file(path),
            OnDone::Archive => move_into(path, &dir.archive_dir).map(|_| ()),
        };
        if let Err(e) = res {
            error!(job = %job.name, file = %self.name, "cannot {:?} the loaded file: {e}", dir.on_done);
        }
    }

    /// Moves the file to the reject folder; with `rest`, also writes the
    /// records that were neither loaded nor rejected to `<file>.rest`.
    fn set_aside(&self, job: &Job, reason: &str, rest: bool) {
        if rest && let Err(e) = self.write_rest(job) {
            error!(job = %job.name, file = %self.name, "cannot write the .rest file: {e}");
        }
        if let Err(e) = rejects::note_failure(&job.reject_dir, &self.name, reason) {
            error!(job = %job.name, file = %self.name, "cannot write the reject notes: {e}");
        }
        if let (Source::Dir(_), Some(path)) = (&job.source, self.path()) {
            match move_into(path, &job.reject_dir) {
                Ok(to) => {
                    warn!(job = %job.name, file = %self.name, to = %to.display(), "file set aside: {reason}")
                }
                Err(e) => {
                    error!(job = %job.name, file = %self.name, "cannot set the file aside ({reason}): {e}")
                }
            }
        } else {
            warn!(job = %job.name, file = %self.name, "file stopped: {reason}");
        }
    }

    /// `<reject_dir>/<file>.rest`: the preamble, then every byte range of the
    /// file that no run has committed, in order.
    fn write_rest(&self, job: &Job) -> io::Result<()> {
        let (Some(path), Some(start)) = (self.path(), &self.start) else {
            return Ok(());
        };
        let src = File::open(path)?;
        let size = src.metadata()?.len();
        let mut done: Vec<(u64, u64)> = start.prior.iter().map(|r| (r.start, r.end)).collect();
        done.extend(&self.covered);
        done.sort();
        fs::create_dir_all(&job.reject_dir)?;
        let to = job.reject_dir.join(format!("{}.rest", self.name));
        let mut out = io::BufWriter::new(File::create(&to)?);
        out.write_all(&start.preamble)?;
        let mut at = start.preamble.len() as u64;
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
        info!(job = %job.name, file = %self.name, rest = %to.display(), "records not loaded were written to the .rest file");
        Ok(())
    }
}

/// The bytes of the records a note covers: from the batch when it holds them,
/// else from the file (a note from a quarantined or oversized record).
fn record_bytes(batch: &Batch, input: &Input, note: &RejectNote) -> Option<Vec<u8>> {
    let from = note.offset.checked_sub(batch.start)? as usize;
    if let Some(b) = batch.data.get(from..from + note.len as usize) {
        return Some(b.to_vec());
    }
    let Input::File(path) = input else {
        return None;
    };
    let mut bytes = vec![0u8; note.len as usize];
    File::open(path)
        .and_then(|f| f.read_exact_at(&mut bytes, note.offset))
        .ok()?;
    Some(bytes)
}

/// Moves `path` into `dir` (created if missing), never overwriting: a name
/// already taken gets a timestamp suffix. Returns the new path.
pub fn move_into(path: &Path, dir: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut to = dir.join(&name);
    if to.exists() {
        let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f");
        to = dir.join(format!("{name}.{stamp}"));
    }
    match fs::rename(path, &to) {
        Ok(()) => Ok(to),
        // Another filesystem: copy, then remove the original.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            fs::copy(path, &to)?;
            fs::remove_file(path)?;
            Ok(to)
        }
        Err(e) => Err(e),
    }
}

fn log_report(r: &FileReport) {
    let rate = if r.seconds > 0.0 {
        (r.loaded as f64 / r.seconds) as u64
    } else {
        0
    };
    let seconds = format!("{:.2}", r.seconds);
    match &r.outcome {
        // Rejects want a look at the reject files: a warning, so that
        // `journalctl -p warning` shows them.
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
