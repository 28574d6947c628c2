//! Each input's progress through a job (`FileState`: counts, the batches
//! handed over and answered, the reject files) and its end once every batch
//! has an answer: the outcome, the `.rest` file of records not loaded after
//! too many rejects, the note of why a file was set aside, the report.
//! Moving the file (archive, delete, set aside) is its source's business
//! (`intake::Source::settle`), told through the `Fate` returned here.
//!
//! Owns per-input counts and reject files; never talks to workers and never
//! moves a source file.

pub mod rejects;
mod report;

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tracing::error;

use crate::config::Job;
use crate::protocol::{Batch, RejectNote};
use crate::status::FileStatus;
use crate::supervisor::event::{FileId, FileStart};
use crate::supervisor::intake::{Fate, Input};

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
    prior_loaded: u64,
    prior_rejected: u64,
    /// Batches the cutter handed over, once it is done with the input.
    produced: Option<u64>,
    /// Batches answered or dropped.
    handled: u64,
    bytes_done: u64,
    /// Ranges committed in this run.
    covered: Vec<(u64, u64)>,
    rejects: Option<RejectFiles>,
    /// Why it was cut short (too many rejects).
    stopped: Option<String>,
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
            bytes_done: 0,
            covered: Vec::new(),
            rejects: None,
            stopped: None,
            failed: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether its batches are no longer sent (too many rejects).
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// The cutter opened the input: remember its preamble and rebuild the
    /// reject files from the notes of ranges committed earlier.
    pub fn started(&mut self, job: &Job, start: Box<FileStart>) -> io::Result<()> {
        self.prior_loaded = start.prior.iter().map(|r| r.loaded).sum();
        self.prior_rejected = start.prior.iter().map(|r| r.rejected).sum();
        let rebuilt = match start.prior_rejects.is_empty() {
            true => Ok(()),
            false => self.rebuild_rejects(job, &start),
        };
        self.start = Some(start);
        rebuilt
    }

    fn rebuild_rejects(&mut self, job: &Job, start: &FileStart) -> io::Result<()> {
        let mut files =
            RejectFiles::create(&job.reject_dir, &self.name, &start.source, &start.preamble)?;
        for (note, bytes) in &start.prior_rejects {
            files.append(note, Some(bytes))?;
        }
        files.flush()?;
        self.rejects = Some(files);
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
            let files = RejectFiles::create(&job.reject_dir, &self.name, source, preamble)?;
            self.rejects = Some(files);
        }
        let files = self.rejects.as_mut().expect("created above");
        for note in notes {
            self.rejected += u64::from(note.records);
            let bytes = record_bytes(batch, &self.input, note);
            files.append(note, bytes.as_deref())?;
        }
        files.flush()
    }

    /// Stops the input when more records than `max_errors` were rejected
    /// (now and by earlier runs); returns the reason when it stops it now.
    pub fn stop_if_over(&mut self, max_errors: u64) -> Option<String> {
        let total = self.prior_rejected + self.rejected;
        if self.stopped.is_some() || total <= max_errors {
            return None;
        }
        let reason = format!("{total} records rejected, more than max_errors = {max_errors}");
        self.stopped = Some(reason.clone());
        self.stop.store(true, Ordering::Relaxed);
        Some(reason)
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
        self.produced == Some(self.handled)
    }

    fn status(&self) -> FileStatus {
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
        }
    }

    /// Decides the outcome (`unfinished`: the run ends before the input did),
    /// writes what a set-aside input leaves in the reject folder, logs and
    /// reports it. Returns the report, and the input and fate for its source.
    pub fn finish(mut self, job: &Job, unfinished: Option<String>) -> (FileReport, Input, Fate) {
        if let Some(r) = &mut self.rejects
            && let Err(e) = r.flush()
        {
            error!(job = %job.name, file = %self.name, "cannot write reject files: {e}");
        }
        let (outcome, fate) = if let Some(reason) = unfinished {
            (Outcome::Unfinished { reason }, Fate::Unfinished)
        } else if let Some((reason, set_aside)) = self.failed.take() {
            match set_aside {
                true => self.set_aside(job, reason, false),
                false => (Outcome::Unfinished { reason }, Fate::Unfinished),
            }
        } else if let Some(reason) = self.stopped.take() {
            self.set_aside(job, reason, true)
        } else if self.loaded + self.rejected == 0 && self.prior_loaded + self.prior_rejected > 0 {
            (Outcome::AlreadyLoaded, Fate::Loaded)
        } else {
            (Outcome::Done, Fate::Loaded)
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
        report.log();
        (report, self.input, fate)
    }

    /// Writes `.rest` (with `rest`) and the note of why, for an input to be
    /// set aside.
    fn set_aside(&self, job: &Job, reason: String, rest: bool) -> (Outcome, Fate) {
        if rest && let (Some(path), Some(start)) = (self.input.path(), &self.start) {
            let mut done: Vec<(u64, u64)> = start.prior.iter().map(|r| (r.start, r.end)).collect();
            done.extend(&self.covered);
            if let Err(e) = report::write_rest(job, &self.name, path, &start.preamble, done) {
                error!(job = %job.name, file = %self.name, "cannot write the .rest file: {e}");
            }
        }
        if let Err(e) = rejects::note_failure(&job.reject_dir, &self.name, &reason) {
            error!(job = %job.name, file = %self.name, "cannot write the reject notes: {e}");
        }
        let fate = Fate::SetAside {
            reason: reason.clone(),
        };
        (Outcome::SetAside { reason }, fate)
    }
}

/// The bytes of the records a note covers: from the batch when it holds them,
/// else from the file (a note from a quarantined or oversized record).
fn record_bytes(batch: &Batch, input: &Input, note: &RejectNote) -> Option<Vec<u8>> {
    let from = note.offset.checked_sub(batch.start)? as usize;
    if let Some(b) = batch.data.get(from..from + note.len as usize) {
        return Some(b.to_vec());
    }
    let mut bytes = vec![0u8; note.len as usize];
    File::open(input.path()?)
        .and_then(|f| f.read_exact_at(&mut bytes, note.offset))
        .ok()?;
    Some(bytes)
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
mod tests {
    use super::*;
    use crate::protocol::LedgerRange;
    use crate::supervisor::fixtures::{self, batch};

    fn note(offset: u64, len: u64) -> RejectNote {
        RejectNote {
            offset,
            len,
            line: offset / 4 + 2,
            records: 1,
            column: None,
            code: "bad".into(),
            reason: "bad value".into(),
        }
    }

    /// `a.csv` = header + 4 records of 4 bytes; ranges [2, 10) committed earlier.
    fn started(d: &Path, job: &Job) -> (Files, FileId) {
        let path = d.join("in/a.csv");
        std::fs::write(&path, "x\n1,a\n2,b\n3,c\n4,d\n").unwrap();
        let mut files = Files::default();
        let (id, _) = files.open(Input::File(path));
        let prior = LedgerRange {
            start: 2,
            end: 10,
            first_line: 2,
            loaded: 2,
            rejected: 0,
            rejects: vec![],
        };
        let start = FileStart {
            source: "src".into(),
            preamble: b"x\n".to_vec(),
            prior: vec![prior],
            prior_rejects: vec![],
        };
        files
            .get_mut(id)
            .unwrap()
            .started(job, Box::new(start))
            .unwrap();
        (files, id)
    }

    #[test]
    fn over_max_errors_it_stops_and_the_rest_file_holds_what_no_run_committed() {
        let d = tempfile::tempdir().unwrap();
        let job = fixtures::job(d.path(), "");
        let (mut files, id) = started(d.path(), &job);
        let f = files.get_mut(id).unwrap();
        f.batch_done(&job, &batch(10, b"3,c\n"), 0, &[note(10, 4)])
            .unwrap();
        assert_eq!(f.stop_if_over(job.max_errors), None, "1 reject, max 1");
        f.batch_done(&job, &batch(14, b"4,d\n"), 0, &[note(14, 4)])
            .unwrap();
        let reason = f.stop_if_over(job.max_errors).expect("2 > 1");
        assert!(reason.contains("max_errors = 1"), "{reason}");
        assert_eq!(f.stop_if_over(job.max_errors), None, "stopped once");
        assert!(!files.wants(id));
        assert!(files.take_complete(id).is_none(), "not cut yet");
        files.get_mut(id).unwrap().cut(2);
        let f = files.take_complete(id).expect("both batches answered");
        let (report, _, fate) = f.finish(&job, None);
        assert_eq!(fate, Fate::SetAside { reason });
        assert_eq!(
            (report.loaded, report.rejected, report.prior_loaded),
            (0, 2, 2)
        );
        // Everything was committed by a run: the .rest holds the header only.
        let rest = std::fs::read(job.reject_dir.join("a.csv.rest")).unwrap();
        assert_eq!(rest, b"x\n");
        let bad = std::fs::read(job.reject_dir.join("a.csv.bad")).unwrap();
        assert_eq!(bad, b"x\n3,c\n4,d\n");
    }

    #[test]
    fn outcomes_and_fates() {
        let d = tempfile::tempdir().unwrap();
        let job = fixtures::job(d.path(), "");
        // Nothing new, everything committed before: already loaded.
        let (mut files, id) = started(d.path(), &job);
        files.get_mut(id).unwrap().cut(0);
        let (r, _, fate) = files.take_complete(id).unwrap().finish(&job, None);
        assert_eq!((r.outcome, fate), (Outcome::AlreadyLoaded, Fate::Loaded));
        // Unreadable: tried again later; an unusable header: set aside.
        for (set_aside, want) in [
            (false, Fate::Unfinished),
            (true, Fate::SetAside { reason: "r".into() }),
        ] {
            let (mut files, id) = started(d.path(), &job);
            files
                .get_mut(id)
                .unwrap()
                .cut_failed("r".into(), set_aside, 0);
            let (_, _, fate) = files.take_complete(id).unwrap().finish(&job, None);
            assert_eq!(fate, want);
        }
        // The run ends first.
        let (mut files, _) = started(d.path(), &job);
        let left = files.take_all();
        let (r, _, fate) = left
            .into_iter()
            .next()
            .unwrap()
            .finish(&job, Some("stop".into()));
        assert_eq!(fate, Fate::Unfinished);
        assert_eq!(
            r.outcome,
            Outcome::Unfinished {
                reason: "stop".into()
            }
        );
    }
}
