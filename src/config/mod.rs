//! Configuration: TOML text -> raw serde structs -> validated `Config`.
//!
//! Owns parsing, defaults, path resolution (relative to the config file's
//! folder) and error reporting with file:line:column and the key path. Must not
//! open databases or start anything: `ingestd check` runs exactly this.

mod model;

pub use model::*;

/// TEMPORARY stand-in; replaced by the real loader.
#[derive(Debug, thiserror::Error)]
#[error("config error")]
pub struct ConfigError;
pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
    let _ = path;
    todo!()
}
