//! logfmt records (`named = "logfmt"`): `key=value` pairs separated by
//! blanks, as written by Heroku's router, go-logfmt, logrus and slog's
//! `TextHandler`; the keys are the fields.
//!
//! Owns the syntax (go-logfmt's): a key is a run of bytes above space other
//! than `=` and `"`; a value is such a run or a double-quoted string with
//! JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`...: go-logfmt unquotes as
//! `encoding/json` does), unescaped with `serde_json` so the rules are
//! exactly JSON's; `key` alone and `key=` have an empty value. Anything
//! else (a stray `=` or `"`, an unclosed quote, a bad escape, a raw control
//! character inside quotes) makes the record malformed, with a reason naming
//! the byte position: nothing is guessed. Mapping keys to columns is the
//! caller's.

use std::borrow::Cow;

/// One `key=value` pair; `value` is unescaped only when it had escapes.
#[derive(Debug, PartialEq, Eq)]
pub struct Pair<'a> {
    pub key: &'a [u8],
    pub value: Cow<'a, [u8]>,
}

/// Why a record is not logfmt: the reason for its reject note.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// Calls `each` with every pair of `text`, in order; stops at the first
/// malformed byte (pairs before it have been given already: the caller
/// rejects the record as a whole).
pub fn pairs<'a>(
    text: &'a [u8],
    mut each: impl FnMut(Pair<'a>) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    let n = text.len();
    let mut i = 0;
    loop {
        while i < n && text[i] <= b' ' {
            i += 1;
        }
        if i == n {
            return Ok(());
        }
        let k = i;
        while i < n && ident(text[i]) {
            i += 1;
        }
        if i == k {
            return Err(unexpected(text, i, "where a key should start"));
        }
        let key = &text[k..i];
        if i == n || text[i] <= b' ' {
            each(Pair {
                key,
                value: Cow::Borrowed(&[]),
            })?;
            continue;
        }
        if text[i] != b'=' {
            return Err(unexpected(text, i, "in a key"));
        }
        i += 1;
        let value = if i < n && text[i] == b'"' {
            let (value, end) = quoted(text, i)?;
            i = end;
            value
        } else {
            let v = i;
            while i < n && ident(text[i]) {
                i += 1;
            }
            Cow::Borrowed(&text[v..i])
        };
        if i < n && text[i] > b' ' {
            return Err(unexpected(text, i, "after a value"));
        }
        each(Pair { key, value })?;
    }
}

fn ident(b: u8) -> bool {
    b > b' ' && b != b'=' && b != b'"'
}

fn unexpected(text: &[u8], i: usize, at: &str) -> Malformed {
    Malformed(format!(
        "not logfmt: unexpected {} at byte {} {at}",
        crate::format::show(&text[i..i + 1]),
        i + 1
    ))
}

/// The quoted string opening at `text[open]`: its value and the offset past
/// its closing quote.
fn quoted(text: &[u8], open: usize) -> Result<(Cow<'_, [u8]>, usize), Malformed> {
    let mut i = open + 1;
    let mut escaped = false;
    while i < text.len() {
        match text[i] {
            b'\\' => {
                escaped = true;
                i += 1;
            }
            // JSON's rule, which go-logfmt's writer keeps by escaping them.
            c if c < b' ' => {
                return Err(Malformed(format!(
                    "not logfmt: a control character {} at byte {} inside a quoted value",
                    crate::format::show(&[c]),
                    i + 1
                )));
            }
            b'"' => {
                let whole = &text[open..=i];
                if !escaped {
                    return Ok((Cow::Borrowed(&whole[1..whole.len() - 1]), i + 1));
                }
                return match serde_json::from_slice::<String>(whole) {
                    Ok(s) => Ok((Cow::Owned(s.into_bytes()), i + 1)),
                    Err(e) => Err(Malformed(format!(
                        "not logfmt: the quoted value at byte {} is not a valid quoted string ({e})",
                        open + 1
                    ))),
                };
            }
            _ => {}
        }
        i += 1;
    }
    Err(Malformed(format!(
        "not logfmt: the quote opened at byte {} is never closed",
        open + 1
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        pairs(text.as_bytes(), |p| {
            out.push((
                String::from_utf8(p.key.to_vec()).unwrap(),
                String::from_utf8(p.value.into_owned()).unwrap(),
            ));
            Ok(())
        })
        .map_err(|Malformed(m)| m)?;
        Ok(out)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn real_world_lines() {
        // Heroku's router.
        let l = r#"at=info method=GET path="/" host=myapp.herokuapp.com request_id=8601b555-6a83-4c12-8269-97c8e32cdb22 fwd="204.204.204.204" dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https"#;
        let got = all(l).unwrap();
        assert_eq!(got.len(), 12);
        assert_eq!(got[2], ("path".into(), "/".into()));
        assert_eq!(got[5], ("fwd".into(), "204.204.204.204".into()));
        // slog's TextHandler (Go), with escapes in a quoted value.
        let l = r#"time=2026-12-03T07:30:58.123+01:00 level=ERROR msg="open \"/etc/x\": denied\n" err="exit status 1" count=3"#;
        assert_eq!(
            all(l).unwrap(),
            kv(&[
                ("time", "2026-12-03T07:30:58.123+01:00"),
                ("level", "ERROR"),
                ("msg", "open \"/etc/x\": denied\n"),
                ("err", "exit status 1"),
                ("count", "3"),
            ])
        );
        // logrus, with a bare key, an empty value and unicode escapes.
        let l = "level=warning msg=\"caf\\u00e9 \\ud83d\\ude00\" debug empty= \tk=v ";
        assert_eq!(
            all(l).unwrap(),
            kv(&[
                ("level", "warning"),
                ("msg", "caf\u{e9} \u{1f600}"),
                ("debug", ""),
                ("empty", ""),
                ("k", "v"),
            ])
        );
        assert_eq!(all("").unwrap(), vec![]);
        assert_eq!(all(r#"a="""#).unwrap(), kv(&[("a", "")]));
    }

    #[test]
    fn malformed_lines_say_where() {
        let bad = |l: &str| all(l).unwrap_err();
        assert_eq!(
            bad("a=1 =2"),
            "not logfmt: unexpected \"=\" at byte 5 where a key should start"
        );
        assert_eq!(
            bad("a=b=c"),
            "not logfmt: unexpected \"=\" at byte 4 after a value"
        );
        assert_eq!(
            bad(r#"a"b=1"#),
            "not logfmt: unexpected \"\\\"\" at byte 2 in a key"
        );
        assert_eq!(
            bad(r#"a="x"y"#),
            "not logfmt: unexpected \"y\" at byte 6 after a value"
        );
        assert_eq!(
            bad(r#"k=v msg="open"#),
            "not logfmt: the quote opened at byte 9 is never closed"
        );
        // JSON's rules: no unknown escape, no lone surrogate.
        assert!(bad(r#"m="a\qb""#).contains("at byte 3 is not a valid quoted string"));
        assert!(bad(r#"m="\ud800""#).contains("not a valid quoted string"));
        assert_eq!(
            bad("m=\"a\tb\""),
            "not logfmt: a control character \"\\t\" at byte 5 inside a quoted value"
        );
    }

    #[test]
    fn values_without_escapes_are_not_copied() {
        let text = br#"a=1 b="two words""#;
        let mut borrowed = 0;
        pairs(text, |p| {
            borrowed += usize::from(matches!(p.value, Cow::Borrowed(_)));
            Ok(())
        })
        .unwrap();
        assert_eq!(borrowed, 2);
    }
}
