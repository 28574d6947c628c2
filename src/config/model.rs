//! The validated configuration: what the rest of the program sees. Every value
//! here has been checked and every path made absolute, so these types cannot
//! hold an invalid configuration. Built from the raw TOML by `validate`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::{ColumnSpec, Format};

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this came from (absolute).
    pub file: PathBuf,
    pub daemon: Daemon,
    pub sinks: BTreeMap<String, Sink>,
    pub jobs: BTreeMap<String, Job>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Daemon {
    /// Local state (lock file, cache of finished files). The ledger in each
    /// target is the truth; wiping this never duplicates rows.
    pub state_dir: PathBuf,
    /// How often directory sources are rescanned besides inotify events.
    pub rescan_interval: Duration,
    /// Where the status socket lives (`ingestd status` finds it here).
    pub runtime_dir: PathBuf,
    /// On SIGTERM, how long batches in flight may take before workers are killed.
    pub drain_timeout: Duration,
    /// How often each job logs a progress line (zero: never).
    pub progress_interval: Duration,
    /// Log to this file instead of stderr; reopened on SIGUSR1.
    pub log_file: Option<PathBuf>,
    /// Serve Prometheus metrics here (off when `None`).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Where a job writes. Travels to workers inside `WorkerSetup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sink {
    Sqlite(SqliteSink),
    Postgres(PostgresSink),
    Oracle(OracleSink),
}

impl Sink {
    /// How long opening a session may take by the sink's own settings, and
    /// the key that says so (PostgreSQL's `connect_timeout`, SQLite's
    /// `busy_timeout`); `None` when the sink has no such setting (Oracle:
    /// its client's own).
    pub fn open_timeout(&self) -> Option<(&'static str, Duration)> {
        match self {
            Sink::Sqlite(s) => Some(("busy_timeout", s.busy_timeout)),
            Sink::Postgres(p) => Some(("connect_timeout", p.connect_timeout)),
            Sink::Oracle(_) => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Sink::Sqlite(_) => "sqlite",
            Sink::Postgres(_) => "postgres",
            Sink::Oracle(_) => "oracle",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteSink {
    /// Database file (absolute).
    pub path: PathBuf,
    /// How long a writer waits for the lock held by another worker.
    pub busy_timeout: Duration,
    pub synchronous: SqliteSynchronous,
}

/// A PostgreSQL server. Each worker opens its own sessions from this after it
/// starts; the supervisor only carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostgresSink {
    /// Host name, IP address, or the folder of a unix socket (absolute).
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    /// Where the target tables and `ingestd_ledger` are (the session's
    /// `search_path`).
    pub schema: String,
    /// Where the password is; `None` when the server does not ask for one.
    pub password: Option<super::Secret>,
    pub sslmode: PgSslMode,
    /// CA certificates (PEM) that verify the server; the system's when `None`.
    pub sslrootcert: Option<PathBuf>,
    /// Sessions one worker may hold at once.
    pub pool_max: u32,
    pub connect_timeout: Duration,
}

/// libpq's `sslmode`. Over a unix socket TLS is never used, as in libpq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PgSslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, unverified; plain otherwise.
    Prefer,
    /// TLS, unverified (verified like `VerifyCa` when `sslrootcert` is set).
    Require,
    /// TLS; the certificate chain must lead to a trusted CA.
    VerifyCa,
    /// `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

/// An Oracle database, reached through the Oracle Client library (loaded by
/// workers only, at run time). See `config::oracle` for the keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleSink {
    /// Easy Connect string, `(DESCRIPTION=...)` or a TNS alias.
    pub connect: String,
    pub user: String,
    /// Where the password is; read by the worker when it opens its pool.
    pub password: crate::config::Secret,
    /// The owner of the target tables and the ledger (the session's
    /// `CURRENT_SCHEMA`); `None`: the user's own schema.
    pub schema: Option<String>,
    /// Added to Easy Connect and `(DESCRIPTION=...)` connect strings that
    /// do not set their own (`CONNECT_TIMEOUT`).
    pub connect_timeout: Duration,
    /// The only folder searched for `libclntsh.so` when set.
    pub client_lib_dir: Option<PathBuf>,
    /// `tnsnames.ora` / `sqlnet.ora` folder (like `TNS_ADMIN`).
    pub config_dir: Option<PathBuf>,
    pub pool_min: u32,
    pub pool_max: u32,
    pub pool_increment: u32,
    pub stmt_cache_size: u32,
}

/// SQLite's `PRAGMA synchronous` (WAL mode): `normal` survives a process crash,
/// `full` also a power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqliteSynchronous {
    Off,
    Normal,
    Full,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub name: String,
    pub sink_name: String,
    pub sink: Sink,
    pub table: String,
    /// Worker processes for this job.
    pub workers: u32,
    /// Batches in flight per worker (credit).
    pub in_flight: u32,
    /// A batch is cut at this many records...
    pub batch_rows: u32,
    /// ...or this many bytes, whichever comes first.
    pub batch_bytes: u32,
    /// A single record larger than this is rejected without being loaded.
    pub max_record_bytes: u32,
    /// Create the table from the columns when it is missing.
    pub create_table: bool,
    pub reject_dir: PathBuf,
    /// Rejects allowed per file; one more and the file is stopped and set aside.
    pub max_errors: u64,
    /// Worker deaths a batch may cause before it is quarantined.
    pub max_batch_attempts: u32,
    /// A batch of a followed file is sent once its first record is this old.
    pub batch_linger: Duration,
    pub source: Source,
    /// How its inputs are stored (read decompressed; positions count
    /// decompressed bytes).
    pub compression: Compression,
    pub format: Format,
    /// `None`: columns come from each file's header, as text.
    pub columns: Option<Vec<ColumnSpec>>,
    pub mode: WriteMode,
}

/// How a job writes rows. Travels to workers inside `WorkerSetup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteMode {
    /// Plain inserts.
    Insert,
    /// Insert, or update the existing row with the same `key` column values.
    Upsert { key: Vec<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A landing directory.
    Dir(DirSource),
    /// Standard input, read once (`ingestd load ... -`).
    Stdin {
        /// A stable name for it (`load --source-name`): the same bytes under
        /// the same name are the same source, so a second run loads only what
        /// the first did not. Without one, every read is a new source.
        name: Option<String>,
    },
    /// A fixed list of files, read once and kept (`ingestd load ... FILE...`).
    Files(Vec<PathBuf>),
    /// Files still being written, followed through rotation.
    Tail(TailSource),
    /// A NATS JetStream stream, read through a durable pull consumer.
    Nats(NatsSource),
}

impl Source {
    /// Whether its files are followed as they grow.
    pub fn is_followed(&self) -> bool {
        matches!(self, Source::Tail(_))
    }
}

/// `kind = "nats"`: where the stream is and how to reach it. Secrets are
/// places (files, variables), read by the supervisor when it connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsSource {
    /// `nats://` or `tls://` URLs, without credentials.
    pub servers: Vec<String>,
    pub stream: String,
    /// The durable pull consumer's name, shared by every daemon of the job.
    pub consumer: String,
    /// When the consumer is created: the subject it takes (`None`: all).
    pub filter_subject: Option<String>,
    /// When the consumer is created: how long a delivered message may go
    /// without an ack (or an in-progress ack) before it is redelivered.
    pub ack_wait: Duration,
    pub auth: NatsAuth,
    pub tls: NatsTls,
    /// Columns fed by the message rather than its payload: (column index,
    /// what of the message), in column order.
    pub message_fields: Vec<(usize, MessageField)>,
}

impl NatsSource {
    /// For each of `columns` columns, which message value it takes (an
    /// index into `message_fields`), as `Format::layout_with_message` wants.
    pub fn message_slots(&self, columns: usize) -> Vec<Option<u16>> {
        let mut slots = vec![None; columns];
        for (k, (c, _)) in self.message_fields.iter().enumerate() {
            if let Some(s) = slots.get_mut(*c) {
                *s = Some(k as u16);
            }
        }
        slots
    }
}

/// What of a stream message a column takes (`from = "header:NAME"`,
/// `"nats:subject"`, `"nats:sequence"`, `"nats:published"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageField {
    /// The header's (first) value; a message without it gives the
    /// column's `default`, else NULL.
    Header(String),
    Subject,
    /// The stream sequence.
    Sequence,
    /// When the stream stored the message, as an RFC 3339 UTC instant.
    Published,
}

/// How the supervisor proves who it is to the NATS server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatsAuth {
    None,
    /// A `.creds` file (JWT and nkey seed).
    Creds(PathBuf),
    /// A file holding an nkey seed.
    Nkey(PathBuf),
    Token(crate::config::Secret),
    UserPassword {
        user: String,
        password: crate::config::Secret,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsTls {
    /// Refuse a server that does not speak TLS.
    pub required: bool,
    /// Trust this CA (PEM) besides the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate and its key (PEM).
    pub client: Option<(PathBuf, PathBuf)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TailSource {
    /// The one folder its files are in (watched).
    pub dir: PathBuf,
    /// Glob on file names in `dir`: the files followed.
    pub names: String,
    /// Globs on file names in `dir`: their rotated copies, read when they
    /// hold records not loaded yet.
    pub rotated: Vec<String>,
    pub start_at: StartAt,
    /// Lines after the header whose bytes (with the header) identify a file.
    pub fingerprint_lines: u32,
    /// A last line without its newline is loaded once the file has not
    /// grown for this long; `None`: it waits for its newline.
    pub partial_timeout: Option<Duration>,
    /// A renamed or deleted file is read until it has been quiet this long.
    pub rotate_wait: Duration,
    /// A file unchanged this long is closed, and taken again on a change.
    pub idle_close: Duration,
    pub max_open_files: u32,
    /// How often files are looked at when inotify says nothing.
    pub poll_interval: Duration,
}

/// Where a followed file the ledger has never seen is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    Beginning,
    /// Its end when first found (records written after that are loaded).
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DirSource {
    pub path: PathBuf,
    /// Glob matched against file names (not paths) directly in `path`.
    pub pattern: String,
    pub on_done: OnDone,
    /// Where `archive` moves finished files.
    pub archive_dir: PathBuf,
    /// A file found by a rescan (not announced by inotify) is taken once it
    /// has not been modified for this long.
    pub settle: Duration,
}

/// How a job's input files are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// By extension: `.gz` gzip, `.zst`/`.zstd` zstd, else none.
    Auto,
    Gzip,
    Zstd,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDone {
    Archive,
    Delete,
    Keep,
}
