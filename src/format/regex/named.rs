//! The ready-made patterns a job can name (`named = "nginx_combined"`)
//! instead of writing a regex: their text and group names. `logfmt` is named
//! here too, but it is not a regex (its keys are the fields): `logfmt.rs`.
//!
//! Owns the patterns only; compiling and matching them is `mod.rs`'s. Each
//! pattern starts with `(?-u)` so that it matches bytes, not only valid
//! UTF-8 (a log line with a Latin-1 byte still matches, and its text column
//! rejects the value with `bad_utf8`, naming the column). A `-` that stands
//! for "no value" in the log (an unknown user, no referer, no structured
//! data) leaves its group unmatched: the column gets its `default`, else NULL.

/// What a job's `named` can say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// A regex whose named groups are the fields.
    Regex(&'static str),
    /// `key=value` pairs (see `logfmt.rs`).
    Logfmt,
}

/// Every name with its pattern, in the order the README's table lists them.
pub const NAMES: [(&str, Named); 6] = [
    ("nginx_combined", Named::Regex(NGINX_COMBINED)),
    ("apache_combined", Named::Regex(APACHE_COMBINED)),
    ("common", Named::Regex(COMMON)),
    ("syslog_rfc3164", Named::Regex(SYSLOG_RFC3164)),
    ("syslog_rfc5424", Named::Regex(SYSLOG_RFC5424)),
    ("logfmt", Named::Logfmt),
];

/// The pattern of a name, if it is one.
pub fn lookup(name: &str) -> Option<Named> {
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, p)| p)
}

/// The names, for a message listing them.
pub fn names() -> String {
    NAMES.map(|(n, _)| n).join(", ")
}

// The pieces the access-log patterns share. A quoted field is everything up
// to the closing quote: nginx writes a `"` inside as `\x22`, Apache as `\"`,
// so a backslash escapes the next byte.
macro_rules! quoted {
    () => {
        r#"(?:[^"\\]|\\.)*"#
    };
}

// `"GET /path HTTP/1.1"`: the request, and its method, path and protocol when
// it has that shape (a scanner's binary junk or an HTTP/0.9 request has not:
// then only `request` is set). `"-"`: no request at all.
macro_rules! request {
    () => {
        concat!(
            r#""(?:-|(?P<request>(?P<method>[A-Z]+) (?P<path>(?:[^ "\\]|\\.)+)"#,
            r#"(?: (?P<protocol>HTTP/[0-9.]+))?|"#,
            quoted!(),
            r#"))""#
        )
    };
}

// Client, ident, user, `[time]`, request, status, bytes: Apache's common log
// format (`%h %l %u %t "%r" %>s %b`), where `%b` is `-` for no body.
macro_rules! common {
    () => {
        concat!(
            r#"(?-u)(?P<remote_addr>\S+) (?:-|(?P<ident>\S+)) (?:-|(?P<remote_user>\S+)) "#,
            r#"\[(?P<time>[^\]]+)\] "#,
            request!(),
            r#" (?P<status>[0-9]{3}) (?:-|(?P<bytes>[0-9]+))"#
        )
    };
}

// The referer and user agent that combined adds to common.
macro_rules! referer_agent {
    () => {
        concat!(
            r#" "(?:-|(?P<referer>"#,
            quoted!(),
            r#"))" "(?:-|(?P<user_agent>"#,
            quoted!(),
            r#"))""#
        )
    };
}

/// Apache's common log format.
pub const COMMON: &str = common!();

/// Apache's combined log format (`%h %l %u %t "%r" %>s %b "%{Referer}i"
/// "%{User-agent}i"`).
pub const APACHE_COMBINED: &str = concat!(common!(), referer_agent!());

/// nginx's predefined `combined` format (`$remote_addr - $remote_user
/// [$time_local] "$request" $status $body_bytes_sent "$http_referer"
/// "$http_user_agent"`): Apache's, with a literal `-` for ident and the byte
/// count always a number.
pub const NGINX_COMBINED: &str = concat!(
    r#"(?-u)(?P<remote_addr>\S+) - (?:-|(?P<remote_user>\S+)) "#,
    r#"\[(?P<time>[^\]]+)\] "#,
    request!(),
    r#" (?P<status>[0-9]{3}) (?P<bytes>[0-9]+)"#,
    referer_agent!()
);

/// BSD syslog (RFC 3164) as daemons send it (`<PRI>` first) and as syslogd
/// writes it to files (without): `Oct 11 22:14:15 host tag[pid]: message`.
/// The tag and pid are optional, as in the RFC's own examples; the timestamp
/// has no year (load it as text).
pub const SYSLOG_RFC3164: &str = concat!(
    r#"(?-u)(?:<(?P<pri>[0-9]{1,3})>)?"#,
    r#"(?P<timestamp>[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}) "#,
    r#"(?P<hostname>\S+) "#,
    r#"(?:(?P<app_name>[^:\[\s]+)(?:\[(?P<procid>[^\]\s]*)\])?: ?)?"#,
    r#"(?P<message>.*)"#
);

/// Syslog (RFC 5424): `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
/// STRUCTURED-DATA [MSG]`, each header field `-` (NILVALUE) when absent;
/// structured data is kept whole (`[id k="v"][id2 ...]`, with `\"`, `\\` and
/// `\]` escaped in values); a UTF-8 BOM before MSG is not part of it.
pub const SYSLOG_RFC5424: &str = concat!(
    r#"(?-u)<(?P<pri>[0-9]{1,3})>(?P<version>[1-9][0-9]{0,2}) "#,
    r#"(?:-|(?P<timestamp>\S+)) "#,
    r#"(?:-|(?P<hostname>\S{1,255})) "#,
    r#"(?:-|(?P<app_name>\S{1,48})) "#,
    r#"(?:-|(?P<procid>\S{1,128})) "#,
    r#"(?:-|(?P<msgid>\S{1,32})) "#,
    r#"(?:-|(?P<structured_data>(?:\[[^ =\]"]{1,32}(?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\.)*")*\])+))"#,
    r#"(?: (?:\xEF\xBB\xBF)?(?P<message>.*))?"#
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ::regex::bytes::Regex;

    use super::*;

    /// The groups a ready-made pattern sets on `line` (matched whole, as the
    /// format matches records), or None.
    fn groups(name: &str, line: &str) -> Option<BTreeMap<String, String>> {
        let Some(Named::Regex(p)) = lookup(name) else {
            panic!("{name} is not a regex");
        };
        let re = Regex::new(&format!(r"\A(?:{p})\z")).unwrap();
        let caps = re.captures(line.as_bytes())?;
        Some(
            re.capture_names()
                .flatten()
                .filter_map(|n| {
                    let v = caps.name(n)?;
                    Some((n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                })
                .collect(),
        )
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_name_compiles_and_lists_its_groups() {
        for (name, p) in NAMES {
            assert_eq!(lookup(name), Some(p));
            if let Named::Regex(p) = p {
                let re = Regex::new(p).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(re.capture_names().flatten().count() >= 5, "{name}");
            }
        }
        assert_eq!(lookup("nginx"), None);
        assert!(names().starts_with("nginx_combined, apache_combined"));
    }

    #[test]
    fn apache_documentation_samples() {
        // httpd.apache.org/docs/current/logs.html, common and combined.
        let common = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#;
        let want = map(&[
            ("remote_addr", "127.0.0.1"),
            ("remote_user", "frank"),
            ("time", "10/Oct/2000:13:55:36 -0700"),
            ("request", "GET /apache_pb.gif HTTP/1.0"),
            ("method", "GET"),
            ("path", "/apache_pb.gif"),
            ("protocol", "HTTP/1.0"),
            ("status", "200"),
            ("bytes", "2326"),
        ]);
        assert_eq!(groups("common", common), Some(want.clone()));
        let combined = format!(
            r#"{common} "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#
        );
        let mut want = want;
        want.insert("referer".into(), "http://www.example.com/start.html".into());
        want.insert(
            "user_agent".into(),
            "Mozilla/4.08 [en] (Win98; I ;Nav)".into(),
        );
        assert_eq!(groups("apache_combined", &combined), Some(want.clone()));
        assert_eq!(groups("nginx_combined", &combined), Some(want));
        // Combined is not common: the extra fields do not match.
        assert_eq!(groups("common", &combined), None);
        assert_eq!(groups("apache_combined", common), None);
    }

    #[test]
    fn apache_dashes_ident_and_escaped_quotes() {
        // `%b` is `-` for no body; `%l` may be set; Apache escapes `"` as `\"`.
        let line = r#"192.168.2.20 ident1 - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 304 - "-" "curl \"7.1\"""#;
        let g = groups("apache_combined", line).unwrap();
        assert_eq!(g.get("ident").map(String::as_str), Some("ident1"));
        assert_eq!(g.get("remote_user"), None);
        assert_eq!(g.get("bytes"), None);
        assert_eq!(g.get("referer"), None);
        assert_eq!(g["user_agent"], r#"curl \"7.1\""#);
        // nginx never writes an ident, nor `-` for the byte count.
        assert_eq!(groups("nginx_combined", line), None);
    }

    #[test]
    fn nginx_real_world_lines() {
        // From the nginx sample logs that circulate with log tooling.
        let l = r#"93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 "-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)""#;
        assert_eq!(
            groups("nginx_combined", l),
            Some(map(&[
                ("remote_addr", "93.180.71.3"),
                ("time", "17/May/2015:08:05:32 +0000"),
                ("request", "GET /downloads/product_1 HTTP/1.1"),
                ("method", "GET"),
                ("path", "/downloads/product_1"),
                ("protocol", "HTTP/1.1"),
                ("status", "304"),
                ("bytes", "0"),
                (
                    "user_agent",
                    "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"
                ),
            ]))
        );
        // A TLS handshake sent to a plain-HTTP port: nginx escapes the bytes.
        let l = r#"2001:db8::7 - - [03/Dec/2026:07:30:58 +0100] "\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03" 400 157 "-" "-""#;
        let g = groups("nginx_combined", l).unwrap();
        assert_eq!(g["remote_addr"], "2001:db8::7");
        assert_eq!(
            g["request"],
            r"\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03"
        );
        assert_eq!((g.get("method"), g.get("user_agent")), (None, None));
        // No request line at all, and a quote escaped by nginx.
        let l = r#"10.0.0.1 - - [03/Dec/2026:07:30:58 +0000] "-" 400 0 "-" "-""#;
        assert_eq!(groups("nginx_combined", l).unwrap().get("request"), None);
        let l = r#"10.0.0.1 - bob [03/Dec/2026:07:30:58 +0000] "POST /a?q=\x22x\x22 HTTP/2.0" 201 12 "https://e.example/" "Mozilla/5.0 (X11; Linux x86_64)""#;
        let g = groups("nginx_combined", l).unwrap();
        assert_eq!(
            (&*g["remote_user"], &*g["path"], &*g["protocol"]),
            ("bob", r"/a?q=\x22x\x22", "HTTP/2.0")
        );
        // Truncated, or with a field added after the user agent: no match.
        assert_eq!(groups("nginx_combined", &l[..l.len() - 1]), None);
        assert_eq!(groups("nginx_combined", &format!(r#"{l} "1.2.3.4""#)), None);
    }

    #[test]
    fn rfc3164_samples() {
        // RFC 3164 section 5.4, and lines as rsyslog writes them to files.
        let l = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
        assert_eq!(
            groups("syslog_rfc3164", l),
            Some(map(&[
                ("pri", "34"),
                ("timestamp", "Oct 11 22:14:15"),
                ("hostname", "mymachine"),
                ("app_name", "su"),
                ("message", "'su root' failed for lonvick on /dev/pts/8"),
            ]))
        );
        let g = groups(
            "syslog_rfc3164",
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        )
        .unwrap();
        assert_eq!(
            (&*g["timestamp"], &*g["hostname"], g.get("app_name")),
            ("Feb  5 17:32:18", "10.0.0.99", None)
        );
        assert_eq!(g["message"], "Use the BFG!");
        let l = "Dec  3 07:30:58 web1 sshd[41822]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2";
        let g = groups("syslog_rfc3164", l).unwrap();
        assert_eq!(g.get("pri"), None);
        assert_eq!((&*g["app_name"], &*g["procid"]), ("sshd", "41822"));
        assert_eq!(
            g["message"],
            "Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2"
        );
        let l = "Dec  3 07:31:01 web1 kernel: [12345.678901] eth0: link up";
        assert_eq!(
            groups("syslog_rfc3164", l).unwrap()["message"],
            "[12345.678901] eth0: link up"
        );
        // A month that is no month's shape, or no hostname: no match.
        assert_eq!(groups("syslog_rfc3164", "dec  3 07:31:01 web1 x"), None);
        assert_eq!(groups("syslog_rfc3164", "Dec  3 07:31:01"), None);
    }

    #[test]
    fn rfc5424_samples() {
        // RFC 5424 section 6.5, examples 1 to 4 (BOM written as its bytes).
        let g = groups(
            "syslog_rfc5424",
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        )
        .unwrap();
        assert_eq!(
            g,
            map(&[
                ("pri", "34"),
                ("version", "1"),
                ("timestamp", "2003-10-11T22:14:15.003Z"),
                ("hostname", "mymachine.example.com"),
                ("app_name", "su"),
                ("msgid", "ID47"),
                ("message", "'su root' failed for lonvick on /dev/pts/8"),
            ])
        );
        let g = groups(
            "syslog_rfc5424",
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        )
        .unwrap();
        assert_eq!(
            (&*g["procid"], g.get("msgid"), g.get("structured_data")),
            ("8710", None, None)
        );
        assert_eq!(g["message"], "%% It's time to make the do-nuts.");
        let sd = r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#;
        let g = groups(
            "syslog_rfc5424",
            &format!("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {sd} \u{feff}An application event log entry..."),
        )
        .unwrap();
        assert_eq!(g["structured_data"], sd);
        assert_eq!(g["message"], "An application event log entry...");
        let sd2 = format!(r#"{sd}[examplePriority@32473 class="high"]"#);
        let g = groups(
            "syslog_rfc5424",
            &format!("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 {sd2}"),
        )
        .unwrap();
        assert_eq!((&*g["structured_data"], g.get("message")), (&*sd2, None));
        // Every header field NIL; escapes inside a parameter value.
        let g = groups(
            "syslog_rfc5424",
            r#"<13>1 - - - - - [a@1 k="x \"y\" \] z"] m"#,
        )
        .unwrap();
        assert_eq!(g.get("timestamp"), None);
        assert_eq!(g["structured_data"], r#"[a@1 k="x \"y\" \] z"]"#);
        assert_eq!(g["message"], "m");
        // RFC 3164 is not RFC 5424; nor is a bad structured data element.
        assert_eq!(
            groups("syslog_rfc5424", "<34>Oct 11 22:14:15 mymachine su: x"),
            None
        );
        assert_eq!(
            groups("syslog_rfc5424", r#"<13>1 - - - - - [a@1 k="x"z] m"#),
            None
        );
    }

    #[test]
    fn bytes_outside_utf8_still_match() {
        let re = Regex::new(&format!(r"\A(?:{SYSLOG_RFC3164})\z")).unwrap();
        let line = b"Dec  3 07:30:58 h app: caf\xe9";
        let caps = re.captures(line).expect("a Latin-1 byte matches");
        assert_eq!(&caps["message"], b"caf\xe9");
    }
}
