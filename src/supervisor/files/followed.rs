//! What is particular to a followed file (`kind = "tail"`) in a job's
//! inputs: its status (key, position, lag, age of the oldest unloaded
//! byte), its metrics, the name of its reject files, and what is said when
//! it waits for another input with its key.
//!
//! Owns those figures; the counts themselves are `mod.rs`'s.

use std::time::Instant;

use super::{FileState, Files};
use crate::status::{FileStatus, TailStatus};
use crate::supervisor::event::FileId;
use crate::supervisor::intake::{Input, committed_prefix};

impl FileState {
    /// A followed file's status, once its reader has started.
    pub(super) fn followed_status(&self) -> Option<FileStatus> {
        let start = self.start.as_ref()?;
        let (position, size) = start.progress.as_ref()?.get();
        Some(FileStatus {
            file: self.name.clone(),
            bytes_done: self.bytes_done,
            size: Some(size),
            loaded: self.loaded,
            rejected: self.rejected,
            tail: Some(TailStatus {
                path: self
                    .input
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                fingerprint: start.source.clone(),
                position,
                lag_bytes: self.lag().unwrap_or(0),
                oldest_unloaded_s: self.behind_since.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            }),
        })
    }

    /// A followed file's bytes not committed: its size less the prefix
    /// committed (by earlier runs, then this one's merged ranges). Called
    /// every tick, so nothing is sorted or allocated.
    fn lag(&self) -> Option<u64> {
        let (_, size) = self.start.as_ref()?.progress.as_ref()?.get();
        let at = committed_prefix(self.covered.iter().copied(), self.prior_prefix);
        Some(size.saturating_sub(at))
    }
}

impl Files {
    /// Says that `file` waits for `holder`, which has its ledger key: a
    /// rotated copy for the file it was copied from (the normal course),
    /// or two followed files that begin with the same lines (a warning:
    /// to the fingerprint they are one file).
    pub fn same_key(&self, job: &str, file: FileId, holder: FileId) {
        let (Some(f), Some(h)) = (self.map.get(&file), self.map.get(&holder)) else {
            return;
        };
        let both_followed_names = [&f.input, &h.input]
            .iter()
            .all(|i| matches!(i, Input::Tail(t) if !t.rotated));
        match both_followed_names {
            true => {
                tracing::warn!(job, file = %f.name, holder = %h.name, "begins with the same lines as a file being followed: to the fingerprint they are one file, and it waits; if they are different files, raise fingerprint_lines")
            }
            false => {
                tracing::debug!(job, file = %f.name, holder = %h.name, "waits for the file it has the key of")
            }
        }
    }

    /// Notes, for each followed file, whether some of its bytes wait to
    /// be committed (the age of the oldest unloaded byte).
    pub fn observe(&mut self, now: Instant) {
        for f in self.map.values_mut() {
            match f.lag() {
                Some(lag) if lag > 0 => {
                    f.behind_since.get_or_insert(now);
                }
                _ => f.behind_since = None,
            }
        }
    }

    /// A stream's figures, when the job reads one.
    pub fn stream_status(&self) -> Option<crate::status::StreamStatus> {
        use crate::supervisor::intake::StreamFigures as F;
        let link = self.map.values().find_map(|f| f.stream())?;
        let f = &link.figures;
        Some(crate::status::StreamStatus {
            stream: link.stream.clone(),
            pending: F::get(&f.pending),
            ack_pending: F::get(&f.ack_pending),
            redelivered: F::get(&f.redelivered),
            received: F::get(&f.received),
            held: F::get(&f.held),
            acked: F::get(&f.acked),
            terminated: F::get(&f.terminated),
            ack_latency_s: f.ack_latency(),
        })
    }

    /// Each followed file's levels for the metrics.
    pub fn followed(&self) -> Vec<crate::supervisor::ops::metrics::Followed> {
        self.statuses()
            .into_iter()
            .filter_map(|f| {
                let t = f.tail?;
                let fp = t.fingerprint.get(5..17).unwrap_or_default().to_string();
                Some((f.file, fp, t.lag_bytes, t.oldest_unloaded_s))
            })
            .collect()
    }
}

/// Adds `[start, end)` to `covered` (sorted, merged where ranges touch).
pub(super) fn cover(covered: &mut Vec<(u64, u64)>, (start, end): (u64, u64)) {
    let i = covered.partition_point(|r| r.1 < start);
    let (mut s, mut e, mut j) = (start, end, i);
    while j < covered.len() && covered[j].0 <= e {
        (s, e) = (s.min(covered[j].0), e.max(covered[j].1));
        j += 1;
    }
    covered.splice(i..j, [(s, e)]);
}

/// The name of an input's reject files: a followed file's carry its key's
/// first hex digits, so that the next file under the same name (after a
/// rotation) never takes them over.
pub(super) fn reject_name(name: &str, source: &str) -> String {
    match source.strip_prefix(crate::supervisor::intake::TAIL_PREFIX) {
        Some(hex) => format!("{name}.{}", hex.get(..12).unwrap_or(hex)),
        None => name.to_string(),
    }
}
