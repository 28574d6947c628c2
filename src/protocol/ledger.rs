//! What `ingestd ledger` asks a worker about the ledger and what it gets
//! back: each source's summary (`LedgerSource`) and the outcome of
//! forgetting one (`Forgot`).
//!
//! Owns these message shapes and how parts of one source's summary add up
//! (`LedgerSource::absorb`); no process or database knowledge.

use serde::{Deserialize, Serialize};

/// What the ledger holds of one source for one job and target table.
///
/// A source whose ranges would not fit one answer's part is sent as
/// several summaries with the same `target` and `source` in a row, the
/// counts on the first: `absorb` puts them back together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerSource {
    /// The table the rows were loaded into, as the ledger names it.
    pub target: String,
    /// The ledger key: `name:size:hash` for a file, `nats:...` for a stream.
    pub source: String,
    /// Whether its positions are message sequences (a stream's `runs`)
    /// rather than byte offsets.
    pub stream: bool,
    /// `[start, end)`, sorted, merged where they touch or overlap.
    pub ranges: Vec<(u64, u64)>,
    /// Ledger rows (one per committed batch).
    pub batches: u64,
    pub loaded: u64,
    pub rejected: u64,
    /// First and last `committed_at`, UTC, ISO 8601 as the database gives it.
    pub first_commit: String,
    pub last_commit: String,
}

impl LedgerSource {
    /// Whether `next` is a further part of this same source.
    pub fn continues(&self, next: &LedgerSource) -> bool {
        self.target == next.target && self.source == next.source
    }

    /// Takes in a further part of the same source (see `continues`).
    pub fn absorb(&mut self, next: LedgerSource) {
        self.ranges.extend(next.ranges);
        self.batches += next.batches;
        self.loaded += next.loaded;
        self.rejected += next.rejected;
        if !next.first_commit.is_empty()
            && (self.first_commit.is_empty() || next.first_commit < self.first_commit)
        {
            self.first_commit = next.first_commit;
        }
        if next.last_commit > self.last_commit {
            self.last_commit = next.last_commit;
        }
    }
}

/// Puts sources sent in parts back together (consecutive summaries of one
/// source become one).
pub fn join_parts(parts: impl IntoIterator<Item = LedgerSource>) -> Vec<LedgerSource> {
    let mut out: Vec<LedgerSource> = Vec::new();
    for s in parts {
        match out.last_mut() {
            Some(last) if last.continues(&s) => last.absorb(s),
            _ => out.push(s),
        }
    }
    out
}

/// The outcome of `ToWorker::Forget`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Forgot {
    /// Deleted: that many ledger rows, in one transaction.
    Deleted { rows: u64 },
    /// Nothing deleted: the ledger held `found` rows of the source, not the
    /// `expected` the summary showed (a load committed or a forget ran
    /// meanwhile); ask again.
    Changed { expected: u64, found: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(source: &str, ranges: &[(u64, u64)], n: u64, first: &str, last: &str) -> LedgerSource {
        LedgerSource {
            target: "t".into(),
            source: source.into(),
            stream: false,
            ranges: ranges.to_vec(),
            batches: n,
            loaded: n * 10,
            rejected: n,
            first_commit: first.into(),
            last_commit: last.into(),
        }
    }

    #[test]
    fn parts_of_one_source_add_up_and_others_stay_apart() {
        let joined = join_parts([
            part("a", &[(0, 5)], 2, "2026-01-02", "2026-01-03"),
            part("a", &[(9, 12)], 1, "2026-01-01", "2026-01-04"),
            part("b", &[(0, 1)], 1, "2026-02-01", "2026-02-01"),
            part("a", &[(20, 30)], 1, "2026-03-01", "2026-03-01"),
        ]);
        assert_eq!(joined.len(), 3, "a later `a` is not the same run of parts");
        let a = &joined[0];
        assert_eq!(a.ranges, [(0, 5), (9, 12)]);
        assert_eq!((a.batches, a.loaded, a.rejected), (3, 30, 3));
        assert_eq!(
            (&*a.first_commit, &*a.last_commit),
            ("2026-01-01", "2026-01-04")
        );
        assert_eq!(joined[1].source, "b");
    }
}
