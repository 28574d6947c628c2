//! Configuration errors: one variant per failed step, each naming where the
//! problem is as `file:line:column: key.path: what is wrong`.
//!
//! Owns turning byte spans into 1-based lines and columns, and serde/TOML
//! errors into `ConfigError`. Must not decide what is valid: that is
//! `validate`'s job, which hands over a `Problem`.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_path_to_error::Segment;

/// Why a configuration could not be loaded. Variants are named after the step
/// that failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The configuration file's path could not be made absolute (no current
    /// directory), so relative paths inside it cannot be resolved.
    #[error("{}: cannot locate the configuration's folder: {source}", path.display())]
    Locate {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Not valid TOML, or a value of the wrong shape: an unknown key, a wrong
    /// type, a missing key, a malformed duration or size.
    #[error("{at}: {message}")]
    Parse { at: Location, message: String },
    /// Well-formed, but a rule is broken (a missing sink, a bad path, a value
    /// out of range, ...).
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
}

/// A place in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file as the user named it.
    pub file: PathBuf,
    /// 1-based line and column (in characters); `None` for problems that have
    /// no single place, such as a missing `[jobs]` table.
    pub line_col: Option<(usize, usize)>,
    /// The key path, like `jobs.orders.columns[0].type`; empty for syntax errors.
    pub key: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.line_col {
            write!(f, ":{line}:{column}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        Ok(())
    }
}

/// A broken rule found by `validate`, before it is placed in a file.
#[derive(Debug)]
pub(crate) struct Problem {
    pub key: String,
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl Problem {
    pub fn new(
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            key: key.into(),
            span,
            message: message.into(),
        }
    }
}

/// The text being parsed and the name it is shown under: enough to place a span.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub text: &'a str,
    pub shown: &'a Path,
}

impl Origin<'_> {
    fn locate(&self, key: String, span: Option<Range<usize>>) -> Location {
        Location {
            file: self.shown.to_path_buf(),
            line_col: span.map(|s| line_col(self.text, s.start)),
            key,
        }
    }

    pub fn invalid(&self, p: Problem) -> ConfigError {
        ConfigError::Invalid {
            at: self.locate(p.key, p.span),
            message: p.message,
        }
    }

    /// The document is not TOML at all (no key path is known yet, except
    /// for a duplicate key, which is looked up).
    pub fn syntax(&self, e: toml::de::Error) -> ConfigError {
        let span = e.span();
        let dup = match (e.message(), &span) {
            ("duplicate key", Some(at)) => super::duplicate::find(self.text, at),
            _ => None,
        };
        let Some(d) = dup else {
            return ConfigError::Parse {
                at: self.locate(String::new(), span),
                message: format!("invalid TOML: {}", e.message()),
            };
        };
        let first = d
            .first_line
            .map(|l| format!(" (first on line {l})"))
            .unwrap_or_default();
        let message = match (d.header, d.table.as_str()) {
            (true, _) => format!(
                "invalid TOML: table [{}] is defined twice{first}: merge the two into one",
                d.path
            ),
            (false, "") => format!(
                "invalid TOML: duplicate key `{}` at the top level{first}: keep one of them",
                d.key
            ),
            (false, table) => format!(
                "invalid TOML: duplicate key `{}` in table [{table}]{first}: keep one of them",
                d.key
            ),
        };
        ConfigError::Parse {
            at: self.locate(d.path, span),
            message,
        }
    }

    /// The document is TOML but does not fit the expected shape.
    pub fn decode(&self, e: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
        let key = key_path(e.path());
        let inner = e.into_inner();
        ConfigError::Parse {
            at: self.locate(key, inner.span()),
            message: tomlish(inner.message()),
        }
    }
}

/// serde speaks of fields; a TOML user writes keys.
fn tomlish(message: &str) -> String {
    const RENAMES: [(&str, &str); 3] = [
        ("unknown field", "unknown key"),
        ("missing field", "missing key"),
        ("unknown variant", "unknown value"),
    ];
    for (from, to) in RENAMES {
        if let Some(rest) = message.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    message.to_string()
}

/// Renders a serde path as a TOML key path, hiding the fields `toml::Spanned`
/// uses internally.
fn key_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => {}
            Segment::Map { key } => push_key(&mut out, key),
            Segment::Enum { variant } => push_key(&mut out, variant),
            Segment::Unknown => push_key(&mut out, "?"),
        }
    }
    out
}

pub(crate) fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    if is_bare_key(key) {
        out.push_str(key);
    } else {
        out.push_str(&format!("{key:?}"));
    }
}

/// A TOML bare key; also the rule for sink and job names.
pub(crate) fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // `é` is two bytes but one column.
        assert_eq!(line_col(text, 11), (2, 5));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn location_display() {
        let at = Location {
            file: PathBuf::from("conf/x.toml"),
            line_col: Some((12, 7)),
            key: "jobs.orders.sink".into(),
        };
        assert_eq!(at.to_string(), "conf/x.toml:12:7: jobs.orders.sink");
        let nowhere = Location {
            line_col: None,
            key: String::new(),
            ..at
        };
        assert_eq!(nowhere.to_string(), "conf/x.toml");
    }
}
