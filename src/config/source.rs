//! `[jobs.NAME.source]`: where a job's records come from.
//!
//! Owns the per-kind keys of a source (`dir` keys are refused on `stdin`),
//! the glob pattern and the dir source's paths. Must not list, watch or
//! create anything: it only checks that the directory exists.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Problem;
use super::model::{DirSource, OnDone, Source};
use super::paths::{check_input_dir, check_output_dir, resolve};
use super::raw::{self, RawSource};
use super::validate::duration;

pub(crate) fn source(k: &str, raw: Spanned<RawSource>, base: &Path) -> Result<Source, Problem> {
    let key = format!("{k}.source");
    let span = raw.span();
    let raw = raw.into_inner();
    only_for_kind(&key, &raw)?;
    match raw.kind {
        raw::SourceKind::Dir => dir_source(&key, span, raw, base).map(Source::Dir),
        raw::SourceKind::Stdin => Ok(Source::Stdin { name: None }),
        raw::SourceKind::Tail => super::tail::tail_source(&key, span, raw, base).map(Source::Tail),
        raw::SourceKind::Nats => super::nats::nats_source(&key, span, raw, base).map(Source::Nats),
    }
}

/// Keys of one kind are refused on the others rather than ignored, so a
/// typo'd kind does not silently drop the user's settings.
fn only_for_kind(key: &str, raw: &RawSource) -> Result<(), Problem> {
    use raw::SourceKind::{Dir, Nats, Tail};
    fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
        v.as_ref().map(Spanned::span)
    }
    type KeyKinds<'a> = (&'a str, Option<Range<usize>>, &'a [raw::SourceKind]);
    let keys: [KeyKinds; 29] = [
        ("path", at(&raw.path), &[Dir, Tail]),
        ("pattern", at(&raw.pattern), &[Dir, Tail]),
        ("on_done", at(&raw.on_done), &[Dir]),
        ("archive_dir", at(&raw.archive_dir), &[Dir]),
        ("settle", at(&raw.settle), &[Dir]),
        ("rotated", at(&raw.rotated), &[Tail]),
        ("start_at", at(&raw.start_at), &[Tail]),
        ("fingerprint_lines", at(&raw.fingerprint_lines), &[Tail]),
        ("partial_timeout", at(&raw.partial_timeout), &[Tail]),
        ("rotate_wait", at(&raw.rotate_wait), &[Tail]),
        ("idle_close", at(&raw.idle_close), &[Tail]),
        ("max_open_files", at(&raw.max_open_files), &[Tail]),
        ("poll_interval", at(&raw.poll_interval), &[Tail]),
        ("url", at(&raw.url), &[Nats]),
        ("stream", at(&raw.stream), &[Nats]),
        ("consumer", at(&raw.consumer), &[Nats]),
        ("filter_subject", at(&raw.filter_subject), &[Nats]),
        ("ack_wait", at(&raw.ack_wait), &[Nats]),
        ("creds_file", at(&raw.creds_file), &[Nats]),
        ("nkey_file", at(&raw.nkey_file), &[Nats]),
        ("token_file", at(&raw.token_file), &[Nats]),
        ("token_env", at(&raw.token_env), &[Nats]),
        ("user", at(&raw.user), &[Nats]),
        ("password_file", at(&raw.password_file), &[Nats]),
        ("password_env", at(&raw.password_env), &[Nats]),
        ("tls_ca_file", at(&raw.tls_ca_file), &[Nats]),
        ("tls_cert_file", at(&raw.tls_cert_file), &[Nats]),
        ("tls_key_file", at(&raw.tls_key_file), &[Nats]),
        ("tls_required", at(&raw.tls_required), &[Nats]),
    ];
    let name = |k: &raw::SourceKind| format!("{k:?}").to_lowercase();
    for (k, span, kinds) in keys {
        if span.is_some() && !kinds.contains(&raw.kind) {
            let only: Vec<String> = kinds.iter().map(|k| format!("`{}`", name(k))).collect();
            return Err(Problem::new(
                format!("{key}.{k}"),
                span,
                format!(
                    "key `{k}` is not valid for source kind `{}` (only for kind {})",
                    name(&raw.kind),
                    only.join(" or ")
                ),
            ));
        }
    }
    Ok(())
}

fn dir_source(
    key: &str,
    span: Range<usize>,
    raw: RawSource,
    base: &Path,
) -> Result<DirSource, Problem> {
    let Some(path_value) = raw.path.as_ref() else {
        return Err(Problem::new(
            key,
            Some(span),
            "missing key `path`: a dir source needs the directory to read",
        ));
    };
    let path_key = format!("{key}.path");
    let path = resolve(base, &path_key, path_value)?;
    check_input_dir(&path).map_err(|m| Problem::new(&path_key, Some(path_value.span()), m))?;
    let on_done = match raw.on_done.map(Spanned::into_inner) {
        None | Some(raw::OnDone::Archive) => OnDone::Archive,
        Some(raw::OnDone::Delete) => OnDone::Delete,
        Some(raw::OnDone::Keep) => OnDone::Keep,
    };
    let archive_dir = archive_dir(key, raw.archive_dir.as_ref(), &path, on_done, base)?;
    Ok(DirSource {
        pattern: pattern(key, raw.pattern)?,
        on_done,
        archive_dir,
        settle: duration(raw.settle.as_ref(), Duration::from_secs(2)),
        path,
    })
}

fn pattern(key: &str, v: Option<Spanned<String>>) -> Result<String, Problem> {
    match v {
        None => Ok("*".to_string()),
        Some(v) => name_glob(&format!("{key}.pattern"), &v),
    }
}

/// A glob matched against file names (not paths), checked.
pub(super) fn name_glob(key: &str, v: &Spanned<String>) -> Result<String, Problem> {
    let problem = |m: String| Err(Problem::new(key, Some(v.span()), m));
    let text = v.get_ref();
    if text.is_empty() {
        return problem("empty pattern: expected a glob on file names, like \"*.csv\"".into());
    }
    if text.contains('/') {
        return problem(format!(
            "invalid pattern {text:?}: it is matched against file names, so it cannot contain '/'"
        ));
    }
    if let Err(e) = glob::Pattern::new(text) {
        return problem(format!(
            "invalid pattern {text:?}: {} at character {}",
            e.msg,
            e.pos + 1
        ));
    }
    Ok(text.clone())
}

/// Only checked when used: a leftover `archive_dir` with `on_done = "keep"`
/// is harmless.
fn archive_dir(
    key: &str,
    v: Option<&Spanned<String>>,
    path: &Path,
    on_done: OnDone,
    base: &Path,
) -> Result<PathBuf, Problem> {
    let key = format!("{key}.archive_dir");
    let (dir, span) = match v {
        Some(v) => (resolve(base, &key, v)?, Some(v.span())),
        None => (path.join("archive"), None),
    };
    if on_done != OnDone::Archive {
        return Ok(dir);
    }
    if same_dir(&dir, path) {
        return Err(Problem::new(
            key,
            span,
            "archive_dir is the source directory itself: archived files would be read again",
        ));
    }
    check_output_dir(&dir).map_err(|m| Problem::new(key, span, m))?;
    Ok(dir)
}

/// Lexically equal, or both existing and the same after resolving symlinks
/// (a read-only look; missing paths are not canonicalized).
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}
