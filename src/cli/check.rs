//! `ingestd check`: validate the configuration and describe each job; with
//! `--connect`, a worker per job opens and closes its pool (this process
//! never touches a database); for each Oracle sink, where its client library
//! is (found by looking at files only).

use std::path::Path;

use super::exit;
use super::load_config;
use crate::config::{self, Config, Source};
use crate::logging::{LogFormat, LogSetup};
use crate::supervisor::probe::{self, Probe};

pub(super) fn check(config_path: &Path, connect: bool, format: LogFormat) -> u8 {
    let Some(cfg) = load_config(config_path) else {
        return exit::CONFIG;
    };
    println!("{}: ok", config_path.display());
    let mut code = exit::OK;
    for (name, job) in &cfg.jobs {
        let source = match &job.source {
            Source::Dir(d) => format!("dir {} ({})", d.path.display(), d.pattern),
            Source::Stdin { .. } => "stdin".to_string(),
            Source::Files(_) => "files".to_string(),
        };
        let columns = match &job.columns {
            Some(c) => format!("{} columns", c.len()),
            None => "columns from each file's header".to_string(),
        };
        println!(
            "  job {name}: {source} -> {} sink {:?}, table {}, {columns}, {} workers",
            job.sink.kind(),
            job.sink_name,
            job.table,
            job.workers
        );
        if connect {
            code = code.max(connect_check(job, format));
        }
    }
    oracle_client_warnings(&cfg);
    code
}

/// `check --connect` for one job: a worker opens its pool and checks the table.
fn connect_check(job: &config::Job, format: LogFormat) -> u8 {
    let mut log = LogSetup::from_env(format);
    if std::env::var_os("INGESTD_LOG").is_none() {
        log.filter = "warn".into();
    }
    let exe = std::path::PathBuf::from("/proc/self/exe");
    match probe::probe(&exe, job, &log, std::time::Duration::from_secs(120)) {
        Probe::Ok => {
            println!(
                "    connect: ok (pool opened and closed; table {} has the columns)",
                job.table
            );
            exit::OK
        }
        Probe::Table(p) if job.create_table => {
            println!(
                "    connect: ok (pool opened and closed); {p} -- it will be created on the first load (create_table = true)"
            );
            exit::OK
        }
        Probe::Table(p) => {
            println!("    connect: FAILED: {p}");
            exit::CONFIG
        }
        Probe::Pool(p) => {
            println!("    connect: FAILED: {p}");
            exit::FAILURE
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
