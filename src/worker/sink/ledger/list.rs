//! `ingestd ledger` on the worker's side, for every sink: the SQL that
//! lists a job's ledger rows and deletes one source's, and the fold of
//! those rows into one summary per source (`Lister`: ranges merged where
//! they touch, a stream's `runs` as sequences, counts and commit times).
//!
//! Owns that SQL text and the fold. Must not run SQL (sinks do) or know
//! how answers are framed (`worker::reply` does).

use super::{TABLE, runs};
use crate::protocol::{ErrorClass, LedgerSource};
use crate::worker::sink::SinkError;
use crate::worker::sink::sql::Placeholder;

/// The prefix of a stream's ledger keys (`nats:<stream>:...`): their
/// positions are message sequences.
pub const STREAM_PREFIX: &str = "nats:";

/// One ledger row as the listing reads it (integers as databases store them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRow {
    pub target: String,
    pub source: String,
    pub start: i64,
    pub end: i64,
    pub loaded: i64,
    pub rejected: i64,
    pub runs: Option<String>,
    /// `committed_at` as text (UTC, ISO 8601): each sink's `committed` expression.
    pub committed_at: String,
}

/// The job's (p1) ledger rows, ordered so that each source's come together;
/// only source p2's when `one_source`. `committed` is the database's
/// expression of `committed_at` as UTC ISO 8601 text, `runs` the one of
/// the `runs` column (`NULL` where no stream loads, as in Oracle, whose
/// upgraded ledgers lack it). Columns in the order of `ListedRow`.
pub fn list_sql(ph: Placeholder, committed: &str, runs: &str, one_source: bool) -> String {
    let mut s = format!(
        "SELECT target, source, start_off, end_off, rows_loaded, rows_rejected, {runs}, \
         {committed} FROM {TABLE} WHERE job = "
    );
    ph.push(&mut s, 1);
    if one_source {
        s.push_str(" AND source = ");
        ph.push(&mut s, 2);
    }
    s.push_str(" ORDER BY target, source, start_off");
    s
}

/// Deletes the rows of (job = p1, target = p2, source = p3).
pub fn forget_sql(ph: Placeholder) -> String {
    let mut s = format!("DELETE FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND target = ");
    ph.push(&mut s, 2);
    s.push_str(" AND source = ");
    ph.push(&mut s, 3);
    s
}

/// The error of listing `job`'s ledger, from a class and what failed.
pub fn list_err(job: &str) -> impl Fn(ErrorClass, String) -> SinkError + '_ {
    move |class, detail| SinkError::Ledger {
        class,
        detail: format!("listing the ledger of job {job:?}: {detail}"),
    }
}

/// The error of forgetting `source` of `job`, from a class and what failed.
pub fn forget_err<'a>(
    job: &'a str,
    source: &'a str,
) -> impl Fn(ErrorClass, String) -> SinkError + 'a {
    move |class, detail| SinkError::Ledger {
        class,
        detail: format!("forgetting {source:?} in the ledger of job {job:?}: {detail}"),
    }
}

/// Folds rows, each source's together (as `list_sql` orders them), into
/// one summary per source.
#[derive(Debug, Default)]
pub struct Lister {
    done: Vec<LedgerSource>,
    open: Option<LedgerSource>,
}

impl Lister {
    /// Takes in the next row; an error says what in it cannot be a ledger row.
    pub fn push(&mut self, row: ListedRow) -> Result<(), String> {
        let counts = [row.loaded, row.rejected].map(u64::try_from);
        let [Ok(loaded), Ok(rejected)] = counts else {
            return Err(format!(
                "the ledger holds negative counts for {:?} (rows_loaded {}, rows_rejected {})",
                row.source, row.loaded, row.rejected
            ));
        };
        let ranges = runs::of_row(row.start, row.end, row.runs.as_deref())?;
        let same = self
            .open
            .as_ref()
            .is_some_and(|o| o.target == row.target && o.source == row.source);
        if !same {
            self.close();
            self.open = Some(LedgerSource {
                stream: row.source.starts_with(STREAM_PREFIX),
                target: row.target,
                source: row.source,
                ranges: Vec::new(),
                batches: 0,
                loaded: 0,
                rejected: 0,
                first_commit: row.committed_at.clone(),
                last_commit: row.committed_at.clone(),
            });
        }
        let open = self.open.as_mut().expect("opened above");
        open.ranges.extend(ranges);
        open.batches += 1;
        open.loaded += loaded;
        open.rejected += rejected;
        if row.committed_at < open.first_commit {
            open.first_commit = row.committed_at.clone();
        }
        if row.committed_at > open.last_commit {
            open.last_commit = row.committed_at;
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(mut s) = self.open.take() {
            s.ranges = runs::merge(std::mem::take(&mut s.ranges));
            self.done.push(s);
        }
    }

    /// The summaries, in the rows' order.
    pub fn finish(mut self) -> Vec<LedgerSource> {
        self.close();
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: &str, start: i64, end: i64, runs: Option<&str>, at: &str) -> ListedRow {
        ListedRow {
            target: "orders".into(),
            source: source.into(),
            start,
            end,
            loaded: end - start - 1,
            rejected: 1,
            runs: runs.map(str::to_string),
            committed_at: at.into(),
        }
    }

    #[test]
    fn rows_fold_into_one_summary_per_source_with_touching_ranges_merged() {
        let mut l = Lister::default();
        for r in [
            row("a.csv:30:x", 0, 10, None, "2026-01-01T00:00:02Z"),
            row("a.csv:30:x", 10, 20, None, "2026-01-01T00:00:01Z"),
            row("a.csv:30:x", 25, 30, None, "2026-01-01T00:00:03Z"),
            row("nats:S:c", 1, 9, Some("1-3,7-8"), "2026-01-02T00:00:00Z"),
            row("nats:S:c", 4, 6, Some("4-6"), "2026-01-02T00:00:01Z"),
        ] {
            l.push(r).unwrap();
        }
        let got = l.finish();
        assert_eq!(got.len(), 2);
        let (file, stream) = (&got[0], &got[1]);
        assert_eq!(file.ranges, [(0, 20), (25, 30)]);
        assert!(!file.stream && stream.stream);
        assert_eq!(
            (file.batches, file.loaded, file.rejected),
            (3, 9 + 9 + 4, 3)
        );
        assert_eq!(file.first_commit, "2026-01-01T00:00:01Z");
        assert_eq!(file.last_commit, "2026-01-01T00:00:03Z");
        assert_eq!(stream.ranges, [(1, 9)], "runs 1-3, 4-6, 7-8 touch");
    }

    #[test]
    fn a_row_that_cannot_be_a_ledger_row_is_named() {
        let mut l = Lister::default();
        let mut bad = row("a", 0, 10, None, "t");
        bad.loaded = -1;
        assert!(l.push(bad).unwrap_err().contains("negative counts"));
        let e = l.push(row("nats:S", 1, 2, Some("x"), "t")).unwrap_err();
        assert!(e.contains("runs column"), "{e}");
        assert!(l.finish().is_empty());
    }

    #[test]
    fn the_sql_names_the_job_and_the_source() {
        let s = list_sql(Placeholder::Dollar, "c", "runs", true);
        assert!(s.ends_with("WHERE job = $1 AND source = $2 ORDER BY target, source, start_off"));
        assert!(s.contains("rows_rejected, runs, c FROM"), "{s}");
        assert!(!list_sql(Placeholder::Question, "c", "runs", false).contains("?2"));
        assert_eq!(
            forget_sql(Placeholder::Colon),
            "DELETE FROM ingestd_ledger WHERE job = :1 AND target = :2 AND source = :3"
        );
    }
}
