//! Sources: where bytes come from and what identifies them. The supervisor
//! reads them; workers never do.
//!
//! Owns opening inputs, file identity (the ledger key) and watching landing
//! directories. Must not parse records or talk to workers.

mod batcher;
mod cutter;
pub mod dir;
mod identity;

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

pub use cutter::{Cutter, FileTask};
pub use identity::{FileFingerprint, file_identity, stdin_identity};

/// One input to read from start to end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    /// The name used in logs and reject file names.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            Input::Stdin => "stdin".to_string(),
        }
    }

    pub fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Input::File(p) => Box::new(File::open(p)?),
            Input::Stdin => Box::new(io::stdin()),
        })
    }
}
