//! Paths in the configuration: resolving them against the configuration's
//! folder and checking, read-only, that they can be used.
//!
//! Owns the rules "inputs must exist" and "outputs must be creatable". Must
//! not create, open or canonicalize anything: `ingestd check` runs this, and
//! output directories are only created at run time.

use std::fs;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::error::Problem;

/// Makes a configured path absolute, relative to `base` (the configuration's
/// folder). Lexical only: `..` and symlinks are kept as written.
pub(crate) fn resolve(base: &Path, key: &str, value: &Spanned<String>) -> Result<PathBuf, Problem> {
    let text = value.get_ref();
    let refuse = |why: &str| Err(Problem::new(key, Some(value.span()), why));
    if text.is_empty() {
        return refuse("empty path: expected a file system path");
    }
    if text.contains('\0') {
        return refuse("invalid path: it contains a NUL character");
    }
    // A shell would expand this; we don't, and "<config dir>/~/x" is never meant.
    if text == "~" || text.starts_with("~/") {
        return refuse("`~` is not expanded here: write the full path");
    }
    Ok(absolute(&base.join(text)))
}

/// `path` made absolute without touching the file system beyond the current
/// directory; drops `.` components.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// An input directory: it must exist now.
pub(crate) fn check_input_dir(path: &Path) -> Result<(), String> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("bad path {}: not a directory", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("bad path {}: no such directory", path.display()))
        }
        Err(e) => Err(format!("bad path {}: {e}", path.display())),
    }
}

/// An output directory created at run time: if it exists it must be a
/// directory, else its nearest existing ancestor must be one.
pub(crate) fn check_output_dir(path: &Path) -> Result<(), String> {
    let (found, is_dir) = nearest_existing(path);
    match (found == path, is_dir) {
        (_, true) => Ok(()),
        (true, false) => Err(format!(
            "bad path {}: exists but is not a directory",
            path.display()
        )),
        (false, false) => Err(format!(
            "bad path {}: cannot be created because {} is not a directory",
            path.display(),
            found.display()
        )),
    }
}

/// An output file created at run time (a database): it must not be a
/// directory, and its folder must be a directory or creatable.
pub(crate) fn check_output_file(path: &Path) -> Result<(), String> {
    if fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "bad path {}: is a directory, expected a file",
            path.display()
        ));
    }
    match path.parent() {
        Some(parent) => check_output_dir(parent),
        None => Err(format!("bad path {}: expected a file", path.display())),
    }
}

/// The path itself or its closest ancestor that can be stat'ed, and whether
/// that is a directory. The root always exists, so this ends.
fn nearest_existing(path: &Path) -> (&Path, bool) {
    for candidate in path.ancestors() {
        if let Ok(m) = fs::metadata(candidate) {
            return (candidate, m.is_dir());
        }
    }
    (path, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_lexical_and_absolute() {
        let base = Path::new("/etc/ingestd");
        let v = |s: &str| Spanned::new(0..1, s.to_string());
        assert_eq!(
            resolve(base, "k", &v("./var/state")).ok(),
            Some(PathBuf::from("/etc/ingestd/var/state"))
        );
        assert_eq!(
            resolve(base, "k", &v("/srv/x")).ok(),
            Some(PathBuf::from("/srv/x"))
        );
        assert!(resolve(base, "k", &v("")).is_err());
        assert!(resolve(base, "k", &v("~/x")).is_err());
    }

    #[test]
    fn outputs_need_a_directory_ancestor() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("f");
        fs::write(&file, "x").expect("write");
        assert!(check_output_dir(&tmp.path().join("a/b/c")).is_ok());
        assert!(check_output_dir(tmp.path()).is_ok());
        assert!(check_output_dir(&file).is_err());
        let under_file = check_output_dir(&file.join("x")).unwrap_err();
        assert!(under_file.contains("is not a directory"), "{under_file}");
        assert!(check_output_file(&file).is_ok());
        assert!(check_output_file(tmp.path()).is_err());
        assert!(check_input_dir(&tmp.path().join("missing")).is_err());
        assert!(check_input_dir(&file).is_err());
        assert!(check_input_dir(tmp.path()).is_ok());
    }
}
