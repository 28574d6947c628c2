//! JSON Pointers (RFC 6901) for JSON Lines columns: `from = "/user/id"`
//! parsed into reference tokens (`~1` is `/`, `~0` is `~`), and a token
//! path looked up inside a record's raw value.
//!
//! Owns the pointer syntax and the lookup. Must not check values (the record
//! was checked by `strict.rs` before any lookup) nor convert them.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

#[cfg(test)]
use super::strict::Member;

/// The tokens of a pointer: `""` is the whole record (no token), `"/a/b"`
/// is `["a", "b"]`; anything else not starting with `/` is refused.
pub fn parse(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "{pointer:?} is not a JSON Pointer: it must start with \"/\" (\"/user/id\")"
        ));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => out.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(format!(
                                "{pointer:?} is not a JSON Pointer: \"~\" must be followed by \
                                 0 (for \"~\") or 1 (for \"/\")"
                            ));
                        }
                    },
                }
            }
            Ok(out)
        })
        .collect()
}

/// The pointer of `tokens`, as written in a configuration.
pub fn show(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The value at `tokens` inside `raw` (a checked value), or `None` when
/// something on the way is missing, is not an object or array, or is an
/// array and the token not one of its indexes (`0`, `12`; never `-` or `01`).
pub(crate) fn find<'a>(raw: &'a RawValue, tokens: &[String]) -> Option<&'a RawValue> {
    tokens.iter().try_fold(raw, |at, token| step(at, token))
}

/// The value at `tokens` (at least one) in a record's members.
#[cfg(test)]
pub(crate) fn get<'a>(members: &[Member<'a>], tokens: &[String]) -> Option<&'a RawValue> {
    let (first, rest) = tokens.split_first()?;
    find(members.iter().find(|(k, _)| k == first)?.1, rest)
}

/// One level down from an object or array.
fn step<'a>(raw: &'a RawValue, token: &str) -> Option<&'a RawValue> {
    let text = raw.get();
    let mut de = serde_json::Deserializer::from_str(text);
    match text.as_bytes()[0] {
        b'{' => de.deserialize_map(Find { token }).ok()?,
        b'[' => {
            let digits = token.bytes().all(|b| b.is_ascii_digit());
            if token.is_empty() || !digits || (token.len() > 1 && token.starts_with('0')) {
                return None;
            }
            let index = token.parse().ok()?;
            de.deserialize_seq(Index { index }).ok()?
        }
        _ => None,
    }
}

/// The member of an object with this key (keys are unique: checked before).
struct Find<'t> {
    token: &'t str,
}

impl<'a> Visitor<'a> for Find<'_> {
    type Value = Option<&'a RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key_seed(super::strict::KeySeed)? {
            let value: &'a RawValue = map.next_value()?;
            if found.is_none() && key == self.token {
                found = Some(value);
            }
        }
        Ok(found)
    }
}

/// The element of an array at this index.
struct Index {
    index: usize,
}

impl<'a> Visitor<'a> for Index {
    type Value = Option<&'a RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut i = 0;
        while found.is_none() {
            match seq.next_element::<&'a RawValue>()? {
                Some(v) if i == self.index => found = Some(v),
                Some(_) => i += 1,
                None => return Ok(None),
            }
        }
        // The rest must be read for serde_json to see the array's end.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }
}
