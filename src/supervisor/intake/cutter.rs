//! The cutter thread of a job: takes one input at a time, identifies it, asks
//! (through the event loop and a worker) which of its ranges the ledger
//! already holds, then reads it once and hands the bytes to `records.rs`,
//! which finds record ends and cuts batches of the missing ranges; they go to
//! the loop over a bounded channel, so a slow database slows reading down
//! instead of filling memory.
//!
//! Owns reading inputs; never touches workers, reject files or the inputs'
//! fate (the loop decides that).

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::config::Job;
use crate::format::{self, Format, Scanner};
use crate::protocol::{Batch, LedgerRange, RejectNote};
use crate::supervisor::event::{CutEvent, Event, FileId, FileStart};

use super::batcher::Batcher;
use super::content::Corrupt;
use super::identity::Shrank;
use super::records::Scan;
use super::{Codec, Content, Input, Opened};
use crate::supervisor::rests;

/// Read size; also the unit in which a header is looked for.
pub(super) const CHUNK: usize = 1 << 20;

pub struct FileTask {
    pub file: FileId,
    pub input: Input,
    /// Set by the loop to cut the file short (too many rejects, shutdown).
    pub stop: Arc<AtomicBool>,
}

/// What a cutter needs; cloned into its thread.
#[derive(Clone)]
pub struct Cutter {
    pub job_index: usize,
    pub job: Arc<Job>,
    pub events: Sender<Event>,
    pub batches: Sender<(FileId, Batch)>,
    /// Where standard input is copied before it is read (see `Input::open`).
    pub spool: PathBuf,
    /// `run --once`: a followed file is read to its end, not followed.
    pub once: bool,
    /// What the readers of followed files share with their source.
    pub followed: Option<Arc<super::tail::Shared>>,
    /// The inputs waiting for a cutter thread (a followed file that is
    /// quiet gives its thread up sooner when others wait).
    pub queued: Receiver<FileTask>,
}

pub(super) enum CutError {
    /// The loop is gone or asked us to stop: say nothing more.
    Abandoned,
    /// Cut short on request; `batches` were handed over before.
    Stopped,
    /// The file cannot be loaded.
    Failed { reason: String, set_aside: bool },
    /// The source refuses this job's settings (a stream server refusing
    /// its credentials): a configuration error that stops the job.
    Refused { reason: String },
}

impl From<io::Error> for CutError {
    fn from(e: io::Error) -> Self {
        // A file that shrank is not the one identified: reading it again
        // would load it as a new file, twice for what was loaded already.
        if let Some(c) = e.get_ref().and_then(|e| e.downcast_ref::<Corrupt>()) {
            return CutError::Failed {
                reason: format!(
                    "{c}: the records before that point are loaded; the file is set aside \
                     as it is, with no .rest"
                ),
                set_aside: true,
            };
        }
        if let Some(s) = e.get_ref().and_then(|e| e.downcast_ref::<Shrank>()) {
            return CutError::Failed {
                reason: format!(
                    "{s}: the records read before are loaded; what it holds beyond them is in the .rest file"
                ),
                set_aside: true,
            };
        }
        CutError::Failed {
            reason: format!("reading failed: {e}"),
            set_aside: false,
        }
    }
}

impl Cutter {
    pub fn spawn(self, n: u32, tasks: Receiver<FileTask>) -> io::Result<()> {
        let name = match n {
            0 => format!("cut-{}", self.job.name),
            n => format!("cut-{}-{n}", self.job.name),
        };
        std::thread::Builder::new().name(name).spawn(move || {
            for task in tasks {
                if !self.cut(&task) {
                    return;
                }
            }
        })?;
        Ok(())
    }

    /// Cuts one file and reports how it ended; false when the loop is gone.
    fn cut(&self, task: &FileTask) -> bool {
        let mut run = Run {
            cutter: self,
            task,
            sent: 0,
            records: 0,
        };
        let ev = match run.go() {
            Ok(()) => CutEvent::Finished {
                batches: run.sent,
                records: run.records,
                stopped: false,
            },
            Err(CutError::Stopped) => CutEvent::Finished {
                batches: run.sent,
                records: run.records,
                stopped: true,
            },
            Err(CutError::Failed { reason, set_aside }) => CutEvent::Failed {
                reason,
                set_aside,
                batches: run.sent,
                config: false,
            },
            Err(CutError::Refused { reason }) => CutEvent::Failed {
                reason,
                set_aside: false,
                batches: run.sent,
                config: true,
            },
            Err(CutError::Abandoned) => return false,
        };
        self.event(task.file, ev)
    }

    pub(super) fn event(&self, file: FileId, ev: CutEvent) -> bool {
        self.events
            .send(Event::Cut {
                job: self.job_index,
                file,
                ev,
            })
            .is_ok()
    }
}

/// One file being cut.
pub(super) struct Run<'a> {
    pub(super) cutter: &'a Cutter,
    pub(super) task: &'a FileTask,
    sent: u64,
    /// Records handed over (in batches, or rejected whole).
    records: u64,
}

impl Run<'_> {
    fn go(&mut self) -> Result<(), CutError> {
        let format = &self.cutter.job.format;
        let input = &self.task.input;
        if let Input::Tail(f) = input {
            return super::tail::read::go(self, f);
        }
        if let Input::Stream(s) = input {
            return super::stream::go(self, s);
        }
        let t0 = std::time::Instant::now();
        let mut opened = input.open(&self.cutter.spool, self.cutter.job.compression)?;
        let hashed = t0.elapsed();
        let prior = self.prior(&mut opened)?;
        tracing::debug!(file = %input.name(), ?hashed, ledger = ?(t0.elapsed() - hashed), committed = prior.len(), "input identified");
        let (source, mut reader) = (opened.key, opened.content.reader());
        let (head, pre) = read_head(format, &mut reader, self.cutter.job.max_record_bytes)?;
        // A file that ends before its header holds no record (it is empty,
        // or only blank or comment lines): loaded with 0 rows, like a file
        // with a header and no records, and nothing needs to name its fields.
        let empty = format.names_fields() && pre.header.is_none();
        let layout = match empty {
            true => None,
            false => Some(
                format
                    .layout(self.cutter.job.columns.as_deref(), pre.header.as_deref())
                    .map_err(|e| CutError::Failed {
                        reason: e.to_string(),
                        set_aside: true,
                    })?,
            ),
        };
        let data_start = pre.data_start as usize;
        let prior_rejects = reject_bytes(&opened.content, &prior)?;
        let start = FileStart {
            source: source.clone(),
            file: opened.file,
            content: opened.content.clone(),
            preamble: head[..data_start].to_vec(),
            prior: prior.clone(),
            prior_rejects,
            progress: None,
            stream: None,
        };
        // Only a plain file's size is its content's.
        let size = match opened.content.codec() {
            Codec::Plain => start.file.as_ref().map(|(snap, _)| snap.seen.size),
            _ => None,
        };
        if !self
            .cutter
            .event(self.task.file, CutEvent::Started(Box::new(start)))
        {
            return Err(CutError::Abandoned);
        }
        let Some(layout) = layout else {
            let what = match format {
                Format::Csv(_) => {
                    "no header line and no records (the file is empty or holds only blank or \
                     comment lines)"
                }
                // Columns from the first object: there is none.
                _ => "no records (the file is empty or holds only blank lines)",
            };
            tracing::info!(
                job = %self.cutter.job.name, file = %input.name(),
                "{what}: nothing to load"
            );
            return Ok(());
        };
        if size.is_some_and(|size| covered(&prior, pre.data_start, size)) {
            // Every record is committed already: no need to read it again.
            return Ok(());
        }
        let job = &self.cutter.job;
        let batcher = Batcher::new(
            &source,
            &self.task.input.name(),
            layout,
            job.batch_rows,
            job.batch_bytes,
        );
        let mut scan = Scan::new(
            Scanner::new(format),
            batcher,
            prior,
            (pre.data_start, pre.first_line),
            job.max_record_bytes as usize,
        );
        scan.chunk(self, &head[data_start..], pre.data_start)?;
        let mut pos = head.len() as u64;
        drop(head);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            scan.chunk(self, &buf[..n], pos)?;
            pos += n as u64;
        }
        scan.finish(self, pos)
    }

    /// The ranges of `opened` committed already. A `.rest` file (see
    /// `rests`) is known by its content and loaded only while none of the
    /// origin ranges it holds was committed since; an origin counts the
    /// ranges of a `.rest` loaded whole as committed, and waits for one
    /// loaded in part.
    fn prior(&self, opened: &mut Opened) -> Result<Vec<LedgerRange>, CutError> {
        let dir = &self.cutter.job.reject_dir;
        let found = opened
            .file
            .as_ref()
            .and_then(|(snap, _)| rests::find(dir, &rests::hex(&snap.hash), snap.seen.size));
        if let Some(rest) = found {
            opened.key = rest.key();
            let origin: Vec<(u64, u64)> = (self.ledger(&rest.origin)?.iter())
                .map(|r| (r.start, r.end))
                .collect();
            if rests::overlaps(&origin, &rest.ranges) {
                return Err(CutError::Failed {
                    reason: format!(
                        "this is the .rest file of {0:?}, and records it holds have been loaded \
                         from {0:?} since: it is not loaded (that would load them twice); it is \
                         obsolete",
                        rest.origin_file
                    ),
                    set_aside: true,
                });
            }
            return self.ledger(&opened.key);
        }
        if !opened.may_be_committed {
            return Ok(Vec::new());
        }
        let mut prior = self.ledger(&opened.key)?;
        for rest in rests::of_origin(dir, &opened.key) {
            let got = self.ledger(&rest.key())?;
            if got.is_empty() {
                continue;
            }
            if !covered(&got, rest.data_start, rest.size) {
                return Err(CutError::Failed {
                    reason: format!(
                        "its records not loaded before are being loaded from its .rest file \
                         {:?}, which is loaded in part: finish loading that file instead",
                        rest.path.file_name().unwrap_or_default()
                    ),
                    set_aside: true,
                });
            }
            // Loaded whole from the `.rest`: its counts go with its first range.
            let loaded: u64 = got.iter().map(|r| r.loaded).sum();
            let rejected: u64 = got.iter().map(|r| r.rejected).sum();
            for (i, &(start, end)) in rest.ranges.iter().enumerate() {
                let first = i == 0;
                prior.push(LedgerRange {
                    start,
                    end,
                    first_line: 0,
                    loaded: if first { loaded } else { 0 },
                    rejected: if first { rejected } else { 0 },
                    rejects: Vec::new(),
                });
            }
        }
        prior.sort_by_key(|r| r.start);
        Ok(prior)
    }

    /// Asks the loop (which asks a worker) for the committed ranges.
    pub(super) fn ledger(&self, source: &str) -> Result<Vec<LedgerRange>, CutError> {
        let (reply, answer) = bounded(1);
        let ask = CutEvent::NeedLedger {
            source: source.to_string(),
            reply,
        };
        if !self.cutter.event(self.task.file, ask) {
            return Err(CutError::Abandoned);
        }
        let mut ranges = answer.recv().map_err(|_| CutError::Abandoned)?;
        ranges.sort_by_key(|r| r.start);
        Ok(ranges)
    }

    pub(super) fn count_record(&mut self) {
        self.records += 1;
    }

    pub(super) fn send(&mut self, batch: Batch) -> Result<(), CutError> {
        if self.task.stop.load(Ordering::Relaxed) {
            return Err(CutError::Stopped);
        }
        self.cutter
            .batches
            .send((self.task.file, batch))
            .map_err(|_| CutError::Abandoned)?;
        self.sent += 1;
        Ok(())
    }
}

/// Whether the committed ranges (sorted by start) cover `[from, to)` without
/// a gap: then every record there was loaded or rejected by an earlier run.
fn covered(ranges: &[LedgerRange], from: u64, to: u64) -> bool {
    super::committed_prefix(ranges.iter().map(|r| (r.start, r.end)), from) >= to
}

/// Reads until the preamble (BOM, skipped lines, header) is complete.
pub(super) fn read_head(
    format: &Format,
    reader: &mut dyn Read,
    max: u32,
) -> Result<(Vec<u8>, format::Preamble), CutError> {
    let mut head = Vec::new();
    loop {
        let old = head.len();
        head.resize(old + CHUNK, 0);
        let n = loop {
            match reader.read(&mut head[old..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        head.truncate(old + n);
        let fail = |reason: String| CutError::Failed {
            reason,
            set_aside: true,
        };
        match format.read_preamble(&head, n == 0) {
            Ok(Some(pre)) => return Ok((head, pre)),
            Ok(None) if n == 0 => return Err(fail("the file ends inside its header".into())),
            Ok(None) if head.len() > max as usize + CHUNK => {
                return Err(fail(format!(
                    "no end of header in the first {} bytes (max_record_bytes)",
                    head.len()
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
    }
}

/// The original bytes of the records behind earlier runs' reject notes.
pub(super) fn reject_bytes(
    content: &Content,
    prior: &[LedgerRange],
) -> Result<Vec<(RejectNote, Vec<u8>)>, CutError> {
    let notes: Vec<&RejectNote> = prior.iter().flat_map(|r| &r.rejects).collect();
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let mut notes: Vec<RejectNote> = notes.into_iter().cloned().collect();
    notes.sort_by_key(|n| n.offset);
    let ranges: Vec<(u64, u64)> = notes.iter().map(|n| (n.offset, n.len)).collect();
    let bytes = content.read_ranges(&ranges)?;
    Ok(notes.into_iter().zip(bytes).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: u64, end: u64) -> LedgerRange {
        LedgerRange {
            start,
            end,
            first_line: 1,
            loaded: 1,
            rejected: 0,
            rejects: vec![],
        }
    }

    #[test]
    fn only_a_gapless_cover_skips_the_read() {
        let ranges = [range(10, 20), range(20, 35), range(35, 50)];
        assert!(covered(&ranges, 10, 50));
        assert!(!covered(&ranges, 10, 51), "bytes after the last range");
        assert!(!covered(&ranges, 5, 50), "bytes before the first range");
        assert!(!covered(&[range(10, 20), range(21, 50)], 10, 50), "a gap");
        assert!(covered(&[], 10, 10), "no data at all");
        assert!(!covered(&[], 10, 11));
    }
}
