//! Raw configuration -> validated `Config`: defaults, path resolution and
//! every rule that is not about the TOML shape.
//!
//! Owns `[daemon]`, `[sinks.*]` and `[jobs.*]`; delegates sources to
//! `source`, formats to `format` and columns to `columns`. Must have no side
//! effects: it reads the file system (`paths`) but never creates or opens
//! anything.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::columns;
use super::daemon;
use super::error::Problem;
use super::format;
use super::mode;
use super::model::{Config, Job, Sink, SqliteSink, SqliteSynchronous};
use super::paths::{check_output_dir, check_output_file, resolve};
use super::raw::{self, Dur, Int, Name, RawConfig, RawJob, RawSink, Size};
use super::source;
use super::units::{show_duration, show_size};
use crate::format::Format;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// What validation reads from the environment, passed in so tests need not
/// change the process environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    /// systemd's `$STATE_DIRECTORY` (its first entry).
    pub state_directory: Option<PathBuf>,
    /// systemd's `$RUNTIME_DIRECTORY` (its first entry).
    pub runtime_directory: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            state_directory: first_entry("STATE_DIRECTORY"),
            runtime_directory: first_entry("RUNTIME_DIRECTORY"),
        }
    }
}

/// systemd joins several `StateDirectory=` (etc.) entries with ':'; the first is ours.
fn first_entry(var: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    std::env::var_os(var).and_then(|v| {
        let first = v
            .as_bytes()
            .split(|&b| b == b':')
            .next()
            .unwrap_or_default();
        (!first.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(first)))
    })
}

/// Validates a parsed file; `file` is its absolute path.
pub(crate) fn config(raw: RawConfig, file: PathBuf, env: &Env) -> Result<Config, Problem> {
    let base = file.parent().unwrap_or(Path::new("/")).to_path_buf();
    let daemon = daemon::daemon(raw.daemon, &base, env)?;
    let mut sinks = BTreeMap::new();
    for (Name(name), s) in raw.sinks {
        let built = sink(&name, s, &base)?;
        sinks.insert(name, built);
    }
    let cx = Ctx {
        base: &base,
        state_dir: &daemon.state_dir,
        sinks: &sinks,
    };
    let jobs = jobs(raw.jobs, &cx)?;
    Ok(Config {
        file,
        daemon,
        sinks,
        jobs,
    })
}

/// What a job needs from the rest of the file.
struct Ctx<'a> {
    base: &'a Path,
    state_dir: &'a Path,
    sinks: &'a BTreeMap<String, Sink>,
}

fn sink(name: &str, raw: Spanned<RawSink>, base: &Path) -> Result<Sink, Problem> {
    let key = format!("sinks.{name}");
    let span = raw.span();
    let raw = raw.into_inner();
    match raw.kind {
        raw::SinkKind::Sqlite => sqlite(&key, span, raw, base).map(Sink::Sqlite),
        raw::SinkKind::Postgres => super::postgres::sink(&key, span, raw, base).map(Sink::Postgres),
        raw::SinkKind::Oracle => super::oracle::oracle(&key, span, raw, base).map(Sink::Oracle),
    }
}

fn sqlite(key: &str, span: Range<usize>, raw: RawSink, base: &Path) -> Result<SqliteSink, Problem> {
    super::secret::refuse(key, &raw, "sqlite")?;
    super::postgres::refuse_keys(key, &raw, "sqlite")?;
    super::oracle::refuse(key, &raw, "sqlite")?;
    let Some(path) = raw.path.as_ref() else {
        return Err(Problem::new(
            key,
            Some(span),
            "missing key `path`: a sqlite sink needs its database file",
        ));
    };
    let path_key = format!("{key}.path");
    let resolved = resolve(base, &path_key, path)?;
    check_output_file(&resolved).map_err(|m| Problem::new(&path_key, Some(path.span()), m))?;
    let busy_timeout = duration(raw.busy_timeout.as_ref(), Duration::from_secs(60));
    // SQLite takes the timeout as a C int of milliseconds.
    if busy_timeout.as_millis() > i32::MAX as u128 {
        return Err(Problem::new(
            format!("{key}.busy_timeout"),
            raw.busy_timeout.as_ref().map(Spanned::span),
            format!(
                "{} is too long: SQLite accepts at most {}ms",
                show_duration(busy_timeout),
                i32::MAX
            ),
        ));
    }
    let synchronous = raw.synchronous.map(Spanned::into_inner);
    let synchronous = match synchronous.unwrap_or(raw::Synchronous::Normal) {
        raw::Synchronous::Off => SqliteSynchronous::Off,
        raw::Synchronous::Normal => SqliteSynchronous::Normal,
        raw::Synchronous::Full => SqliteSynchronous::Full,
    };
    Ok(SqliteSink {
        path: resolved,
        busy_timeout,
        synchronous,
    })
}

type RawJobs = Option<Spanned<BTreeMap<Name, RawJob>>>;

fn jobs(raw: RawJobs, cx: &Ctx) -> Result<BTreeMap<String, Job>, Problem> {
    let span = raw.as_ref().map(Spanned::span);
    let raw = raw.map(Spanned::into_inner).unwrap_or_default();
    if raw.is_empty() {
        return Err(Problem::new(
            "jobs",
            span,
            "no jobs defined: add at least one [jobs.NAME] table",
        ));
    }
    raw.into_iter()
        .map(|(Name(name), j)| job(&name, j, cx).map(|j| (name, j)))
        .collect()
}

fn job(name: &str, raw: RawJob, cx: &Ctx) -> Result<Job, Problem> {
    let k = format!("jobs.{name}");
    let at = Numbers(&k);
    let (sink_name, sink) = job_sink(&k, &raw.sink, cx.sinks)?;
    let header_span = raw
        .format
        .as_ref()
        .and_then(|f| f.header.as_ref())
        .map(Spanned::span);
    let extra_span = (raw.format.as_ref())
        .and_then(|f| f.extra_column.as_ref())
        .map(Spanned::span);
    let max_record_bytes = at.size(
        "max_record_bytes",
        &raw.max_record_bytes,
        16..=64 * MIB,
        MIB,
    )?;
    let mut format = format::format(&k, raw.format)?;
    let fixed = matches!(format, Format::Fixed(_));
    let (positions, trims) =
        columns::fixed_columns(&k, raw.columns.as_ref(), fixed, max_record_bytes)?;
    if let Format::Fixed(f) = &mut format {
        (f.positions, f.trims) = (positions, trims);
    }
    if let (Format::Jsonl(j), Some(c)) = (&format, raw.columns.as_ref()) {
        format::jsonl_columns(&k, j, extra_span, c.get_ref())?;
    }
    let mode = mode::mode(&k, raw.mode, raw.key, raw.columns.as_ref())?;
    let columns_span = raw.columns.as_ref().map(Spanned::span);
    let columns = match raw.columns {
        Some(c) => Some(columns::columns(&k, c)?),
        None => {
            require_header(&k, &format, header_span)?;
            None
        }
    };
    let compression = match raw.source.get_ref().compression {
        None | Some(raw::Compression::Auto) => super::model::Compression::Auto,
        Some(raw::Compression::Gzip) => super::model::Compression::Gzip,
        Some(raw::Compression::Zstd) => super::model::Compression::Zstd,
        Some(raw::Compression::None) => super::model::Compression::None,
    };
    let source_span = raw.source.span();
    let mut source = source::source(&k, raw.source, cx.base)?;
    if let super::model::Source::Nats(n) = &mut source {
        super::nats::fits_job(&k, source_span, &sink, &format, columns.as_deref(), n)?;
    }
    if !format.names_fields() {
        // Without a header, every file has the layout the configuration
        // gives: a column naming no group is wrong for all of them.
        let layout = match (&source, columns.as_deref()) {
            (super::model::Source::Nats(n), Some(c)) => {
                format.layout_with_message(c, None, &n.message_slots(c.len()))
            }
            _ => format.layout(columns.as_deref(), None),
        };
        layout.map_err(|e| Problem::new(format!("{k}.columns"), columns_span, e.to_string()))?;
    }
    Ok(Job {
        name: name.to_string(),
        sink_name,
        sink,
        table: table_name(&k, raw.table, name)?,
        workers: at.int("workers", &raw.workers, 1..=64, 2)?,
        in_flight: at.int("in_flight", &raw.in_flight, 1..=16, 2)?,
        batch_rows: at.int("batch_rows", &raw.batch_rows, 1..=1_000_000, 10_000)?,
        batch_bytes: at.size("batch_bytes", &raw.batch_bytes, KIB..=64 * MIB, 4 * MIB)?,
        max_record_bytes,
        create_table: raw.create_table.unwrap_or(false),
        reject_dir: reject_dir(&k, raw.reject_dir.as_ref(), name, cx)?,
        max_errors: at.int("max_errors", &raw.max_errors, 0..=i64::MAX, 1000)?,
        max_batch_attempts: at.int("max_batch_attempts", &raw.max_batch_attempts, 1..=100, 3)?,
        batch_linger: duration(raw.batch_linger.as_ref(), Duration::from_millis(200)),
        compression,
        source,
        format,
        columns,
        mode,
    })
}

fn job_sink(
    k: &str,
    v: &Spanned<String>,
    sinks: &BTreeMap<String, Sink>,
) -> Result<(String, Sink), Problem> {
    let name = v.get_ref();
    match sinks.get(name) {
        Some(s) => Ok((name.clone(), s.clone())),
        None => {
            let defined: Vec<&str> = sinks.keys().map(String::as_str).collect();
            let defined = match defined.is_empty() {
                true => "none: add a [sinks.NAME] table".to_string(),
                false => defined.join(", "),
            };
            Err(Problem::new(
                format!("{k}.sink"),
                Some(v.span()),
                format!("no sink named {name:?} (defined: {defined})"),
            ))
        }
    }
}

fn require_header(
    k: &str,
    format: &Format,
    header_span: Option<Range<usize>>,
) -> Result<(), Problem> {
    match format {
        Format::Csv(csv) if !csv.header => Err(Problem::new(
            format!("{k}.format.header"),
            header_span,
            format!(
                "header = false needs [[{k}.columns]]: without them, columns are named by each file's header"
            ),
        )),
        Format::Csv(_) | Format::Jsonl(_) => Ok(()),
        Format::Regex(r) if r.matcher == crate::format::regex::Matcher::Logfmt => {
            Err(Problem::new(
                format!("{k}.columns"),
                None,
                format!(
                    "named = \"logfmt\" needs [[{k}.columns]]: its keys are only known from each record"
                ),
            ))
        }
        Format::Regex(_) => Ok(()),
        Format::Fixed(_) => Err(Problem::new(
            format!("{k}.columns"),
            None,
            format!("kind = \"fixed\" needs [[{k}.columns]], each with its `position`"),
        )),
    }
}

fn table_name(k: &str, v: Option<Spanned<String>>, job: &str) -> Result<String, Problem> {
    let Some(v) = v else {
        return Ok(job.to_string());
    };
    let problem = |m: &str| Err(Problem::new(format!("{k}.table"), Some(v.span()), m));
    if v.get_ref().is_empty() {
        return problem("empty table name: expected the target table's name");
    }
    if v.get_ref().contains('\0') {
        return problem("invalid table name: it contains a NUL character");
    }
    Ok(v.into_inner())
}

fn reject_dir(
    k: &str,
    v: Option<&Spanned<String>>,
    job: &str,
    cx: &Ctx,
) -> Result<PathBuf, Problem> {
    let key = format!("{k}.reject_dir");
    let (dir, span) = match v {
        Some(v) => (resolve(cx.base, &key, v)?, Some(v.span())),
        None => (cx.state_dir.join("rejects").join(job), None),
    };
    check_output_dir(&dir).map_err(|m| Problem::new(key, span, m))?;
    Ok(dir)
}

pub(crate) fn duration(v: Option<&Spanned<Dur>>, default: Duration) -> Duration {
    v.map_or(default, |v| v.get_ref().0)
}

/// Numeric keys of one table (`Numbers("jobs.NAME")`): range-checked, with
/// the range in the message, and converted to the model's types.
pub(super) struct Numbers<'a>(pub(super) &'a str);

impl Numbers<'_> {
    pub(super) fn int<T: TryFrom<i64>>(
        &self,
        name: &str,
        v: &Option<Spanned<Int>>,
        range: RangeInclusive<i64>,
        default: i64,
    ) -> Result<T, Problem> {
        let (n, span) = v
            .as_ref()
            .map_or((default, None), |v| (v.get_ref().0, Some(v.span())));
        let problem = || {
            let expected = match *range.end() {
                i64::MAX => format!("at least {}", range.start()),
                end => format!("between {} and {end}", range.start()),
            };
            Problem::new(
                format!("{}.{name}", self.0),
                span.clone(),
                format!("must be {expected}, got {n}"),
            )
        };
        if !range.contains(&n) {
            return Err(problem());
        }
        T::try_from(n).map_err(|_| problem())
    }

    /// The model keeps sizes as `u32`.
    fn size(
        &self,
        name: &str,
        v: &Option<Spanned<Size>>,
        range: RangeInclusive<u64>,
        default: u64,
    ) -> Result<u32, Problem> {
        let (n, span) = v
            .as_ref()
            .map_or((default, None), |v| (v.get_ref().0, Some(v.span())));
        let problem = || {
            Problem::new(
                format!("{}.{name}", self.0),
                span.clone(),
                format!(
                    "must be between {} and {}, got {}",
                    show_size(*range.start()),
                    show_size(*range.end()),
                    show_size(n)
                ),
            )
        };
        if !range.contains(&n) {
            return Err(problem());
        }
        u32::try_from(n).map_err(|_| problem())
    }
}
