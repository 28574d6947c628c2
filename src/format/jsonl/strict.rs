//! Strict RFC 8259 reading of one JSON Lines record, with serde_json doing all
//! the JSON syntax: the line is one object whose members are kept as
//! `RawValue`s (so numbers keep their exact text), and every value is then
//! checked for what serde_json's skipping does not check: duplicate keys at
//! any depth, lone surrogates in `\u` escapes of strings it only skipped, and
//! nesting deeper than `MAX_DEPTH`. Objects and arrays come out as compact
//! JSON, strings unescaped.
//!
//! Owns what counts as a valid record and the reasons given for an invalid
//! one. Must not know about columns, layouts or rows (`parse.rs`), nor about
//! JSON Pointers (`pointer.rs`).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Objects and arrays nested deeper than this (the record itself is level 1)
/// are refused: checking a value costs its size times its depth, and this is
/// serde_json's own limit for what it builds.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a line is not a record, as a reject code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub code: &'static str,
    reason: String,
    /// Where in the record, innermost key or index first (empty: the
    /// record itself).
    pub path: Vec<String>,
}

impl Fail {
    fn new(code: &'static str, reason: String) -> Fail {
        Fail {
            code,
            reason,
            path: Vec::new(),
        }
    }

    /// The reason, saying where in the record (as a JSON Pointer) when
    /// inside a value.
    pub fn reason(&self) -> String {
        if self.path.is_empty() {
            return self.reason.clone();
        }
        // A deep path is cut: the byte position says where anyway.
        const SHOWN: usize = 12;
        let mut at = String::new();
        for token in self.path.iter().rev().take(SHOWN) {
            at.push('/');
            at.push_str(&token.replace('~', "~0").replace('/', "~1"));
        }
        if self.path.len() > SHOWN {
            at.push_str("/...");
        }
        format!("{} (at {at})", self.reason)
    }
}

/// A member of the record: its key (unescaped) and its value's exact text.
pub(crate) type Member<'a> = (Cow<'a, str>, &'a RawValue);

/// Reads `line` as one JSON object with no key twice, filling `members` in
/// the record's order. Values are syntax-checked only: pass each to `value`.
pub(crate) fn object<'a>(line: &'a [u8], members: &mut Vec<Member<'a>>) -> Result<&'a str, Fail> {
    let text = std::str::from_utf8(line).map_err(|e| {
        Fail::new(
            "bad_utf8",
            format!(
                "byte {} is not valid UTF-8: JSON text must be UTF-8 (RFC 8259 section 8.1)",
                e.valid_up_to() + 1
            ),
        )
    })?;
    object_str(text, members)
}

/// `object` for a line known to be UTF-8.
pub(crate) fn object_str<'a>(
    text: &'a str,
    members: &mut Vec<Member<'a>>,
) -> Result<&'a str, Fail> {
    members.clear();
    let first = text.trim_start_matches([' ', '\t', '\r', '\n']);
    if !first.starts_with('{') {
        // Checked as strictly as a record would be: an invalid line is
        // `bad_json`, whatever it starts with.
        let v = serde_json::from_str::<&RawValue>(text).map_err(|e| syntax(&e, 0))?;
        match walk(text, v.get(), 1, &mut String::new()) {
            Err(f) if f.code != "duplicate_key" => return Err(f),
            _ => {}
        }
        return Err(Fail::new(
            "not_object",
            format!(
                "the line is {}, not an object: each line must be one JSON object",
                kind(v.get())
            ),
        ));
    }
    let dup = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let got = de
        .deserialize_map(Top {
            members: &mut *members,
            dup: &dup,
        })
        .and_then(|()| de.end());
    got.map_err(|e| syntax(&e, 0))?;
    let Some(key) = dup.take() else {
        return Ok(text);
    };
    // Invalid JSON anywhere in the record is reported before a duplicate.
    let mut scratch = String::new();
    for (k, raw) in members.iter() {
        match value(text, raw, &mut scratch) {
            Err(mut f) if f.code != "duplicate_key" => {
                f.path.push(k.to_string());
                return Err(f);
            }
            _ => scratch.clear(),
        }
    }
    Err(Fail::new(
        "duplicate_key",
        format!("key {} appears twice in the record", quote(&key)),
    ))
}

/// What a JSON value is, for reasons: `an array`, `a number`.
pub(crate) fn kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A value of a record, checked, as a column receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Null,
    /// A number, `true` or `false` as written, or a string without escapes
    /// (its text between the quotes).
    Text(&'a str),
    /// A string with escapes (unescaped) or an object or array (compact
    /// JSON), at this range of the output buffer.
    Out(Range<usize>),
}

/// Checks one value strictly (see the module header); strings are
/// unescaped and objects and arrays written compactly at the end of `out`.
/// `line` is the record the value is in, so that reasons can say where.
pub(crate) fn value<'a>(
    line: &str,
    raw: &'a RawValue,
    out: &mut String,
) -> Result<Value<'a>, Fail> {
    let text = raw.get();
    match text.as_bytes()[0] {
        b'n' => Ok(Value::Null),
        b'"' if memchr::memchr(b'\\', text.as_bytes()).is_none() => {
            Ok(Value::Text(&text[1..text.len() - 1]))
        }
        b'"' => {
            let start = out.len();
            let s = unescape(line, text)?;
            out.push_str(&s);
            Ok(Value::Out(start..out.len()))
        }
        b'{' | b'[' => {
            let start = out.len();
            walk(line, text, 2, out)?;
            Ok(Value::Out(start..out.len()))
        }
        _ => Ok(Value::Text(text)),
    }
}

/// Appends `raw` (a member's value) to `out` as compact JSON.
pub(crate) fn compact(line: &str, raw: &RawValue, out: &mut String) -> Result<(), Fail> {
    walk(line, raw.get(), 2, out)
}

/// Walks the value `text` at nesting level `depth`: the first thing that
/// is not JSON stops it; a key found twice is reported only once the rest
/// of the value is known to be JSON.
fn walk(line: &str, text: &str, depth: usize, out: &mut String) -> Result<(), Fail> {
    let dup = RefCell::new(None);
    Walk {
        line,
        out,
        depth,
        dup: &dup,
    }
    .value(text)?;
    match dup.into_inner() {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// Appends `s` to `out` as a JSON string.
pub(crate) fn write_str(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON requires (quote, backslash and
    // control characters) and writes the rest as UTF-8.
    let mut buf = std::mem::take(out).into_bytes();
    serde_json::to_writer(&mut buf, s).expect("writing to a Vec cannot fail");
    *out = String::from_utf8(buf).expect("serde_json writes UTF-8");
}

/// The unescaped text of a string token.
fn unescape<'a>(line: &str, token: &'a str) -> Result<Cow<'a, str>, Fail> {
    let mut de = serde_json::Deserializer::from_str(token);
    de.deserialize_str(Text)
        .map_err(|e| syntax(&e, offset(line, token)))
}

/// Where `inner`, a slice of `line`, starts in it.
fn offset(line: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(line.as_ptr() as usize)
}

/// A serde_json error as a reason, its position counted in bytes from the
/// start of the line (`at` is where the text it parsed starts there).
fn syntax(e: &serde_json::Error, at: usize) -> Fail {
    // serde_json's message without its " at line L column C" (always line
    // 1 here, and the column is of the text it was given).
    let msg = e.to_string();
    let mut msg = match msg.rfind(" at line ") {
        Some(k) => &msg[..k],
        None => &msg,
    };
    // serde_json names a lone surrogate after what it expected next: say
    // what is wrong instead.
    if msg.contains("surrogate") || msg == "unexpected end of hex escape" {
        msg = "a lone surrogate in a \\u escape (\\uD800 to \\uDFFF only come in pairs)";
    } else if msg == "expected ident" {
        msg = "expected true, false or null";
    }
    let reason = match e.column() {
        0 => format!("not valid JSON: {msg}"),
        c => format!("not valid JSON: {msg} at byte {}", at + c),
    };
    Fail::new("bad_json", reason)
}

/// A key as quoted in a reason.
fn quote(key: &str) -> String {
    crate::format::show(key.as_bytes())
}

/// The record's members, values kept raw. A duplicate key is reported
/// through `dup` (the error serde carries back has no room for a code).
struct Top<'x, 'a> {
    members: &'x mut Vec<Member<'a>>,
    dup: &'x Cell<Option<String>>,
}

impl<'a> Visitor<'a> for Top<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: &'a RawValue = map.next_value()?;
            let earlier = self.members.iter().map(|m| m.0.as_ref());
            if seen.dup(earlier, self.members.len(), &key) {
                // Reported once the rest of the record is known to be JSON.
                let first = self.dup.take();
                self.dup.set(first.or_else(|| Some(key.to_string())));
            }
            self.members.push((key, value));
        }
        Ok(())
    }
}

/// Finds a key seen before in one object without copying keys: the earlier
/// keys are scanned while few, then their hashes kept in a set (a hash seen
/// before is confirmed by a scan, so a collision is never taken for a
/// duplicate).
#[derive(Default)]
struct Seen(HashSet<u64>);

impl Seen {
    const SCAN: usize = 16;

    /// Whether `key` is among `earlier` (the `n` keys before it); remembers it.
    fn dup<'k>(
        &mut self,
        earlier: impl Iterator<Item = &'k str> + Clone,
        n: usize,
        key: &str,
    ) -> bool {
        if n < Self::SCAN {
            return earlier.clone().any(|k| k == key);
        }
        if self.0.is_empty() {
            self.0.extend(earlier.clone().map(hash));
        }
        !self.0.insert(hash(key)) && earlier.clone().any(|k| k == key)
    }
}

fn hash(key: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // One fixed seed per process: the set is per object, and a seed that
    // input cannot guess keeps crafted collisions from costing scans.
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = SEED.get_or_init(Default::default).build_hasher();
    h.write(key.as_bytes());
    h.finish()
}

/// A key or string, borrowed from the line when it has no escapes.
pub(super) struct KeySeed;

impl<'a> DeserializeSeed<'a> for KeySeed {
    type Value = Cow<'a, str>;

    fn deserialize<D: de::Deserializer<'a>>(self, d: D) -> Result<Cow<'a, str>, D::Error> {
        d.deserialize_str(Text)
    }
}

struct Text;

impl<'a> Visitor<'a> for Text {
    type Value = Cow<'a, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'a str) -> Result<Cow<'a, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'a, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// Checks a value and writes it compactly: strings unescaped by serde_json
/// (which refuses lone surrogates) and written again, numbers and literals
/// as they are, objects and arrays member by member, each member's value
/// parsed again from its raw text (serde_json checked its syntax already).
struct Walk<'x> {
    line: &'x str,
    out: &'x mut String,
    /// Nesting level of the value being walked.
    depth: usize,
    /// The first key found twice, its path completed on the way back up.
    dup: &'x RefCell<Option<Fail>>,
}

impl Walk<'_> {
    fn value(&mut self, text: &str) -> Result<(), Fail> {
        match text.as_bytes()[0] {
            b'"' if memchr::memchr(b'\\', text.as_bytes()).is_some() => {
                let s = unescape(self.line, text)?;
                write_str(self.out, &s);
                Ok(())
            }
            open @ (b'{' | b'[') => {
                if self.depth > MAX_DEPTH {
                    return Err(Fail::new(
                        "too_deep",
                        format!(
                            "objects and arrays nest deeper than {MAX_DEPTH} levels at byte {}",
                            offset(self.line, text) + 1
                        ),
                    ));
                }
                let fail = RefCell::new(None);
                let mut de = serde_json::Deserializer::from_str(text);
                let inner = Nested {
                    line: self.line,
                    out: &mut *self.out,
                    depth: self.depth + 1,
                    fail: &fail,
                    dup: self.dup,
                };
                let got = match open {
                    b'{' => de.deserialize_map(inner),
                    _ => de.deserialize_seq(inner),
                };
                match (got, fail.into_inner()) {
                    (_, Some(f)) => Err(f),
                    (Err(e), None) => Err(syntax(&e, offset(self.line, text))),
                    (Ok(()), None) => Ok(()),
                }
            }
            _ => {
                self.out.push_str(text);
                Ok(())
            }
        }
    }
}

/// The members or elements of one object or array being walked; a failure
/// of a value inside is kept in `fail` (serde's error cannot carry it).
struct Nested<'x> {
    line: &'x str,
    out: &'x mut String,
    /// Level of the values inside.
    depth: usize,
    fail: &'x RefCell<Option<Fail>>,
    dup: &'x RefCell<Option<Fail>>,
}

impl Nested<'_> {
    /// Walks one member's value (`token` names it, for the failure's path).
    fn inner<E: de::Error>(&mut self, raw: &RawValue, token: impl Fn() -> String) -> Result<(), E> {
        let had = self.dup.borrow().is_some();
        let mut walk = Walk {
            line: self.line,
            out: self.out,
            depth: self.depth,
            dup: self.dup,
        };
        walk.value(raw.get()).map_err(|mut f| {
            f.path.push(token());
            *self.fail.borrow_mut() = Some(f);
            E::custom("invalid value")
        })?;
        if !had && let Some(d) = self.dup.borrow_mut().as_mut() {
            d.path.push(token());
        }
        Ok(())
    }
}

impl<'a> Visitor<'a> for Nested<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_map<A: MapAccess<'a>>(mut self, mut map: A) -> Result<(), A::Error> {
        let (mut seen, mut keys) = (Seen::default(), Vec::<Cow<'a, str>>::new());
        self.out.push('{');
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let raw: &'a RawValue = map.next_value()?;
            if seen.dup(keys.iter().map(|k| k.as_ref()), keys.len(), &key) {
                // Kept for when the rest is known to be JSON.
                let mut dup = self.dup.borrow_mut();
                if dup.is_none() {
                    *dup = Some(Fail::new(
                        "duplicate_key",
                        format!("key {} appears twice in one object", quote(&key)),
                    ));
                }
            }
            if !keys.is_empty() {
                self.out.push(',');
            }
            write_str(self.out, &key);
            self.out.push(':');
            self.inner(raw, || key.to_string())?;
            keys.push(key);
        }
        self.out.push('}');
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'a>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut n = 0usize;
        while let Some(raw) = seq.next_element::<&'a RawValue>()? {
            if n > 0 {
                self.out.push(',');
            }
            self.inner(raw, || n.to_string())?;
            n += 1;
        }
        self.out.push(']');
        Ok(())
    }
}
