//! The systemd journal as the log's destination: whether stderr is the
//! journal (`JOURNAL_STREAM` names stderr's device and inode: a process whose
//! stderr was redirected inherits the variable, not the stream), and the
//! native protocol: each entry's MESSAGE is the escaped text line the other
//! destinations get (so `journalctl -u ingestd` reads as before), with the
//! event's and its spans' fields beside it as journal fields
//! (`INGESTD_JOB=`, `INGESTD_FILE=`, `INGESTD_WORKER=`, `INGESTD_BATCH=`...),
//! so that `journalctl INGESTD_JOB=orders` selects one job's lines.
//!
//! `Fields` (a layer) records each event's fields just before the text
//! formatter writes its line; `Entry` sends line and fields as one datagram.
//! Owns that protocol. Must not decide what is logged.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::escape::Escaped;

/// journald's socket for the native protocol.
const SOCKET: &str = "/run/systemd/journal/socket";
/// Every field ingestd adds starts with this.
const PREFIX: &str = "INGESTD_";
/// Longest MESSAGE, and longest field value, sent: a datagram must fit the
/// socket's buffer (a larger entry goes to the stream instead).
const MESSAGE_MAX: usize = 64 * 1024;
const VALUE_MAX: usize = 8 * 1024;

/// Whether `journal_stream` (`JOURNAL_STREAM`'s value, `DEVICE:INODE`) is
/// the stream stderr writes to.
pub fn stderr_is(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// A socket to journald, or `None` when it does not answer there (the
/// caller then writes `<N>`-prefixed lines to stderr).
pub fn connect() -> Option<UnixDatagram> {
    let s = UnixDatagram::unbound().ok()?;
    s.connect(SOCKET).ok()?;
    Some(s)
}

thread_local! {
    /// The fields of the event being formatted on this thread.
    static CURRENT: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Records every event's fields (its spans' first) for `Entry`.
pub struct Fields;

/// A span's fields, as journal names and escaped values.
struct SpanFields(Vec<(String, String)>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Fields {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = Collect(Vec::new());
        attrs.record(&mut v);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(v.0));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(f) = span.extensions_mut().get_mut::<SpanFields>()
        {
            let mut v = Collect(std::mem::take(&mut f.0));
            values.record(&mut v);
            f.0 = v.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut v = Collect(Vec::new());
        for span in ctx
            .event_scope(event)
            .into_iter()
            .flat_map(|s| s.from_root())
        {
            if let Some(f) = span.extensions().get::<SpanFields>() {
                v.0.extend(f.0.iter().cloned());
            }
        }
        event.record(&mut v);
        CURRENT.with(|c| *c.borrow_mut() = v.0);
    }
}

/// Journal field names (`INGESTD_` and the field's name upper-cased) and
/// escaped values; a later field of the same name replaces the earlier.
struct Collect(Vec<(String, String)>);

impl Collect {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            return;
        }
        let name: String = (field.name().chars())
            .map(|c| match c.is_ascii_alphanumeric() {
                true => c.to_ascii_uppercase(),
                false => '_',
            })
            .collect();
        let name = format!("{PREFIX}{name}");
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value));
    }
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Escaped(value).to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Escaped(format!("{value:?}")).to_string());
    }
}

/// One journal entry: `line` (the formatted text, escaped) as MESSAGE, the
/// fields `Fields` recorded for this event, the priority of `level`.
pub fn entry(line: &[u8], level: Level) -> Vec<u8> {
    let fields = CURRENT.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let text = String::from_utf8_lossy(line);
    let mut message = text.trim_end_matches('\n').to_string();
    cut(&mut message, MESSAGE_MAX);
    let mut out = String::with_capacity(message.len() + 64 * (fields.len() + 3));
    // `<N>`: the one table of priorities, the stream's.
    let _ = writeln!(
        out,
        "PRIORITY={}",
        super::priority(level).trim_matches(['<', '>'])
    );
    out.push_str("SYSLOG_IDENTIFIER=ingestd\n");
    // Escaped texts hold no newline: the simple `NAME=value` form is enough.
    let _ = writeln!(out, "MESSAGE={}", message.replace('\n', "\\n"));
    for (name, mut value) in fields {
        cut(&mut value, VALUE_MAX);
        let _ = writeln!(out, "{name}={value}");
    }
    out.into_bytes()
}

/// Shortens `s` to at most `max` bytes, on a character boundary, with `…`.
fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut at = max - '…'.len_utf8();
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.truncate(at);
    s.push('…');
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn only_stderr_own_device_and_inode_is_the_journal() {
        let fd = std::io::stderr().as_fd().try_clone_to_owned().unwrap();
        let m = std::fs::File::from(fd).metadata().unwrap();
        let mine = format!("{}:{}", m.dev(), m.ino());
        assert!(stderr_is(Some(&mine)));
        let other = format!("{}:{}", m.dev(), m.ino() + 1);
        assert!(!stderr_is(Some(&other)));
        for bad in ["", "1", "a:b", "1:2:3"] {
            assert!(!stderr_is(Some(bad)), "{bad:?}");
        }
        assert!(!stderr_is(None));
    }

    #[test]
    fn an_entry_has_the_line_and_the_fields_of_its_event_and_spans() {
        let subscriber = tracing_subscriber::registry().with(Fields);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("worker", job = "orders", worker = 2u32);
            let _e = span.enter();
            tracing::warn!(file = %"a\nb.csv", batch = 7u64, "file done");
        });
        let e = String::from_utf8(entry(b"WARN worker{...}: file done\n", Level::WARN)).unwrap();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines[0], "PRIORITY=4");
        assert!(
            lines.contains(&"MESSAGE=WARN worker{...}: file done"),
            "{e}"
        );
        assert!(lines.contains(&"INGESTD_JOB=orders"), "{e}");
        assert!(lines.contains(&"INGESTD_WORKER=2"), "{e}");
        assert!(lines.contains(&"INGESTD_FILE=a\\nb.csv"), "{e}");
        assert!(lines.contains(&"INGESTD_BATCH=7"), "{e}");
        // A value from outside as long as a record: cut, the entry stays
        // small enough for a datagram.
        tracing::subscriber::with_default(tracing_subscriber::registry().with(Fields), || {
            tracing::warn!(reason = %"é".repeat(100_000), "rejected");
        });
        let big = String::from_utf8(entry(&vec![b'x'; 200_000], Level::WARN)).unwrap();
        assert!(big.len() < MESSAGE_MAX + VALUE_MAX + 200, "{}", big.len());
        assert!(
            big.contains("INGESTD_REASON=éé") && big.contains("…\n"),
            "cut with a mark"
        );
        // Taken once: the next entry has only what its own event recorded.
        let next = String::from_utf8(entry(b"x", Level::INFO)).unwrap();
        assert!(!next.contains("INGESTD_"), "{next}");
    }
}
