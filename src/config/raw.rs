//! The configuration file as written: serde structs mirroring the TOML, with
//! spans kept where validation must point at a value.
//!
//! Owns the shape of the file (which keys exist, their TOML types, durations
//! and sizes as text or integers). Must not apply defaults, resolve paths or
//! check rules: `validate` does that, so that every rule lives in one place.
//!
//! Tagged enums are deliberately avoided for `kind` tables: serde buffers
//! their content, which loses spans and weakens `deny_unknown_fields`. Each
//! such table is one struct with a `kind` field and the keys of every kind,
//! and `validate` refuses keys that do not belong to the chosen kind.
//!
//! # Keys and defaults
//!
//! Relative paths are relative to the configuration file's folder.
//! Durations are `"500ms"`, `"30s"`, `"5m"`, `"1h"` or an integer number of
//! seconds; sizes are `"512KiB"`, `"4MiB"`, `"1GiB"` or an integer number of
//! bytes. Sink and job names are `[A-Za-z0-9_-]+`.
//!
//! ```toml
//! [daemon]                  # optional
//! state_dir = "var/state"   # default: $STATE_DIRECTORY (first entry) if set, else "var/state"
//! rescan_interval = "30s"   # > 0, default 30s
//! runtime_dir = "run"       # the status socket's folder; default: $RUNTIME_DIRECTORY, else state_dir
//! drain_timeout = "60s"     # SIGTERM: time for batches in flight before workers are killed
//! progress_interval = "30s" # a progress line per job this often; "0s": never
//! log_file = "ingestd.log"  # default: stderr; reopened on SIGUSR1 (for logrotate)
//! metrics_listen = "127.0.0.1:9464"  # Prometheus text on /metrics; default: off
//!
//! [sinks.NAME]
//! kind = "sqlite"           # required: sqlite | postgres | oracle
//! path = "var/db.sqlite"    # sqlite: required; not a directory
//! busy_timeout = "60s"      # sqlite: default 60s
//! synchronous = "normal"    # sqlite: off | normal | full, default normal
//! url = "postgres://u@h:5432/db?sslmode=require" # postgres: or the four keys below;
//!                           #   a password inside the URL is refused
//! host = "db.example"       # postgres: host name, IP, or a unix socket folder (absolute)
//! port = 5432               # postgres: default 5432
//! dbname = "warehouse"      # postgres: required without url
//! user = "loader"           # postgres: required without url
//! schema = "public"         # postgres: target tables and ingestd_ledger live here; default public
//! sslmode = "prefer"        # postgres: disable | prefer | require | verify-ca | verify-full
//! sslrootcert = "ca.pem"    # postgres: CA certificates (PEM) for verify-ca / verify-full
//! pool_max = 1              # postgres: sessions per worker, 1..=16, default 1
//! connect_timeout = "10s"   # postgres: > 0, default 10s
//! password_file = "pw"      # servers: the password's place, at most one of
//! password_env = "PGPASS"   #   password_file, password_env and
//! password_credential = "db"#   password_credential (systemd LoadCredential=)
//! connect = "db:1521/FREEPDB1" # oracle: required; Easy Connect, (DESCRIPTION=...) or TNS alias;
//!                           #   a user or password in it (scott/tiger@db) is refused
//! user = "loader"           # oracle: required, the user alone (no /password); a password_* key too
//! schema = "SALES"          # oracle: owner of the target tables and the ledger; default the user's
//! connect_timeout = "10s"   # oracle: >= 1s, default 10s; added to Easy Connect / DESCRIPTION strings
//! client_lib_dir = "/opt/oracle/instantclient_23_7" # oracle: where libclntsh.so is;
//!                           #   default: the loader path, then $ORACLE_HOME/lib
//! config_dir = "tns"        # oracle: tnsnames.ora / sqlnet.ora folder (TNS_ADMIN); must exist
//! pool_min = 1              # oracle: sessions per worker's pool, 0..=pool_max, default 1
//! pool_max = 2              # oracle: 1..=1024, default 2
//! pool_increment = 1        # oracle: 1..=1024, default 1
//! stmt_cache_size = 20      # oracle: 0..=10000, default 20
//!
//! [jobs.NAME]               # at least one job
//! sink = "NAME"             # required; a defined sink
//! table = "orders"          # default: the job name
//! workers = 2               # 1..=64, default 2
//! in_flight = 2             # 1..=16, default 2
//! batch_rows = 10000        # 1..=1_000_000, default 10000
//! batch_bytes = "4MiB"      # 1KiB..=64MiB, default 4MiB
//! max_record_bytes = "1MiB" # 16 bytes..=64MiB, default 1MiB
//! create_table = false      # default false
//! reject_dir = "..."        # default: <state_dir>/rejects/<job name>
//! max_errors = 1000         # >= 0, default 1000
//! max_batch_attempts = 3    # 1..=100, default 3
//! batch_linger = "200ms"    # tail: a batch is sent once its first record is this old
//! mode = "insert"           # insert | upsert, default insert
//! key = ["id"]              # upsert only, required there: the columns that identify a row
//!
//! [jobs.NAME.source]        # required
//! kind = "dir"              # required: dir | stdin (stdin takes no other key)
//! path = "landing"          # dir: required; an existing directory
//! pattern = "*.csv"         # dir: glob on file names, default "*"
//! on_done = "archive"       # dir: archive | delete | keep, default archive
//! archive_dir = "..."       # dir: default <path>/archive
//! settle = "2s"             # dir: default 2s
//! compression = "auto"      # auto (by extension: .gz, .zst) | gzip | zstd | none
//! kind = "tail"             # follow growing files (README "Tailing logs"):
//! path = "/var/log/app.log" # tail: one file (its folder must exist)...
//! pattern = "logs/app-*.log"# tail: ...or a glob on file names in one folder
//! rotated = ["app.log.*"]   # tail: file names of its rotated copies; default: the
//!                           #   file name or pattern followed by ".*" and by "-*"
//! start_at = "beginning"    # tail: beginning | end, for files there before the job's first start
//! fingerprint_lines = 1     # tail: lines after the header that identify a file, 1..=100
//! partial_timeout = "60s"   # tail: a last line without its newline is loaded after the
//!                           #   file has not grown for this long; "0s": never
//! rotate_wait = "10s"       # tail: a renamed or deleted file is read until quiet this long
//! idle_close = "5m"         # tail: a file unchanged this long is closed until it changes
//! max_open_files = 64       # tail: files followed at once, 1..=4096
//! poll_interval = "1s"      # tail: how often files are looked at without inotify news
//! kind = "nats"             # a NATS JetStream stream (README "Streams: NATS JetStream"):
//! url = "nats://host:4222"  # nats: required; one server or a list ("tls://" asks for TLS)
//! stream = "EVENTS"         # nats: required; the stream (it must exist)
//! consumer = "ingestd"      # nats: required; the durable pull consumer every daemon of the
//!                           #   job shares; created when missing
//! filter_subject = "ev.>"   # nats: the subject it takes, when it is created; default: all
//! ack_wait = "30s"          # nats: redelivery after this without an ack, when it is created
//! creds_file = "x.creds"    # nats: credentials (at most one way): a .creds file,
//! nkey_file = "x.nk"        #   an nkey seed file, token_file | token_env,
//! user = "loader"           #   or user with password_file | password_env
//! tls_ca_file = "ca.pem"    # nats: trust this CA (and use TLS)
//! tls_cert_file = "c.pem"   # nats: a client certificate, with tls_key_file
//! tls_required = false      # nats: refuse a connection without TLS; default: a "tls://" url
//!
//! [jobs.NAME.format]        # optional; defaults are `CsvFormat::default()`
//! kind = "csv"              # csv (default) | jsonl | regex | fixed
//! header = true             # csv: default true
//! delimiter = ","           # one ASCII char, or "\t" / "tab"; default ","
//! quote = "\""              # default "\""
//! escape = "\\"             # default: none (quotes are doubled)
//! double_quote = true       # default true
//! comment = "#"             # default: none
//! null = ""                 # default "" (an empty field is NULL)
//! skip_lines = 0            # default 0
//! trim = false              # csv: default false; fixed: "both" (default) | "left" | "right"
//!                           # | "none" (true = "both", false = "none")
//! extra = "ignore"          # jsonl: keys no column takes: ignore (default) | reject | column
//! extra_column = "extra"    # jsonl: the text column that gets them as JSON (extra = "column")
//! pattern = "(?P<a>...)"    # regex: the pattern, whose named groups are the fields...
//! named = "nginx_combined"  # regex: ...or a ready-made one (one of the two is required)
//! continue = "^\\s"          # regex: a line it matches belongs to the record before
//! pad_short = false         # fixed: read a short line as if padded with spaces
//!
//! [[jobs.NAME.columns]]     # optional; absent: each file's header, as text
//! name = "amount"           # required; unique ignoring case
//! type = "decimal(12,2)"    # required: int|integer, bigint, decimal(p,s)|numeric(p,s),
//!                           # float|double, text, varchar(n), bool|boolean, date, timestamp
//! nullable = true           # default true
//! format = "%d/%m/%Y"       # date/timestamp/timestamptz only: chrono strftime, or a list
//!                           # tried in order; default ISO 8601
//! from = "amt"              # the header field, key, JSON Pointer or group; default: name
//! null_if = ["NA", ""]      # texts that mean NULL here (replaces the format's `null`)
//! default = "0"             # the value when the record has no such field
//! constant = "web"          # the value of every row
//! position = "1:10"         # fixed, required there: bytes 1..=10 (or "11:*")
//! trim = "left"             # fixed: this column's own trim (default: the format's)
//! ```

mod source;
pub(crate) use source::*;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::error::is_bare_key;
use super::units::{parse_duration, parse_size};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub daemon: Option<RawDaemon>,
    #[serde(default)]
    pub sinks: BTreeMap<Name, Spanned<RawSink>>,
    pub jobs: Option<Spanned<BTreeMap<Name, RawJob>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub state_dir: Option<Spanned<String>>,
    pub rescan_interval: Option<Spanned<Dur>>,
    pub runtime_dir: Option<Spanned<String>>,
    pub drain_timeout: Option<Spanned<Dur>>,
    pub progress_interval: Option<Spanned<Dur>>,
    pub log_file: Option<Spanned<String>>,
    pub metrics_listen: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    pub kind: SinkKind,
    // sqlite
    pub path: Option<Spanned<String>>,
    pub busy_timeout: Option<Spanned<Dur>>,
    pub synchronous: Option<Spanned<Synchronous>>,
    // servers (postgres, oracle)
    pub user: Option<Spanned<String>>,
    pub pool_max: Option<Spanned<Int>>,
    // postgres (see `config::postgres`)
    pub url: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<Int>>,
    pub dbname: Option<Spanned<String>>,
    pub schema: Option<Spanned<String>>,
    pub sslmode: Option<Spanned<SslMode>>,
    pub sslrootcert: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<Dur>>,
    // oracle (see `config::oracle`)
    pub connect: Option<Spanned<String>>,
    pub client_lib_dir: Option<Spanned<String>>,
    pub config_dir: Option<Spanned<String>>,
    pub pool_min: Option<Spanned<Int>>,
    pub pool_increment: Option<Spanned<Int>>,
    pub stmt_cache_size: Option<Spanned<Int>>,
    // servers (postgres, oracle): where the password is, never the password
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub password_credential: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SinkKind {
    Sqlite,
    Postgres,
    Oracle,
}

/// libpq's `sslmode` values (`allow` is left out: it only differs from
/// `prefer` when the server refuses TLS, which `prefer` handles too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Synchronous {
    Off,
    Normal,
    Full,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    pub sink: Spanned<String>,
    pub table: Option<Spanned<String>>,
    pub workers: Option<Spanned<Int>>,
    pub in_flight: Option<Spanned<Int>>,
    pub batch_rows: Option<Spanned<Int>>,
    pub batch_bytes: Option<Spanned<Size>>,
    pub max_record_bytes: Option<Spanned<Size>>,
    pub create_table: Option<bool>,
    pub reject_dir: Option<Spanned<String>>,
    pub max_errors: Option<Spanned<Int>>,
    pub max_batch_attempts: Option<Spanned<Int>>,
    pub batch_linger: Option<Spanned<Dur>>,
    pub mode: Option<Spanned<Mode>>,
    pub key: Option<Spanned<Vec<Spanned<String>>>>,
    pub source: Spanned<RawSource>,
    pub format: Option<RawFormat>,
    pub columns: Option<Spanned<Vec<RawColumn>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    Insert,
    Upsert,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OnDone {
    Archive,
    Delete,
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Compression {
    Auto,
    Gzip,
    Zstd,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFormat {
    pub kind: Option<FormatKind>,
    // csv
    pub header: Option<Spanned<bool>>,
    pub delimiter: Option<Spanned<String>>,
    pub quote: Option<Spanned<String>>,
    pub escape: Option<Spanned<String>>,
    pub double_quote: Option<bool>,
    pub comment: Option<Spanned<String>>,
    pub null: Option<String>,
    pub skip_lines: Option<Spanned<Int>>,
    pub trim: Option<Spanned<TrimValue>>,
    // jsonl
    pub extra: Option<Spanned<ExtraKeys>>,
    pub extra_column: Option<Spanned<String>>,
    // regex
    pub pattern: Option<Spanned<String>>,
    pub named: Option<Spanned<String>>,
    #[serde(rename = "continue")]
    pub continuation: Option<Spanned<String>>,
    // fixed
    pub pad_short: Option<Spanned<bool>>,
}

/// `trim`: a bool for CSV, a mode (or a bool) for fixed width.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TrimValue {
    Bool(bool),
    Mode(String),
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FormatKind {
    Csv,
    Jsonl,
    Regex,
    Fixed,
}

/// JSON Lines: what happens to keys no column names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExtraKeys {
    Ignore,
    Reject,
    Column,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub ty: Spanned<String>,
    pub nullable: Option<bool>,
    pub format: Option<Spanned<OneOrMany>>,
    pub from: Option<Spanned<String>>,
    pub null_if: Option<Spanned<OneOrMany>>,
    pub default: Option<Spanned<String>>,
    pub constant: Option<Spanned<String>>,
    pub position: Option<Spanned<String>>,
    pub trim: Option<Spanned<TrimValue>>,
}

/// A string, or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A sink or job name. Checked while parsing so the error points at the key
/// (bare TOML keys already obey the rule; quoted ones may not).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Name(pub String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_bare_key(&s) {
            Ok(Name(s))
        } else {
            Err(de::Error::custom(format!(
                "invalid name {s:?}: names may only use letters, digits, '_' and '-'"
            )))
        }
    }
}

/// An integer; range checks are left to `validate`, which knows the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor)
    }
}

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = Int;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
        Ok(Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
        i64::try_from(v)
            .map(Int)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }
}

/// A duration: a string with a unit, or an integer number of seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurVisitor)
    }
}

struct DurVisitor;

impl Visitor<'_> for DurVisitor {
    type Value = Dur;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a duration like \"500ms\", \"30s\", \"5m\", \"1h\" or an integer number of seconds",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
        parse_duration(v).map(Dur).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
        u64::try_from(v)
            .map(|secs| Dur(Duration::from_secs(secs)))
            .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
    }
}

/// A size: a string with an optional unit, or an integer number of bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size like \"512KiB\", \"4MiB\", \"1GiB\" or an integer number of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
        parse_size(v).map(Size).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
        u64::try_from(v)
            .map(Size)
            .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
    }
}
