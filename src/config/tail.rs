//! `kind = "tail"` sources: the followed files (`path`, or a `pattern` on
//! file names in one folder), their rotated copies, and the timings.
//!
//! Owns those keys' rules and defaults. Must not open or watch anything: it
//! only checks that the folder exists.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::{StartAt, TailSource};
use super::paths::{check_input_dir, resolve};
use super::raw::{self, RawSource};
use super::source::name_glob;
use super::validate::{Numbers, duration};

pub(super) fn tail_source(
    key: &str,
    span: Range<usize>,
    raw: RawSource,
    base: &Path,
) -> Result<TailSource, Problem> {
    let (dir, names) = match (&raw.path, &raw.pattern) {
        (Some(p), None) => one_file(key, p, base)?,
        (None, Some(p)) => pattern(key, p, base)?,
        (Some(_), Some(p)) => {
            return Err(Problem::new(
                format!("{key}.pattern"),
                Some(p.span()),
                "a tail source takes `path` (one file) or `pattern` (a glob), not both",
            ));
        }
        (None, None) => {
            return Err(Problem::new(
                key,
                Some(span),
                "missing key `path` or `pattern`: a tail source needs the file to follow \
                 (`path`) or a glob on file names (`pattern`)",
            ));
        }
    };
    let rotated = match &raw.rotated {
        None => vec![format!("{names}.*"), format!("{names}-*")],
        Some(list) => {
            let mut out = Vec::new();
            for g in list.get_ref() {
                out.push(name_glob(&format!("{key}.rotated"), g)?);
            }
            out
        }
    };
    let at = Numbers(key);
    let lines = at.int("fingerprint_lines", &raw.fingerprint_lines, 1..=100, 1)?;
    let partial = duration(raw.partial_timeout.as_ref(), Duration::from_secs(60));
    let poll = duration(raw.poll_interval.as_ref(), Duration::from_secs(1));
    if poll.is_zero() || poll > Duration::from_secs(60) {
        return Err(Problem::new(
            format!("{key}.poll_interval"),
            raw.poll_interval.as_ref().map(Spanned::span),
            "must be more than 0s and at most 60s",
        ));
    }
    Ok(TailSource {
        dir,
        names,
        rotated,
        start_at: match raw.start_at.map(Spanned::into_inner) {
            None | Some(raw::StartAt::Beginning) => StartAt::Beginning,
            Some(raw::StartAt::End) => StartAt::End,
        },
        fingerprint_lines: lines,
        partial_timeout: (!partial.is_zero()).then_some(partial),
        rotate_wait: duration(raw.rotate_wait.as_ref(), Duration::from_secs(10)),
        idle_close: duration(raw.idle_close.as_ref(), Duration::from_secs(300))
            .max(Duration::from_secs(1)),
        max_open_files: at.int("max_open_files", &raw.max_open_files, 1..=4096, 64)?,
        poll_interval: poll,
    })
}

/// `path`: the file (which need not exist yet) in an existing folder.
fn one_file(key: &str, v: &Spanned<String>, base: &Path) -> Result<(PathBuf, String), Problem> {
    let k = format!("{key}.path");
    let path = resolve(base, &k, v)?;
    let problem = |m: String| Problem::new(&k, Some(v.span()), m);
    if path.is_dir() {
        return Err(problem(format!(
            "{} is a directory: a tail source follows files (for a folder of complete \
             files use kind = \"dir\"; for several growing files, `pattern`)",
            path.display()
        )));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(problem(format!("{} names no file", path.display())));
    };
    check_input_dir(dir).map_err(problem)?;
    let name = name.to_string_lossy();
    Ok((dir.to_path_buf(), glob::Pattern::escape(&name)))
}

/// `pattern`: a folder written out, then a glob on file names.
fn pattern(key: &str, v: &Spanned<String>, base: &Path) -> Result<(PathBuf, String), Problem> {
    let k = format!("{key}.pattern");
    let path = resolve(base, &k, v)?;
    let problem = |m: String| Problem::new(&k, Some(v.span()), m);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(problem(format!("{} names no file", path.display())));
    };
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return Err(problem(format!(
            "{}: only the file name may be a glob (one folder is watched)",
            v.get_ref()
        )));
    }
    check_input_dir(dir).map_err(problem)?;
    let name = Spanned::new(v.span(), name.to_string_lossy().into_owned());
    Ok((dir.to_path_buf(), name_glob(&k, &name)?))
}
