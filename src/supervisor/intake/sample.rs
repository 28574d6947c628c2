//! `ingestd check --sample N`: the first N records of each file a dir job
//! would take, read (decompressed) and cut as the cutter cuts them, then
//! parsed through the job's format and columns exactly as a worker would,
//! in this process and without any database. Owns nothing the daemon uses:
//! no ledger, no batches, no files moved or written.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::content::{Codec, Content};
use super::cutter::{CutError, read_head};
use crate::config::{Job, Source};
use crate::format::{EndKind, Layout, Parsed, Scanner};

/// What sampling one file found.
pub struct Sampled {
    pub file: PathBuf,
    pub outcome: Result<Sample, String>,
}

/// The layout the file gets and its first records, parsed.
pub struct Sample {
    pub layout: Layout,
    pub parsed: Parsed,
    /// Why sampling stopped before N records, when it did for another
    /// reason than the end of the file.
    pub stopped: Option<String>,
}

/// The files of `job`'s landing folder that its pattern takes (for a tail
/// source: the followed files, not their rotated copies), by name; `Err`
/// when the job has no folder or it cannot be listed.
pub fn files(job: &Job) -> Result<Vec<PathBuf>, String> {
    let (dir, pattern) = match &job.source {
        Source::Dir(d) => (&d.path, &d.pattern),
        Source::Tail(t) => (&t.dir, &t.names),
        _ => return Err("the source is not a folder: nothing to sample".into()),
    };
    let pattern = glob::Pattern::new(pattern).map_err(|e| e.to_string())?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && pattern.matches(n))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The first `n` records of `path` through `job`'s format and columns.
pub fn sample(job: &Job, path: &Path, n: usize) -> Sampled {
    Sampled {
        file: path.to_path_buf(),
        outcome: read(job, path, n).map_err(|e| e.to_string()),
    }
}

#[derive(Debug, thiserror::Error)]
enum SampleError {
    #[error("cannot read it: {0}")]
    Read(#[from] io::Error),
    #[error("{0}")]
    Preamble(String),
    #[error("its fields do not map onto the columns: {0}")]
    Layout(#[from] crate::format::error::LayoutError),
}

impl From<CutError> for SampleError {
    fn from(e: CutError) -> Self {
        match e {
            CutError::Failed { reason, .. } | CutError::Refused { reason } => {
                SampleError::Preamble(reason)
            }
            CutError::Abandoned | CutError::Stopped => SampleError::Preamble("stopped".into()),
        }
    }
}

fn read(job: &Job, path: &Path, n: usize) -> Result<Sample, SampleError> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let content = Content::new(Arc::new(file), Codec::of(job.compression, path), size);
    let mut reader = content.reader();
    let (head, pre) = read_head(&job.format, &mut reader, job.max_record_bytes)?;
    let layout = job
        .format
        .layout(job.columns.as_deref(), pre.header.as_deref())?;
    // The bytes from the first record's span through the n-th record's end.
    let mut data = head[pre.data_start as usize..].to_vec();
    let mut scanner = Scanner::new(&job.format).with_limit(u64::from(job.max_record_bytes));
    let (mut ends, mut tmp) = (Vec::new(), Vec::new());
    let (mut scanned, mut records, mut cut, mut last_end) = (0, 0, None, 0);
    let mut stopped = None;
    let max = job.max_record_bytes as usize;
    let mut chunk = vec![0u8; 1 << 16];
    'read: loop {
        ends.clear();
        scanner.scan(&data[scanned..], scanned as u64, &mut ends, &mut tmp);
        for e in &ends {
            match e.kind {
                EndKind::Skipped => {}
                EndKind::TooLarge => {
                    // A worker never sees such a record: the cutter rejects
                    // it whole. The sample stops before it.
                    stopped = Some(format!(
                        "record {} is longer than max_record_bytes ({max} bytes)",
                        records + 1
                    ));
                    cut = Some(last_end);
                    break 'read;
                }
                EndKind::Record => records += 1,
            }
            // Offsets in `data` (the scanner was told it starts at 0).
            last_end = e.end as usize;
            if records == n {
                cut = Some(last_end);
                break 'read;
            }
        }
        scanned = data.len();
        if data.len() - last_end > 2 * max + chunk.len() {
            stopped = Some(format!(
                "record {} is longer than max_record_bytes ({max} bytes)",
                records + 1
            ));
            cut = Some(last_end);
            break;
        }
        let got = reader.read(&mut chunk)?;
        if got == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..got]);
    }
    data.truncate(cut.unwrap_or(data.len()));
    let parsed = job
        .format
        .parse_batch(&layout, pre.data_start, pre.first_line, &data);
    Ok(Sample {
        layout,
        parsed,
        stopped,
    })
}
