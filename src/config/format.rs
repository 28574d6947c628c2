//! `[jobs.NAME.format]`: the record format of a job, with defaults from
//! `CsvFormat::default()` and `JsonlFormat::default()`.
//!
//! Owns the checks on the CSV dialect (single ASCII bytes, no line breaks,
//! no byte used for two roles), on a regex format's patterns (they compile;
//! a ready-made name exists), on a fixed-width format's keys, on JSON Lines'
//! extra keys and pointers, and that no key of another kind is set. Column positions are `columns.rs`'. Must not
//! parse data: that is `crate::format`.

use std::ops::Range;

use toml::Spanned;

use super::error::Problem;
use super::raw::{ExtraKeys, FormatKind, Int, RawColumn, RawFormat, TrimValue};
use crate::format::fixed::Trim;
use crate::format::jsonl::{Extra, JsonlFormat, pointer};
use crate::format::regex::{Matcher, named};
use crate::format::{ColumnType, CsvFormat, FixedFormat, Format, RegexFormat};

/// Builds a job's format; `job` is the key prefix `jobs.NAME`.
pub(crate) fn format(job: &str, raw: Option<RawFormat>) -> Result<Format, Problem> {
    let Some(raw) = raw else {
        return Ok(Format::Csv(CsvFormat::default()));
    };
    let key = format!("{job}.format");
    let kind = raw.kind.unwrap_or(FormatKind::Csv);
    foreign_keys(&key, kind, &raw)?;
    match kind {
        FormatKind::Csv => csv(&key, raw).map(Format::Csv),
        FormatKind::Regex => regex(&key, raw).map(Format::Regex),
        FormatKind::Fixed => fixed(&key, raw).map(Format::Fixed),
        FormatKind::Jsonl => jsonl(&key, raw).map(Format::Jsonl),
    }
}

/// A key that belongs to another kind of format is an error, not ignored:
/// it says the job was meant otherwise.
fn foreign_keys(key: &str, kind: FormatKind, raw: &RawFormat) -> Result<(), Problem> {
    let span = |s: Option<&Spanned<String>>| s.map(Spanned::span);
    let csv = [
        (
            "header",
            raw.header.as_ref().map(Spanned::span),
            raw.header.is_some(),
        ),
        (
            "delimiter",
            span(raw.delimiter.as_ref()),
            raw.delimiter.is_some(),
        ),
        ("quote", span(raw.quote.as_ref()), raw.quote.is_some()),
        ("escape", span(raw.escape.as_ref()), raw.escape.is_some()),
        ("double_quote", None, raw.double_quote.is_some()),
        ("comment", span(raw.comment.as_ref()), raw.comment.is_some()),
    ];
    let regex = [
        ("pattern", span(raw.pattern.as_ref()), raw.pattern.is_some()),
        ("named", span(raw.named.as_ref()), raw.named.is_some()),
        (
            "continue",
            span(raw.continuation.as_ref()),
            raw.continuation.is_some(),
        ),
    ];
    let fixed = [(
        "pad_short",
        raw.pad_short.as_ref().map(Spanned::span),
        raw.pad_short.is_some(),
    )];
    let jsonl = [
        (
            "extra",
            raw.extra.as_ref().map(Spanned::span),
            raw.extra.is_some(),
        ),
        (
            "extra_column",
            span(raw.extra_column.as_ref()),
            raw.extra_column.is_some(),
        ),
    ];
    let trim = (
        "trim",
        raw.trim.as_ref().map(Spanned::span),
        raw.trim.is_some(),
    );
    let (name, others): (&str, Vec<_>) = match kind {
        FormatKind::Csv => ("csv", regex.into_iter().chain(fixed).chain(jsonl).collect()),
        FormatKind::Regex => (
            "regex",
            csv.into_iter()
                .chain(fixed)
                .chain(jsonl)
                .chain([trim])
                .collect(),
        ),
        FormatKind::Fixed => ("fixed", csv.into_iter().chain(regex).chain(jsonl).collect()),
        // JSON has its own null, and strings are taken as they are.
        FormatKind::Jsonl => (
            "jsonl",
            (csv.into_iter().chain(regex).chain(fixed).chain([trim]))
                .chain([("null", None, raw.null.is_some())])
                .collect(),
        ),
    };
    match others.into_iter().find(|(_, _, set)| *set) {
        Some((k, span, _)) => Err(Problem::new(
            format!("{key}.{k}"),
            span,
            format!("`{k}` does not apply to kind = \"{name}\""),
        )),
        None => Ok(()),
    }
}

fn regex(key: &str, raw: RawFormat) -> Result<RegexFormat, Problem> {
    let pattern_span = raw.pattern.as_ref().map(Spanned::span);
    let cont_span = raw.continuation.as_ref().map(Spanned::span);
    let matcher = match (raw.pattern, raw.named) {
        (Some(p), None) => Matcher::Pattern {
            source: p.get_ref().clone(),
            named: None,
        },
        (None, Some(n)) => match named::lookup(n.get_ref()) {
            Some(named::Named::Regex(p)) => Matcher::Pattern {
                source: p.to_string(),
                named: Some(n.get_ref().clone()),
            },
            Some(named::Named::Logfmt) => Matcher::Logfmt,
            None => {
                return Err(Problem::new(
                    format!("{key}.named"),
                    Some(n.span()),
                    format!(
                        "no ready-made pattern named {:?} (there are: {})",
                        n.get_ref(),
                        named::names()
                    ),
                ));
            }
        },
        (Some(_), Some(n)) => {
            return Err(Problem::new(
                format!("{key}.named"),
                Some(n.span()),
                "set `pattern` or `named`, not both",
            ));
        }
        (None, None) => {
            return Err(Problem::new(
                key,
                None,
                format!(
                    "kind = \"regex\" needs `pattern` (a regex whose named groups are the fields) \
                     or `named` (one of: {})",
                    named::names()
                ),
            ));
        }
    };
    let skip_lines = skip_lines(key, raw.skip_lines.as_ref(), 0)?;
    RegexFormat::new(
        matcher,
        raw.continuation.map(Spanned::into_inner),
        raw.null.unwrap_or_default(),
        skip_lines,
    )
    .map_err(|e| {
        use crate::format::regex::PatternError;
        let (k, span) = match e {
            PatternError::Continue(_) => ("continue", cont_span),
            _ => ("pattern", pattern_span),
        };
        Problem::new(format!("{key}.{k}"), span, e.to_string())
    })
}

fn fixed(key: &str, raw: RawFormat) -> Result<FixedFormat, Problem> {
    let d = FixedFormat::default();
    let trim = match &raw.trim {
        None => d.trim,
        Some(t) => fixed_trim(&format!("{key}.trim"), t)?,
    };
    Ok(FixedFormat {
        trim,
        pad_short: raw.pad_short.map_or(d.pad_short, Spanned::into_inner),
        null: raw.null.unwrap_or(d.null),
        skip_lines: skip_lines(key, raw.skip_lines.as_ref(), d.skip_lines)?,
        positions: Vec::new(),
        trims: Vec::new(),
    })
}

/// A fixed-width `trim` (the format's or a column's): a mode, or a bool.
pub(crate) fn fixed_trim(key: &str, t: &Spanned<TrimValue>) -> Result<Trim, Problem> {
    match t.get_ref() {
        TrimValue::Bool(true) => Ok(Trim::Both),
        TrimValue::Bool(false) => Ok(Trim::None),
        TrimValue::Mode(m) => Trim::parse(m).ok_or_else(|| {
            Problem::new(
                key,
                Some(t.span()),
                format!("invalid trim {m:?}: expected \"both\", \"left\", \"right\" or \"none\""),
            )
        }),
    }
}

fn jsonl(key: &str, raw: RawFormat) -> Result<JsonlFormat, Problem> {
    let column = match &raw.extra_column {
        Some(c) if c.get_ref().is_empty() => {
            return Err(Problem::new(
                format!("{key}.extra_column"),
                Some(c.span()),
                "empty extra_column: name the column that receives the keys no column names",
            ));
        }
        c => c.as_ref().map(|c| c.get_ref().clone()),
    };
    let extra = match (raw.extra.as_ref().map(|e| (*e.get_ref(), e.span())), column) {
        (None | Some((ExtraKeys::Ignore, _)), None) => Extra::Ignore,
        (Some((ExtraKeys::Reject, _)), None) => Extra::Reject,
        (None | Some((ExtraKeys::Column, _)), Some(c)) => Extra::Column(c),
        (Some((ExtraKeys::Column, span)), None) => {
            return Err(Problem::new(
                format!("{key}.extra"),
                Some(span),
                "extra = \"column\" needs extra_column = \"NAME\": the column that receives the keys no column names",
            ));
        }
        (Some((kind, _)), Some(_)) => {
            let kind = if kind == ExtraKeys::Reject {
                "reject"
            } else {
                "ignore"
            };
            return Err(Problem::new(
                format!("{key}.extra_column"),
                raw.extra_column.as_ref().map(Spanned::span),
                format!(
                    "extra_column only applies with extra = \"column\", and extra is \"{kind}\""
                ),
            ));
        }
    };
    Ok(JsonlFormat {
        extra,
        skip_lines: skip_lines(key, raw.skip_lines.as_ref(), 0)?,
    })
}

/// JSON Lines columns: each `from` that starts with `/` is a JSON Pointer,
/// and the extra-keys column is a text column that takes nothing else.
/// `extra_span` is where `extra_column` is set.
pub(crate) fn jsonl_columns(
    job: &str,
    fmt: &JsonlFormat,
    extra_span: Option<Range<usize>>,
    columns: &[RawColumn],
) -> Result<(), Problem> {
    for (i, col) in columns.iter().enumerate() {
        if let Some(from) = col.from.as_ref().filter(|f| f.get_ref().starts_with('/')) {
            pointer::parse(from.get_ref()).map_err(|m| {
                Problem::new(format!("{job}.columns[{i}].from"), Some(from.span()), m)
            })?;
        }
    }
    let Some(extra) = fmt.extra_column() else {
        return Ok(());
    };
    let Some((i, col)) = columns
        .iter()
        .enumerate()
        .find(|(_, c)| c.name.get_ref() == extra)
    else {
        let names: Vec<&str> = columns.iter().map(|c| c.name.get_ref().as_str()).collect();
        return Err(Problem::new(
            format!("{job}.format.extra_column"),
            extra_span,
            format!(
                "{extra:?} is not one of the columns ({}): list it as a text column",
                names.join(", ")
            ),
        ));
    };
    let key = format!("{job}.columns[{i}]");
    let text = matches!(
        super::columns::parse_column_type(col.ty.get_ref()),
        Ok(ColumnType::Text { .. })
    );
    if !text {
        return Err(Problem::new(
            format!("{key}.type"),
            Some(col.ty.span()),
            format!(
                "{extra:?} is the extra_column, which receives a JSON object: its type must be \
                 text or varchar(n) (the table's column may be json or jsonb)"
            ),
        ));
    }
    for (name, span) in [
        ("from", col.from.as_ref().map(Spanned::span)),
        ("constant", col.constant.as_ref().map(Spanned::span)),
    ] {
        if span.is_some() {
            return Err(Problem::new(
                format!("{key}.{name}"),
                span,
                format!(
                    "{extra:?} is the extra_column, which takes no value from a key: remove `{name}`"
                ),
            ));
        }
    }
    Ok(())
}

fn csv(key: &str, raw: RawFormat) -> Result<CsvFormat, Problem> {
    let d = CsvFormat::default();
    // In the documented key order, so a clash is reported on the later key.
    let roles = [
        Role::new(key, "delimiter", raw.delimiter.as_ref(), Some(d.delimiter))?,
        Role::new(key, "quote", raw.quote.as_ref(), Some(d.quote))?,
        Role::new(key, "escape", raw.escape.as_ref(), d.escape)?,
        Role::new(key, "comment", raw.comment.as_ref(), d.comment)?,
    ];
    distinct(key, &roles)?;
    let [delimiter, quote, escape, comment] = roles.map(|r| r.byte);
    Ok(CsvFormat {
        header: raw.header.map_or(d.header, Spanned::into_inner),
        delimiter: delimiter.unwrap_or(d.delimiter),
        quote: quote.unwrap_or(d.quote),
        escape,
        double_quote: raw.double_quote.unwrap_or(d.double_quote),
        comment,
        null: raw.null.unwrap_or(d.null),
        skip_lines: skip_lines(key, raw.skip_lines.as_ref(), d.skip_lines)?,
        trim: match raw.trim {
            None => d.trim,
            Some(t) => match t.get_ref() {
                TrimValue::Bool(b) => *b,
                TrimValue::Mode(m) => {
                    return Err(Problem::new(
                        format!("{key}.trim"),
                        Some(t.span()),
                        format!("invalid trim {m:?}: a CSV format takes true or false"),
                    ));
                }
            },
        },
    })
}

/// A byte with a special meaning in the dialect: configured (with its span)
/// or defaulted (no span, since it is not in the file).
struct Role {
    name: &'static str,
    byte: Option<u8>,
    span: Option<Range<usize>>,
}

impl Role {
    fn new(
        key: &str,
        name: &'static str,
        v: Option<&Spanned<String>>,
        default: Option<u8>,
    ) -> Result<Role, Problem> {
        let (byte, span) = match v {
            Some(v) => (
                Some(single_byte(&format!("{key}.{name}"), v)?),
                Some(v.span()),
            ),
            None => (default, None),
        };
        Ok(Role { name, byte, span })
    }
}

/// One ASCII byte other than a line break; `"tab"` and a literal `\t` (as
/// written in a TOML literal string) mean the tab character.
fn single_byte(key: &str, v: &Spanned<String>) -> Result<u8, Problem> {
    let text = v.get_ref().as_str();
    let problem = |m: String| Problem::new(key, Some(v.span()), m);
    let b = match text {
        "tab" | "\\t" => b'\t',
        _ if text.len() == 1 && text.is_ascii() => text.as_bytes()[0],
        _ => {
            return Err(problem(format!(
                "invalid character {text:?}: expected exactly one ASCII character (or \"tab\")"
            )));
        }
    };
    if b == b'\n' || b == b'\r' {
        return Err(problem(format!(
            "invalid character {text:?}: a line break cannot be used here"
        )));
    }
    Ok(b)
}

/// No byte may play two roles: the parser could not tell them apart. A clash
/// is reported on the later configured key.
fn distinct(key: &str, roles: &[Role]) -> Result<(), Problem> {
    for (j, later) in roles.iter().enumerate() {
        for earlier in &roles[..j] {
            let Some(b) = earlier.byte else { continue };
            if later.byte != Some(b) {
                continue;
            }
            let (at, other) = match later.span {
                Some(_) => (later, earlier),
                None => (earlier, later),
            };
            let default = match other.span {
                None => " (its default)",
                Some(_) => "",
            };
            return Err(Problem::new(
                format!("{key}.{}", at.name),
                at.span.clone(),
                format!(
                    "`{}` is {:?}, the same as `{}`{default}: each must be a different character",
                    at.name,
                    char::from(b),
                    other.name
                ),
            ));
        }
    }
    Ok(())
}

fn skip_lines(key: &str, v: Option<&Spanned<Int>>, default: u32) -> Result<u32, Problem> {
    let Some(v) = v else { return Ok(default) };
    u32::try_from(v.get_ref().0).map_err(|_| {
        Problem::new(
            format!("{key}.skip_lines"),
            Some(v.span()),
            format!("must be between 0 and {}, got {}", u32::MAX, v.get_ref().0),
        )
    })
}
