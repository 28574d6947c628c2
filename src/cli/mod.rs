//! The command line: `run`, `load`, `check`, `status` (and its live view,
//! `status --watch` or `top`), `ledger`, and the hidden `worker` that the
//! supervisor execs. Owns the argument definitions, the exit codes and the
//! choice of subcommand; each subcommand's work is in its own file (`run`
//! and `load` in `run.rs`, the live view in `watch/`).

mod check;
mod describe;
mod docs;
mod ledger;
mod run;
mod status;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::logging::{self, LogSetup};

#[derive(Debug, Parser)]
#[command(
    name = "ingestd",
    version,
    about = "Loads files, logs and streams into Oracle, PostgreSQL and SQLite, exactly once."
)]
pub struct Cli {
    /// Log line format (stderr or the configured log file).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch every job's source and load what arrives.
    Run {
        /// Configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Load what the sources hold now, wait until it is committed, and exit.
        #[arg(long)]
        once: bool,
        /// With --once: stop retrying a target that stays unavailable this
        /// long (default 5m), leave what is not loaded where it is, exit 75.
        /// The daemon retries for ever.
        #[arg(long, value_name = "DURATION", requires = "once", value_parser = duration)]
        give_up_after: Option<Duration>,
    },
    /// Load the given files (or `-` for standard input) with one job's format and sink.
    Load {
        #[arg(short, long)]
        config: PathBuf,
        /// The job whose table, columns, format and sink to use.
        #[arg(short, long)]
        job: String,
        /// Files to load; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// A stable name for standard input (`-`): loading the same bytes
        /// under the same name again loads only what is missing. Without it,
        /// every read of standard input is a new source.
        #[arg(long, value_name = "NAME")]
        source_name: Option<String>,
        /// Stop retrying a target that stays unavailable this long (database
        /// down, disk full; default 5m), leave what is not loaded where it
        /// is, exit 75.
        #[arg(long, value_name = "DURATION", value_parser = duration)]
        give_up_after: Option<Duration>,
    },
    /// Validate the configuration without touching any database.
    Check {
        #[arg(short, long)]
        config: PathBuf,
        /// Also start one worker per job that opens and closes its pool and
        /// checks the job's table and columns.
        #[arg(long)]
        connect: bool,
        /// Also parse the first N records of each file in each job's
        /// folder through its format and columns (no database) and show
        /// what would be loaded and what rejected.
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
    },
    /// Ask the running daemon what it is doing.
    Status {
        #[arg(short, long)]
        config: PathBuf,
        /// The report as JSON.
        #[arg(long, conflicts_with = "watch")]
        json: bool,
        /// A live view, refreshed every second (as `ingestd top`): full
        /// screen on a terminal (`q` quits), else one line per job per
        /// second.
        #[arg(long)]
        watch: bool,
    },
    /// The live view of `status --watch`.
    Top {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// What each job's ledger holds: per source, the ranges committed,
    /// rows loaded and rejected, when. `forget` reloads a file on purpose.
    Ledger {
        /// Configuration file (TOML).
        #[arg(short, long, global = true)]
        config: Option<PathBuf>,
        /// Only this job (required by `forget`).
        #[arg(short, long, global = true)]
        job: Option<String>,
        /// The listing as JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<LedgerAction>,
    },
    /// Internal: a worker process, started by the supervisor.
    #[command(hide = true)]
    Worker,
    /// Print shell completions (for packaging).
    #[command(hide = true)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, ingestd(1), in roff (for packaging).
    #[command(hide = true)]
    Manpage,
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Delete one source's ledger rows so that the next load loads that
    /// file again, once (the rows already in the table stay).
    Forget {
        /// A landing file's path, or a ledger source key as `ingestd
        /// ledger` prints it.
        file: String,
        /// Do not ask for confirmation (needed when standard input is not
        /// a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// Process exit codes (also documented in the README).
pub mod exit {
    /// Everything loaded.
    pub const OK: u8 = 0;
    /// Another failure: a file could not be read, a job stopped, interrupted.
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Everything has an answer, but some records were rejected.
    pub const REJECTS: u8 = 3;
    /// The target stayed unavailable (transient or capacity failures) past
    /// `--give-up-after`, or `check --connect` could not reach it: nothing
    /// is wrong with the input or the configuration, so trying again later
    /// is the remedy. sysexits' EX_TEMPFAIL.
    pub const UNAVAILABLE: u8 = 75;
    /// The configuration is invalid (also: a job stopped on a configuration error).
    pub const CONFIG: u8 = 78;

    /// The code of a run that had both outcomes: the one an operator must
    /// act on first (configuration, then another failure, then an
    /// unavailable target, then rejects).
    pub fn worst(a: u8, b: u8) -> u8 {
        let rank = |c| {
            [OK, REJECTS, UNAVAILABLE, FAILURE, CONFIG]
                .iter()
                .position(|&x| x == c)
        };
        if rank(a) >= rank(b) { a } else { b }
    }
}

/// `--give-up-after` of `load` and `run --once` when not given: long enough
/// to ride out a server restart or a fail-over, short enough that a
/// scheduled load does not hang for ever.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

/// A duration on the command line, written as in the configuration.
fn duration(s: &str) -> Result<Duration, String> {
    config::parse_duration(s)
}

/// Parses the command line, runs the subcommand, returns its exit code.
pub fn main() -> ExitCode {
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
        Command::Run {
            config,
            once,
            give_up_after,
        } => {
            // The daemon never gives up; `--once` by default after 5m.
            let give_up = once.then(|| give_up_after.unwrap_or(GIVE_UP_AFTER));
            run::run(config, *once, give_up, format)
        }
        Command::Load {
            config,
            job,
            files,
            source_name,
            give_up_after,
        } => run::load(
            config,
            job,
            files,
            source_name.as_deref(),
            give_up_after.unwrap_or(GIVE_UP_AFTER),
            format,
        ),
        Command::Check {
            config,
            connect,
            sample,
        } => {
            crate::process::default_sigpipe();
            check::check(config, *connect, *sample, format)
        }
        Command::Status {
            config,
            json,
            watch: false,
        } => {
            crate::process::default_sigpipe();
            status::status(config, *json)
        }
        Command::Ledger {
            config,
            job,
            json,
            action,
        } => {
            crate::process::default_sigpipe();
            ledger_command(config.as_deref(), job.as_deref(), *json, action, format)
        }
        Command::Status {
            config,
            watch: true,
            ..
        }
        | Command::Top { config } => {
            // The plain lines go to a pipe: a reader that goes away ends
            // the view as it ends any filter.
            crate::process::default_sigpipe();
            watch::watch(config)
        }
        Command::Worker => return ExitCode::from(crate::worker::run() as u8),
        Command::Completions { shell } => docs::completions(*shell),
        Command::Manpage => docs::manpage(),
    };
    ExitCode::from(code)
}

/// `ingestd ledger` and `ingestd ledger forget`, once the options that
/// clap cannot require (they are global to both) are there.
fn ledger_command(
    config: Option<&Path>,
    job: Option<&str>,
    json: bool,
    action: &Option<LedgerAction>,
    format: logging::LogFormat,
) -> u8 {
    let Some(config) = config else {
        eprintln!("ingestd ledger: --config FILE is required");
        return exit::USAGE;
    };
    match action {
        None => ledger::list(config, job, json, format),
        Some(LedgerAction::Forget { file, yes }) => {
            let Some(job) = job else {
                eprintln!("ingestd ledger forget: --job NAME is required (whose ledger)");
                return exit::USAGE;
            };
            if json {
                eprintln!("ingestd ledger forget: --json is for the listing only");
                return exit::USAGE;
            }
            ledger::forget(config, job, file, *yes, format)
        }
    }
}

fn init_logging(log: &LogSetup) -> logging::LogHandle {
    let (handle, failed) = logging::init(log);
    if let Some(e) = failed {
        tracing::error!("cannot open the log file, logging to stderr: {e}");
    }
    handle
}

fn load_config(path: &Path) -> Option<Config> {
    match config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("ingestd: {e}");
            None
        }
    }
}
