//! Configuration: TOML text -> raw serde structs -> validated `Config`.
//!
//! Owns parsing, defaults, path resolution (relative to the config file's
//! folder) and error reporting with file:line:column and the key path. Must not
//! open databases or start anything: `ingestd check` runs exactly this.
//!
//! Steps: `raw` (the file's shape, via serde; documents every key and
//! default) -> `validate` (rules, defaults, paths; with `source`, `format`,
//! `columns` and `paths`) -> `model` (what the rest of the program sees).
//! `error` places problems in the file (`duplicate` names a duplicate
//! key); `units` parses durations and sizes.

mod columns;
mod daemon;
mod duplicate;
mod error;
mod format;
mod mode;
mod model;
mod nats;
mod oracle;
mod paths;
mod pg_url;
mod postgres;
mod raw;
mod secret;
mod source;
mod tail;
mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::ConfigError;
pub use model::*;
pub use secret::Secret;
pub use units::{parse_duration, show_duration};

use error::Origin;
use validate::Env;

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and validates configuration text. `file` is shown in errors as
/// given and its folder is the base of relative paths. Reads
/// `$STATE_DIRECTORY` (the default `daemon.state_dir`) and, read-only, the
/// file system to check paths.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    parse_with(text, file, &Env::from_process())
}

fn parse_with(text: &str, file: &Path, env: &Env) -> Result<Config, ConfigError> {
    let origin = Origin { text, shown: file };
    let absolute = std::path::absolute(file).map_err(|source| ConfigError::Locate {
        path: file.to_path_buf(),
        source,
    })?;
    let document = toml::Deserializer::parse(text).map_err(|e| origin.syntax(e))?;
    let raw: raw::RawConfig =
        serde_path_to_error::deserialize(document).map_err(|e| origin.decode(e))?;
    validate::config(raw, absolute, env).map_err(|p| origin.invalid(p))
}
