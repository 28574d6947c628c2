//! Log lines by regular expression (`format.kind = "regex"`): a record is a
//! line, or a line and its continuation lines (`continue`, see
//! `lines/continued.rs`); the pattern's named groups are its fields. Or a
//! ready-made pattern by name (`named.rs`), `logfmt` among them, whose keys
//! are the fields (`logfmt.rs`).
//!
//! Owns the format's settings, the compiled patterns (compiled once per
//! process: the format travels to workers as text and each compiles it on
//! its first batch), the layout (columns to groups or keys) and a batch's
//! records into rows and rejects (worker side). Must not touch files, pipes
//! or databases.
//!
//! Matching: the pattern must match the record's whole text (as if written
//! `\A(?:pattern)\z`), never a part of it, so that a line with something
//! missing or added is rejected (`no_match`) rather than loaded in part. A
//! record of several lines is their texts joined with `\n`: `.` does not
//! cross them unless the pattern says `(?s)`, so a multi-line record's
//! pattern ends with a group like `(?P<message>(?s:.*))`. Patterns match
//! bytes: in the default Unicode mode `.` and classes only match valid
//! UTF-8; `(?-u)` matches any byte (text columns still check UTF-8).

mod logfmt;
pub mod named;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::OnceLock;

use ::regex::bytes::{CaptureLocations, Regex};
use serde::{Deserialize, Serialize};

use super::convert::{Bad, Raw, field};
use super::error::LayoutError;
use super::lines::records;
use super::{ColumnSpec, Field, Layout, Parsed, RowOrigin, Rows};
use crate::protocol::RejectNote;
pub use named::Named;

/// What matches a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Matcher {
    /// A regex; `named` is the ready-made pattern it is, if any.
    Pattern {
        source: String,
        named: Option<String>,
    },
    /// `key=value` pairs (`named = "logfmt"`).
    Logfmt,
}

/// The format as configured under `[jobs.NAME.format]`, `kind = "regex"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegexFormat {
    pub matcher: Matcher,
    /// Lines this pattern matches belong to the record before them.
    pub continuation: Option<String>,
    /// A field whose text equals this is NULL (default: the empty string).
    pub null: String,
    /// Physical lines skipped at the start of each file.
    pub skip_lines: u32,
    #[serde(skip)]
    compiled: OnceLock<Result<Compiled, String>>,
}

impl PartialEq for RegexFormat {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.matcher,
            &self.continuation,
            &self.null,
            self.skip_lines,
        ) == (
            &other.matcher,
            &other.continuation,
            &other.null,
            other.skip_lines,
        )
    }
}

impl Eq for RegexFormat {}

#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    /// `None` for logfmt.
    pub re: Option<Regex>,
    pub cont: Option<Regex>,
}

impl RegexFormat {
    /// The format, its patterns compiled (an error says which one is wrong
    /// and why, in the regex crate's words).
    pub fn new(
        matcher: Matcher,
        continuation: Option<String>,
        null: String,
        skip_lines: u32,
    ) -> Result<Self, PatternError> {
        let f = RegexFormat {
            matcher,
            continuation,
            null,
            skip_lines,
            compiled: OnceLock::new(),
        };
        let c = compile(&f)?;
        let _ = f.compiled.set(Ok(c));
        Ok(f)
    }

    /// A ready-made pattern by name.
    pub fn named(name: &str) -> Option<Self> {
        let matcher = match named::lookup(name)? {
            Named::Regex(p) => Matcher::Pattern {
                source: p.to_string(),
                named: Some(name.to_string()),
            },
            Named::Logfmt => Matcher::Logfmt,
        };
        Self::new(matcher, None, String::new(), 0).ok()
    }

    pub(crate) fn compiled(&self) -> Result<&Compiled, &str> {
        self.compiled
            .get_or_init(|| compile(self).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The continue pattern, compiled (for the supervisor's scanner).
    pub fn continue_regex(&self) -> Option<Regex> {
        self.compiled().ok().and_then(|c| c.cont.clone())
    }

    /// The named groups, in the pattern's order, with their indexes
    /// (logfmt has none: its keys are found in each record).
    pub fn groups(&self) -> Vec<(usize, String)> {
        match self.compiled() {
            Ok(Compiled { re: Some(re), .. }) => re
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| Some((i, n?.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What `check` prints: the ready-made name, or the pattern.
    pub fn describe(&self) -> String {
        let mut s = match &self.matcher {
            Matcher::Pattern {
                named: Some(n),
                source: _,
            } => format!("regex, named {n}"),
            Matcher::Pattern { source, named: _ } => format!("regex {source:?}"),
            Matcher::Logfmt => "regex, named logfmt".to_string(),
        };
        if let Some(c) = &self.continuation {
            s.push_str(&format!(", continue {c:?}"));
        }
        s
    }
}

/// A pattern that does not compile.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    #[error("the pattern does not compile: {0}")]
    Pattern(String),
    #[error("the continue pattern does not compile: {0}")]
    Continue(String),
    #[error("the pattern has no named group (?P<name>...): nothing would name the fields")]
    NoGroups,
}

fn compile(f: &RegexFormat) -> Result<Compiled, PatternError> {
    let re = match &f.matcher {
        Matcher::Pattern { source, .. } => {
            // Anchored as a whole: a `|` at the pattern's top level stays inside.
            let re = Regex::new(&format!(r"\A(?:{source})\z"))
                .map_err(|e| PatternError::Pattern(e.to_string()))?;
            if re.capture_names().flatten().next().is_none() {
                return Err(PatternError::NoGroups);
            }
            Some(re)
        }
        Matcher::Logfmt => None,
    };
    let cont = match &f.continuation {
        Some(c) => Some(Regex::new(c).map_err(|e| PatternError::Continue(e.to_string()))?),
        None => None,
    };
    Ok(Compiled { re, cont })
}

/// The layout of every file of the job (a line format has no header).
///
/// * With columns: each takes the group (logfmt: the key) named by its
///   `from`, else its name: a group by the exact name, else the one group
///   equal ignoring case; a key exactly. A column with a `constant` takes
///   nothing; one naming no group takes its `default` if it has one, and is
///   an error otherwise. Several columns may take one group.
/// * Without: every named group is a nullable text column (logfmt: an
///   error, since its keys are only known from the records).
pub fn layout(fmt: &RegexFormat, columns: Option<&[ColumnSpec]>) -> Result<Layout, LayoutError> {
    let groups = fmt.groups();
    let Some(columns) = columns else {
        if matches!(fmt.matcher, Matcher::Logfmt) {
            return Err(LayoutError::NoColumns);
        }
        return Ok(Layout {
            columns: groups.iter().map(|(_, n)| ColumnSpec::text(n)).collect(),
            fields: groups.iter().map(|&(i, _)| Field::At(i as u32)).collect(),
            field_count: 0,
        });
    };
    let mut fields = Vec::with_capacity(columns.len());
    for col in columns {
        let want = col.from.as_deref().unwrap_or(&col.name);
        let f = if col.constant.is_some() {
            Field::Constant
        } else if matches!(fmt.matcher, Matcher::Logfmt) {
            Field::Path(vec![want.to_string()])
        } else {
            match group(&groups, want) {
                Some(i) => Field::At(i as u32),
                None if col.default.is_some() => Field::Absent,
                None => {
                    return Err(LayoutError::MissingGroup {
                        column: col.name.clone(),
                        group: want.to_string(),
                        groups: groups.iter().map(|(_, n)| n.clone()).collect(),
                    });
                }
            }
        };
        fields.push(f);
    }
    Ok(Layout {
        columns: columns.to_vec(),
        fields,
        field_count: 0,
    })
}

/// The index of the group called `want`: exactly, else the one equal to it
/// ignoring case.
fn group(groups: &[(usize, String)], want: &str) -> Option<usize> {
    if let Some((i, _)) = groups.iter().find(|(_, n)| n == want) {
        return Some(*i);
    }
    let lower = want.to_lowercase();
    let mut loose = groups.iter().filter(|(_, n)| n.to_lowercase() == lower);
    match (loose.next(), loose.next()) {
        (Some((i, _)), None) => Some(*i),
        _ => None,
    }
}

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
    let mut recs = records(data, compiled.cont.as_ref());
    while let Some(r) = recs.next() {
        let o = origin(start, first_line, r.at, r.len, r.line);
        match (&compiled.re, &mut locs) {
            (Some(re), Some(locs)) => b.matched(re, locs, &o, r.len, r.text),
            _ => b.logfmt(&keys, &o, r.len, r.text),
        }
    }
    b.finish()
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
                super::show(key)
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
