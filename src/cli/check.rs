//! `ingestd check`: validate the configuration, describe each job and see
//! that its landing folder can be read; with `--connect`, a worker per job
//! makes one attempt at opening its pool and closes it (this process never
//! touches a database), answering within the sink's connect timeout plus a
//! few seconds; with `--sample N`, the first N records of each file as
//! they would load (`describe.rs`); for each Oracle sink, where its client library is (found by
//! looking at files only). The verdict line comes last; the exit code is
//! the worst of the jobs' (README, "Exit codes").

use std::path::Path;

use super::describe;
use super::exit;
use super::load_config;
use crate::config::{self, Config, Source};
use crate::logging::{LogFormat, LogSetup};
use crate::protocol::ErrorClass;
use crate::supervisor::probe::{self, Probe};

pub(super) fn check(
    config_path: &Path,
    connect: bool,
    sample: Option<usize>,
    format: LogFormat,
) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    let shown = config_path.display();
    // The verdict comes last, once every job has been looked at: an `ok`
    // before a job's failure would be a lie.
    println!("{shown}: configuration valid, {} job(s)", cfg.jobs.len());
    let mut code = exit::OK;
    let mut failures = Vec::new();
    for (name, job) in &cfg.jobs {
        let source = match &job.source {
            Source::Dir(d) => format!("dir {} ({})", d.path.display(), d.pattern),
            Source::Stdin { .. } => "stdin".to_string(),
            Source::Files(_) => "files".to_string(),
            Source::Tail(t) => format!(
                "tail {} (rotated copies: {})",
                t.dir.join(&t.names).display(),
                t.rotated.join(", ")
            ),
            Source::Nats(n) => format!(
                "nats stream {} through consumer {} at {}",
                n.stream,
                n.consumer,
                n.servers.join(", ")
            ),
        };
        let columns = match &job.columns {
            Some(c) => format!("{} columns", c.len()),
            None => match &job.format {
                crate::format::Format::Regex(r) => {
                    format!("{} columns from the pattern's groups", r.groups().len())
                }
                crate::format::Format::Jsonl(_) => {
                    "columns from each file's first JSON object".to_string()
                }
                _ => "columns from each file's header".to_string(),
            },
        };
        println!(
            "  job {name}: {source} -> {} sink {:?}, table {}, {columns}, {} workers",
            job.sink.kind(),
            job.sink_name,
            job.table,
            job.workers
        );
        describe::job(job);
        let folder = match &job.source {
            Source::Dir(d) => Some(&d.path),
            Source::Tail(t) => Some(&t.dir),
            _ => None,
        };
        if let Some(dir) = folder
            && let Err(e) = readable(dir)
        {
            println!(
                "    landing folder: FAILED: cannot read {}: {e}; the daemon would find no \
                 file there: give the user it runs as read and search permission (r-x)",
                dir.display()
            );
            failures.push(format!("job {name}: landing folder unreadable"));
            code = exit::worst(code, exit::FAILURE);
        }
        if let Some(n) = sample
            && !describe::samples(job, n)
        {
            failures.push(format!(
                "job {name}: a sampled file cannot be read or mapped"
            ));
            code = exit::worst(code, exit::FAILURE);
        }
        if connect {
            let (c, failed) = connect_check(job, format);
            if let Some(what) = failed {
                failures.push(format!("job {name}: {what}"));
            }
            code = exit::worst(code, c);
        }
    }
    oracle_client_warnings(&cfg);
    match failures.is_empty() {
        true => println!("{shown}: ok"),
        false => println!("{shown}: FAILED ({})", failures.join("; ")),
    }
    code
}

/// Whether this process can list `dir` and reach the files in it, as the
/// daemon's directory source must.
fn readable(dir: &Path) -> std::io::Result<()> {
    use nix::unistd::{AccessFlags, access};
    access(dir, AccessFlags::R_OK | AccessFlags::X_OK)?;
    std::fs::read_dir(dir)?.next().transpose()?;
    Ok(())
}

/// `check --connect` for one job: a worker opens its pool and checks the
/// table. Returns the exit code and, when it failed, what failed.
fn connect_check(job: &config::Job, format: LogFormat) -> (u8, Option<&'static str>) {
    let mut log = LogSetup::from_env(format);
    if std::env::var_os("INGESTD_LOG").is_none() {
        log.filter = "warn".into();
    }
    let exe = std::path::PathBuf::from("/proc/self/exe");
    match probe::probe(&exe, job, &log) {
        Probe::Ok => {
            println!(
                "    connect: ok (pool opened and closed; table {} has the columns)",
                job.table
            );
            (exit::OK, None)
        }
        Probe::Table(p) if job.create_table => {
            println!(
                "    connect: ok (pool opened and closed); {p} -- it will be created on the first load (create_table = true)"
            );
            (exit::OK, None)
        }
        Probe::Table(p) => {
            println!("    connect: FAILED: {p}");
            (exit::CONFIG, Some("table"))
        }
        Probe::Pool {
            class: Some(ErrorClass::Config),
            message,
        } => {
            println!("    connect: FAILED (configuration error): {message}");
            (exit::CONFIG, Some("cannot connect (configuration error)"))
        }
        Probe::Pool {
            class: Some(class @ (ErrorClass::Transient | ErrorClass::Capacity)),
            message,
        } => {
            println!(
                "    connect: FAILED (target unavailable, {class} error): {message}; \
                 `load` and `run --once` would retry until --give-up-after, the daemon for ever"
            );
            (exit::UNAVAILABLE, Some("target unavailable"))
        }
        Probe::Pool { message, .. } => {
            println!("    connect: FAILED: {message}");
            (exit::FAILURE, Some("cannot connect"))
        }
    }
}

/// For each Oracle sink, where its client library is, or a warning that it
/// cannot be found. A warning, not a failure: the daemon still starts, its
/// other jobs run, and that sink's workers recover once the library is
/// installed. Looks at files only: `check` never loads the library.
fn oracle_client_warnings(cfg: &Config) {
    use crate::oracle_client as client;
    let mut env = None;
    for (name, sink) in &cfg.sinks {
        let config::Sink::Oracle(o) = sink else {
            continue;
        };
        let env = env.get_or_insert_with(client::LoaderEnv::from_process);
        let found = client::search(o.client_lib_dir.as_deref(), env);
        if let Some(path) = &found.found {
            println!("  sink {name} (oracle): client library {}", path.display());
            continue;
        }
        let jobs: Vec<&str> = cfg
            .jobs
            .values()
            .filter(|j| &j.sink_name == name)
            .map(|j| j.name.as_str())
            .collect();
        let unusable = match found.unusable.is_empty() {
            true => String::new(),
            false => {
                let files: Vec<String> = found
                    .unusable
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                format!(" (not a 64-bit library: {})", files.join(", "))
            }
        };
        eprintln!(
            "ingestd: warning: sink {name} (oracle): no Oracle Client library (libclntsh.so) \
             found; searched {}{unusable}. The workers of job(s) {} will fail with DPI-1047 and \
             be restarted with back-off until it is there; other jobs are not affected. To fix: {}.",
            found.searched.join("; "),
            if jobs.is_empty() {
                "(none)".to_string()
            } else {
                jobs.join(", ")
            },
            client::how_to_fix(o.client_lib_dir.as_deref())
        );
    }
}
