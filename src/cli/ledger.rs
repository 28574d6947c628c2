//! `ingestd ledger`: what each job's ledger holds, per source (text, or
//! JSON with `--json`), and `ingestd ledger forget`, which deletes one
//! source's ledger rows so that the next load loads that file again, after
//! a summary and a confirmation. A worker per job does the database work
//! (`supervisor::ledger`); this file owns the command's choices, the
//! wording, the question and the exit codes, and never opens a database.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use serde::Serialize;

use super::exit;
use super::load_config;
use crate::config::{Config, Job};
use crate::logging::{Escaped, LogFormat, LogSetup};
use crate::protocol::{ErrorClass, Forgot, LedgerSource};
use crate::supervisor::ledger::{self, LedgerError, LedgerWorker, Listing};

/// Ranges a text line shows of one source before "and N more".
const RANGES_SHOWN: usize = 8;

/// `ingestd ledger [--job J] [--json]`.
pub(super) fn list(config_path: &Path, only: Option<&str>, json: bool, format: LogFormat) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let jobs: Vec<&Job> = match only {
        Some(name) => match find_job(&cfg, config_path, name) {
            Some(j) => vec![j],
            None => return exit::CONFIG,
        },
        None => cfg.jobs.values().collect(),
    };
    let log = worker_log(format);
    let mut code = exit::OK;
    let mut shown = Vec::new();
    for job in jobs {
        let got = listing(job, &log, None);
        if let Err(e) = &got {
            eprintln!("ingestd: job {}: {e}", job.name);
            code = exit::worst(code, code_of(e));
        }
        match json {
            true => shown.push(JobJson::of(job, got)),
            false => {
                if let Ok(l) = got {
                    print!("{}", render_job(job, &l));
                }
            }
        }
    }
    if json {
        let all = serde_json::json!({ "jobs": shown });
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    }
    code
}

/// `ingestd ledger forget --job J FILE [--yes]`.
pub(super) fn forget(
    config_path: &Path,
    job: &str,
    file: &str,
    yes: bool,
    format: LogFormat,
) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let Some(job) = find_job(&cfg, config_path, job) else {
        return exit::CONFIG;
    };
    // A path of a landing file is named by its ledger key, as the directory
    // source names it; anything else is taken as a key `ingestd ledger` printed.
    let (key, path) = match ledger::source_key(job, Path::new(file)) {
        Ok(Some(key)) => (key, true),
        Ok(None) => (file.to_string(), false),
        Err(e) => {
            eprintln!(
                "ingestd: job {}: cannot read {file:?} to identify it: {e}",
                job.name
            );
            return exit::FAILURE;
        }
    };
    let log = worker_log(format);
    let mut worker = match LedgerWorker::start(Path::new("/proc/self/exe"), job, &log) {
        Ok(w) => w,
        Err(e) => return failed(job, &e),
    };
    let listed = match worker.list(Some(&key)) {
        Ok(l) => l,
        Err(e) => return failed(job, &e),
    };
    let (mine, others): (Vec<_>, Vec<_>) =
        (listed.sources.into_iter()).partition(|s| s.target == listed.target);
    let Some(held) = mine.into_iter().next() else {
        let what = match path {
            true => format!(
                "the file {file:?} (ledger key {key:?}) is not in the ledger of table {} (a \
                 file is known by its name, size and content: other bytes under the same name \
                 are another source; `ingestd ledger` lists the keys it holds)",
                listed.target
            ),
            false => format!(
                "there is no file at {file:?}, and the ledger of table {} holds no source of \
                 that key",
                listed.target
            ),
        };
        let mut msg = format!(
            "ingestd: job {}: {}: nothing to forget",
            job.name,
            Escaped(&what)
        );
        if !others.is_empty() {
            let tables: Vec<String> = others
                .iter()
                .map(|s| Escaped(&s.target).to_string())
                .collect();
            msg.push_str(&format!(
                " (the ledger holds it for table {} only, which the job does not load now)",
                tables.join(", ")
            ));
        }
        eprintln!("{msg}");
        let _ = worker.finish();
        return exit::FAILURE;
    };
    print!("{}", render_forget(job, &held, file, path));
    if held.stream {
        println!(
            "  Note: this is a stream: forgetting does not make the server send its messages \
             again; those it redelivers (or a consumer made again to replay them) are loaded \
             again."
        );
    }
    for rest in ledger::rests_of(job, &key) {
        println!(
            "  Note: {} is a .rest file of it: what it loaded stays in the ledger under its own \
             key and still counts for this file; forget that key too to reload those records.",
            Escaped(&rest)
        );
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "ingestd: refusing to forget without confirmation: standard input is not a \
                 terminal; run again with --yes to forget these ledger rows"
            );
            let _ = worker.finish();
            return exit::USAGE;
        }
        if !confirm(held.batches) {
            println!("nothing forgotten");
            let _ = worker.finish();
            return exit::FAILURE;
        }
    }
    let outcome = worker.forget(&key, held.batches);
    let done = worker.finish();
    match outcome {
        Ok(Forgot::Deleted { rows }) => {
            println!(
                "forgot {rows} ledger row(s) of {}: the next load of that file loads it again, \
                 once",
                Escaped(&key)
            );
            if let Err(e) = done {
                eprintln!("ingestd: job {}: {e}", job.name);
            }
            exit::OK
        }
        Ok(Forgot::Changed { expected, found }) => {
            eprintln!(
                "ingestd: job {}: the ledger changed since the summary ({found} row(s) of {} now, \
                 {expected} shown; a load or another forget ran meanwhile): nothing forgotten; \
                 run again",
                job.name,
                Escaped(&key)
            );
            exit::FAILURE
        }
        Err(e) => failed(job, &e),
    }
}

/// Asks on the terminal; only `y` or `yes` says yes.
fn confirm(batches: u64) -> bool {
    eprint!("Forget these {batches} ledger row(s)? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn find_job<'c>(cfg: &'c Config, config_path: &Path, name: &str) -> Option<&'c Job> {
    let found = cfg.jobs.get(name);
    if found.is_none() {
        let known: Vec<&str> = cfg.jobs.keys().map(String::as_str).collect();
        eprintln!(
            "ingestd: {}: no job named {name:?} (defined: {})",
            config_path.display(),
            known.join(", ")
        );
    }
    found
}

/// Workers log warnings only, unless `INGESTD_LOG` says otherwise: the
/// command's output is the answer.
fn worker_log(format: LogFormat) -> LogSetup {
    let mut log = LogSetup::from_env(format);
    if std::env::var_os("INGESTD_LOG").is_none() {
        log.filter = "warn".into();
    }
    log
}

/// The listing of `job` by a worker of its own.
fn listing(job: &Job, log: &LogSetup, source: Option<&str>) -> Result<Listing, LedgerError> {
    let mut worker = LedgerWorker::start(Path::new("/proc/self/exe"), job, log)?;
    let listed = worker.list(source)?;
    worker.finish()?;
    Ok(listed)
}

fn failed(job: &Job, e: &LedgerError) -> u8 {
    eprintln!("ingestd: job {}: {e}", job.name);
    code_of(e)
}

/// Exit codes as `check --connect` gives them: a database that cannot be
/// reached now is 75, a configuration the database refuses 78.
fn code_of(e: &LedgerError) -> u8 {
    match e.class() {
        Some(ErrorClass::Transient | ErrorClass::Capacity) => exit::UNAVAILABLE,
        Some(ErrorClass::Config) => exit::CONFIG,
        _ => exit::FAILURE,
    }
}

/// One job in `--json`.
#[derive(Serialize)]
struct JobJson {
    job: String,
    table: String,
    sink: String,
    /// The target the ledger names the job's table by.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<Vec<LedgerSource>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl JobJson {
    fn of(job: &Job, got: Result<Listing, LedgerError>) -> JobJson {
        let (target, sources, error) = match got {
            Ok(l) => (Some(l.target), Some(l.sources), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        JobJson {
            job: job.name.clone(),
            table: job.table.clone(),
            sink: job.sink_name.clone(),
            target,
            sources,
            error,
        }
    }
}

/// The text of one job's listing.
fn render_job(job: &Job, l: &Listing) -> String {
    let loaded: u64 = l.sources.iter().map(|s| s.loaded).sum();
    let rejected: u64 = l.sources.iter().map(|s| s.rejected).sum();
    let mut out = format!(
        "job {}: table {} ({} sink {:?}): {} source(s), {loaded} rows loaded, {rejected} rejected\n",
        job.name,
        Escaped(&job.table),
        job.sink.kind(),
        job.sink_name,
        l.sources.len(),
    );
    for s in &l.sources {
        let elsewhere = match s.target == l.target {
            true => String::new(),
            false => format!(" (table {}, not the job's table now)", Escaped(&s.target)),
        };
        out.push_str(&format!(
            "  {}{elsewhere}\n    {}\n",
            Escaped(&s.source),
            figures(s)
        ));
    }
    out
}

/// The summary `forget` shows before asking.
fn render_forget(job: &Job, s: &LedgerSource, file: &str, path: bool) -> String {
    let named = match path {
        true => format!(" (the file {})", Escaped(file)),
        false => String::new(),
    };
    format!(
        "job {}, table {}: forgetting {}{named}\n    {}\n  The {} row(s) already loaded stay \
         in table {}: forgetting only makes the next load of this file load it again, once \
         (its rows are then in the table twice, unless you delete them first).\n",
        job.name,
        Escaped(&job.table),
        Escaped(&s.source),
        figures(s),
        s.loaded,
        Escaped(&job.table),
    )
}

/// Ranges, counts and commit times of one source, on one line.
fn figures(s: &LedgerSource) -> String {
    let mut ranges: Vec<String> = (s.ranges.iter().take(RANGES_SHOWN))
        .map(|&(a, b)| match s.stream {
            // A stream's sequences, ends inclusive as in the `runs` column.
            true if b == a + 1 => format!("{a}"),
            true => format!("{a}-{}", b - 1),
            false => format!("[{a}, {b})"),
        })
        .collect();
    if s.ranges.len() > RANGES_SHOWN {
        ranges.push(format!("and {} more", s.ranges.len() - RANGES_SHOWN));
    }
    let unit = if s.stream { "sequences" } else { "bytes" };
    let when = match s.first_commit == s.last_commit {
        true => format!("committed {}", s.first_commit),
        false => format!("committed {} to {}", s.first_commit, s.last_commit),
    };
    format!(
        "{unit} {}; {} rows loaded, {} rejected; {} batch(es); {when}",
        ranges.join(", "),
        s.loaded,
        s.rejected,
        s.batches
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(stream: bool, ranges: Vec<(u64, u64)>, first: &str, last: &str) -> LedgerSource {
        LedgerSource {
            target: "orders".into(),
            source: "s".into(),
            stream,
            ranges,
            batches: 2,
            loaded: 10,
            rejected: 1,
            first_commit: first.into(),
            last_commit: last.into(),
        }
    }

    #[test]
    fn figures_show_bytes_half_open_and_sequences_inclusive() {
        let f = figures(&source(false, vec![(0, 10), (20, 30)], "a", "a"));
        assert_eq!(
            f,
            "bytes [0, 10), [20, 30); 10 rows loaded, 1 rejected; 2 batch(es); committed a"
        );
        let s = figures(&source(true, vec![(1, 501), (733, 734)], "a", "b"));
        assert!(s.starts_with("sequences 1-500, 733; "), "{s}");
        assert!(s.ends_with("committed a to b"), "{s}");
        let many = figures(&source(
            false,
            (0..10).map(|i| (i * 2, i * 2 + 1)).collect(),
            "a",
            "a",
        ));
        assert!(many.contains("[14, 15), and 2 more;"), "{many}");
    }
}
