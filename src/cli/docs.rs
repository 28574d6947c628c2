//! Generated documentation of the command line, from the same definition
//! clap parses: shell completions (`ingestd completions bash|zsh|fish|...`)
//! and the man page (`ingestd manpage`), both printed to stdout for the
//! package build (`packaging/build-deb`) to install.
//!
//! Owns nothing but the rendering calls.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, exit};

pub(super) fn completions(shell: clap_complete::Shell) -> u8 {
    crate::process::default_sigpipe();
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "ingestd", &mut std::io::stdout());
    exit::OK
}

pub(super) fn manpage() -> u8 {
    crate::process::default_sigpipe();
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    if man.render(&mut out).is_err() || std::io::stdout().write_all(&out).is_err() {
        return exit::FAILURE;
    }
    exit::OK
}
