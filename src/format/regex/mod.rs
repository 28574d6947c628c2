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

mod access;
mod logfmt;
pub mod named;
mod parse;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use ::regex::bytes::Regex;
use serde::{Deserialize, Serialize};

use super::error::LayoutError;
use super::{ColumnSpec, Field, Layout};
pub use named::Named;
pub use parse::parse_batch;

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
            } => format!("regex (named {n}"),
            Matcher::Pattern { source, named: _ } => format!("regex (pattern {source:?}"),
            Matcher::Logfmt => "regex (named logfmt".to_string(),
        };
        if let Some(c) = &self.continuation {
            s.push_str(&format!(", continue {c:?}"));
        }
        s.push_str(&format!(", null {:?}", self.null));
        if self.skip_lines > 0 {
            s.push_str(&format!(", skip_lines {}", self.skip_lines));
        }
        s + ")"
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
