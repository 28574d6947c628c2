//! What ingestd says, with the real binary: file names with control
//! characters escaped in text, JSON and journal logs and in the summary (no
//! forged line); an empty or blank file in a header job loaded with 0 rows;
//! a duplicate TOML key named with its table and first line; the set-aside
//! reason counting every rejected record; two loads racing on one file each
//! reporting what it loaded itself, the counts adding up.

use std::path::Path;

use serde_json::Value;

use crate::support::pg::Schema;
use crate::support::*;

trials![
    control_characters_in_file_names_are_escaped_in_every_log_format,
    an_empty_or_blank_file_in_a_header_job_is_loaded_with_no_rows,
    a_duplicate_toml_key_is_named_with_its_table_and_first_line,
    the_set_aside_reason_counts_the_records_rejected_after_the_stop,
    two_loads_racing_on_one_file_count_each_record_once_on_sqlite,
    two_loads_racing_on_one_file_count_each_record_once_on_postgres[Pg],
];

/// Nine good orders and one whose amount is no number, under `name`.
fn drop_with_a_reject(dir: &Path, name: &str) {
    let mut f = OrdersFile::create(&dir.join(name), 3);
    f.orders_with_bad(10, &[(5, "bad_decimal")], unparseable);
    f.finish();
}

/// A name that would start a line of its own, in a colour, if written as it is.
const EVIL: &str = "evil\n2026-01-01T00:00:00.000000Z ERROR forged\x1b[31m.csv";
const EVIL_SHOWN: &str = r"evil\n2026-01-01T00:00:00.000000Z ERROR forged\x1b[31m.csv";

fn control_characters_in_file_names_are_escaped_in_every_log_format() {
    // Text: a file with a reject and one whose header lacks the columns
    // (its reason quotes the header's fields, one with a BEL).
    let s = Setup::new("workers = 1\n", "", "");
    drop_with_a_reject(&s.landing, EVIL);
    std::fs::write(s.landing.join("odd\\.csv"), "id,\x07name\n1,x\n").unwrap();
    let ran = cli::run_once(&s.config).expect(3);
    assert!(!ran.output().contains('\x1b'), "{}", ran.output());
    for line in ran.stderr.lines().chain(ran.stdout.lines()) {
        assert!(!line.starts_with("2026-01-01"), "forged line: {line:?}");
    }
    assert!(
        ran.stderr.contains(&format!(
            "WARN file done with rejects job=orders file={EVIL_SHOWN} loaded=9 rejected=1"
        )),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stdout
            .contains(&format!("orders/{EVIL_SHOWN}: 9 rows loaded, 1 rejected, ")),
        "{}",
        ran.stdout
    );
    // A backslash is shown doubled: `odd\.csv` cannot be read as an escape.
    let odd = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("orders/odd"))
        .unwrap();
    assert!(odd.starts_with(r"orders/odd\\.csv: 0 rows loaded"), "{odd}");
    assert!(odd.contains(r"\x07name"), "{odd}");
    assert_eq!(ran.stdout.lines().count(), 3, "two files and the total");

    // JSON: every line parses, and no decoded value holds a control character.
    let s = Setup::new("workers = 1\n", "", "");
    drop_with_a_reject(&s.landing, EVIL);
    let ran = ingestd(["--log-format", "json", "run", "--once", "--config", s.cfg()])
        .run()
        .expect(3);
    let mut files = Vec::new();
    for line in ran.stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_no_control(&v, line);
        if let Some(f) = v["fields"]["file"].as_str() {
            files.push(f.to_string());
        }
    }
    assert!(files.iter().any(|f| f == EVIL_SHOWN), "{files:?}");

    // The journal: every line has its own priority; none is forged.
    let s = Setup::new("workers = 1\n", "", "");
    drop_with_a_reject(&s.landing, "evil\n<3>forged.csv");
    let ran = cli::ingestd(["run", "--once", "--config", s.cfg()])
        .journal_stderr()
        .run()
        .expect(3);
    for line in ran.stderr.lines() {
        let ok = ["<3>", "<4>", "<6>", "<7>"]
            .iter()
            .any(|p| line.starts_with(p));
        assert!(ok && !line.starts_with("<3>forged"), "{line:?}");
    }
    assert!(
        ran.stderr
            .contains(r"<4> WARN file done with rejects job=orders file=evil\n<3>forged.csv"),
        "{}",
        ran.stderr
    );
}

fn assert_no_control(v: &Value, line: &str) {
    match v {
        Value::String(s) => assert!(!s.chars().any(char::is_control), "{line}"),
        Value::Array(a) => a.iter().for_each(|v| assert_no_control(v, line)),
        Value::Object(o) => o.values().for_each(|v| assert_no_control(v, line)),
        _ => {}
    }
}

fn an_empty_or_blank_file_in_a_header_job_is_loaded_with_no_rows() {
    // Columns from each file's header.
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("in");
    std::fs::create_dir_all(&landing).unwrap();
    let config = dir.path().join("ingestd.toml");
    let text = format!(
        "{}{}\n[jobs.orders]\nsink = \"local\"\ncreate_table = true\nreject_dir = \"rejects\"\n\
         [jobs.orders.source]\nkind = \"dir\"\npath = \"in\"\npattern = \"*.csv\"\n\
         [jobs.orders.format]\nkind = \"csv\"\nheader = true\n",
        config::DAEMON,
        config::sink("local", "kind = \"sqlite\"\npath = \"out/target.db\""),
    );
    std::fs::write(&config, text).unwrap();
    std::fs::write(landing.join("empty.csv"), "").unwrap();
    std::fs::write(landing.join("blank.csv"), "\n\r\n\n").unwrap();
    std::fs::write(landing.join("good.csv"), "a,b\n1,2\n").unwrap();
    let ran = cli::run_once(&config).expect(0);
    for name in ["blank.csv", "empty.csv"] {
        let line = ran
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("orders/{name}: ")))
            .unwrap_or_else(|| panic!("{}", ran.output()));
        assert!(
            line.starts_with(&format!("orders/{name}: 0 rows loaded, 0 rejected, ")),
            "{line}"
        );
        assert!(line.ends_with(" s — loaded"), "{line}");
        assert!(
            ran.stderr.contains(&format!(
                "INFO no header line and no records (the file is empty or holds only blank or \
                 comment lines): nothing to load job=orders file={name}"
            )),
            "{}",
            ran.stderr
        );
        assert!(
            landing.join("archive").join(name).exists(),
            "archived as loaded"
        );
    }
    assert!(
        ran.stdout
            .contains("total: 3 files, 1 rows loaded, 0 rejected in ")
    );
    assert!(!dir.path().join("rejects").join("blank.csv").exists());
    assert_eq!(sqlite_rows(&dir.path().join("out/target.db"), "orders"), 1);
}

fn a_duplicate_toml_key_is_named_with_its_table_and_first_line() {
    let line_of = |text: &str, needle: &str, nth: usize| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| *l == needle)
            .nth(nth)
            .unwrap()
            .0
            + 1
    };
    // A key set twice in one table.
    let s = Setup::new("", "path = \"out/other.db\"", "");
    let text = std::fs::read_to_string(&s.config).unwrap();
    let (first, second) = (
        line_of(&text, "path = \"out/target.db\"", 0),
        line_of(&text, "path = \"out/other.db\"", 0),
    );
    let ran = cli::check(&s.config).expect(78);
    assert_eq!(
        ran.stderr,
        format!(
            "ingestd: {}:{second}:1: sinks.local.path: invalid TOML: duplicate key `path` in \
             table [sinks.local] (first on line {first}): keep one of them\n",
            s.cfg()
        )
    );
    cli::load(&s.config, "orders", &[&s.config]).expect(78);

    // A table defined twice, and a key twice in the second of an array of tables.
    let s = Setup::new("", "", "");
    s.edit(|t| format!("{t}\n[sinks.local]\nkind = \"sqlite\"\n"));
    let text = std::fs::read_to_string(&s.config).unwrap();
    let (first, second) = (
        line_of(&text, "[sinks.local]", 0),
        line_of(&text, "[sinks.local]", 1),
    );
    assert_eq!(
        cli::check(&s.config).expect(78).stderr,
        format!(
            "ingestd: {}:{second}:8: sinks.local: invalid TOML: table [sinks.local] is defined \
             twice (first on line {first}): merge the two into one\n",
            s.cfg()
        )
    );
    let s = Setup::new("", "", "");
    s.edit(|t| {
        t.replacen(
            "name = \"customer_id\"\n",
            "name = \"customer_id\"\nname = \"c\"\n",
            1,
        )
    });
    let text = std::fs::read_to_string(&s.config).unwrap();
    let first = line_of(&text, "name = \"customer_id\"", 0);
    assert_eq!(
        cli::check(&s.config).expect(78).stderr,
        format!(
            "ingestd: {}:{}:1: jobs.orders.columns[1].name: invalid TOML: duplicate key `name` \
             in table [jobs.orders.columns[1]] (first on line {first}): keep one of them\n",
            s.cfg(),
            first + 1
        )
    );
}

fn the_set_aside_reason_counts_the_records_rejected_after_the_stop() {
    // Every other record bad, 10 a batch, 8 batches in flight: the file is
    // stopped at its second answer, and the others are answered after.
    let s = Setup::new(
        "max_errors = 5\nbatch_rows = 10\nworkers = 2\nin_flight = 4\n",
        "",
        "",
    );
    let bad: Vec<(u64, &str)> = (1..=400)
        .filter(|i| i % 2 == 0)
        .map(|i| (i, "bad_decimal"))
        .collect();
    let mut f = OrdersFile::create(&s.landing.join("f.csv"), 4);
    f.orders_with_bad(400, &bad, unparseable);
    f.finish();
    let ran = cli::run_once(&s.config).expect(3);
    let notes = rejects::notes(&s.rejects.join("f.csv.bad.jsonl"));
    let (aside, records): (Vec<_>, Vec<_>) =
        notes.iter().partition(|n| n["code"] == "file_set_aside");
    let rejected = records.len();
    let reason = format!("{rejected} records rejected, more than max_errors = 5");
    assert_eq!(aside.len(), 1, "{notes:?}");
    assert_eq!(
        aside[0]["reason"],
        reason.as_str(),
        "the note beside the .rest"
    );
    let loaded = sqlite_rows(&s.db, "orders");
    let summary = format!("orders/f.csv: {loaded} rows loaded, {rejected} rejected, ");
    let line = ran.stdout.lines().find(|l| l.starts_with(&summary));
    let line = line.unwrap_or_else(|| panic!("{summary}\n{}", ran.output()));
    assert!(
        line.ends_with(&format!(" s — set aside: {reason}")),
        "{line}"
    );
    assert!(ran.stderr.contains(&format!(
        "WARN file set aside: {reason} job=orders file=f.csv"
    )));
    // What was said at the stop, with the count then.
    let stop = ran
        .stderr
        .lines()
        .find(|l| l.contains("stopping the file: "))
        .unwrap();
    let then: usize = stop
        .split("stopping the file: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        stop.contains(&format!(
            "{then} records rejected so far, more than max_errors = 5; the batches already \
             sent are answered before it is set aside job=orders file=f.csv"
        )),
        "{stop}"
    );
    assert!(
        then > 5 && rejected > then,
        "batches answered after the stop: {then} then, {rejected} in all"
    );
    let rest = csv::Reader::from_path(s.rejects.join("f.rest.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(loaded as usize + rejected + rest, 400);
}

/// Two `ingestd load` of one file at once, on `setup`'s job; `rows` counts
/// the target table. Each reports what it loaded itself and what the other
/// did; the two add up to the file, and the table holds each record once.
fn race(s: &Setup, mut rows: impl FnMut() -> u64) {
    const N: u64 = 40_000;
    let file = s.path("f.csv");
    write_orders(&file, N, 1, 5);
    let load = || {
        ingestd(["load", "--config", s.cfg(), "--job", "orders"])
            .arg(&file)
            .env("INGESTD_LOG", "info,ingestd::worker=debug")
            .run()
            .expect(0)
    };
    let (a, b) = std::thread::scope(|t| {
        let a = t.spawn(load);
        let b = t.spawn(load);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(
        format!("{}{}", a.stderr, b.stderr).contains("already=true"),
        "the two loads did not overlap: no batch found its range committed by the other"
    );
    // (loaded by itself, by the other), from its summary.
    let counts = |r: &Ran| -> (u64, u64) {
        let line = r.stdout.lines().find(|l| l.starts_with("orders/f.csv: "));
        let line = line.unwrap_or_else(|| panic!("{}", r.output()));
        let after = |tag: &str| {
            let t = line.split(tag).nth(1)?;
            t.split([' ', ')']).next()?.parse::<u64>().ok()
        };
        let own = after("orders/f.csv: ").unwrap();
        let other = if let Some(n) = after("already loaded by another run (") {
            assert!(
                line.starts_with("orders/f.csv: 0 rows loaded, 0 rejected, "),
                "{line}"
            );
            let end = format!(" s — already loaded by another run ({n} rows, 0 rejected): skipped");
            assert!(line.ends_with(&end), "{line}");
            n
        } else if let Some(n) = after(" rejected (and ") {
            let start = format!(
                "orders/f.csv: {own} rows loaded, 0 rejected (and {n} loaded, 0 rejected by \
                 another run), "
            );
            assert!(
                line.starts_with(&start) && line.ends_with(" s — loaded"),
                "{line}"
            );
            n
        } else {
            let start = format!("orders/f.csv: {own} rows loaded, 0 rejected, ");
            assert!(
                line.starts_with(&start) && line.ends_with(" s — loaded"),
                "{line}"
            );
            0
        };
        let total = format!("total: 1 files, {own} rows loaded, 0 rejected in ");
        assert!(r.stdout.contains(&total), "{}", r.stdout);
        (own, other)
    };
    let ((a_own, a_other), (b_own, b_other)) = (counts(&a), counts(&b));
    assert_eq!(
        a_own + b_own,
        N,
        "each record counted once:\n{}\n{}",
        a.stdout,
        b.stdout
    );
    assert_eq!(
        (a_other, b_other),
        (b_own, a_own),
        "each says what the other did"
    );
    assert_eq!(rows(), N);
}

fn two_loads_racing_on_one_file_count_each_record_once_on_sqlite() {
    let s = Setup::new(
        "workers = 2\nbatch_rows = 100\n",
        "synchronous = \"full\"",
        "",
    );
    race(&s, || sqlite_rows(&s.db, "orders"));
}

fn two_loads_racing_on_one_file_count_each_record_once_on_postgres() {
    let mut db = Schema::new("race");
    let job = "workers = 2\nbatch_rows = 100\ncreate_table = true\n";
    let s = Setup::on("pg", &db.sink_toml(), "orders", "orders", job, "");
    race(&s, || db.int("SELECT count(*) FROM orders") as u64);
}
