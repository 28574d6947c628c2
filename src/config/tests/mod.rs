//! Tests of the whole configuration path (text -> `Config` or `ConfigError`)
//! on real temporary directories. Valid configurations here; one test per
//! error kind in `errors`.

mod errors;
mod full;
mod jsonl;
mod lines;
mod nats;
mod oracle;
mod postgres;
mod tail;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::validate::Env;
use super::*;
use crate::format::{CsvFormat, Format};

/// A temporary tree: `<tmp>/conf/ingestd.toml` (not written unless asked)
/// next to an existing source directory `<tmp>/conf/landing`.
pub(super) struct Fixture {
    pub tmp: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(tmp.path().join("conf/landing")).expect("mkdir");
        Fixture { tmp }
    }

    pub fn conf_dir(&self) -> PathBuf {
        self.tmp.path().join("conf")
    }

    pub fn file(&self) -> PathBuf {
        self.conf_dir().join("ingestd.toml")
    }

    pub fn parse(&self, text: &str) -> Result<Config, ConfigError> {
        parse_with(text, &self.file(), &Env::default())
    }

    pub fn ok(&self, text: &str) -> Config {
        self.parse(text)
            .unwrap_or_else(|e| panic!("expected a valid config, got: {e}"))
    }

    /// The error message without the file name, e.g. `:9:8: jobs.o.sink: ...`.
    pub fn err(&self, text: &str) -> String {
        let e = match self.parse(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.to_string(),
        };
        let file = self.file().display().to_string();
        match e.strip_prefix(&file) {
            Some(rest) => rest.to_string(),
            None => panic!("error does not start with the file name: {e}"),
        }
    }
}

/// A minimal valid file; error tests append to it or edit one line.
pub(super) const MINIMAL: &str = r#"[sinks.local]
kind = "sqlite"
path = "db/test.db"

[jobs.orders]
sink = "local"

[jobs.orders.source]
kind = "dir"
path = "landing"
"#;

/// `job` with every defaulted number and flag reset to its documented default.
pub(super) fn defaults_of(job: &Job) -> Job {
    Job {
        workers: 2,
        in_flight: 2,
        batch_rows: 10_000,
        batch_bytes: 4 << 20,
        max_record_bytes: 1 << 20,
        create_table: false,
        max_errors: 1000,
        max_batch_attempts: 3,
        ..job.clone()
    }
}

#[test]
fn defaults() {
    let fx = Fixture::new();
    let conf = fx.conf_dir();
    let config = fx.ok(MINIMAL);
    assert_eq!(config.file, fx.file());
    assert_eq!(
        config.daemon,
        Daemon {
            state_dir: conf.join("var/state"),
            rescan_interval: Duration::from_secs(30),
            runtime_dir: conf.join("var/state"),
            drain_timeout: Duration::from_secs(60),
            progress_interval: Duration::from_secs(30),
            log_file: None,
            metrics_listen: None,
        }
    );
    let sink = Sink::Sqlite(SqliteSink {
        path: conf.join("db/test.db"),
        busy_timeout: Duration::from_secs(60),
        synchronous: SqliteSynchronous::Normal,
    });
    assert_eq!(config.sinks["local"], sink);
    let job = &config.jobs["orders"];
    assert_eq!(job, &defaults_of(job));
    assert_eq!(job.table, "orders");
    assert_eq!(job.reject_dir, conf.join("var/state/rejects/orders"));
    assert_eq!(job.format, Format::Csv(CsvFormat::default()));
    assert_eq!(job.columns, None);
    assert_eq!(
        job.source,
        Source::Dir(DirSource {
            path: conf.join("landing"),
            pattern: "*".into(),
            on_done: OnDone::Archive,
            archive_dir: conf.join("landing/archive"),
            settle: Duration::from_secs(2),
        })
    );
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let fx = Fixture::new();
    let conf = fx.conf_dir();
    let rejects = fx.tmp.path().join("elsewhere/rejects");
    let text = format!(
        r#"[daemon]
state_dir = "./st/../state"

[sinks.local]
kind = "sqlite"
path = "db/test.db"

[jobs.orders]
sink = "local"
reject_dir = {rejects:?}

[jobs.orders.source]
kind = "dir"
path = "../conf/landing"
"#,
        rejects = rejects.display().to_string()
    );
    let config = fx.ok(&text);
    assert_eq!(config.daemon.state_dir, conf.join("st/../state"));
    assert_eq!(config.sinks["local"], sink_at(conf.join("db/test.db")));
    let job = &config.jobs["orders"];
    assert_eq!(job.reject_dir, rejects);
    let Source::Dir(dir) = &job.source else {
        panic!("dir source")
    };
    assert_eq!(dir.path, conf.join("../conf/landing"));
    assert_eq!(dir.archive_dir, conf.join("../conf/landing/archive"));
}

fn sink_at(path: PathBuf) -> Sink {
    Sink::Sqlite(SqliteSink {
        path,
        busy_timeout: Duration::from_secs(60),
        synchronous: SqliteSynchronous::Normal,
    })
}

#[test]
fn relative_config_file_is_made_absolute_and_shown_as_given() {
    let fx = Fixture::new();
    let cwd = std::env::current_dir().expect("cwd");
    let shown = Path::new("some/dir/x.toml");
    let text = MINIMAL.replace(
        "\"landing\"",
        &format!("{:?}", fx.conf_dir().join("landing").display().to_string()),
    );
    let config = parse_with(&text, shown, &Env::default()).expect("valid");
    assert_eq!(config.file, cwd.join(shown));
    assert_eq!(
        config.sinks["local"],
        sink_at(cwd.join("some/dir/db/test.db"))
    );
    let e = parse_with("[jobs]\n", shown, &Env::default()).expect_err("no jobs");
    assert!(
        e.to_string().starts_with("some/dir/x.toml:1:1: jobs: "),
        "{e}"
    );
}

#[test]
fn state_directory_from_the_environment() {
    let fx = Fixture::new();
    let env = Env {
        state_directory: Some(fx.tmp.path().join("systemd-state")),
        runtime_directory: Some(fx.tmp.path().join("systemd-run")),
    };
    let config = parse_with(MINIMAL, &fx.file(), &env).expect("valid");
    assert_eq!(config.daemon.state_dir, fx.tmp.path().join("systemd-state"));
    assert_eq!(config.daemon.runtime_dir, fx.tmp.path().join("systemd-run"));
    assert_eq!(
        config.jobs["orders"].reject_dir,
        fx.tmp.path().join("systemd-state/rejects/orders")
    );
    // An explicit key wins over the environment.
    let text = format!("{MINIMAL}[daemon]\nstate_dir = \"mine\"\n");
    let config = parse_with(&text, &fx.file(), &env).expect("valid");
    assert_eq!(config.daemon.state_dir, fx.conf_dir().join("mine"));
}

#[test]
fn load_reads_the_file() {
    let fx = Fixture::new();
    fs::write(fx.file(), MINIMAL).expect("write");
    let config = load(&fx.file()).expect("valid");
    assert_eq!(config.jobs.len(), 1);
    let missing = fx.conf_dir().join("missing.toml");
    let e = load(&missing).expect_err("missing file");
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read", missing.display())),
        "{e}"
    );
}

#[test]
fn durations_and_sizes_accept_integers_and_strings() {
    let fx = Fixture::new();
    let text = MINIMAL.replace(
        "sink = \"local\"\n",
        "sink = \"local\"\nbatch_bytes = 1024\nmax_record_bytes = \"64MiB\"\n",
    ) + "settle = 0\n";
    let config = fx.ok(&text);
    let job = &config.jobs["orders"];
    assert_eq!(job.batch_bytes, 1024);
    assert_eq!(job.max_record_bytes, 64 << 20);
    let Source::Dir(dir) = &job.source else {
        panic!("dir source")
    };
    assert_eq!(dir.settle, Duration::ZERO);
}

#[test]
fn output_locations_are_not_created() {
    let fx = Fixture::new();
    let config = fx.ok(MINIMAL);
    assert!(!config.daemon.state_dir.exists());
    assert!(!fx.conf_dir().join("db").exists());
    assert!(!fx.conf_dir().join("landing/archive").exists());
}
