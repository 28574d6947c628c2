//! `ingestd run` and `ingestd load`: start the supervisor on the configured
//! jobs (or on one job with the given files), print the summary of a finite
//! run, choose the exit code from what happened to every file.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::exit;
use super::{init_logging, load_config};
use crate::config::Source;
use crate::logging::{Escaped, LogFormat, LogSetup};
use crate::protocol::ErrorClass;
use crate::supervisor::{self, Outcome, ProgressFn, RunOptions, RunReport};

/// `give_up`: see `RunOptions::give_up_after` (`None` for the daemon).
pub(super) fn run(
    config_path: &Path,
    once: bool,
    give_up: Option<Duration>,
    format: LogFormat,
) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let log = LogSetup::from_env(format).with_file(cfg.daemon.log_file.clone());
    let handle = init_logging(&log);
    let opts = RunOptions {
        once,
        daemon: true,
        config_path: config_path.to_path_buf(),
        log,
        log_handle: Some(handle),
        progress: None,
        give_up_after: give_up,
    };
    let t0 = Instant::now();
    match supervisor::run(cfg, opts) {
        Ok(report) => {
            if once {
                print_summary(&report, t0.elapsed().as_secs_f64());
            }
            exit_code(&report, once)
        }
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ingestd: {e}");
            exit::FAILURE
        }
    }
}

pub(super) fn load(
    config_path: &Path,
    job: &str,
    files: &[PathBuf],
    source_name: Option<&str>,
    give_up: Duration,
    format: LogFormat,
) -> u8 {
    let Some(mut cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let mut log = LogSetup::from_env(format).with_file(cfg.daemon.log_file.clone());
    let progress = std::io::stderr().is_terminal() && log.file.is_none();
    if progress && std::env::var_os("INGESTD_LOG").is_none() {
        // Worker lines would tear the progress bar; warnings still show.
        log.filter = "warn".into();
    }
    let handle = init_logging(&log);
    let Some(mut chosen) = cfg.jobs.remove(job) else {
        let known: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
        eprintln!(
            "ingestd: {}: no job named {job:?} (defined: {})",
            config_path.display(),
            known.join(", ")
        );
        return exit::CONFIG;
    };
    chosen.source = match input_source(files, source_name) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("ingestd: {msg}");
            return exit::FAILURE;
        }
    };
    let total: u64 = match &chosen.source {
        Source::Files(list) => list
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum(),
        _ => 0,
    };
    cfg.jobs = [(job.to_string(), chosen)].into_iter().collect();
    let bar = progress.then(|| progress_bar(total));
    let opts = RunOptions {
        once: true,
        daemon: false,
        config_path: config_path.to_path_buf(),
        log,
        log_handle: Some(handle),
        progress: bar
            .clone()
            .map(|b| std::sync::Arc::new(move |done| b.set_position(done)) as ProgressFn),
        give_up_after: Some(give_up),
    };
    let t0 = Instant::now();
    let result = supervisor::run(cfg, opts);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match result {
        Ok(report) => {
            print_summary(&report, t0.elapsed().as_secs_f64());
            exit_code(&report, true)
        }
        Err(e) => {
            eprintln!("ingestd: {e}");
            exit::FAILURE
        }
    }
}

fn input_source(files: &[PathBuf], source_name: Option<&str>) -> Result<Source, String> {
    let stdin = files.iter().any(|f| f.as_os_str() == "-");
    if stdin {
        if files.len() > 1 {
            return Err("`-` (standard input) cannot be mixed with files".into());
        }
        // It names the reject files too: a plain file name.
        if let Some(n) = source_name
            && (n.is_empty() || n.len() > 200 || n.starts_with('.') || n.contains(['/', '\0']))
        {
            return Err(format!(
                "--source-name {n:?}: use a plain file name (no '/', not starting with '.', at most 200 bytes)"
            ));
        }
        return Ok(Source::Stdin {
            name: source_name.map(str::to_string),
        });
    }
    if source_name.is_some() {
        return Err("--source-name names standard input: use it with `-`".into());
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let meta = std::fs::metadata(f).map_err(|e| format!("{}: {e}", f.display()))?;
        if !meta.is_file() {
            return Err(format!("{}: not a regular file", f.display()));
        }
        out.push(std::path::absolute(f).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(Source::Files(out))
}

fn progress_bar(total: u64) -> indicatif::ProgressBar {
    let bar = if total > 0 {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// One line per file (names and reasons escaped as in the log: a file name
/// cannot forge a line), then the total of this run's own work.
fn print_summary(report: &RunReport, seconds: f64) {
    for f in &report.files {
        let what = match &f.outcome {
            Outcome::Done => "loaded".to_string(),
            Outcome::AlreadyLoaded => format!(
                "already loaded by another run ({} rows, {} rejected): skipped",
                f.prior_loaded, f.prior_rejected
            ),
            Outcome::SetAside { reason } => format!("set aside: {reason}"),
            Outcome::Unfinished { reason } => format!("not finished: {reason}"),
        };
        // What other runs did, so that the counts of all runs add up.
        let others = match (&f.outcome, f.prior_loaded + f.prior_rejected) {
            (Outcome::AlreadyLoaded, _) | (_, 0) => String::new(),
            _ => format!(
                " (and {} loaded, {} rejected by another run)",
                f.prior_loaded, f.prior_rejected
            ),
        };
        println!(
            "{}/{}: {} rows loaded, {} rejected{others}, {:.2} s — {}",
            f.job,
            Escaped(&f.file),
            f.loaded,
            f.rejected,
            f.seconds,
            Escaped(what)
        );
    }
    for (job, class, msg) in &report.failed_jobs {
        println!("job {job} stopped ({class} error): {}", Escaped(msg));
    }
    for (job, what) in &report.problems {
        println!("job {job}: {what}");
    }
    let loaded = report.loaded();
    let rate = if seconds > 0.0 {
        loaded as f64 / seconds
    } else {
        0.0
    };
    println!(
        "total: {} files, {loaded} rows loaded, {} rejected in {seconds:.2} s ({rate:.0} rows/s)",
        report.files.len(),
        report.rejected()
    );
}

fn exit_code(report: &RunReport, once: bool) -> u8 {
    // A daemon only ends on a stop signal: that is a clean stop, whatever its
    // jobs went through (they were logged; the next start carries on).
    if !once {
        return exit::OK;
    }
    let classes = || {
        report
            .failed_jobs
            .iter()
            .map(|(job, c, _)| (job.as_str(), *c))
    };
    if classes().any(|(_, c)| c == ErrorClass::Config) {
        return exit::CONFIG;
    }
    // Jobs whose workers gave up on a target that stayed unavailable: their
    // unfinished files were left where they are on purpose.
    let unavailable = |c| matches!(c, ErrorClass::Transient | ErrorClass::Capacity);
    let gave_up: Vec<&str> = classes()
        .filter(|(_, c)| unavailable(*c))
        .map(|(job, _)| job)
        .collect();
    let other_failure = classes().any(|(_, c)| !unavailable(c));
    let unfinished = report.files.iter().any(|f| {
        matches!(f.outcome, Outcome::Unfinished { .. }) && !gave_up.contains(&f.job.as_str())
    });
    let failed = other_failure || !report.problems.is_empty();
    if failed || unfinished || report.interrupted {
        return exit::FAILURE;
    }
    if !gave_up.is_empty() {
        return exit::UNAVAILABLE;
    }
    let set_aside = report
        .files
        .iter()
        .any(|f| matches!(f.outcome, Outcome::SetAside { .. }));
    if report.rejected() > 0 || set_aside {
        return exit::REJECTS;
    }
    exit::OK
}
