//! How much one batch's reject notes may carry, so that every answer a
//! worker gives fits in a frame and every ledger row stays bounded.
//!
//! ```text
//!  notes of a batch --fit--> same notes, same count, same lines and offsets,
//!                            texts cut: code <= 32 B, column <= 128 B,
//!                            reason <= 4 KiB, all reasons together <= 16 MiB,
//!                            distinct codes and columns together <= 1 MiB
//!                   --wire--> each text once, notes refer to it (frames and
//!                             the ledger's JSON)
//! ```
//!
//! Fitting never drops or merges a note: every rejected record keeps its own
//! line, offset and count, so `.bad.jsonl` and the ledger's `rows_rejected`
//! stay exact. Only texts get shorter, longest first, each cut one ending in
//! a marker that says how many bytes went. `bound.rs` turns these limits into
//! the largest frame a batch's answer can be.
//!
//! Owns the limits, the cutting and the encoding of notes (`wire`); knows
//! nothing of databases, files or pipes, and must not change what a note
//! says about where its record is.

pub mod bound;
pub mod wire;

use std::collections::HashSet;

use super::RejectNote;

/// Longest code kept: codes are short names (`bad_decimal`, a SQLSTATE, an
/// ORA number, `SQLITE_CONSTRAINT_PRIMARYKEY`); this only guards the bound.
pub const CODE_MAX: usize = 32;
/// Longest column name kept (Oracle's names go to 128 bytes, PostgreSQL's to 63).
pub const COLUMN_MAX: usize = 128;
/// Longest single reason kept: the database's message, whole in practice.
pub const REASON_MAX: usize = 4 << 10;
/// All reasons of one batch together, counting every note's own copy (the
/// supervisor holds one per note): 1.6 KiB a note at the default 10,000 rows.
pub const REASONS_BUDGET: usize = 16 << 20;
/// The distinct codes and column names of one batch together.
pub const LABELS_BUDGET: usize = 1 << 20;

/// Cuts the texts of `notes` to the limits above, in place. Idempotent:
/// fitted notes fit. Counts, lines, offsets and lengths are never touched.
pub fn fit(notes: &mut [RejectNote]) {
    for n in notes.iter_mut() {
        cut(&mut n.code, CODE_MAX);
        if let Some(c) = &mut n.column {
            cut(c, COLUMN_MAX);
        }
        cut(&mut n.reason, REASON_MAX);
    }
    let reasons = notes.iter().map(|n| n.reason.len());
    if reasons.clone().sum::<usize>() > REASONS_BUDGET {
        let level = water_level(reasons.collect(), REASONS_BUDGET);
        for n in notes.iter_mut() {
            cut(&mut n.reason, level);
        }
    }
    let labels: HashSet<&str> = notes
        .iter()
        .flat_map(|n| std::iter::once(n.code.as_str()).chain(n.column.as_deref()))
        .collect();
    if labels.iter().map(|l| l.len()).sum::<usize>() > LABELS_BUDGET {
        let level = water_level(labels.iter().map(|l| l.len()).collect(), LABELS_BUDGET);
        for n in notes.iter_mut() {
            cut(&mut n.code, level);
            if let Some(c) = &mut n.column {
                cut(c, level);
            }
        }
    }
}

/// The largest cap `c` with `sum(min(len, c)) <= budget`: texts shorter than
/// `c` stay whole, longer ones share what is left equally.
fn water_level(mut lens: Vec<usize>, budget: usize) -> usize {
    lens.sort_unstable();
    let mut left = budget;
    let n = lens.len();
    for (i, &len) in lens.iter().enumerate() {
        let rest = n - i;
        if len.saturating_mul(rest) > left {
            return left / rest;
        }
        left -= len;
    }
    usize::MAX
}

const ELLIPSIS: &str = "…";

/// Shortens `s` to at most `max` bytes on a character boundary. The end says
/// it was cut and by how much (`…[2990 bytes cut]`) when that takes at most
/// half of `max`, else it is a bare `…`, or nothing when even that cannot fit.
pub fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    // The count has at most as many digits as the whole length.
    let long = marker(s.len()).len();
    let (keep, tail) = if long * 2 <= max {
        let keep = s.floor_char_boundary(max - long);
        (keep, marker(s.len() - keep))
    } else if max > ELLIPSIS.len() {
        (s.floor_char_boundary(max - ELLIPSIS.len()), ELLIPSIS.into())
    } else {
        (s.floor_char_boundary(max), String::new())
    };
    s.truncate(keep);
    s.push_str(&tail);
}

fn marker(cut: usize) -> String {
    format!("{ELLIPSIS}[{cut} bytes cut]")
}

#[cfg(test)]
mod tests;
