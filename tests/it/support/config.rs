//! Configuration text for the tests' daemons: the `[daemon]` table, an
//! orders job on a landing folder (with the orders columns, defined once in
//! `orders_columns.toml`), and `Setup`, a test folder holding one such job
//! and its config file, on SQLite or on any sink the test gives.

use std::fs;
use std::path::{Path, PathBuf};

/// The orders columns of job `orders` (`[[jobs.orders.columns]]`).
pub const ORDER_COLUMNS: &str = include_str!("orders_columns.toml");

/// The orders columns as job `job` declares them.
pub fn columns(job: &str) -> String {
    ORDER_COLUMNS.replace("[[jobs.orders.", &format!("[[jobs.{job}."))
}

/// `[daemon]`: state in `state/` beside the config, rescans every second
/// (files written before the start are found at once either way).
pub const DAEMON: &str = "[daemon]\nstate_dir = \"state\"\nrescan_interval = \"1s\"\n";

/// `[sinks.NAME]` with `body` (its keys, one a line).
pub fn sink(name: &str, body: &str) -> String {
    format!("\n[sinks.{name}]\n{body}\n")
}

/// `[jobs.JOB]` writing to `sink`'s `table` (rejects in `rejects/JOB`), its
/// source the `*.csv` files of folder `dir`, and the orders columns.
/// `job_extra` goes into `[jobs.JOB]`, `source_extra` into its source.
pub fn orders_job(
    job: &str,
    sink: &str,
    table: &str,
    dir: &str,
    job_extra: &str,
    source_extra: &str,
) -> String {
    format!(
        "\n[jobs.{job}]\nsink = \"{sink}\"\ntable = {table:?}\nreject_dir = \"rejects/{job}\"\n\
         {job_extra}\n\n[jobs.{job}.source]\nkind = \"dir\"\npath = {dir:?}\npattern = \"*.csv\"\n\
         settle = \"200ms\"\n{source_extra}\n{}",
        columns(job)
    )
}

/// A test folder with `in/` (the landing folder) and a config file for one
/// orders job reading it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The SQLite target of `Setup::new` (`out/target.db`).
    pub db: PathBuf,
    pub landing: PathBuf,
    pub rejects: PathBuf,
}

impl Setup {
    /// On the SQLite sink `local` (`out/target.db`), creating the table.
    /// `job_extra` is TOML added to `[jobs.orders]`, `sink_extra` to
    /// `[sinks.local]`, `source_extra` to the job's source.
    pub fn new(job_extra: &str, sink_extra: &str, source_extra: &str) -> Setup {
        let sink = format!("kind = \"sqlite\"\npath = \"out/target.db\"\n{sink_extra}");
        let job = format!("create_table = true\n{job_extra}");
        Setup::on("local", &sink, "orders", "orders", &job, source_extra)
    }

    /// Job `job` into `table` on sink `sink_name`, whose keys are `sink_body`.
    pub fn on(
        sink_name: &str,
        sink_body: &str,
        job: &str,
        table: &str,
        job_extra: &str,
        source_extra: &str,
    ) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("in");
        fs::create_dir_all(&landing).unwrap();
        let config = dir.path().join("ingestd.toml");
        let text = format!(
            "{DAEMON}{}{}",
            sink(sink_name, sink_body),
            orders_job(job, sink_name, table, "in", job_extra, source_extra)
        );
        fs::write(&config, text).unwrap();
        Setup {
            db: dir.path().join("out/target.db"),
            rejects: dir.path().join(format!("rejects/{job}")),
            landing,
            config,
            dir,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The config file's path as text, for command lines.
    pub fn cfg(&self) -> &str {
        self.config.to_str().unwrap()
    }

    /// Rewrites the config file with `change` applied to its text.
    pub fn edit(&self, change: impl FnOnce(String) -> String) {
        edit(&self.config, change);
    }
}

/// Rewrites the file at `path` with `change` applied to its text.
pub fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = fs::read_to_string(path).unwrap();
    fs::write(path, change(text)).unwrap();
}
