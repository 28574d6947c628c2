//! The test binary's harness (libtest-mimic, `harness = false` in
//! Cargo.toml): every test is a trial named `module::test` and declares what
//! it needs from the machine. A need this machine does not meet makes the
//! trial *ignored*, with the reason, in the run's output and its closing
//! `test result:` line: never a pass that tested nothing. Where CI requires
//! the thing (`INGESTD_REQUIRE_PG=1`, or `CI` for the tools `.ci/run`
//! installs: systemd's analyzer, logrotate, nats-server, tmux), the trial fails
//! instead.
//!
//! Each need is looked into once per run, by the first trial that has it.

use std::sync::OnceLock;

use libtest_mimic::{Completion, Failed, Trial};

/// Something a test needs that not every machine has.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// The PostgreSQL test server (`INGESTD_TEST_PG_URL`).
    Pg,
    /// PostgreSQL's server binaries, for a throwaway cluster of the test's own.
    PgCluster,
    /// The test server with TLS on and its certificate readable here.
    PgTls,
    /// An Oracle database (`INGESTD_TEST_ORACLE_*`).
    Oracle,
    /// A second schema on it that the test user may create tables and
    /// synonyms in (`INGESTD_TEST_ORACLE_SCHEMA`).
    OracleSchema,
    /// systemd's own analyzer (`systemd-analyze`).
    SystemdAnalyze,
    /// A tmpfs at `/dev/shm` with room for a 2 GiB file, on another
    /// filesystem than the test's temporary folders.
    Tmpfs,
    /// The right to mount a small tmpfs of the test's own (root).
    Mount,
    /// The real `logrotate` (`.ci/run` installs Debian's).
    Logrotate,
    /// The right to mount an ext4 image of the test's own on a loop device.
    LoopExt4,
    /// `nats-server` with JetStream, for a server of the test's own
    /// (`.ci/run` installs Debian's).
    NatsServer,
    /// `tmux`, a real terminal for the live view (`.ci/run` installs
    /// Debian's).
    Tmux,
}

/// Why a need is not met, and whether that fails the trial.
#[derive(Clone, Debug)]
pub struct Unmet {
    pub reason: String,
    pub required: bool,
}

impl Need {
    /// `Ok` when met; decided once per run.
    fn met(self) -> &'static Result<(), Unmet> {
        static PG: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static CLUSTER: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static TLS: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static ORACLE: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static ORACLE_SCHEMA: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static ANALYZE: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static TMPFS: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static MOUNT: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static LOGROTATE: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static EXT4: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static NATS: OnceLock<Result<(), Unmet>> = OnceLock::new();
        static TMUX: OnceLock<Result<(), Unmet>> = OnceLock::new();
        let require_pg = |reason: String| Unmet {
            reason,
            required: super::pg::required(),
        };
        match self {
            Need::Pg => PG.get_or_init(|| super::pg::probe().map_err(require_pg)),
            Need::PgCluster => CLUSTER.get_or_init(|| {
                super::cluster::bindir().map(|_| ()).ok_or_else(|| {
                    require_pg(
                        "no PostgreSQL server binaries for a cluster of the test's own \
                         (pg_config --bindir, /usr/lib/postgresql/*/bin)"
                            .into(),
                    )
                })
            }),
            Need::PgTls => TLS.get_or_init(|| {
                Need::Pg.met().clone()?;
                // A server without TLS is a choice of the machine, not a
                // missing server: not even CI requires it.
                super::pg::tls_certificate()
                    .map(|_| ())
                    .map_err(|reason| Unmet {
                        reason,
                        required: false,
                    })
            }),
            Need::Oracle => ORACLE.get_or_init(|| {
                super::oracle::OracleDb::from_env()
                    .map(|_| ())
                    .ok_or_else(|| Unmet {
                        reason: "set INGESTD_TEST_ORACLE_CONNECT, INGESTD_TEST_ORACLE_USER and \
                                 INGESTD_TEST_ORACLE_PASSWORD to run it against an Oracle database"
                            .into(),
                        required: false,
                    })
            }),
            Need::OracleSchema => ORACLE_SCHEMA.get_or_init(|| {
                Need::Oracle.met().clone()?;
                super::oracle::other_schema()
                    .map(|_| ())
                    .ok_or_else(|| Unmet {
                        reason:
                            "set INGESTD_TEST_ORACLE_SCHEMA to a second schema the test user may \
                             create tables and synonyms in (README: Integration tests against \
                             Oracle Database Free)"
                                .into(),
                        required: false,
                    })
            }),
            Need::Tmpfs => TMPFS.get_or_init(|| {
                super::tmpfs_beside_disk().map_err(|reason| Unmet {
                    reason,
                    required: false,
                })
            }),
            Need::Mount => MOUNT.get_or_init(|| {
                super::mount::can_mount().map_err(|reason| Unmet {
                    reason,
                    required: false,
                })
            }),
            Need::LoopExt4 => EXT4.get_or_init(|| {
                super::mount::can_mount_ext4().map_err(|reason| Unmet {
                    reason,
                    required: false,
                })
            }),
            Need::Logrotate => LOGROTATE.get_or_init(|| {
                tool(
                    "logrotate",
                    "--version",
                    "logrotate is not installed (.ci/run installs Debian's)",
                )
            }),
            Need::NatsServer => NATS.get_or_init(|| {
                tool(
                    "nats-server",
                    "--version",
                    "nats-server is not installed (.ci/run installs Debian's)",
                )
            }),
            Need::Tmux => TMUX.get_or_init(|| {
                tool(
                    "tmux",
                    "-V",
                    "tmux is not installed (.ci/run installs Debian's)",
                )
            }),
            Need::SystemdAnalyze => ANALYZE.get_or_init(|| {
                tool(
                    "systemd-analyze",
                    "--version",
                    "systemd-analyze is not installed (.ci/run installs Debian's systemd)",
                )
            }),
        }
    }
}

/// Whether `command version_flag` runs (tmux has no `--version`); CI must
/// have it (`.ci/run` installs it).
fn tool(command: &str, version_flag: &str, missing: &str) -> Result<(), Unmet> {
    let found = std::process::Command::new(command)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    match found {
        true => Ok(()),
        false => Err(Unmet {
            reason: missing.into(),
            required: std::env::var_os("CI").is_some(),
        }),
    }
}

/// The trial `module::name` (`module` as `module_path!` gives it) running
/// `test` when every one of `needs` is met.
pub fn trial(module: &str, name: &str, needs: &'static [Need], test: fn()) -> Trial {
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    Trial::ignorable_test(format!("{module}::{name}"), move || {
        for need in needs {
            match need.met() {
                Ok(()) => {}
                Err(Unmet {
                    reason,
                    required: false,
                }) => return Ok(Completion::ignored_with(reason)),
                Err(Unmet { reason, .. }) => {
                    return Err(Failed::from(format!("required, but {reason}")));
                }
            }
        }
        test();
        Ok(Completion::Completed)
    })
}

/// In a test module: `trials![test_fn, other_fn [Pg], ...]` defines
/// `pub fn trials()`, one trial per function, each with its needs.
macro_rules! trials {
    ($($test:ident $([$($need:ident),+])?),* $(,)?) => {
        pub fn trials() -> Vec<libtest_mimic::Trial> {
            vec![$($crate::support::harness::trial(
                module_path!(),
                stringify!($test),
                &[$($($crate::support::harness::Need::$need),+)?],
                $test,
            )),*]
        }
    };
}
pub(crate) use trials;
