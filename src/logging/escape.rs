//! Escaping of what a log line or a summary line shows: file names, header
//! fields, reasons and database messages come from outside, and a newline or
//! an escape sequence in one of them must not forge a line, a journal
//! priority or a terminal's state.
//!
//! One rule, applied to every value of every event (the message, each field,
//! the span's fields) by the logging layer, never by call sites: a backslash
//! is written `\\`; `\n`, `\r`, `\t` as such; other control characters
//! (C0, DEL) as `\xNN`; C1 controls and the Unicode line and paragraph
//! separators as `\u{NNNN}`. Inside a quoted text field a `"` is `\"` too.
//! So an escaped text never holds a control character, and reads back
//! unambiguously. In JSON lines the same rule applies to every string before
//! JSON's own escaping: decoded, a value reads as the text format shows it.
//!
//! Owns that rule, the text field formatter and the JSON re-escaping; where
//! lines go is `logging`'s.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// `value`'s `Display`, escaped: for texts from outside shown outside the
/// logging layer (the run's summary).
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping::new(f), "{}", self.0)
    }
}

/// Writes through to `inner`, escaping as the module says.
struct Escaping<'a, W: ?Sized> {
    inner: &'a mut W,
    /// Also escape `"` (the text is shown between quotes).
    quoted: bool,
}

impl<'a, W: Write + ?Sized> Escaping<'a, W> {
    fn new(inner: &'a mut W) -> Self {
        Escaping {
            inner,
            quoted: false,
        }
    }
}

impl<W: Write + ?Sized> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Runs of plain characters go through in one piece.
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            if !(needs_escape(c) || self.quoted && c == '"') {
                continue;
            }
            self.inner.write_str(&s[plain..i])?;
            plain = i + c.len_utf8();
            match c {
                '"' => self.inner.write_str("\\\"")?,
                c => escape_char(c, self.inner)?,
            }
        }
        self.inner.write_str(&s[plain..])
    }
}

fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The escape of one character that `needs_escape`.
fn escape_char<W: Write + ?Sized>(c: char, out: &mut W) -> fmt::Result {
    match c {
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

/// The text format's fields, every value escaped: the message as it is,
/// other fields as `name=value`, texts given as `&str` between quotes
/// (`kind="sqlite"`), as tracing's own formatter shows them.
pub struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = TextFields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct TextFields<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextFields<'_> {
    fn field(&mut self, field: &Field, quoted: bool, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.write_field(field.name(), quoted, value);
        }
    }

    fn write_field(&mut self, name: &str, quoted: bool, value: fmt::Arguments<'_>) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            write!(self.writer, "{name}=")?;
        }
        let quote = if quoted { "\"" } else { "" };
        self.writer.write_str(quote)?;
        Escaping {
            inner: &mut self.writer,
            quoted,
        }
        .write_fmt(value)?;
        self.writer.write_str(quote)
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let quoted = field.name() != "message";
        self.field(field, quoted, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, false, format_args!("{value:?}"));
    }
}

/// One JSON line (as tracing's JSON formatter writes it) with every string
/// escaped by the module's rule before JSON's own escaping, so that a
/// decoded value holds no control character. Returns `None` for text that
/// is not such a line, to be written unchanged.
pub fn json_line(line: &str) -> Option<String> {
    let mut out = String::with_capacity(line.len() + 16);
    let mut chars = line.chars();
    // Outside strings JSON has no backslash and no control character but
    // whitespace; inside, a backslash always starts one of JSON's escapes.
    while let Some(c) = chars.next() {
        let decoded = match c {
            '\\' => match chars.next()? {
                // Not escaped by the rule: kept as JSON wrote them.
                e @ ('"' | '/') => {
                    out.push('\\');
                    out.push(e);
                    continue;
                }
                '\\' => '\\',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    // serde_json writes only control characters as \uXXXX,
                    // never surrogates.
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                _ => return None,
            },
            '\n' | '\r' | '\t' | ' ' => {
                out.push(c);
                continue;
            }
            c if needs_escape(c) => c,
            c => {
                out.push(c);
                continue;
            }
        };
        // The rule's escape, itself escaped for JSON (its backslashes doubled).
        let mut text = String::new();
        escape_char(decoded, &mut text).ok()?;
        for e in text.chars() {
            match e {
                '\\' => out.push_str("\\\\"),
                e => out.push(e),
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        Escaped(s).to_string()
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped_unambiguously() {
        assert_eq!(esc("orders.csv"), "orders.csv");
        assert_eq!(esc("a\nb"), "a\\nb");
        assert_eq!(esc("a\\nb"), "a\\\\nb", "a backslash and an n");
        assert_eq!(esc("\r\t\x1b[31m\x07\x7f"), "\\r\\t\\x1b[31m\\x07\\x7f");
        assert_eq!(esc("\u{9b}1m \u{2028}"), "\\u{9b}1m \\u{2028}");
        assert_eq!(esc("Zoë \"q\" 翔太"), "Zoë \"q\" 翔太");
    }

    #[test]
    fn json_strings_decode_to_the_text_escape() {
        let value = "a\nb\\c\x1b\"d\u{85}é";
        let line = serde_json::json!({"fields": {"message": value, "n": 3}}).to_string();
        let out = json_line(&line).unwrap();
        assert!(!out.contains('\u{85}'), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["fields"]["message"], esc(value));
        assert_eq!(back["fields"]["n"], 3);
        // Nothing to escape: the line is unchanged.
        let plain = r#"{"level":"INFO","fields":{"message":"a \"q\" / b"}}"#;
        assert_eq!(json_line(plain).unwrap(), plain);
        assert_eq!(json_line("{\"a\":\"\\"), None, "cut short");
    }
}
