//! Logging with tracing: one line per event, to stderr or a log file. The
//! supervisor and its workers share the destination, so every worker line
//! carries job, worker and pid (the worker's span).
//!
//! When stderr is the systemd journal (`JOURNAL_STREAM` naming stderr),
//! text logs go through the journal's native protocol with their fields
//! (`journal.rs`); if journald cannot be reached that way, each line starts
//! with its `<N>` priority and has no timestamp (the journal adds its own).
//! A log file is opened in append mode and reopened on request (SIGUSR1, for
//! logrotate). Every value of every event is escaped on the way out
//! (`escape.rs`): what comes from outside cannot forge a line. Owns
//! subscriber setup only; what to log is decided where things happen.

mod escape;
mod journal;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

pub use escape::Escaped;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How to log; decided by the supervisor and handed to workers in `WorkerSetup`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSetup {
    /// An `EnvFilter` directive (`info`, `ingestd=debug`...).
    pub filter: String,
    pub format: LogFormat,
    /// stderr is the systemd journal: `<N>` priority prefixes, no timestamps.
    pub journal: bool,
    /// Colours (a terminal).
    pub ansi: bool,
    /// Append to this file instead of writing to stderr.
    pub file: Option<PathBuf>,
}

impl LogSetup {
    /// From the environment: `INGESTD_LOG` (else `info`), `JOURNAL_STREAM`, and
    /// whether stderr is a terminal.
    pub fn from_env(format: LogFormat) -> Self {
        use std::io::IsTerminal;
        LogSetup {
            filter: std::env::var("INGESTD_LOG").unwrap_or_else(|_| "info".to_string()),
            format,
            journal: journal::stderr_is(std::env::var("JOURNAL_STREAM").ok().as_deref()),
            ansi: format == LogFormat::Text && std::io::stderr().is_terminal(),
            file: None,
        }
    }

    /// Logs go to `file` (the journal and colours no longer apply).
    pub fn with_file(mut self, file: Option<PathBuf>) -> Self {
        if file.is_some() {
            self.journal = false;
            self.ansi = false;
        }
        self.file = file;
        self
    }
}

/// Where lines go; shared by every event writer.
enum Target {
    Stderr,
    File {
        path: PathBuf,
        file: File,
    },
    /// journald's native socket: each line is an entry with its fields.
    Journal(std::os::unix::net::UnixDatagram),
}

/// Lets the owner reopen the log file (logrotate moved it away).
#[derive(Clone)]
pub struct LogHandle {
    target: Arc<Mutex<Target>>,
}

impl LogHandle {
    /// Reopens the log file; a no-op when logging to stderr.
    pub fn reopen(&self) -> io::Result<()> {
        let mut t = self.target.lock().unwrap_or_else(|p| p.into_inner());
        if let Target::File { path, file } = &mut *t {
            *file = open_append(path)?;
        }
        Ok(())
    }
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Installs the global subscriber. Call once per process. If the log file
/// cannot be opened, logs go to stderr and the error is returned with the handle.
pub fn init(setup: &LogSetup) -> (LogHandle, Option<io::Error>) {
    use tracing_subscriber::EnvFilter;
    let mut failed = None;
    let target = match &setup.file {
        Some(path) => match open_append(path) {
            Ok(file) => Target::File {
                path: path.clone(),
                file,
            },
            Err(e) => {
                failed = Some(e);
                Target::Stderr
            }
        },
        None => Target::Stderr,
    };
    let handle = LogHandle {
        target: Arc::new(Mutex::new(target)),
    };
    let writer = Lines {
        target: handle.target.clone(),
        journal: setup.journal,
        json: setup.format == LogFormat::Json,
    };
    // The NATS client logs each failed reconnect itself, as often as it
    // retries; the stream's reader says what matters, once. A filter that
    // names async_nats decides for itself.
    let directive = match setup.filter.contains("async_nats") {
        true => setup.filter.clone(),
        false => format!("{},async_nats=off", setup.filter),
    };
    let filter = EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let native = setup.journal && setup.file.is_none() && setup.format == LogFormat::Text;
    if let Some(socket) = native.then(journal::connect).flatten() {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        *handle.target.lock().unwrap_or_else(|p| p.into_inner()) = Target::Journal(socket);
        // The entry's PRIORITY says the level, the journal the time.
        let lines = tracing_subscriber::fmt::layer()
            .fmt_fields(escape::EscapedFields)
            .without_time()
            .with_level(false)
            .with_ansi(false)
            .with_target(false)
            .with_writer(writer);
        let installed = tracing_subscriber::registry()
            .with(filter)
            .with(journal::Fields)
            .with(lines)
            .try_init();
        drop(installed);
        return (handle, failed);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(setup.ansi)
        .with_target(false);
    let installed = match (setup.format, setup.journal) {
        (LogFormat::Json, _) => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        (LogFormat::Text, true) => builder
            .fmt_fields(escape::EscapedFields)
            .without_time()
            .try_init(),
        (LogFormat::Text, false) => builder.fmt_fields(escape::EscapedFields).try_init(),
    };
    // A second init (tests) keeps the first subscriber; that is fine.
    drop(installed);
    (handle, failed)
}

/// A `MakeWriter` handing each event a buffer that is written in one piece,
/// with the journal priority in front when asked for. JSON lines have their
/// strings escaped here (text lines had theirs as their fields were formatted).
#[derive(Clone)]
struct Lines {
    target: Arc<Mutex<Target>>,
    journal: bool,
    json: bool,
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            lines: self,
            prefix: None,
            level: Level::INFO,
            buf: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        let prefix = self.journal.then(|| priority(*meta.level()));
        Line {
            lines: self,
            prefix,
            level: *meta.level(),
            buf: Vec::new(),
        }
    }
}

/// syslog priorities as the journal reads them from a `<N>` prefix.
fn priority(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

struct Line<'a> {
    lines: &'a Lines,
    prefix: Option<&'static str>,
    level: Level,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let event = std::mem::take(&mut self.buf);
        let escaped = match self.lines.json {
            true => std::str::from_utf8(&event).ok().and_then(escape::json_line),
            false => None,
        };
        let body = escaped.as_ref().map_or(&event[..], |s| s.as_bytes());
        let mut t = self.lines.target.lock().unwrap_or_else(|p| p.into_inner());
        if let Target::Journal(socket) = &*t {
            match socket.send(&journal::entry(body, self.level)) {
                Ok(_) => return Ok(()),
                // One entry too large for a datagram: that line goes to the
                // stream, the next ones to the journal again.
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {}
                // journald went away: the stream still takes `<N>` lines.
                Err(_) => *t = Target::Stderr,
            }
        }
        drop(t);
        let mut line = Vec::with_capacity(body.len() + 3);
        line.extend_from_slice(self.prefix.unwrap_or("").as_bytes());
        line.extend_from_slice(body);
        let mut t = self.lines.target.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line: with O_APPEND, lines of several processes do not mix.
        match &mut *t {
            Target::Stderr | Target::Journal(_) => io::stderr().lock().write_all(&line),
            Target::File { file, .. } => file.write_all(&line),
        }
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_written_once_with_its_priority() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("x.log");
        let lines = Lines {
            target: Arc::new(Mutex::new(Target::File {
                path: path.clone(),
                file: open_append(&path).unwrap(),
            })),
            journal: true,
            json: false,
        };
        {
            let mut w = lines.make_writer();
            w.prefix = Some(priority(Level::WARN));
            w.write_all(b"careful").unwrap();
            w.write_all(b"\n").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<4>careful\n");
        // Reopen after the file was moved away, as logrotate does.
        let handle = LogHandle {
            target: lines.target.clone(),
        };
        std::fs::rename(&path, d.path().join("x.log.1")).unwrap();
        handle.reopen().unwrap();
        lines.make_writer().write_all(b"fresh\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "fresh\n");
    }
}
