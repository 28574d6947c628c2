//! ingestd: parse the command line, run a subcommand, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use ingestd::cli::{Cli, Command, exit};
use ingestd::commands;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let format = cli.log_format;
    let code = match &cli.command {
        Command::Run { config, once } => commands::run(config, *once, format),
        Command::Load { config, job, files } => commands::load(config, job, files, format),
        Command::Check { config, connect } => commands::check(config, *connect, format),
        Command::Status { config, json } => commands::status(config, *json),
        Command::Worker => return ExitCode::from(ingestd::worker::run() as u8),
    };
    ExitCode::from(code)
}
