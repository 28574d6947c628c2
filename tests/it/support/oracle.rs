//! Oracle helpers of the integration tests: a stand-in Oracle Client library
//! built with `cc` (to observe which process loads the library, on machines
//! without Instant Client), the config text of an Oracle sink, and, when
//! `INGESTD_TEST_ORACLE_CONNECT`, `_USER` and `_PASSWORD` are set, a
//! connection to a real Oracle database to prepare tables and check what
//! was loaded (and `_SCHEMA`, a second schema for `schema = "OWNER"`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::config::{DAEMON, sink};
use super::{Setup, Sum, canonical};

/// Builds `dir/libclntsh.so`: a shared library with the Oracle Client's file
/// name but none of its functions. Loading it runs a constructor that
/// appends the loading process's pid to `marker`, so a test can see which
/// processes loaded "the client library". ODPI-C then finds no
/// `OCIClientVersion` and refuses it (DPI-1072), like an unusable client.
pub fn stand_in_client_library(dir: &Path, marker: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let src = dir.join("stand_in.c");
    let marker = marker.display().to_string();
    assert!(!marker.contains(['"', '\\']), "marker path must be plain");
    fs::write(
        &src,
        format!(
            r#"#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void ingestd_test_mark(void) {{
    FILE *f = fopen("{marker}", "a");
    if (f) {{ fprintf(f, "%d\n", (int) getpid()); fclose(f); }}
}}
"#
        ),
    )
    .unwrap();
    let lib = dir.join("libclntsh.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("{cc} is needed to build the stand-in client library: {e}"));
    assert!(
        out.status.success(),
        "building {}: {}",
        lib.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::remove_file(&src).unwrap();
    lib
}

/// Pids written by the stand-in library's constructor.
pub fn loaded_by(marker: &Path) -> Vec<u32> {
    fs::read_to_string(marker)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// The keys of a `[sinks.NAME]` of kind oracle; the password comes from
/// `INGESTD_TEST_ORACLE_PASSWORD`, which the daemon inherits.
pub fn sink_body(connect: &str, user: &str, extra: &str) -> String {
    format!(
        "kind = \"oracle\"\nconnect = {connect:?}\nuser = {user:?}\n\
         password_env = \"INGESTD_TEST_ORACLE_PASSWORD\"\n{extra}"
    )
}

/// The Oracle database of the integration tests, from the environment.
pub struct OracleDb {
    pub connect: String,
    pub user: String,
    pub password: String,
}

impl OracleDb {
    /// `None` when the variables are not all set (the harness then
    /// leaves the tests that need it ignored).
    pub fn from_env() -> Option<OracleDb> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(OracleDb {
            connect: var("INGESTD_TEST_ORACLE_CONNECT")?,
            user: var("INGESTD_TEST_ORACLE_USER")?,
            password: var("INGESTD_TEST_ORACLE_PASSWORD")?,
        })
    }

    /// The database the harness found in the environment.
    pub fn get() -> OracleDb {
        OracleDb::from_env().expect("INGESTD_TEST_ORACLE_* (checked by the harness)")
    }

    pub fn conn(&self) -> oracle::Connection {
        oracle::Connection::connect(&self.user, &self.password, &self.connect)
            .unwrap_or_else(|e| panic!("connecting to {} as {}: {e}", self.connect, self.user))
    }

    /// A test folder (`Setup`) with one orders job `job` on this database,
    /// writing to table `job` (`job_extra` goes into `[jobs.JOB]`).
    pub fn setup(&self, job: &str, job_extra: &str) -> Setup {
        let sink = sink_body(&self.connect, &self.user, "");
        Setup::on("ora", &sink, job, job, job_extra, "")
    }

    /// A per-run name, so runs and tests never share a table or job.
    pub fn unique(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("{prefix}_{}_{nanos}", std::process::id())
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.conn().query_row_as::<i64>(sql, &[]).unwrap()
    }

    /// The order-independent sum of an orders table (see `orders::canonical`).
    pub fn sum(&self, table: &str) -> Sum {
        let conn = self.conn();
        let sql = format!(
            "SELECT \"id\", \"customer_id\", \"customer_name\", \"amount\" * 100, \"currency\", \
             \"created_at\", \"status\", \"note\" FROM \"{table}\""
        );
        let mut sum = Sum::default();
        for row in conn.query(&sql, &[]).unwrap() {
            let r = row.unwrap();
            let ts: oracle::sql_type::Timestamp = r.get(5).unwrap();
            let at = chrono::NaiveDate::from_ymd_opt(ts.year(), ts.month(), ts.day())
                .and_then(|d| {
                    d.and_hms_nano_opt(ts.hour(), ts.minute(), ts.second(), ts.nanosecond())
                })
                .unwrap();
            let note: Option<String> = r.get(7).unwrap();
            sum.add(&canonical(
                r.get(0).unwrap(),
                r.get(1).unwrap(),
                &r.get::<_, String>(2).unwrap(),
                r.get(3).unwrap(),
                &r.get::<_, String>(4).unwrap(),
                &at.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
                &r.get::<_, String>(6).unwrap(),
                note.as_deref(),
            ));
        }
        sum
    }

    /// A test folder with job `job` writing to `table` on this database,
    /// its columns from each file's header (as text): no `[[columns]]`.
    /// `job_extra` goes into `[jobs.JOB]`, `sink_extra` into the sink.
    pub fn header_setup(&self, job: &str, table: &str, job_extra: &str, sink_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("in");
        fs::create_dir_all(&landing).unwrap();
        let config = dir.path().join("ingestd.toml");
        let text = format!(
            "{DAEMON}{}
[jobs.{job}]
sink = \"ora\"
table = {table:?}
\
             reject_dir = \"rejects/{job}\"
{job_extra}

[jobs.{job}.source]
kind = \"dir\"
\
             path = \"in\"
pattern = \"*.csv\"
settle = \"200ms\"
",
            sink("ora", &sink_body(&self.connect, &self.user, sink_extra)),
        );
        fs::write(&config, text).unwrap();
        Setup {
            db: dir.path().join("unused"),
            rejects: dir.path().join(format!("rejects/{job}")),
            landing,
            config,
            dir,
        }
    }

    /// Runs `sql` and commits; panics with the statement on an error.
    pub fn exec(&self, sql: &str) {
        let conn = self.conn();
        conn.execute(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.commit().unwrap();
    }

    /// The rows of `sql`, every column as text (`NULL` for NULL).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let conn = self.conn();
        let rows = conn
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.map(|r| {
            let r = r.unwrap();
            (0..r.sql_values().len())
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .unwrap()
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect()
        })
        .collect()
    }

    /// The test user's own schema, as the dictionary names it.
    pub fn own_schema(&self) -> String {
        self.conn()
            .query_row_as::<String>(
                "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual",
                &[],
            )
            .unwrap()
    }

    /// Drops the test's table and its ledger rows.
    pub fn clean(&self, table: &str, job: &str) {
        let conn = self.conn();
        let _ = conn.execute(&format!("DROP TABLE \"{table}\" PURGE"), &[]);
        let _ = conn.execute("DELETE FROM ingestd_ledger WHERE job = :1", &[&job]);
        let _ = conn.commit();
    }
}

/// `INGESTD_TEST_ORACLE_SCHEMA`: a second schema (as the dictionary names
/// it, upper-case for a user created without quotes).
pub fn other_schema() -> Option<String> {
    std::env::var("INGESTD_TEST_ORACLE_SCHEMA")
        .ok()
        .filter(|v| !v.is_empty())
}
