//! What a TOML "duplicate key" error is about. The toml crate says only
//! "duplicate key" and where the second one is; this reads the document's
//! events again (`toml_parser`, the crate's own lexer and parser) to name the
//! whole key path, whether it is a table header or a key, and the line where
//! that path was first defined.
//!
//! Owns that lookup only; `error` words the message.

use std::collections::HashMap;
use std::ops::Range;

use toml_parser::Source;
use toml_parser::parser::{Event, EventKind};

use super::error::{line_col, push_key};

/// The key a duplicate-key error points at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The whole path, as `error::key_path` writes one (`jobs.a.columns[1].name`).
    pub path: String,
    /// The key itself (its last part).
    pub key: String,
    /// The table holding it (`jobs.a`), empty for the top level.
    pub table: String,
    /// It is a table header (`[sinks.local]`), not a key = value.
    pub header: bool,
    /// 1-based line where the same path was defined first.
    pub first_line: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Key(String),
    Index(usize),
}

fn render(path: &[Part]) -> String {
    let mut out = String::new();
    for p in path {
        match p {
            Part::Key(k) => push_key(&mut out, k),
            Part::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// An inline table or array being read, under the path it is the value of.
enum Nest {
    Table(Vec<Part>),
    Array(Vec<Part>, usize),
}

/// The key whose span starts at `at.start` in `text`; `None` when no key does.
pub(crate) fn find(text: &str, at: &Range<usize>) -> Option<Duplicate> {
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut events: Vec<Event> = Vec::with_capacity(tokens.len());
    toml_parser::parser::parse_document(&tokens, &mut events, &mut ());

    let mut table: Vec<Part> = Vec::new();
    // Keys of the header being read, and whether it is `[[...]]`.
    let mut header: Option<(Vec<Part>, bool)> = None;
    // The dotted parts of the key being read, and the last complete key.
    let mut keys: Vec<Part> = Vec::new();
    let mut assigned: Vec<Part> = Vec::new();
    let mut nest: Vec<Nest> = Vec::new();
    let mut arrays: HashMap<Vec<Part>, usize> = HashMap::new();
    // Every key seen: (path, in a header, where it starts).
    let mut seen: Vec<(Vec<Part>, bool, usize)> = Vec::new();

    let base = |table: &[Part], nest: &[Nest]| -> Vec<Part> {
        match nest.last() {
            None => table.to_vec(),
            Some(Nest::Table(p)) => p.clone(),
            Some(Nest::Array(p, i)) => [p.clone(), vec![Part::Index(*i)]].concat(),
        }
    };
    for ev in &events {
        match ev.kind() {
            EventKind::StdTableOpen | EventKind::ArrayTableOpen => {
                header = Some((Vec::new(), ev.kind() == EventKind::ArrayTableOpen));
            }
            EventKind::StdTableClose | EventKind::ArrayTableClose => {
                let (path, array) = header.take()?;
                table = path.clone();
                if array {
                    let n = arrays.entry(path).or_insert(0);
                    table.push(Part::Index(*n));
                    *n += 1;
                }
            }
            EventKind::SimpleKey => {
                let mut name = String::new();
                source.get(ev)?.decode_key(&mut name, &mut ());
                let start = ev.span().start();
                match &mut header {
                    Some((path, array)) => {
                        path.push(Part::Key(name));
                        seen.push((path.clone(), !*array, start));
                    }
                    None => {
                        keys.push(Part::Key(name));
                        let full = [base(&table, &nest), keys.clone()].concat();
                        seen.push((full, false, start));
                    }
                }
            }
            EventKind::KeyValSep => {
                assigned = [base(&table, &nest), std::mem::take(&mut keys)].concat();
            }
            EventKind::InlineTableOpen | EventKind::ArrayOpen => {
                let path = match nest.last() {
                    Some(Nest::Array(..)) => base(&table, &nest),
                    _ => assigned.clone(),
                };
                nest.push(match ev.kind() {
                    EventKind::ArrayOpen => Nest::Array(path, 0),
                    _ => Nest::Table(path),
                });
            }
            EventKind::InlineTableClose | EventKind::ArrayClose => {
                nest.pop();
            }
            EventKind::ValueSep => {
                if let Some(Nest::Array(_, i)) = nest.last_mut() {
                    *i += 1;
                }
            }
            _ => {}
        }
    }

    let (path, header, _) = seen.iter().find(|(_, _, s)| *s == at.start)?;
    let first_line = seen
        .iter()
        .find(|(p, _, s)| p == path && *s != at.start)
        .map(|(_, _, s)| line_col(text, *s).0);
    let (last, parent) = path.split_last()?;
    let key = match last {
        Part::Key(k) => render(&[Part::Key(k.clone())]),
        Part::Index(_) => return None,
    };
    Some(Duplicate {
        path: render(path),
        key,
        table: render(parent),
        header: *header,
        first_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str, second: &str) -> Duplicate {
        let start = text.rfind(second).unwrap();
        find(text, &(start..start + 1)).unwrap()
    }

    #[test]
    fn a_key_set_twice_in_a_table() {
        let text =
            "[daemon]\nx = 1\n\n[sinks.local]\nkind = \"sqlite\"\npath = \"a\"\npath = \"b\"\n";
        let d = dup(text, "path");
        assert_eq!(
            (d.path.as_str(), d.key.as_str(), d.table.as_str()),
            ("sinks.local.path", "path", "sinks.local")
        );
        assert_eq!((d.header, d.first_line), (false, Some(6)));
    }

    #[test]
    fn a_table_defined_twice_dotted_keys_and_arrays_of_tables() {
        let text = "[sinks.local]\nkind = \"x\"\n[sinks.local]\n";
        let d = dup(text, "local");
        assert_eq!(
            (d.path.as_str(), d.header, d.first_line),
            ("sinks.local", true, Some(1))
        );

        let text = "a = 1\n[b]\nc.d = 1\nc.d = 2\n";
        let d = dup(text, "d");
        assert_eq!(
            (d.path.as_str(), d.table.as_str(), d.first_line),
            ("b.c.d", "b.c", Some(3))
        );

        let text =
            "[[jobs.o.columns]]\nname = \"a\"\n[[jobs.o.columns]]\nname = \"b\"\nname = \"c\"\n";
        let d = dup(text, "name");
        assert_eq!(
            (d.path.as_str(), d.first_line),
            ("jobs.o.columns[1].name", Some(4))
        );

        let text = "x = { a = 1, \"b c\" = [1, { q = 1 }], \"b c\" = 2 }\n";
        let d = dup(text, "\"b c\"");
        assert_eq!(
            (d.path.as_str(), d.key.as_str(), d.first_line),
            ("x.\"b c\"", "\"b c\"", Some(1))
        );
    }
}
