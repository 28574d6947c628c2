//! A stream's ledger rows: each names the set of message sequences its
//! batch committed, as compact runs in the `runs` column (`"1-500,733,
//! 901-950"`, ends inclusive), with `start_off`/`end_off` spanning the
//! lowest and highest. Several daemons share one consumer, so the sets of
//! their batches interleave and their spans overlap; a span is never wider
//! than `SPAN_MAX` (the supervisor cuts batches so), which bounds the index
//! range a look-up reads however long the ledger grows.
//!
//! Owns the runs' text, the look-up's SQL and the set arithmetic. Must not
//! run SQL: sinks do.

use std::fmt::Write as _;

use super::TABLE;
use crate::worker::sink::sql::Placeholder;

/// The widest span (highest less lowest sequence, plus one) of one batch.
pub const SPAN_MAX: u64 = 1 << 20;

/// Sorted, disjoint, non-touching `[first, end)` runs of `seqs` (any order,
/// duplicates allowed).
pub fn runs_of(seqs: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut all: Vec<u64> = seqs.into_iter().collect();
    all.sort_unstable();
    all.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for s in all {
        match out.last_mut() {
            Some(last) if last.1 == s => last.1 = s + 1,
            _ => out.push((s, s + 1)),
        }
    }
    out
}

/// `runs` as the column's text.
pub fn encode(runs: &[(u64, u64)]) -> String {
    let mut s = String::with_capacity(runs.len() * 8);
    for (i, &(a, b)) in runs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match b - a {
            1 => write!(s, "{a}"),
            _ => write!(s, "{a}-{}", b - 1),
        }
        .expect("writing to a String");
    }
    s
}

/// The column's text as runs; `None` when it is not such a text.
pub fn decode(text: &str) -> Option<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    if text.is_empty() {
        return Some(out);
    }
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
            None => {
                let a = part.parse::<u64>().ok()?;
                (a, a)
            }
        };
        if b < a {
            return None;
        }
        out.push((a, b.checked_add(1)?));
    }
    Some(out)
}

/// Merges runs (any order, overlapping allowed) into sorted disjoint ones.
pub fn merge(mut runs: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    runs.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
    for (a, b) in runs {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `seq` is in the merged runs `held`.
pub fn contains(held: &[(u64, u64)], seq: u64) -> bool {
    let i = held.partition_point(|&(_, end)| end <= seq);
    held.get(i).is_some_and(|&(a, _)| a <= seq)
}

/// Rows of (job = p1, target = p2, source = p3) whose span overlaps
/// [p4, p5); p6 is p4 less `SPAN_MAX` (no wider span starts before it).
/// Returns `start_off, end_off, runs` (runs NULL: a byte range, or a
/// stream's whole span).
pub fn select_sql(ph: Placeholder) -> String {
    let mut s = format!("SELECT start_off, end_off, runs FROM {TABLE} WHERE job = ");
    ph.push(&mut s, 1);
    s.push_str(" AND target = ");
    ph.push(&mut s, 2);
    s.push_str(" AND source = ");
    ph.push(&mut s, 3);
    s.push_str(" AND start_off < ");
    ph.push(&mut s, 5);
    s.push_str(" AND start_off > ");
    ph.push(&mut s, 6);
    s.push_str(" AND end_off > ");
    ph.push(&mut s, 4);
    s
}

/// `select_sql`'s p6 for a look-up from `start`.
pub fn low(start: i64) -> i64 {
    start.saturating_sub(SPAN_MAX as i64)
}

/// The runs a row holds: its `runs`, or its whole span.
pub fn of_row(start: i64, end: i64, runs: Option<&str>) -> Result<Vec<(u64, u64)>, String> {
    let bad = || format!("the ledger holds a row whose span [{start}, {end}) is not sequences");
    let (a, b) = (
        u64::try_from(start).map_err(|_| bad())?,
        u64::try_from(end).map_err(|_| bad())?,
    );
    match runs {
        None => Ok(vec![(a, b)]),
        Some(text) => decode(text)
            .ok_or_else(|| format!("the ledger's runs column is not a list of runs: {text:?}")),
    }
}

/// Inserts one stream ledger row: p1..p11 = job, target, source, start_off,
/// end_off, first_line, rows_loaded, rows_rejected, rejects, worker_pid,
/// runs; `now` is the database's clock.
pub fn insert_sql(ph: Placeholder, now: &str) -> String {
    let mut s = format!(
        "INSERT INTO {TABLE} (job, target, source, start_off, end_off, first_line, rows_loaded, \
         rows_rejected, rejects, worker_pid, runs, committed_at) VALUES ("
    );
    for n in 1..=11 {
        ph.push(&mut s, n);
        s.push_str(", ");
    }
    s.push_str(now);
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_and_membership() {
        let runs = runs_of([5, 1, 2, 3, 9, 10, 3, 12]);
        assert_eq!(runs, vec![(1, 4), (5, 6), (9, 11), (12, 13)]);
        let text = encode(&runs);
        assert_eq!(text, "1-3,5,9-10,12");
        assert_eq!(decode(&text), Some(runs.clone()));
        assert_eq!(decode(""), Some(vec![]));
        for bad in ["x", "3-1", "1-", ",", "1,,2"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let held = merge(vec![(9, 11), (1, 4), (2, 6)]);
        assert_eq!(held, vec![(1, 6), (9, 11)]);
        for (s, inside) in [
            (0, false),
            (1, true),
            (5, true),
            (6, false),
            (10, true),
            (11, false),
        ] {
            assert_eq!(contains(&held, s), inside, "{s}");
        }
        assert_eq!(of_row(4, 8, None), Ok(vec![(4, 8)]));
        assert!(of_row(4, 8, Some("4-5,7")).is_ok());
        assert!(of_row(-1, 8, None).is_err());
    }
}
