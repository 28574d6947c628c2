//! The hand-written access-log matcher against the regex it stands for:
//! on real-world lines and on generated lines mutated byte by byte around
//! the pattern's delimiters (proptest), both agree on whether a record
//! matches and on every group's span. Test code only.

use ::regex::bytes::Regex;
use proptest::prelude::*;

use super::*;
use crate::format::regex::named::{APACHE_COMBINED, COMMON, NGINX_COMBINED};

fn regex(kind: Access) -> Regex {
    let p = match kind {
        Access::Nginx => NGINX_COMBINED,
        Access::Apache => APACHE_COMBINED,
        Access::Common => COMMON,
    };
    Regex::new(&format!(r"\A(?:{p})\z")).unwrap()
}

/// What the regex says: None, or each group's span in `GROUPS` order.
fn by_regex(re: &Regex, t: &[u8]) -> Option<Spans> {
    let caps = re.captures(t)?;
    Some(GROUPS.map(|g| caps.name(g).map(|m| (m.start(), m.end()))))
}

fn by_hand(kind: Access, t: &[u8]) -> Option<Spans> {
    let mut out = [None; 12];
    matches(kind, t, &mut out).then_some(out)
}

const KINDS: [Access; 3] = [Access::Nginx, Access::Apache, Access::Common];

#[test]
fn real_world_lines_agree() {
    let lines: [&[u8]; 9] = [
        br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
        br#"93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)""#,
        br#"2001:db8::7 - - [03/Dec/2026:07:30:58 +0100] "\x16\x03\x01\x00\xA5" 400 157 "-" "-""#,
        br#"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] "-" 400 0 "-" "-""#,
        br#"192.168.2.20 ident1 - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 304 - "-" "curl \"7.1\"""#,
        br#"10.0.0.1 - bob [03/Dec/2026:07:30:58 +0000] "POST /a?q=\x22x\x22 HTTP/2.0" 201 12 "https://e.example/" "Mozilla/5.0""#,
        br#"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] "GET /" 200 1 "-" "-""#,
        b"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] \"GET /a\\\"b HTTP/1.1 x\" 200 1 \"-\" \"caf\xe9\"",
    ];
    for kind in KINDS {
        let re = regex(kind);
        let mut matched = 0;
        for l in lines {
            let want = by_regex(&re, l);
            matched += usize::from(want.is_some());
            assert_eq!(
                by_hand(kind, l),
                want,
                "{kind:?}: {}",
                String::from_utf8_lossy(l)
            );
        }
        assert!(matched >= 1, "{kind:?} matched none");
    }
}

/// A line of the shape all three share, with parts that vary where the
/// patterns branch (`-`, escapes, request shapes).
fn line() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec!["-", "bob", "-x", "a-b", "1.2.3.4", "2001:db8::1", ""]);
    let request = prop::sample::select(vec![
        "GET / HTTP/1.1",
        "-",
        "",
        "GET /",
        "get / HTTP/1.1",
        "POST /a\\\"b HTTP/2.0",
        "GET /a b HTTP/1.1",
        "GET  /x HTTP/1.1",
        "\\x16\\x03",
        "PUT /x HTTP/",
        "GET /x HTTP/1.1 ",
        "GET /x\\",
        "A B C",
        "GET /x HTTPS/1",
    ]);
    let quoted = prop::sample::select(vec![
        "-",
        "",
        "x",
        "curl \\\"7\\\"",
        "a\\\\",
        "-\\\"",
        "Mozilla/5.0 (X11)",
    ]);
    let status = prop::sample::select(vec!["200", "20", "2000", "x00", "304"]);
    let bytes = prop::sample::select(vec!["0", "123", "-", "-1", "", "12a"]);
    (
        field.clone(),
        field.clone(),
        field,
        request,
        status,
        bytes,
        quoted.clone(),
        quoted,
        0u8..3,
    )
        .prop_map(|(addr, ident, user, req, status, bytes, r, ua, tail)| {
            let mut l = format!(
                "{addr} {ident} {user} [10/Oct/2000:13:55:36 -0700] \"{req}\" {status} {bytes}"
            );
            if tail > 0 {
                l.push_str(&format!(" \"{r}\" \"{ua}\""));
            }
            l.into_bytes()
        })
}

/// Replaces, inserts or deletes bytes from a set that matters to the pattern.
fn mutate(mut l: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    const BYTES: &[u8] = b" \"\\-[]\n\t0aAH/.";
    for &(at, what, b) in edits {
        let at = at % (l.len() + 1);
        let b = BYTES[b as usize % BYTES.len()];
        match what % 3 {
            0 if at < l.len() => l[at] = b,
            1 => l.insert(at, b),
            _ if at < l.len() => {
                l.remove(at);
            }
            _ => {}
        }
    }
    l
}

proptest! {
    #[test]
    fn prop_the_hand_matcher_is_the_regex(
        l in line(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    ) {
        let l = mutate(l, &edits);
        for kind in KINDS {
            let re = regex(kind);
            prop_assert_eq!(by_hand(kind, &l), by_regex(&re, &l), "{:?}: {:?}", kind, String::from_utf8_lossy(&l));
        }
    }
}
