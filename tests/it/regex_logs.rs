//! Log lines by regex with the real binary, into real SQLite files: a
//! generated nginx access log through `named = "nginx_combined"`, each value
//! compared with the test's own parse of the line (another regex); syslog
//! RFC 3164 and RFC 5424 samples with every group a column; logfmt; a Java
//! log whose stack traces are continuation lines, with a record past
//! `max_record_bytes`, records across the cutter's 1 MiB chunks and CRLF
//! lines. Lines that do not match are rejected at their line with
//! `no_match`, their bytes in `.bad`; the counts add up. Configuration
//! errors name the key.

use std::collections::HashMap;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use regex::Regex;

use crate::support::logs::{access_log, assert_same, java_log, line_job};
use crate::support::rejects::{lines_and_codes, notes};
use crate::support::*;

trials![
    nginx_access_log_loads_value_for_value,
    syslog_rfc3164_and_rfc5424,
    logfmt_keys_into_columns,
    java_stack_traces_are_one_record_each,
    regex_configuration_errors_name_the_key,
];

const SQLITE: &str = "kind = \"sqlite\"\npath = \"out/t.db\"";

const ACCESS_COLUMNS: &str = r#"
[[jobs.j.columns]]
name = "client"
type = "text"
from = "remote_addr"
nullable = false
[[jobs.j.columns]]
name = "remote_user"
type = "text"
[[jobs.j.columns]]
name = "time"
type = "timestamptz"
format = "%d/%b/%Y:%H:%M:%S %z"
[[jobs.j.columns]]
name = "method"
type = "text"
[[jobs.j.columns]]
name = "path"
type = "text"
[[jobs.j.columns]]
name = "protocol"
type = "text"
[[jobs.j.columns]]
name = "status"
type = "int"
[[jobs.j.columns]]
name = "bytes"
type = "bigint"
[[jobs.j.columns]]
name = "referer"
type = "text"
[[jobs.j.columns]]
name = "user_agent"
type = "text"
[[jobs.j.columns]]
name = "site"
type = "text"
constant = "shop"
"#;

/// What the test expects of one access log line, by its own reading.
#[derive(Debug, PartialEq)]
struct Access {
    client: String,
    user: Option<String>,
    time: String,
    method: String,
    path: String,
    protocol: String,
    status: i64,
    bytes: i64,
    referer: Option<String>,
    agent: String,
}

/// The test's own parse: a plainer regex than the product's (the generated
/// lines have no escaped quote), the time turned to UTC by hand.
fn expected(line: &str) -> Access {
    static RE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r#"^([^ ]+) - ([^ ]+) \[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)\] "([A-Z]+) ([^ ]+) ([^"]+)" (\d+) (\d+) "([^"]*)" "([^"]*)"$"#,
        )
        .unwrap()
    });
    let c = RE.captures(line).unwrap_or_else(|| panic!("{line}"));
    let n = |i: usize| c[i].parse::<i64>().unwrap();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == &c[4])
    .unwrap() as u32
        + 1;
    let local: NaiveDateTime = NaiveDate::from_ymd_opt(n(5) as i32, month, n(3) as u32)
        .unwrap()
        .and_hms_opt(n(6) as u32, n(7) as u32, n(8) as u32)
        .unwrap();
    let offset = (n(10) * 60 + n(11)) * if &c[9] == "-" { -1 } else { 1 };
    let utc = local - TimeDelta::minutes(offset);
    let dash = |i: usize| (&c[i] != "-").then(|| c[i].to_string());
    Access {
        client: c[1].into(),
        user: dash(2),
        time: format!("{}+00:00", utc.format("%Y-%m-%d %H:%M:%S")),
        method: c[12].into(),
        path: c[13].into(),
        protocol: c[14].into(),
        status: n(15),
        bytes: n(16),
        referer: dash(17),
        agent: c[18].into(),
    }
}

fn loaded(db: &Path) -> Vec<Access> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT client, remote_user, time, method, path, protocol, status, bytes, referer, \
             user_agent, site FROM t",
        )
        .unwrap();
    stmt.query_map([], |r| {
        assert_eq!(r.get::<_, String>(10)?, "shop");
        Ok(Access {
            client: r.get(0)?,
            user: r.get(1)?,
            time: r.get(2)?,
            method: r.get(3)?,
            path: r.get(4)?,
            protocol: r.get(5)?,
            status: r.get(6)?,
            bytes: r.get(7)?,
            referer: r.get(8)?,
            agent: r.get(9)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn nginx_access_log_loads_value_for_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = line_job(
        d,
        SQLITE,
        "*.log",
        "kind = \"regex\"\nnamed = \"nginx_combined\"",
        ACCESS_COLUMNS,
        "batch_rows = 700",
    );
    let mut lines = access_log(6000, 7);
    // Malformed lines at known places, and a blank one (skipped, counted).
    let good = lines[10].clone();
    let bad: Vec<(usize, String)> = vec![
        (100, good[..good.len() - 1].to_string()),
        (200, format!("{good} \"10.1.1.1\"")),
        (300, r#"10.0.0.9 - - [03/Dec/2026:07:30:58 +0000] "GET /bad/300 HTTP/1.1" 2x0 12 "-" "curl/8""#.into()),
        (400, "GET / HTTP/1.1".into()),
        (500, r#"10.0.0.9 - - 03/Dec/2026:07:30:58 +0000 "GET /bad/500 HTTP/1.1" 200 1 "-" "curl/8""#.into()),
        (600, r#"10.0.0.9 - - [03/Dec/2026:07:30:58 +0000] "GET /bad/600 HTTP/1.1" 200 1 "-" "Mozilla "quoted" x""#.into()),
    ];
    for (at, text) in &bad {
        lines.insert(at - 1, text.clone());
    }
    // An impossible date in a line of the right shape: the column says why.
    let feb =
        r#"10.0.0.9 - - [30/Feb/2024:10:00:00 +0000] "GET /bad/701 HTTP/1.1" 200 1 "-" "curl/8""#;
    lines[700] = feb.to_string();
    lines.insert(800, String::new());
    let text = lines.join("\n") + "\n";
    std::fs::write(d.join("in/access.log"), &text).unwrap();

    let ran = cli::run_once(&config).expect(3);
    let total = lines.iter().filter(|l| !l.is_empty()).count();
    let rejected = bad.len() + 1;
    assert!(
        ran.stdout.contains(&format!(
            "j/access.log: {} rows loaded, {rejected} rejected",
            total - rejected
        )),
        "{}",
        ran.output()
    );
    // Every loaded row is its line, value for value.
    let by_path: HashMap<String, Access> = loaded(&d.join("out/t.db"))
        .into_iter()
        .map(|a| (a.path.clone(), a))
        .collect();
    assert_eq!(by_path.len(), total - rejected);
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate() {
        if l.is_empty() || bad.iter().any(|(at, _)| *at == i + 1) || i == 700 {
            continue;
        }
        let want = expected(l);
        assert_eq!(by_path.get(&want.path), Some(&want), "line {}: {l}", i + 1);
        seen += 1;
    }
    assert_eq!(seen, total - rejected);
    // The rejects: each at its physical line, with its reason and bytes.
    let notes = notes(&d.join("rejects/access.log.bad.jsonl"));
    let mut want: Vec<(u64, String)> = bad
        .iter()
        .map(|(at, _)| (*at as u64, "no_match".to_string()))
        .collect();
    want.push((701, "bad_timestamp".into()));
    want.sort();
    assert_eq!(lines_and_codes(&notes), want);
    let feb_note = notes.iter().find(|n| n["line"] == 701).unwrap();
    assert_eq!(feb_note["column"], "time");
    let nomatch = notes.iter().find(|n| n["line"] == 100).unwrap();
    assert_eq!(
        nomatch["reason"],
        "the record does not match the pattern nginx_combined"
    );
    let bad_file = std::fs::read_to_string(d.join("rejects/access.log.bad")).unwrap();
    let mut got: Vec<&str> = bad_file.lines().collect();
    let mut want: Vec<&str> = bad.iter().map(|(_, t)| t.as_str()).collect();
    want.push(feb);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

fn syslog_rfc3164_and_rfc5424() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No columns: every group of the pattern is a text column.
    let config = line_job(
        d,
        SQLITE,
        "*.log",
        "kind = \"regex\"\nnamed = \"syslog_rfc5424\"",
        "",
        "",
    );
    let lines = [
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    ];
    std::fs::write(d.join("in/a.log"), lines.join("\r\n") + "\r\n").unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains("j/a.log: 3 rows loaded, 1 rejected"),
        "{}",
        ran.output()
    );
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    type Row = [Option<String>; 9];
    let rows: Vec<Row> = conn
        .prepare(
            "SELECT pri, version, timestamp, hostname, app_name, procid, msgid, structured_data, \
             message FROM t ORDER BY rowid",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(std::array::from_fn(|i| {
                r.get::<_, Option<String>>(i).unwrap()
            }))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let s = |v: &str| Some(v.to_string());
    let mut rows = rows;
    rows.sort_by(|a, b| a[2].cmp(&b[2]).then(a[8].cmp(&b[8])));
    assert_eq!(
        rows,
        vec![
            [
                s("165"),
                s("1"),
                s("2003-08-24T05:14:15.000003-07:00"),
                s("192.0.2.1"),
                s("myproc"),
                s("8710"),
                None,
                None,
                s("%% It's time to make the do-nuts.")
            ],
            [
                s("165"),
                s("1"),
                s("2003-10-11T22:14:15.003Z"),
                s("mymachine.example.com"),
                s("evntslog"),
                None,
                s("ID47"),
                s(
                    "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]"
                ),
                None
            ],
            [
                s("34"),
                s("1"),
                s("2003-10-11T22:14:15.003Z"),
                s("mymachine.example.com"),
                s("su"),
                None,
                s("ID47"),
                None,
                s("'su root' failed for lonvick on /dev/pts/8")
            ],
        ]
    );
    let first = notes(&d.join("rejects/a.log.bad.jsonl"));
    assert_eq!(lines_and_codes(&first), vec![(4, "no_match".into())]);

    // RFC 3164 into typed columns: the priority as a number, the rest text.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let columns = "[[jobs.j.columns]]\nname = \"pri\"\ntype = \"int\"\n\
        [[jobs.j.columns]]\nname = \"host\"\ntype = \"text\"\nfrom = \"hostname\"\n\
        [[jobs.j.columns]]\nname = \"app_name\"\ntype = \"text\"\n\
        [[jobs.j.columns]]\nname = \"procid\"\ntype = \"int\"\n\
        [[jobs.j.columns]]\nname = \"message\"\ntype = \"text\"\n";
    let config = line_job(
        d,
        SQLITE,
        "*.log",
        "kind = \"regex\"\nnamed = \"syslog_rfc3164\"",
        columns,
        "",
    );
    let lines = [
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
        "Dec  3 07:30:58 web1 sshd[41822]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2",
        "Dec  3 07:30:59 web1 sshd[x1]: pid not a number",
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 - x",
    ];
    std::fs::write(d.join("in/b.log"), lines.join("\n")).unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains("j/b.log: 3 rows loaded, 2 rejected"),
        "{}",
        ran.output()
    );
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    type Syslog = (Option<i64>, String, Option<String>, Option<i64>, String);
    let mut rows: Vec<Syslog> = conn
        .prepare("SELECT pri, host, app_name, procid, message FROM t")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            (
                None,
                "web1".into(),
                s("sshd"),
                Some(41822),
                "Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2".into()
            ),
            (
                Some(13),
                "10.0.0.99".into(),
                None,
                None,
                "Use the BFG!".into()
            ),
            (
                Some(34),
                "mymachine".into(),
                s("su"),
                None,
                "'su root' failed for lonvick on /dev/pts/8".into()
            ),
        ]
    );
    let notes = notes(&d.join("rejects/b.log.bad.jsonl"));
    assert_eq!(
        lines_and_codes(&notes),
        vec![(4, "bad_int".into()), (5, "no_match".into())]
    );
    assert_eq!(
        notes.iter().find(|n| n["line"] == 4).unwrap()["column"],
        "procid"
    );
}

fn logfmt_keys_into_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let columns = "[[jobs.j.columns]]\nname = \"at\"\ntype = \"timestamptz\"\nfrom = \"time\"\n\
        [[jobs.j.columns]]\nname = \"level\"\ntype = \"text\"\nnullable = false\n\
        [[jobs.j.columns]]\nname = \"msg\"\ntype = \"text\"\n\
        [[jobs.j.columns]]\nname = \"status\"\ntype = \"int\"\n\
        [[jobs.j.columns]]\nname = \"dyno\"\ntype = \"text\"\ndefault = \"none\"\n";
    let config = line_job(
        d,
        SQLITE,
        "*.log",
        "kind = \"regex\"\nnamed = \"logfmt\"",
        columns,
        "",
    );
    let lines = [
        r#"time=2026-12-03T07:30:58Z level=info msg="GET / \"ok\"" status=200 dyno=web.1 bytes=13"#,
        r#"time=2026-12-03T08:30:58+01:00 level=error msg="caf\u00e9\nsecond line" status=500"#,
        r#"time=2026-12-03T07:31:00Z level=warn level=info"#,
        r#"time=2026-12-03T07:31:01Z level=info msg="never closed"#,
        r#"time=2026-12-03T07:31:02Z msg=no-level"#,
        r#"time=2026-12-03T07:31:03Z level=debug status=abc"#,
    ];
    std::fs::write(d.join("in/app.log"), lines.join("\n") + "\n").unwrap();
    let ran = cli::run_once(&config).expect(3);
    assert!(
        ran.stdout.contains("j/app.log: 2 rows loaded, 4 rejected"),
        "{}",
        ran.output()
    );
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    let mut rows: Vec<(String, String, String, i64, String)> = conn
        .prepare("SELECT at, level, msg, status, dyno FROM t")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            (
                "2026-12-03 07:30:58+00:00".into(),
                "error".into(),
                "caf\u{e9}\nsecond line".into(),
                500,
                "none".into()
            ),
            (
                "2026-12-03 07:30:58+00:00".into(),
                "info".into(),
                "GET / \"ok\"".into(),
                200,
                "web.1".into()
            ),
        ]
    );
    let notes = notes(&d.join("rejects/app.log.bad.jsonl"));
    assert_eq!(
        lines_and_codes(&notes),
        vec![
            (3, "duplicate_key".into()),
            (4, "bad_logfmt".into()),
            (5, "not_null".into()),
            (6, "bad_int".into()),
        ]
    );
    let unclosed = notes.iter().find(|n| n["line"] == 4).unwrap();
    assert_eq!(
        unclosed["reason"],
        "not logfmt: the quote opened at byte 42 is never closed"
    );
}

const JAVA_FORMAT: &str = r#"kind = "regex"
pattern = '(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (?P<level>[A-Z]+) (?P<message>(?s:.*))'
continue = '^(\s|Caused by: |[a-z][\w.$]*(Exception|Error)\b)'"#;

fn java_stack_traces_are_one_record_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let columns = "[[jobs.j.columns]]\nname = \"time\"\ntype = \"text\"\n\
        [[jobs.j.columns]]\nname = \"level\"\ntype = \"text\"\n\
        [[jobs.j.columns]]\nname = \"message\"\ntype = \"text\"\n";
    let config = line_job(
        d,
        SQLITE,
        "*.log",
        JAVA_FORMAT,
        columns,
        "max_record_bytes = \"4KiB\"\nbatch_rows = 999",
    );
    // Over 1 MiB, so that records straddle the cutter's chunks; CRLF lines.
    let mut records = java_log(12_000, 3);
    // One stack trace past max_record_bytes: rejected whole.
    let huge = 5000;
    let mut long = records[huge].clone();
    for k in 0..200 {
        long.message
            .push_str(&format!("\n\tat com.example.Deep.frame{k}(Deep.java:{k})"));
    }
    records[huge] = long;
    let mut text = String::new();
    let mut first_line = Vec::new();
    let mut line = 1;
    for (i, r) in records.iter().enumerate() {
        first_line.push(line);
        let t = r.text("\r\n");
        line += t.matches('\n').count();
        text.push_str(&t);
        if i == 7000 {
            // A blank line, then a line that would continue: it starts a
            // record of its own, which does not match.
            text.push_str("\r\n\tat orphan.Frame(Orphan.java:1)\r\n");
            line += 2;
        }
    }
    assert!(text.len() > 2 << 20, "{} bytes", text.len());
    std::fs::write(d.join("in/app.log"), &text).unwrap();
    let ran = cli::run_once(&config).expect(3);
    let n = records.len();
    assert!(
        ran.stdout
            .contains(&format!("j/app.log: {} rows loaded, 2 rejected", n - 1)),
        "{}",
        ran.output()
    );
    let conn = rusqlite::Connection::open(d.join("out/t.db")).unwrap();
    let mut got: Vec<(String, String, String)> = conn
        .prepare("SELECT time, level, message FROM t ORDER BY time")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut want: Vec<(String, String, String)> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != huge)
        .map(|(_, r)| (r.time.clone(), r.level.clone(), r.message.clone()))
        .collect();
    got.sort();
    want.sort();
    assert_same(&got, &want);
    let notes = notes(&d.join("rejects/app.log.bad.jsonl"));
    assert_eq!(
        lines_and_codes(&notes),
        vec![
            (first_line[huge] as u64, "record_too_large".into()),
            (first_line[7001] as u64 - 1, "no_match".into()),
        ]
    );
    let big = notes
        .iter()
        .find(|n| n["code"] == "record_too_large")
        .unwrap();
    assert_eq!(
        big["len"],
        records[huge].text("\r\n").len() as u64,
        "the whole record"
    );
    let bad = std::fs::read_to_string(d.join("rejects/app.log.bad")).unwrap();
    assert!(
        bad.contains(&records[huge].text("\r\n")),
        "its bytes are in .bad"
    );
    assert!(bad.contains("\tat orphan.Frame(Orphan.java:1)\r\n"));
}

fn regex_configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&str, &str, &str); 6] = [
        (
            "named = \"nginx\"",
            "",
            "format.named: no ready-made pattern named \"nginx\" (there are: nginx_combined, apache_combined, common, syslog_rfc3164, syslog_rfc5424, logfmt)",
        ),
        (
            "pattern = '(?P<a>x'",
            "",
            "format.pattern: the pattern does not compile",
        ),
        (
            "pattern = '(?P<a>x)'\ncontinue = '('",
            "",
            "format.continue: the continue pattern does not compile",
        ),
        (
            "named = \"common\"",
            "[[jobs.j.columns]]\nname = \"agent\"\ntype = \"text\"\n",
            "columns: column \"agent\" takes group \"agent\", which the pattern does not have (groups: remote_addr, ident, remote_user, time, request, method, path, protocol, status, bytes)",
        ),
        (
            "named = \"logfmt\"",
            "",
            "named = \"logfmt\" needs [[jobs.j.columns]]",
        ),
        (
            "named = \"common\"\ndelimiter = \";\"",
            "",
            "format.delimiter: `delimiter` does not apply to kind = \"regex\"",
        ),
    ];
    for (format, columns, message) in cases {
        let config = line_job(
            d,
            SQLITE,
            "*.log",
            &format!("kind = \"regex\"\n{format}"),
            columns,
            "",
        );
        let ran = cli::check(&config).expect(78);
        assert!(ran.stderr.contains(message), "{format}: {}", ran.output());
        assert!(
            ran.stderr.contains("ingestd.toml:"),
            "file:line:column: {}",
            ran.output()
        );
    }
}
