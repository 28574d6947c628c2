//! The hard upper bound of a batch's answer, from the limits `fit` enforces
//! and the encoding `wire` uses, and the proof that it stays under
//! `MAX_FRAME` for every configuration `config` accepts.
//!
//! A batch of `n` notes (`n <= records <= batch_rows <= 1,000,000`: at most
//! one note per record, a verdict is one note) has at most `3n` distinct
//! texts. In postcard, with varints at their widest:
//!
//! ```text
//!  notes(n) = varint(3n) + 3n * varint(REASON_MAX)       text lengths
//!           + LABELS_BUDGET + REASONS_BUDGET              text bytes
//!           + varint(n) + n * (3 * 10 + 5 + 1 + 3 * varint(3n))
//!                        offset len line, records, column tag, indexes
//!  done(n)  = 1 + 10 + 10 + 1 + varint(n) + notes(n)
//!                         variant, id, loaded, already, held's length
//! ```
//!
//! A stream's batch also names the runs of its messages the ledger held
//! (`held`, 20 bytes a run at most): one per held message at most, and a
//! held message has no note, so runs and notes together are at most `n`
//! and a run costs less than a note's fixed 36 bytes: `notes(n)` covers both.
//!
//! done(10,000) = 18,335,821 bytes (17.5 MiB) at the default `batch_rows`;
//! done(1,000,000) = 71,825,824 bytes (68.5 MiB) at its maximum, under the
//! 80 MiB `MAX_FRAME`. Neither `batch_bytes` nor `max_record_bytes` enters:
//! offsets and lengths are counted at their widest. A ledger answer carries
//! ranges (`range(n)` each) in parts of about `LEDGER_PART` bytes; one range
//! larger than that goes alone. The ledger row's JSON is bounded by
//! `json(n)`: 224 MB at 1,000,000 notes, under the 1 GB that PostgreSQL and
//! SQLite take in one value.
//!
//! Owns the formulas and their proof; must not stand in for the check: the
//! frame writer still refuses what is over (see `worker::reply`).

use super::{LABELS_BUDGET, REASON_MAX, REASONS_BUDGET};

/// The largest `batch_rows` the configuration accepts, hence the most notes
/// a batch has (`tests` checks it against `config`).
pub const MAX_NOTES: usize = 1_000_000;

/// What a ledger answer's part holds before the next range starts another.
pub const LEDGER_PART: usize = 8 << 20;

/// Bytes of a varint holding `v` (postcard: 7 bits a byte).
pub const fn varint(v: usize) -> usize {
    let mut n = 1;
    let mut v = v >> 7;
    while v > 0 {
        n += 1;
        v >>= 7;
    }
    n
}

/// A `Vec<RejectNote>` of `n` fitted notes, encoded.
pub const fn notes(n: usize) -> usize {
    let texts = 3 * n;
    let per_note = 3 * 10 + 5 + 1 + 3 * varint(texts);
    varint(texts)
        + texts * varint(REASON_MAX)
        + LABELS_BUDGET
        + REASONS_BUDGET
        + varint(n)
        + n * per_note
}

/// `FromWorker::Done` with `n` fitted notes.
pub const fn done(n: usize) -> usize {
    1 + 10 + 10 + 1 + varint(n) + notes(n)
}

/// One `LedgerRange` with `n` fitted notes: start, end, first line, loaded, rejected.
pub const fn range(n: usize) -> usize {
    5 * 10 + notes(n)
}

/// `FromWorker::Ledger` or `LedgerPart` around `ranges` bytes of ranges:
/// variant, query, count.
pub const fn ledger(ranges: usize) -> usize {
    1 + 10 + varint(ranges) + ranges
}

/// The ledger row's `rejects` JSON of `n` fitted notes: numbers at their
/// widest (20 digits, 10 for u32), texts quoted with every byte escaped as
/// `\u00XX`, punctuation.
pub const fn json(n: usize) -> usize {
    let texts = 3 * n;
    let per_note = 3 * 20 + 10 + 10 + 2 * 10 + 8;
    r#"{"texts":[],"notes":[]}"#.len()
        + texts * 3
        + 6 * (LABELS_BUDGET + REASONS_BUDGET)
        + n * per_note
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{BatchDone, FromWorker, LedgerRange, MAX_FRAME, RejectNote};

    /// Every field at its widest and every text distinct, far too long and
    /// made of bytes JSON escapes as `\u00XX`: each limit of `fit` binds.
    fn worst(n: usize) -> Vec<RejectNote> {
        let text = |i: usize, len: usize| format!("{i}-{}", "\x01".repeat(len));
        let mut notes: Vec<RejectNote> = (0..n)
            .map(|i| RejectNote {
                offset: u64::MAX - i as u64,
                len: u64::MAX,
                line: u64::MAX,
                records: u32::MAX,
                column: Some(text(i, 300)),
                code: text(i, 60),
                reason: text(i, 1200),
            })
            .collect();
        super::super::fit(&mut notes);
        notes
    }

    #[test]
    fn at_the_largest_batch_rows_the_answer_fits_a_frame() {
        assert_eq!(done(10_000), 18_335_821, "the figure in the header");
        assert_eq!(done(MAX_NOTES), 71_825_824, "the figure in the header");
        assert!(done(MAX_NOTES) < MAX_FRAME);
        assert!(ledger(range(MAX_NOTES)) < MAX_FRAME);
        assert!(ledger(LEDGER_PART) < MAX_FRAME);
        assert!(json(MAX_NOTES) < 1_000_000_000, "{}", json(MAX_NOTES));
        // The bound grows with n: the largest batch is the worst one.
        assert!((1..MAX_NOTES).step_by(9973).all(|n| done(n) < done(n + 1)));
    }

    #[test]
    fn the_configuration_refuses_more_rows_than_the_bound_assumes() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("in")).expect("mkdir");
        let text = |rows: usize| {
            format!(
                "[daemon]\nstate_dir = \"state\"\n[sinks.s]\nkind = \"sqlite\"\npath = \"t.db\"\n\
                 [jobs.j]\nsink = \"s\"\nbatch_rows = {rows}\n[jobs.j.source]\nkind = \"dir\"\n\
                 path = \"in\"\n"
            )
        };
        let file = dir.path().join("ingestd.toml");
        let cfg = crate::config::parse(&text(MAX_NOTES), &file).expect("the maximum is valid");
        assert_eq!(cfg.jobs["j"].batch_rows as usize, MAX_NOTES);
        let e = crate::config::parse(&text(MAX_NOTES + 1), &file).expect_err("one more");
        assert!(e.to_string().contains("batch_rows"), "{e}");
    }

    #[test]
    fn the_worst_answer_encodes_within_the_bound() {
        for n in [0, 1, 200, 20_000] {
            let notes = worst(n);
            let answer = FromWorker::Done(BatchDone {
                id: u64::MAX,
                loaded: u64::MAX,
                rejects: notes.clone(),
                already: true,
                held: Vec::new(),
            });
            let encoded = postcard::to_stdvec(&answer).expect("encode");
            assert!(
                encoded.len() <= done(n),
                "{n}: {} > {}",
                encoded.len(),
                done(n)
            );
            let back: FromWorker = postcard::from_bytes(&encoded).expect("decode");
            assert_eq!(back, answer);
            if n == 20_000 {
                // Every budget binds here: the bound is not loose by much.
                assert!(encoded.len() * 100 >= done(n) * 95, "{}", encoded.len());
            }
            let held = LedgerRange {
                start: u64::MAX,
                end: u64::MAX,
                first_line: u64::MAX,
                loaded: u64::MAX,
                rejected: u64::MAX,
                rejects: notes,
            };
            let size = postcard::to_stdvec(&held).expect("encode").len();
            assert!(size <= range(n), "{n}: {size} > {}", range(n));
            let part = ledger(size);
            let encoded = FromWorker::Ledger {
                query: u64::MAX,
                ranges: vec![held.clone()],
            };
            let encoded = postcard::to_stdvec(&encoded).expect("encode").len();
            assert!(encoded <= part, "{n}: {encoded} > {part}");
            let text = serde_json::to_string(&super::super::wire::Shared(&held.rejects));
            let text = text.expect("json");
            assert!(text.len() <= json(n), "{n}: {} > {}", text.len(), json(n));
        }
    }
}
