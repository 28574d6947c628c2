//! Database passwords: never inline in the configuration. A sink names where
//! the password is (`password_file`, `password_env`, or `password_credential`
//! for systemd's `LoadCredential=`); the worker reads it when it opens its
//! pool, so the supervisor never holds it, and nothing prints it.
//!
//! Owns the `Secret` type, its validation (which checks the place exists but
//! does not read the value) and its reading.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::Problem;
use super::paths::resolve;
use super::raw::RawSink;

/// Where a password is kept. Holds the place, never the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Secret {
    /// A file whose content (without the trailing newline) is the password.
    File(PathBuf),
    /// An environment variable of the daemon.
    Env(String),
    /// `$CREDENTIALS_DIRECTORY/<name>`, from systemd's `LoadCredential=`.
    Credential(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the password file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the environment variable {0} holding the password is not set")]
    MissingEnv(String),
    #[error(
        "credential {0:?} is not available: CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)"
    )]
    NoCredentials(String),
}

impl Secret {
    /// Reads the password now.
    pub fn read(&self) -> Result<String, SecretError> {
        let from_file = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|source| SecretError::ReadFile { path, source })
        };
        match self {
            Secret::File(p) => from_file(p.clone()),
            Secret::Env(name) => {
                std::env::var(name).map_err(|_| SecretError::MissingEnv(name.clone()))
            }
            Secret::Credential(name) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                Some(dir) => from_file(Path::new(&dir).join(name)),
                None => Err(SecretError::NoCredentials(name.clone())),
            },
        }
    }

    /// Where it comes from, for messages (never the value).
    pub fn describe(&self) -> String {
        match self {
            Secret::File(p) => format!("password_file {}", p.display()),
            Secret::Env(n) => format!("password_env {n}"),
            Secret::Credential(n) => format!("password_credential {n}"),
        }
    }
}

/// The `password_*` keys of a sink table (`key` is `sinks.NAME`): at most
/// one place; a file must exist (its content is not read here).
pub(crate) fn secret(key: &str, raw: &RawSink, base: &Path) -> Result<Option<Secret>, Problem> {
    let given: Vec<(&str, &Spanned<String>)> = [
        ("password_file", &raw.password_file),
        ("password_env", &raw.password_env),
        ("password_credential", &raw.password_credential),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(name, v)] => {
            let k = format!("{key}.{name}");
            let bad = |m: &str| Err(Problem::new(&k, Some(v.span()), m));
            match *name {
                "password_file" => {
                    let path = resolve(base, &k, v)?;
                    if !path.is_file() {
                        return Err(Problem::new(
                            &k,
                            Some(v.span()),
                            format!("no readable file at {}", path.display()),
                        ));
                    }
                    Ok(Some(Secret::File(path)))
                }
                "password_env" if v.get_ref().is_empty() || v.get_ref().contains(['=', '\0']) => {
                    bad("expected the name of an environment variable")
                }
                "password_env" => Ok(Some(Secret::Env(v.get_ref().clone()))),
                _ if v.get_ref().is_empty() || v.get_ref().contains(['/', '\0']) => {
                    bad("expected a credential name as in LoadCredential=NAME:PATH")
                }
                _ => Ok(Some(Secret::Credential(v.get_ref().clone()))),
            }
        }
        [_, (name, v), ..] => Err(Problem::new(
            format!("{key}.{name}"),
            Some(v.span()),
            "give the password in one place only: password_file, password_env or password_credential",
        )),
    }
}

/// Refuses the password keys on a sink kind without passwords (sqlite).
pub(crate) fn refuse(key: &str, raw: &RawSink, kind: &str) -> Result<(), Problem> {
    let given = [
        ("password_file", &raw.password_file),
        ("password_env", &raw.password_env),
        ("password_credential", &raw.password_credential),
    ];
    match given
        .into_iter()
        .find_map(|(n, v)| v.as_ref().map(|v| (n, v.span())))
    {
        Some((name, span)) => Err(Problem::new(
            format!("{key}.{name}"),
            Some(span),
            format!("key `{name}` is not valid for sink kind `{kind}`"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_place_without_the_trailing_newline() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("pw"), "s3cret\n").unwrap();
        assert_eq!(Secret::File(d.path().join("pw")).read().unwrap(), "s3cret");
        assert!(matches!(
            Secret::Env("INGESTD_TEST_NO_SUCH_VAR".into()).read(),
            Err(SecretError::MissingEnv(_))
        ));
        let e = Secret::File(d.path().join("missing")).read().unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(
            !Secret::File(d.path().join("pw"))
                .describe()
                .contains("s3cret")
        );
    }
}
