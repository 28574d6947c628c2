//! One followed file, from its identity to its release, on a cutter thread.
//!
//! Its first bytes are read (waiting for growth) until the format's header
//! and the fingerprint's lines are complete; the ledger says what of that
//! key is committed, and reading goes on from the end of the committed
//! prefix: never ahead of the ledger. Then complete records only are
//! scanned into batches; a batch is sent when full or once its first record
//! is `batch_linger` old; a last line without its newline is loaded when
//! the file has not grown for `partial_timeout`. The file is let go when:
//! * rotated away (renamed or deleted, or found as a rotated copy) and
//!   quiet for `rotate_wait`: read to its end, the last line loaded;
//! * idle for `idle_close`: closed, taken again when it changes;
//! * truncated, or begun anew (its first bytes are not those it was
//!   identified by): the records read before are sent, nothing after; what
//!   it held beyond them is in the copy a rotator made, read under the same
//!   key, or is the new file the source finds next.
//!
//! A compressed rotated copy is complete: read once through its decoder.
//! Owns the reading of one file; the ledger and the batches' fate are the
//! loop's.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::fingerprint::identify;
use super::follow::{Follow, Step};
use super::{Followed, Progress, Shared};
use crate::config::StartAt;
use crate::format::{Preamble, Scanner};
use crate::protocol::LedgerRange;
use crate::supervisor::event::{CutEvent, FileStart};
use crate::supervisor::intake::batcher::Batcher;
use crate::supervisor::intake::content::Corrupt;
use crate::supervisor::intake::cutter::{CutError, Run, reject_bytes};
use crate::supervisor::intake::records::{Handover, Scan};
use crate::supervisor::intake::{Codec, Content, committed_prefix};

/// Bytes past the header that identify a file, at most.
const FINGERPRINT_MAX: usize = 8 * 1024;
/// Read size (one buffer per followed file).
const READ: usize = 256 * 1024;
/// The shortest wait between two looks at a quiet file.
const MIN_WAIT: Duration = Duration::from_millis(10);

/// What a read gave.
enum Got {
    Data(usize),
    /// Nothing new; `moved`: the path no longer names it.
    Idle {
        moved: bool,
    },
    Truncated,
    /// A complete (compressed) file is over.
    End,
}

/// A followed file's bytes, or a compressed copy's.
enum Bytes {
    Follow(Follow),
    Whole(Box<dyn Read + Send>),
}

impl Bytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<Got> {
        match self {
            Bytes::Follow(f) => Ok(match f.read(buf)? {
                Step::Data(n) => Got::Data(n),
                Step::Idle => Got::Idle { moved: false },
                Step::Moved => Got::Idle { moved: true },
                Step::Truncated { .. } => Got::Truncated,
            }),
            Bytes::Whole(r) => loop {
                match r.read(buf) {
                    Ok(0) => return Ok(Got::End),
                    Ok(n) => return Ok(Got::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }

    fn wait(&mut self, d: Duration) {
        if let Bytes::Follow(f) = self {
            f.wait(d.max(MIN_WAIT));
        }
    }
}

/// When a quiet file is let go, and how long to wait before looking again.
struct Quiet {
    /// The last growth, or when it was seen moved (`rotate_wait` counts
    /// from there).
    grew: Instant,
    moved: bool,
}

impl Quiet {
    /// What the last look found: moved away (rotate_wait counts from the
    /// first such look), or back under its name (renamed away and back).
    fn saw_moved(&mut self, moved: bool) {
        if moved && !self.moved {
            self.grew = Instant::now();
        }
        self.moved = moved;
    }

    /// Whether it is over: rotated away (or a rotated copy) and quiet for
    /// `rotate_wait`, then `Some(true)` (it will not grow: its last line is
    /// loaded); idle for `idle_close`, or for a second while other files
    /// wait for a reader (`crowded`), then `Some(false)`.
    fn over(&self, s: &crate::config::TailSource, rotated: bool, crowded: bool) -> Option<bool> {
        let quiet = self.grew.elapsed();
        let idle = match crowded {
            true => s.idle_close.min(Duration::from_secs(1)),
            false => s.idle_close,
        };
        match self.moved || rotated {
            true => (quiet >= s.rotate_wait).then_some(true),
            false => (quiet >= idle).then_some(false),
        }
    }
}

/// The file's head once identified: its preamble and the bytes that
/// identify it.
struct Head {
    bytes: Vec<u8>,
    pre: Preamble,
    key: String,
    ident_len: usize,
}

/// Reads the followed file `f` until it is let go.
pub fn go(run: &mut Run<'_>, f: &Followed) -> Result<(), CutError> {
    let shared = run
        .cutter
        .followed
        .clone()
        .expect("a tail job's cutter shares its source's state");
    let file = match File::open(&f.path) {
        Ok(file) => file,
        // Gone or replaced since it was found: the source finds what is there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            // Tried again when it changes, not at every look (said each time).
            if let Ok(m) = std::fs::metadata(&f.path) {
                shared.ended(f, &m);
            }
            return Err(e.into());
        }
    };
    let meta = file.metadata()?;
    if (meta.dev(), meta.ino()) != (f.dev, f.ino) {
        return Ok(());
    }
    let file = Arc::new(file);
    let codec = Codec::of(run.cutter.job.compression, &f.path);
    let mut bytes = match codec {
        Codec::Plain => Bytes::Follow(Follow::new(&f.path, file.clone(), 0)?),
        _ => Bytes::Whole(Content::new(file.clone(), codec, meta.len()).reader()),
    };
    let mut buf = vec![0u8; READ];
    let mut quiet = Quiet {
        grew: Instant::now(),
        moved: false,
    };
    let Some(head) = read_head(run, &shared, f, &mut bytes, &mut buf, &mut quiet)? else {
        // Nothing to identify it by (empty, or no complete line): taken
        // again when it changes, not at every look.
        shared.ended(f, &file.metadata()?);
        return Ok(());
    };
    let prior = run.ledger(&head.key)?;
    if prior.is_empty() && f.rotated && meta.modified().is_ok_and(|t| t < shared.since) {
        info!(job = %run.cutter.job.name, file = %f.name(), "a rotated copy older than the job's first start, unknown to the ledger: not loaded");
        shared.ended(f, &file.metadata()?);
        return Ok(());
    }
    Reader {
        run,
        shared: &shared,
        f,
        file,
        codec,
        bytes,
        buf,
        quiet,
        progress: Arc::new(Progress::default()),
        warned: false,
    }
    .go(head, prior)
}

/// Reads until the header and the identifying lines are complete; `None`
/// when the file is let go before (nothing complete to identify it by).
fn read_head(
    run: &Run<'_>,
    shared: &Shared,
    f: &Followed,
    bytes: &mut Bytes,
    buf: &mut [u8],
    quiet: &mut Quiet,
) -> Result<Option<Head>, CutError> {
    let job = &run.cutter.job;
    let s = &shared.settings;
    let mut head = Vec::new();
    let mut complete = false;
    loop {
        let pre = job
            .format
            .read_preamble(&head, complete)
            .map_err(|e| fail(e.to_string()))?;
        if let Some(pre) = pre {
            let start = pre.data_start as usize;
            let lines = s.fingerprint_lines;
            let nothing = complete && head.len() <= start;
            if let Some(fp) = identify(&head, start, lines, FINGERPRINT_MAX, complete)
                && !nothing
            {
                let ident_len = fp.len as usize;
                return Ok(Some(Head {
                    bytes: head,
                    pre,
                    key: fp.key,
                    ident_len,
                }));
            }
        }
        if complete {
            return Ok(None);
        }
        if head.len() > job.max_record_bytes as usize + FINGERPRINT_MAX + READ {
            return Err(fail(format!(
                "no end of header in the first {} bytes (max_record_bytes)",
                head.len()
            )));
        }
        match bytes.read(buf)? {
            Got::Data(n) => {
                head.extend_from_slice(&buf[..n]);
                quiet.grew = Instant::now();
            }
            Got::End => complete = true,
            Got::Truncated => {
                head.clear();
                if let Bytes::Follow(fo) = bytes {
                    fo.seek(0);
                }
            }
            Got::Idle { moved } => {
                stopped(run)?;
                quiet.saw_moved(moved);
                let crowded = !run.cutter.queued.is_empty();
                match (run.cutter.once, quiet.over(s, f.rotated, crowded)) {
                    // Rotated away and quiet: what it holds is all there is.
                    (_, Some(true)) => complete = true,
                    (true, _) | (_, Some(false)) => return Ok(None),
                    _ => bytes.wait(s.poll_interval),
                }
            }
        }
    }
}

fn fail(reason: String) -> CutError {
    CutError::Failed {
        reason,
        set_aside: true,
    }
}

fn stopped(run: &Run<'_>) -> Result<(), CutError> {
    match run.task.stop.load(Ordering::Relaxed) {
        true => Err(CutError::Stopped),
        false => Ok(()),
    }
}

struct Reader<'r, 'a> {
    run: &'r mut Run<'a>,
    shared: &'r Shared,
    f: &'r Followed,
    file: Arc<File>,
    codec: Codec,
    bytes: Bytes,
    buf: Vec<u8>,
    quiet: Quiet,
    progress: Arc<Progress>,
    /// Said once: truncated in place under the same first lines.
    warned: bool,
}

impl Reader<'_, '_> {
    fn go(mut self, head: Head, prior: Vec<LedgerRange>) -> Result<(), CutError> {
        let job = self.run.cutter.job.clone();
        let s = &self.shared.settings;
        let data_start = head.pre.data_start;
        let empty = job.format.names_fields() && head.pre.header.is_none();
        if empty {
            // Only blank lines, and no way to name fields: nothing to load.
            self.shared.ended(self.f, &self.file.metadata()?);
            return Ok(());
        }
        let layout = job
            .format
            .layout(job.columns.as_deref(), head.pre.header.as_deref())
            .map_err(|e| fail(e.to_string()))?;
        let content = Content::new(self.file.clone(), self.codec, self.file.metadata()?.len());
        let batcher = Batcher::new(
            &head.key,
            &self.f.name(),
            layout,
            job.batch_rows,
            job.batch_bytes,
        );
        // Where reading goes on, and the line there.
        let mut resume = data_start;
        let mut line = head.pre.first_line;
        let mut skip = None;
        if let Bytes::Follow(fo) = &self.bytes {
            resume = committed_prefix(prior.iter().map(|r| (r.start, r.end)), data_start);
            // `end` is for what was there before the job first followed
            // files; a file born since (a new log, one created and rotated
            // while the daemon was down) is read from its beginning.
            let history = self
                .file
                .metadata()?
                .created()
                .map_or(true, |t| t < self.shared.since);
            let first_time = prior.is_empty() && !self.f.rotated;
            if first_time && s.start_at == StartAt::End && history {
                resume = fo.last_line_end(data_start, fo.size()?)?;
                if resume > data_start {
                    skip = Some(batcher.skipped(data_start, resume, line));
                }
            }
            // The line at `resume`: from the committed range ending there
            // (its first line, and the line ends in it), not from the top.
            let (from, at) = prior
                .iter()
                .find(|r| r.end == resume && r.start >= data_start && r.first_line > 0)
                .map_or((data_start, line), |r| (r.start, r.first_line));
            line = at + fo.lines_between(from, resume)?;
        }
        let start = FileStart {
            source: head.key.clone(),
            file: None,
            prior_rejects: reject_bytes(&content, &prior)?,
            content,
            preamble: head.bytes[..data_start as usize].to_vec(),
            prior: prior.clone(),
            progress: Some(self.progress.clone()),
            stream: None,
        };
        if !self
            .run
            .cutter
            .event(self.run.task.file, CutEvent::Started(Box::new(start)))
        {
            return Err(CutError::Abandoned);
        }
        if let Some(b) = skip {
            info!(job = %job.name, file = %self.f.name(), bytes = resume - data_start, "start_at = \"end\": what the file held when first found is not loaded");
            Handover::send(self.run, b)?;
        }
        let mut scan = Scan::new(
            Scanner::new(&job.format),
            batcher,
            prior,
            (resume, line),
            job.max_record_bytes as usize,
        );
        let mut pos = resume;
        match &mut self.bytes {
            Bytes::Follow(fo) => fo.seek(resume),
            // Decoded already: the head holds the bytes from `resume` on.
            Bytes::Whole(_) => {
                scan.chunk(self.run, &head.bytes[resume as usize..], resume)?;
                pos = head.bytes.len() as u64;
            }
        }
        let ident = head.bytes[..head.ident_len].to_vec();
        drop(head);
        self.follow(&mut scan, pos, &ident)
    }

    fn follow(&mut self, scan: &mut Scan, mut pos: u64, ident: &[u8]) -> Result<(), CutError> {
        let job = self.run.cutter.job.clone();
        let s = &self.shared.settings;
        loop {
            stopped(self.run)?;
            let got = match self.bytes.read(&mut self.buf) {
                // A compressed copy the rotator is still writing, or a
                // damaged one: what was read is loaded; it is read again
                // (from the ledger) when it changes.
                Err(e) if e.get_ref().is_some_and(|e| e.is::<Corrupt>()) => {
                    warn!(job = %job.name, file = %self.f.name(), "{e}: the records before are loaded; the rest when the file changes");
                    self.shared.ended(self.f, &self.file.metadata()?);
                    return scan.flush(self.run);
                }
                got => got?,
            };
            let size = self.file.metadata()?.len();
            self.progress.set(pos, size);
            match got {
                Got::Data(n) => {
                    if !self.begins_with(ident)? {
                        info!(job = %job.name, file = %self.f.name(), "the file was begun anew under its name: the records read before are loaded; what follows is a new file");
                        return scan.flush(self.run);
                    }
                    scan.chunk(self.run, &self.buf[..n], pos)?;
                    pos += n as u64;
                    self.quiet.grew = Instant::now();
                    self.progress.set(pos, size);
                }
                Got::End => {
                    scan.cut_here(self.run, pos)?;
                    scan.flush(self.run)?;
                    self.shared.ended(self.f, &self.file.metadata()?);
                    return Ok(());
                }
                Got::Truncated if size > 0 && self.begins_with(ident)? => {
                    // Not a rotation (copytruncate empties the file): cut
                    // in place and written again under the same first lines.
                    if !self.warned {
                        self.warned = true;
                        warn!(job = %job.name, file = %self.f.name(), size, read = pos, "the file is shorter than what was read of it, yet begins with the same lines: it was truncated in place; what is written below the bytes read cannot be told from what was loaded and is skipped; reading goes on past them (rotate with create or copytruncate instead)");
                    }
                    self.linger(scan)?;
                    self.bytes.wait(s.poll_interval);
                }
                Got::Truncated => {
                    info!(job = %job.name, file = %self.f.name(), "the file was truncated: the records read before are loaded; the rest of what it held is read from its copy if the rotator made one");
                    return scan.flush(self.run);
                }
                Got::Idle { moved } => {
                    self.quiet.saw_moved(moved);
                    if self.run.cutter.once {
                        return scan.flush(self.run);
                    }
                    let crowded = !self.run.cutter.queued.is_empty();
                    match self.quiet.over(s, self.f.rotated, crowded) {
                        Some(true) => {
                            scan.cut_here(self.run, pos)?;
                            scan.flush(self.run)?;
                            self.shared.ended(self.f, &self.file.metadata()?);
                            return Ok(());
                        }
                        Some(false) => {
                            scan.flush(self.run)?;
                            self.shared.ended(self.f, &self.file.metadata()?);
                            return Ok(());
                        }
                        None => {}
                    }
                    let quiet = self.quiet.grew.elapsed();
                    if let Some(p) = s.partial_timeout
                        && quiet >= p
                        && scan.pending(pos)
                    {
                        warn!(job = %job.name, file = %self.f.name(), offset = pos, "the last line has had no newline for partial_timeout: loaded as it is");
                        scan.cut_here(self.run, pos)?;
                        scan.flush(self.run)?;
                    }
                    let wait = self.next_look(scan, quiet);
                    self.linger(scan)?;
                    self.bytes.wait(wait);
                    continue;
                }
            }
            self.linger(scan)?;
        }
    }

    /// Whether a followed file still begins with the bytes it was
    /// identified by (a complete copy always does).
    fn begins_with(&self, ident: &[u8]) -> io::Result<bool> {
        match &self.bytes {
            Bytes::Follow(fo) => fo.begins_with(ident),
            Bytes::Whole(_) => Ok(true),
        }
    }

    /// Sends the open batch once its first record is `batch_linger` old.
    fn linger(&mut self, scan: &mut Scan) -> Result<(), CutError> {
        let linger = self.run.cutter.job.batch_linger;
        match scan.open_since() {
            Some(t) if t.elapsed() >= linger => scan.flush(self.run),
            _ => Ok(()),
        }
    }

    /// How long a quiet file is left alone: until the next deadline (the
    /// open batch's linger, the partial line's timeout, the end of
    /// `rotate_wait`), at most `poll_interval`; growth wakes it sooner.
    fn next_look(&self, scan: &Scan, quiet: Duration) -> Duration {
        let s = &self.shared.settings;
        let mut wait = s.poll_interval;
        if let Some(t) = scan.open_since() {
            wait = wait.min(self.run.cutter.job.batch_linger.saturating_sub(t.elapsed()));
        }
        if let Some(p) = s.partial_timeout {
            wait = wait.min(p.saturating_sub(quiet));
        }
        if self.quiet.moved || self.f.rotated {
            wait = wait.min(s.rotate_wait.saturating_sub(quiet));
        }
        wait
    }
}
