//! Each input's progress through a job (`FileState`: counts, the batches
//! handed over and answered, the reject files) and its end once every batch
//! has an answer: the outcome of its records is decided here
//! (`FileState::into_end`), the rest (is the file unchanged? `.rest`, the
//! note of why it was set aside, archive or delete as its source says) runs
//! off the event loop (`end.rs`).
//!
//! Owns per-input counts, reject files and inputs' ends; never talks to
//! workers.

mod end;
mod followed;
pub mod rejects;
mod report;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tracing::error;

use crate::config::Job;
use crate::protocol::{Batch, RejectNote};
use crate::status::FileStatus;
use crate::supervisor::event::{FileId, FileStart};
use crate::supervisor::intake::{Disposal, Input};
use followed::{cover, reject_name};

pub use end::{End, Ended, spawn as spawn_ender};
use end::{Taken, Verdict};
use rejects::RejectFiles;
pub use report::{FileReport, Outcome};

/// One input's progress.
pub struct FileState {
    input: Input,
    name: String,
    /// Shared with the cutter: set to cut the input short.
    stop: Arc<AtomicBool>,
    began: Instant,
    /// Set once the cutter opened it: identity, preamble, earlier ranges.
    start: Option<Box<FileStart>>,
    loaded: u64,
    rejected: u64,
    /// Loaded and rejected by other runs: before this one (the ledger at
    /// the start), or at the same time (batches found committed already).
    prior_loaded: u64,
    prior_rejected: u64,
    /// Batches the cutter handed over, once it is done with the input.
    produced: Option<u64>,
    /// Batches answered or dropped.
    handled: u64,
    /// Batches cut in two after the cutter handed them over (each one more
    /// to answer).
    splits: u64,
    bytes_done: u64,
    /// Ranges committed in this run, merged where they touch (a followed
    /// file's batches would otherwise grow this without bound).
    covered: Vec<(u64, u64)>,
    /// A followed file: since when some of its bytes wait to be committed.
    behind_since: Option<Instant>,
    /// A followed file: where the prefix committed before this run ends.
    prior_prefix: u64,
    rejects: Option<RejectFiles>,
    /// The reject files could not be written: the input must not be let go
    /// (its rejects are written from the ledger when it is taken again).
    reject_error: Option<String>,
    /// Cut short: more records rejected than this `max_errors`.
    stopped: Option<u64>,
    /// Why a worker refused its batches (a header that does not fit the
    /// table): it is set aside.
    refused: Option<String>,
    /// Why it could not be read, and whether to set it aside.
    failed: Option<(String, bool)>,
}

impl FileState {
    fn new(input: Input) -> Self {
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
            splits: 0,
            bytes_done: 0,
            covered: Vec::new(),
            behind_since: None,
            prior_prefix: 0,
            rejects: None,
            reject_error: None,
            stopped: None,
            refused: None,
            failed: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A stream's link to its reader, once it started.
    pub fn stream(&self) -> Option<&crate::supervisor::intake::StreamLink> {
        self.start.as_ref()?.stream.as_ref()
    }

    /// Whether its batches are no longer sent (too many rejects, refused).
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some() || self.refused.is_some()
    }

    /// The cutter opened the input: remember its preamble and rebuild the
    /// reject files from the notes of ranges committed earlier.
    pub fn started(&mut self, job: &Job, start: Box<FileStart>) -> io::Result<()> {
        self.prior_loaded = start.prior.iter().map(|r| r.loaded).sum();
        self.prior_rejected = start.prior.iter().map(|r| r.rejected).sum();
        let prior = start.prior.iter().map(|r| (r.start, r.end));
        self.prior_prefix =
            crate::supervisor::intake::committed_prefix(prior, start.preamble.len() as u64);
        let rebuilt = match start.prior_rejects.is_empty() {
            true => Ok(()),
            false => self.rebuild_rejects(job, &start),
        };
        self.start = Some(start);
        self.reject_failed(rebuilt)
    }

    /// Remembers the first failure to write reject files; later writes are
    /// skipped (the files are rebuilt from the ledger on the next attempt).
    fn reject_failed(&mut self, r: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &r
            && self.reject_error.is_none()
        {
            self.reject_error = Some(e.to_string());
            self.rejects = None;
        }
        r
    }

    fn rebuild_rejects(&mut self, job: &Job, start: &FileStart) -> io::Result<()> {
        let name = reject_name(&self.name, &start.source);
        let mut files =
            RejectFiles::create(&job.reject_dir, &name, &start.source, &start.preamble)?;
        for (note, bytes) in &start.prior_rejects {
            files.append(note, Some(bytes))?;
        }
        files.flush()?;
        self.rejects = Some(files);
        Ok(())
    }

    /// Counts a batch's answer (`elsewhere`: loaded and rejected by another
    /// run) and records its rejects.
    pub fn batch_done(
        &mut self,
        job: &Job,
        batch: &Batch,
        loaded: u64,
        notes: &[RejectNote],
        elsewhere: bool,
    ) -> io::Result<()> {
        let (loaded_by, rejected_by) = match elsewhere {
            true => (&mut self.prior_loaded, &mut self.prior_rejected),
            false => (&mut self.loaded, &mut self.rejected),
        };
        *loaded_by += loaded;
        *rejected_by += notes.iter().map(|n| u64::from(n.records)).sum::<u64>();
        self.handled += 1;
        self.bytes_done += match &batch.stream {
            Some(_) => batch.data.len() as u64,
            None => batch.end - batch.start,
        };
        if batch.stream.is_none() {
            cover(&mut self.covered, (batch.start, batch.end));
        }
        if notes.is_empty() || self.reject_error.is_some() {
            return Ok(());
        }
        let written = self.write_rejects(job, batch, notes);
        self.reject_failed(written)
    }

    fn write_rejects(&mut self, job: &Job, batch: &Batch, notes: &[RejectNote]) -> io::Result<()> {
        if self.rejects.is_none() {
            let (source, preamble) = match &self.start {
                Some(s) => (s.source.as_str(), s.preamble.as_slice()),
                None => (batch.source.as_str(), &[][..]),
            };
            let name = reject_name(&self.name, source);
            let files = RejectFiles::create(&job.reject_dir, &name, source, preamble)?;
            self.rejects = Some(files);
        }
        let files = self.rejects.as_mut().expect("created above");
        let content = self.start.as_ref().map(|s| &s.content);
        if let Some(msgs) = &batch.stream {
            // A stream's notes name sequences: each message's payload once.
            let mut last = None;
            for note in notes {
                let i = msgs.seqs.binary_search(&note.offset).ok();
                let bytes = i
                    .filter(|_| last != Some(note.offset))
                    .map(|i| msgs.payload(&batch.data, i));
                let subject = i.and_then(|i| msgs.subjects.get(i)).map(|s| &**s);
                last = Some(note.offset);
                files.append_message(note, bytes, subject)?;
            }
            return files.flush();
        }
        for note in notes {
            // From the batch when it holds the bytes, else from the file (a
            // quarantined or oversized range), never whole in memory.
            let from = note.offset.checked_sub(batch.start).map(|f| f as usize);
            let held = from.and_then(|f| batch.data.get(f..f + note.len as usize));
            match (held, content) {
                (Some(bytes), _) => files.append(note, Some(bytes))?,
                (None, Some(content)) => files.append_from(note, content)?,
                (None, None) => files.append(note, None)?,
            }
        }
        files.flush()
    }

    /// Stops the input when more records than `max_errors` were rejected
    /// (by this run and others); returns what to log when it stops it now.
    /// Batches sent before are still answered: the reason of its end
    /// (`into_end`) counts their rejects too.
    pub fn stop_if_over(&mut self, max_errors: u64) -> Option<String> {
        let total = self.prior_rejected + self.rejected;
        // A log is not set aside: its rejects go on to the reject files.
        if self.stopped.is_some() || total <= max_errors || self.input.is_followed() {
            return None;
        }
        self.stopped = Some(max_errors);
        self.stop.store(true, Ordering::Relaxed);
        Some(format!(
            "{total} records rejected so far, more than max_errors = {max_errors}; \
             the batches already sent are answered before it is set aside"
        ))
    }

    /// A worker refused one of its batches (nothing of it was written):
    /// the input stops and is set aside for `reason`. True the first time.
    pub fn refused(&mut self, reason: String) -> bool {
        self.handled += 1;
        if self.refused.is_some() {
            return false;
        }
        self.refused = Some(reason);
        self.stop.store(true, Ordering::Relaxed);
        true
    }

    /// Batches of it that will not be sent (dropped after a stop).
    pub fn dropped(&mut self, batches: u64) {
        self.handled += batches;
    }

    /// The cutter handed over its last batch (`batches` in all).
    pub fn cut(&mut self, batches: u64) {
        self.produced = Some(batches);
    }

    /// It cannot be loaded (`set_aside`: not even later); `batches` were
    /// handed over before.
    pub fn cut_failed(&mut self, reason: String, set_aside: bool, batches: u64) {
        self.failed = Some((reason, set_aside));
        self.produced = Some(batches);
    }

    /// Every batch has an answer.
    pub fn complete(&self) -> bool {
        self.produced.map(|p| p + self.splits) == Some(self.handled)
    }

    /// One of its batches was cut in two halves.
    pub fn split(&mut self) {
        self.splits += 1;
    }

    fn status(&self) -> FileStatus {
        if let Some(followed) = self.followed_status() {
            return followed;
        }
        FileStatus {
            file: self.name.clone(),
            bytes_done: self.bytes_done,
            size: self
                .input
                .path()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len()),
            loaded: self.loaded,
            rejected: self.rejected,
            tail: None,
        }
    }

    /// Decides the outcome of its records (`unfinished`: the run ends
    /// before the input did) and hands what is left to do to an `End`, which
    /// `disposal` says how to finish.
    pub fn into_end(
        mut self,
        job: &Arc<Job>,
        unfinished: Option<String>,
        disposal: Disposal,
    ) -> End {
        if let Some(r) = &mut self.rejects {
            let synced = r.sync(&job.reject_dir);
            let _ = self.reject_failed(synced);
        }
        let verdict = if let Some(reason) = unfinished {
            Verdict::Unfinished { reason }
        } else if let Some(e) = self.reject_error.take() {
            let total = self.prior_rejected + self.rejected;
            let reason = format!(
                "its {total} rejected records could not be written to the reject folder {} \
                 ({e}): the file stays where it is, and its rejects are written from the \
                 ledger when it is taken again (free space or fix the folder's permissions)",
                job.reject_dir.display()
            );
            error!(job = %job.name, file = %self.name, "{reason}");
            Verdict::Unfinished { reason }
        } else if let Some(reason) = self.refused.take() {
            // Ranges committed before (by an earlier run, or before the
            // table changed) stay; then the records not committed go to
            // `.rest`, so that none can be loaded twice.
            let before = self.loaded + self.rejected + self.prior_loaded + self.prior_rejected;
            Verdict::SetAside {
                rest: before > 0,
                reason,
            }
        } else if let Some((reason, set_aside)) = self.failed.take() {
            match set_aside {
                // Unusable as a whole (a header) has nothing loaded; one that
                // shrank while read has its records read before loaded.
                true => Verdict::SetAside {
                    rest: self.loaded + self.rejected > 0,
                    reason,
                },
                false => Verdict::Unfinished { reason },
            }
        } else if let Some(max_errors) = self.stopped.take() {
            let (total, others) = (self.prior_rejected + self.rejected, self.prior_rejected);
            let reason = match others {
                0 => format!("{total} records rejected, more than max_errors = {max_errors}"),
                _ => format!(
                    "{total} records rejected ({others} of them by other runs), more than \
                     max_errors = {max_errors}"
                ),
            };
            Verdict::SetAside { reason, rest: true }
        } else {
            let already =
                self.loaded + self.rejected == 0 && self.prior_loaded + self.prior_rejected > 0;
            Verdict::Loaded { already }
        };
        let taken = self.start.and_then(|start| {
            let (snapshot, file) = start.file?;
            let mut done: Vec<(u64, u64)> = start.prior.iter().map(|r| (r.start, r.end)).collect();
            done.extend(&self.covered);
            Some(Taken {
                source: start.source,
                content: start.content,
                snapshot,
                file,
                preamble: start.preamble,
                done,
            })
        });
        End {
            job: job.clone(),
            report: FileReport {
                job: job.name.clone(),
                file: self.name.clone(),
                loaded: self.loaded,
                rejected: self.rejected,
                prior_loaded: self.prior_loaded,
                prior_rejected: self.prior_rejected,
                seconds: self.began.elapsed().as_secs_f64(),
                outcome: Outcome::Done,
                followed: self.input.is_followed(),
            },
            input: self.input,
            verdict,
            taken,
            disposal,
        }
    }
}

/// The inputs of one job in progress, by id.
#[derive(Default)]
pub struct Files {
    map: BTreeMap<FileId, FileState>,
    next: FileId,
}

impl Files {
    /// Starts tracking `input`; returns its id and the flag that cuts it short.
    pub fn open(&mut self, input: Input) -> (FileId, Arc<AtomicBool>) {
        self.next += 1;
        let state = FileState::new(input);
        let stop = state.stop.clone();
        self.map.insert(self.next, state);
        (self.next, stop)
    }

    /// Stops tracking an input that never reached the cutter.
    pub fn forget(&mut self, id: FileId) {
        self.map.remove(&id);
    }

    /// Whether the file at `path` is in progress already.
    pub fn reading(&self, path: &Path) -> bool {
        self.map.values().any(|f| f.input.path() == Some(path))
    }

    pub fn get_mut(&mut self, id: FileId) -> Option<&mut FileState> {
        self.map.get_mut(&id)
    }

    /// Whether batches of `id` are still wanted.
    pub fn wants(&self, id: FileId) -> bool {
        self.map.get(&id).is_some_and(|f| !f.is_stopped())
    }

    /// Removes `id` if every batch of it has an answer.
    pub fn take_complete(&mut self, id: FileId) -> Option<FileState> {
        match self.map.get(&id) {
            Some(f) if f.complete() => self.map.remove(&id),
            _ => None,
        }
    }

    /// Cuts every input short (the job stops or drains).
    pub fn stop_all(&self) {
        for f in self.map.values() {
            f.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Every input still in progress, for the end of the run.
    pub fn take_all(&mut self) -> Vec<FileState> {
        std::mem::take(&mut self.map).into_values().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// (being read, found but not opened by the cutter yet).
    pub fn counts(&self) -> (usize, usize) {
        let waiting = self.map.values().filter(|f| f.start.is_none()).count();
        (self.map.len() - waiting, waiting)
    }

    /// The status of each input being read.
    pub fn statuses(&self) -> Vec<FileStatus> {
        self.map
            .values()
            .filter(|f| f.start.is_some())
            .map(FileState::status)
            .collect()
    }
}

#[cfg(test)]
mod tests;
