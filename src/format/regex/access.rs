//! A hand-written matcher for the access-log patterns (`nginx_combined`,
//! `apache_combined`, `common`): the same answer as the regex of
//! `named.rs` (whether the record matches, and every group's span), found
//! in one pass without backtracking. The regex crate's capture engines
//! spend about 1.5 µs on such a line; this takes a small part of that,
//! which is what lets a log load keep up with a CSV load of the same fields.
//!
//! Owns nothing but that equivalence: the regex stays the definition (the
//! README documents it, and `tests` holds this matcher to it on generated
//! and mutated lines). Every step below is one piece of the pattern, and
//! each is deterministic there too: a `\S+` or `[0-9]+` run ends where the
//! next byte cannot continue it, a quoted field at its first unescaped `"`.

/// Which of the three patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Nginx,
    Apache,
    Common,
}

impl Access {
    pub fn of(named: &str) -> Option<Access> {
        Some(match named {
            "nginx_combined" => Access::Nginx,
            "apache_combined" => Access::Apache,
            "common" => Access::Common,
            _ => return None,
        })
    }
}

/// The groups, in the order `Spans` holds them.
pub(crate) const GROUPS: [&str; 12] = [
    "remote_addr",
    "ident",
    "remote_user",
    "time",
    "request",
    "method",
    "path",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
];

/// Each group's byte range in the record, `None` when it took no part.
pub(crate) type Spans = [Option<(usize, usize)>; 12];

/// Matches `t` whole, filling `out`; false (with `out` undefined) when the
/// regex would not match.
pub(crate) fn matches(kind: Access, t: &[u8], out: &mut Spans) -> bool {
    *out = [None; 12];
    let mut p = Cursor { t, i: 0 };
    // `(?P<remote_addr>\S+) `
    let Some(addr) = p.run(not_space) else {
        return false;
    };
    out[0] = Some(addr);
    if !p.byte(b' ') {
        return false;
    }
    // nginx: ` - `; the others: `(?:-|(?P<ident>\S+)) `
    match kind {
        Access::Nginx => {
            if !(p.byte(b'-') && p.byte(b' ')) {
                return false;
            }
        }
        _ => {
            let Some(ident) = p.dash_or_run(not_space) else {
                return false;
            };
            out[1] = ident;
            if !p.byte(b' ') {
                return false;
            }
        }
    }
    // `(?:-|(?P<remote_user>\S+)) \[(?P<time>[^\]]+)\] `
    let Some(user) = p.dash_or_run(not_space) else {
        return false;
    };
    out[2] = user;
    if !(p.byte(b' ') && p.byte(b'[')) {
        return false;
    }
    let Some(time) = p.run(|b| b != b']') else {
        return false;
    };
    out[3] = Some(time);
    if !(p.byte(b']') && p.byte(b' ')) {
        return false;
    }
    // The request: `"(?:-|(?P<request>...))"`, see `request`.
    if !request(&mut p, out) {
        return false;
    }
    // ` (?P<status>[0-9]{3}) `
    if !p.byte(b' ') {
        return false;
    }
    let s = p.i;
    for _ in 0..3 {
        if !p.class(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    out[8] = Some((s, p.i));
    if !p.byte(b' ') {
        return false;
    }
    // nginx: `(?P<bytes>[0-9]+)`; the others: `(?:-|(?P<bytes>[0-9]+))`
    let bytes = match kind {
        Access::Nginx => p.run(|b| b.is_ascii_digit()).map(Some),
        _ => p.dash_or_run(|b| b.is_ascii_digit()),
    };
    let Some(bytes) = bytes else {
        return false;
    };
    out[9] = bytes;
    if kind == Access::Common {
        return p.i == t.len();
    }
    // ` "(?:-|(?P<referer>Q))" "(?:-|(?P<user_agent>Q))"`
    for g in [10, 11] {
        if !(p.byte(b' ') && p.byte(b'"')) {
            return false;
        }
        let Some((s, e)) = p.quoted() else {
            return false;
        };
        out[g] = (&t[s..e] != b"-").then_some((s, e));
        p.i = e + 1;
    }
    p.i == t.len()
}

/// `"(?:-|(?P<request>(?P<method>[A-Z]+) (?P<path>(?:[^ "\\]|\\.)+)(?:
/// (?P<protocol>HTTP/[0-9.]+))?|Q))"`. Each alternative ends at the field's
/// first unescaped quote (none holds one), so the field is found first and
/// then told apart: `-` alone is no request; the method/path/protocol shape
/// is tried before the catch-all, as the regex tries it.
fn request(p: &mut Cursor<'_>, out: &mut Spans) -> bool {
    if !p.byte(b'"') {
        return false;
    }
    let Some((s, e)) = p.quoted() else {
        return false;
    };
    p.i = e + 1;
    let t = &p.t[..e];
    if &t[s..] == b"-" {
        return true;
    }
    out[4] = Some((s, e));
    let mut q = Cursor { t, i: s };
    let Some(method) = q.run(|b| b.is_ascii_uppercase()) else {
        return true;
    };
    if !q.byte(b' ') {
        return true;
    }
    let ps = q.i;
    while q.i < t.len() {
        match t[q.i] {
            b' ' | b'"' => break,
            b'\\' if q.i + 1 < t.len() && t[q.i + 1] != b'\n' => q.i += 2,
            b'\\' => return true,
            _ => q.i += 1,
        }
    }
    if q.i == ps {
        return true;
    }
    let path = (ps, q.i);
    let protocol = match q.i == t.len() {
        true => None,
        false => {
            if !b" HTTP/".iter().all(|&b| q.byte(b)) {
                return true;
            }
            let Some(v) = q.run(|b| b.is_ascii_digit() || b == b'.') else {
                return true;
            };
            if q.i != t.len() {
                return true;
            }
            Some((v.0 - 5, v.1))
        }
    };
    out[5] = Some(method);
    out[6] = Some(path);
    out[7] = protocol;
    true
}

/// `\S` with Unicode off: any byte but ASCII whitespace (`\t\n\v\f\r `).
fn not_space(b: u8) -> bool {
    !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

struct Cursor<'a> {
    t: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, b: u8) -> bool {
        let ok = self.t.get(self.i) == Some(&b);
        self.i += usize::from(ok);
        ok
    }

    fn class(&mut self, f: impl Fn(u8) -> bool) -> bool {
        let ok = self.t.get(self.i).is_some_and(|&b| f(b));
        self.i += usize::from(ok);
        ok
    }

    /// A run of one or more bytes of the class.
    fn run(&mut self, f: impl Fn(u8) -> bool) -> Option<(usize, usize)> {
        let s = self.i;
        while self.i < self.t.len() && f(self.t[self.i]) {
            self.i += 1;
        }
        (self.i > s).then_some((s, self.i))
    }

    /// `(?:-|(?P<g>C+))` followed by a byte outside the class: `Some(None)`
    /// for the `-`, `Some(Some(span))` for a run, `None` for neither. (A run
    /// `-x` is the group: the `-` alternative fails on the byte after it.)
    fn dash_or_run(&mut self, f: impl Fn(u8) -> bool) -> Option<Option<(usize, usize)>> {
        let span = self.run(&f);
        match span {
            Some((s, e)) if &self.t[s..e] == b"-" => Some(None),
            Some(span) => Some(Some(span)),
            // Only a `-` that the class does not hold (digits: `-` then
            // something else).
            None if self.byte(b'-') => Some(None),
            None => None,
        }
    }

    /// `(?:[^"\\]|\\.)*"` from here: the content's range, before its first
    /// unescaped quote (`.` is any byte but `\n`).
    fn quoted(&self) -> Option<(usize, usize)> {
        let (t, s) = (self.t, self.i);
        let mut i = s;
        while i < t.len() {
            match t[i] {
                b'"' => return Some((s, i)),
                b'\\' if i + 1 < t.len() && t[i + 1] != b'\n' => i += 2,
                b'\\' => return None,
                _ => i += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
