//! A batch's records into rows and reject notes (worker side): each record
//! matched by the format's regex (or, for the access-log patterns, by
//! `access.rs`, which gives the same answer faster; or split into logfmt
//! pairs), then each column's group or key converted by `convert.rs`.
//!
//! Owns the per-batch state and the reject notes; no files, pipes or
//! databases. The regex's capture locations are reused from record to
//! record, and a record's text is the batch's own bytes unless its lines
//! had `\r\n` terminators to drop.

use std::borrow::Cow;

use ::regex::bytes::{CaptureLocations, Regex};

use super::{Matcher, RegexFormat, access, logfmt, named};
use crate::format::convert::{Bad, Raw, field};
use crate::format::lines::records;
use crate::format::{Field, Layout, Parsed, RowOrigin, Rows};
use crate::protocol::RejectNote;

/// Parses `data`, whole records from byte offset `start` of a source whose
/// physical line there is `first_line` (1-based).
pub fn parse_batch(
    fmt: &RegexFormat,
    layout: &Layout,
    start: u64,
    first_line: u64,
    data: &[u8],
) -> Parsed {
    let mut b = Batch {
        layout,
        null: fmt.null.as_bytes(),
        rows: Rows::new(layout.columns.len()),
        rejects: Vec::new(),
        what: match &fmt.matcher {
            Matcher::Pattern { named: Some(n), .. } => Cow::Owned(format!("pattern {n}")),
            _ => Cow::Borrowed("pattern"),
        },
    };
    // About one record per 100 bytes of a log line: enough to spare most
    // regrowth without reserving much for a batch of long records.
    let approx = data.len() / 100 + 1;
    b.rows
        .cells
        .reserve(approx.saturating_mul(layout.columns.len()).min(1 << 24));
    b.rows.origins.reserve(approx);
    b.rows.text.reserve(data.len() / 2);
    let compiled = match fmt.compiled() {
        Ok(c) => c,
        Err(e) => {
            // Checked when the configuration was read: cannot happen, but a
            // worker must answer every record rather than die on each batch.
            let reason = format!("the format's pattern is unusable here: {e}");
            let mut recs = records(data, None);
            while let Some(r) = recs.next() {
                let o = origin(start, first_line, r.at, r.len, r.line);
                b.rejects
                    .push(note(&o, r.len, None, "bad_pattern", reason.clone()));
            }
            return b.finish();
        }
    };
    let keys = Keys::new(layout);
    let mut locs = compiled.re.as_ref().map(Regex::capture_locations);
    // The matcher that stands for a ready-made pattern, when the pattern
    // is that one's text.
    let fast = match &fmt.matcher {
        Matcher::Pattern {
            named: Some(n),
            source,
        } if matches!(named::lookup(n), Some(named::Named::Regex(p)) if p == source) => {
            access::Access::of(n).map(|a| (a, by_group(fmt)))
        }
        _ => None,
    };
    let mut spans: access::Spans = [None; 12];
    let mut recs = records(data, compiled.cont.as_ref());
    while let Some(r) = recs.next() {
        let o = origin(start, first_line, r.at, r.len, r.line);
        match (&compiled.re, &mut locs, &fast) {
            (_, _, Some((kind, by_group))) => {
                let ok = access::matches(*kind, r.text, &mut spans);
                b.fast(ok, &spans, by_group, &o, r.len, r.text);
            }
            (Some(re), Some(locs), None) => b.matched(re, locs, &o, r.len, r.text),
            _ => b.logfmt(&keys, &o, r.len, r.text),
        }
    }
    b.finish()
}

/// For each group index of the format's regex, its place in `access::Spans`.
fn by_group(fmt: &RegexFormat) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for (i, name) in fmt.groups() {
        out.resize(i + 1, None);
        out[i] = access::GROUPS.iter().position(|g| *g == name);
    }
    out
}

fn origin(start: u64, first_line: u64, at: usize, len: usize, line: u64) -> RowOrigin {
    RowOrigin {
        offset: start + at as u64,
        len: u32::try_from(len).unwrap_or(u32::MAX),
        line: first_line + line,
    }
}

fn note(o: &RowOrigin, len: usize, column: Option<&str>, code: &str, reason: String) -> RejectNote {
    RejectNote {
        offset: o.offset,
        len: len as u64,
        line: o.line,
        records: 1,
        column: column.map(str::to_string),
        code: code.to_string(),
        reason,
    }
}

/// Per-batch state while records become rows.
struct Batch<'a> {
    layout: &'a Layout,
    null: &'a [u8],
    rows: Rows,
    rejects: Vec<RejectNote>,
    /// How reasons name the pattern.
    what: Cow<'static, str>,
}

impl Batch<'_> {
    fn matched(
        &mut self,
        re: &Regex,
        locs: &mut CaptureLocations,
        o: &RowOrigin,
        len: usize,
        text: &[u8],
    ) {
        if re.captures_read(locs, text).is_none() {
            let reason = format!("the record does not match the {}", self.what);
            self.rejects.push(note(o, len, None, "no_match", reason));
            return;
        }
        self.row(o, len, |_, f| match f {
            Field::At(g) => match locs.get(*g as usize) {
                Some((s, e)) => Raw::Text(&text[s..e]),
                None => Raw::Absent,
            },
            _ => Raw::Absent,
        });
    }

    /// A ready-made access-log pattern, matched by `access.rs`.
    fn fast(
        &mut self,
        ok: bool,
        spans: &access::Spans,
        by_group: &[Option<usize>],
        o: &RowOrigin,
        len: usize,
        text: &[u8],
    ) {
        if !ok {
            let reason = format!("the record does not match the {}", self.what);
            self.rejects.push(note(o, len, None, "no_match", reason));
            return;
        }
        self.row(o, len, |_, f| {
            let span = match f {
                Field::At(g) => by_group.get(*g as usize).copied().flatten(),
                _ => None,
            };
            match span.and_then(|k| spans[k]) {
                Some((s, e)) => Raw::Text(&text[s..e]),
                None => Raw::Absent,
            }
        });
    }

    fn logfmt(&mut self, keys: &Keys, o: &RowOrigin, len: usize, text: &[u8]) {
        let mut values: Vec<Option<Cow<'_, [u8]>>> = vec![None; self.layout.columns.len()];
        let mut duplicate = None;
        let parsed = logfmt::pairs(text, |p| {
            for c in keys.columns(p.key) {
                if values[c].is_some() {
                    duplicate.get_or_insert((c, p.key));
                }
                values[c] = Some(p.value.clone());
            }
            Ok(())
        });
        if let Err(logfmt::Malformed(reason)) = parsed {
            self.rejects.push(note(o, len, None, "bad_logfmt", reason));
            return;
        }
        if let Some((c, key)) = duplicate {
            let col = &self.layout.columns[c];
            let reason = format!(
                "{}: the key {} appears more than once in the record",
                col.name,
                crate::format::show(key)
            );
            self.rejects
                .push(note(o, len, Some(&col.name), "duplicate_key", reason));
            return;
        }
        self.row(o, len, |c, _| match &values[c] {
            Some(v) => Raw::Text(v),
            None => Raw::Absent,
        });
    }

    /// Converts each column's raw value (`raw` of its index and field); the
    /// row, or a reject naming the first bad column.
    fn row<'v>(
        &mut self,
        o: &RowOrigin,
        len: usize,
        mut raw: impl FnMut(usize, &Field) -> Raw<'v>,
    ) {
        let (cells, text) = (self.rows.cells.len(), self.rows.text.len());
        for (c, col) in self.layout.columns.iter().enumerate() {
            let f = self.layout.fields.get(c).unwrap_or(&Field::Absent);
            match field(col, raw(c, f), Some(self.null), &mut self.rows.text) {
                Ok(cell) => self.rows.cells.push(cell),
                Err(Bad { code, reason }) => {
                    self.rejects
                        .push(note(o, len, Some(&col.name), code, reason));
                    self.rows.cells.truncate(cells);
                    self.rows.text.truncate(text);
                    return;
                }
            }
        }
        self.rows.origins.push(*o);
    }

    fn finish(self) -> Parsed {
        let records = (self.rows.len() + self.rejects.len()) as u64;
        Parsed {
            rows: self.rows,
            rejects: self.rejects,
            records,
        }
    }
}

/// logfmt: which columns each key feeds.
struct Keys {
    /// Column indexes by key, sorted by key.
    index: Vec<(Vec<u8>, usize)>,
}

impl Keys {
    fn new(layout: &Layout) -> Self {
        let mut index: Vec<(Vec<u8>, usize)> = (layout.fields.iter().enumerate())
            .filter_map(|(c, f)| match f {
                Field::Path(p) if p.len() == 1 => Some((p[0].clone().into_bytes(), c)),
                _ => None,
            })
            .collect();
        index.sort();
        Keys { index }
    }

    /// The columns `key` feeds.
    fn columns<'k>(&'k self, key: &'k [u8]) -> impl Iterator<Item = usize> + 'k {
        let from = self.index.partition_point(|(k, _)| k.as_slice() < key);
        self.index[from..]
            .iter()
            .take_while(move |(k, _)| k.as_slice() == key)
            .map(|&(_, c)| c)
    }
}
