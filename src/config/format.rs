//! `[jobs.NAME.format]`: the record format of a job, with defaults from
//! `CsvFormat::default()`.
//!
//! Owns the checks on the CSV dialect (single ASCII bytes, no line breaks,
//! no byte used for two roles). Must not parse data: that is `crate::format`.

use std::ops::Range;

use toml::Spanned;

use super::error::Problem;
use super::raw::{FormatKind, Int, RawFormat};
use crate::format::{CsvFormat, Format};

/// Builds a job's format; `job` is the key prefix `jobs.NAME`.
pub(crate) fn format(job: &str, raw: Option<RawFormat>) -> Result<Format, Problem> {
    let Some(raw) = raw else {
        return Ok(Format::Csv(CsvFormat::default()));
    };
    match raw.kind.unwrap_or(FormatKind::Csv) {
        FormatKind::Csv => csv(&format!("{job}.format"), raw).map(Format::Csv),
    }
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
        trim: raw.trim.unwrap_or(d.trim),
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
