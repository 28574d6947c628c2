//! One test per error kind, each asserting the exact `:line:column: key.path`
//! (the file name is checked by `Fixture::err`) and the message.
//!
//! `MINIMAL` is 10 lines; text appended to it starts on line 11, inside
//! `[jobs.orders.source]` unless a new table header comes first.

use std::fs;

use super::{Fixture, MINIMAL};

/// Asserts the error for `text` starts with `expected`.
fn assert_err(text: &str, expected: &str) {
    let got = Fixture::new().err(text);
    assert!(
        got.starts_with(expected),
        "\nexpected: {expected}\n     got: {got}"
    );
}

fn with_job_key(line: &str) -> String {
    MINIMAL.replace("sink = \"local\"\n", &format!("sink = \"local\"\n{line}\n"))
}

#[test]
fn unknown_key_at_top_level_and_in_daemon() {
    assert_err(
        &format!("{MINIMAL}[deamon]\n"),
        ":11:2: deamon: unknown key `deamon`, expected one of `daemon`, `sinks`, `jobs`",
    );
    assert_err(
        &format!("{MINIMAL}[daemon]\nstate = \"x\"\n"),
        ":12:1: daemon.state: unknown key `state`, expected one of `state_dir`, `rescan_interval`, ",
    );
}

#[test]
fn unknown_key_in_sink() {
    assert_err(
        &format!("{MINIMAL}[sinks.other]\nkind = \"sqlite\"\nfile = \"x.db\"\n"),
        ":13:1: sinks.other.file: unknown key `file`, expected one of `kind`, `path`, ",
    );
}

#[test]
fn unknown_key_in_job() {
    assert_err(
        &with_job_key("threads = 4"),
        ":7:1: jobs.orders.threads: unknown key `threads`, expected one of `sink`, ",
    );
}

#[test]
fn unknown_key_in_source() {
    assert_err(
        &format!("{MINIMAL}glob = \"*.csv\"\n"),
        ":11:1: jobs.orders.source.glob: unknown key `glob`, expected one of `kind`, `path`, ",
    );
}

#[test]
fn unknown_key_in_format() {
    assert_err(
        &format!("{MINIMAL}[jobs.orders.format]\nseparator = \";\"\n"),
        ":12:1: jobs.orders.format.separator: unknown key `separator`, expected one of ",
    );
}

#[test]
fn unknown_key_in_columns() {
    let text = format!(
        "{MINIMAL}[[jobs.orders.columns]]\nname = \"a\"\ntype = \"int\"\n\
         [[jobs.orders.columns]]\nname = \"b\"\ntype = \"int\"\nnull = true\n"
    );
    assert_err(
        &text,
        ":17:1: jobs.orders.columns[1].null: unknown key `null`, expected one of `name`, ",
    );
}

#[test]
fn key_of_another_kind() {
    let text = MINIMAL.replace(
        "kind = \"dir\"\npath = \"landing\"",
        "kind = \"stdin\"\npattern = \"*\"",
    );
    assert_err(
        &text,
        ":10:11: jobs.orders.source.pattern: key `pattern` is not valid for source kind `stdin` (only for kind `dir` or `tail`)",
    );
}

#[test]
fn wrong_type() {
    assert_err(
        &MINIMAL.replace("sink = \"local\"", "sink = [\"local\"]"),
        ":6:8: jobs.orders.sink: invalid type: sequence, expected a string",
    );
    assert_err(
        &with_job_key("workers = \"2\""),
        ":7:11: jobs.orders.workers: invalid type: string \"2\", expected an integer",
    );
    assert_err(
        &format!(
            "{MINIMAL}[[jobs.orders.columns]]\nname = \"a\"\ntype = \"int\"\nnullable = \"yes\"\n"
        ),
        ":14:12: jobs.orders.columns[0].nullable: invalid type: string \"yes\", expected a boolean",
    );
    assert_err(
        &MINIMAL.replace("kind = \"sqlite\"", "kind = \"mysql\""),
        ":2:8: sinks.local.kind: unknown value `mysql`, expected one of `sqlite`, `postgres`, `oracle`",
    );
}

#[test]
fn missing_required_keys() {
    assert_err(
        &MINIMAL.replace("sink = \"local\"\n", ""),
        ":5:1: jobs.orders: missing key `sink`",
    );
    assert_err(
        &MINIMAL.replace("path = \"db/test.db\"\n", ""),
        ":1:1: sinks.local: missing key `path`: a sqlite sink needs its database file",
    );
    assert_err(
        &MINIMAL.replace("path = \"landing\"\n", ""),
        ":8:1: jobs.orders.source: missing key `path`: a dir source needs the directory to read",
    );
}

#[test]
fn missing_sink() {
    assert_err(
        &MINIMAL.replace("sink = \"local\"", "sink = \"remote\""),
        ":6:8: jobs.orders.sink: no sink named \"remote\" (defined: local)",
    );
}

#[test]
fn no_jobs() {
    let sinks_only = &MINIMAL[..MINIMAL.find("[jobs").expect("jobs")];
    let fx = Fixture::new();
    assert_eq!(
        fx.err(sinks_only),
        ": jobs: no jobs defined: add at least one [jobs.NAME] table"
    );
}

#[test]
fn invalid_name() {
    assert_err(
        &MINIMAL.replace("[jobs.orders]", "[jobs.\"my orders\"]"),
        ":5:7: jobs.\"my orders\": invalid name \"my orders\": names may only use letters, digits, '_' and '-'",
    );
}

#[test]
fn bad_source_path() {
    let fx = Fixture::new();
    let missing = fx.conf_dir().join("missing");
    assert_eq!(
        fx.err(&MINIMAL.replace("\"landing\"", "\"missing\"")),
        format!(
            ":10:8: jobs.orders.source.path: bad path {}: no such directory",
            missing.display()
        )
    );
    let file = fx.conf_dir().join("a-file");
    fs::write(&file, "x").expect("write");
    assert_eq!(
        fx.err(&MINIMAL.replace("\"landing\"", "\"a-file\"")),
        format!(
            ":10:8: jobs.orders.source.path: bad path {}: not a directory",
            file.display()
        )
    );
}

#[test]
fn bad_output_paths() {
    let fx = Fixture::new();
    let db = fx.conf_dir().join("db");
    fs::create_dir(&db).expect("mkdir");
    let text = MINIMAL.replace("\"db/test.db\"", "\"db\"");
    assert_eq!(
        fx.err(&text),
        format!(
            ":3:8: sinks.local.path: bad path {}: is a directory, expected a file",
            db.display()
        )
    );
    let file = fx.conf_dir().join("a-file");
    fs::write(&file, "x").expect("write");
    assert_eq!(
        fx.err(&with_job_key("reject_dir = \"a-file/rejects\"")),
        format!(
            ":7:14: jobs.orders.reject_dir: bad path {}: cannot be created because {} is not a directory",
            file.join("rejects").display(),
            file.display()
        )
    );
    assert_err(
        &format!("{MINIMAL}archive_dir = \"./landing/\"\n"),
        ":11:15: jobs.orders.source.archive_dir: archive_dir is the source directory itself",
    );
    assert_err(
        &format!("{MINIMAL}archive_dir = \"~/done\"\n"),
        ":11:15: jobs.orders.source.archive_dir: `~` is not expanded here: write the full path",
    );
}

fn with_column(lines: &str) -> String {
    format!("{MINIMAL}[[jobs.orders.columns]]\n{lines}\n")
}

#[test]
fn bad_column_type() {
    assert_err(
        &with_column("name = \"a\"\ntype = \"string\""),
        ":13:8: jobs.orders.columns[0].type: unknown column type \"string\": expected int, bigint, ",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"int(4)\""),
        ":13:8: jobs.orders.columns[0].type: invalid column type \"int(4)\": int takes no parameters",
    );
}

#[test]
fn bad_decimal() {
    assert_err(
        &with_column("name = \"a\"\ntype = \"decimal(40,2)\""),
        ":13:8: jobs.orders.columns[0].type: invalid column type \"decimal(40,2)\": decimal precision must be 1..=38, got 40",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"numeric(3, 4)\""),
        ":13:8: jobs.orders.columns[0].type: invalid column type \"numeric(3, 4)\": decimal scale 4 is larger than precision 3",
    );
}

#[test]
fn format_on_a_non_date_column() {
    assert_err(
        &with_column("name = \"a\"\ntype = \"int\"\nformat = \"%Y\""),
        ":14:10: jobs.orders.columns[0].format: `format` only applies to date and timestamp columns, not \"int\"",
    );
}

#[test]
fn bad_date_format() {
    assert_err(
        &with_column("name = \"a\"\ntype = \"date\"\nformat = \"%d/%m/%\""),
        ":14:10: jobs.orders.columns[0].format: invalid date format \"%d/%m/%\": expected a chrono strftime format",
    );
}

#[test]
fn bad_column_names() {
    let text = with_column(
        "name = \"Amount\"\ntype = \"int\"\n[[jobs.orders.columns]]\nname = \"amount\"\ntype = \"text\"",
    );
    assert_err(
        &text,
        ":15:8: jobs.orders.columns[1].name: duplicate column name \"amount\": columns[0] already uses it (names are compared ignoring case)",
    );
    assert_err(
        &with_column("name = \"\"\ntype = \"int\""),
        ":12:8: jobs.orders.columns[0].name: empty column name",
    );
    assert_err(
        &format!("{MINIMAL}[jobs.orders.format]\n[jobs.orders.columns]\n"),
        ":12:1: jobs.orders.columns: invalid type: map, expected a sequence",
    );
}

#[test]
fn no_columns_without_header() {
    assert_err(
        &format!("{MINIMAL}[jobs.orders.format]\nheader = false\n"),
        ":12:10: jobs.orders.format.header: header = false needs [[jobs.orders.columns]]: without them, columns are named by each file's header",
    );
}

#[test]
fn bad_dialect_characters() {
    let format = |line: &str| format!("{MINIMAL}[jobs.orders.format]\n{line}\n");
    assert_err(
        &format("delimiter = \";;\""),
        ":12:13: jobs.orders.format.delimiter: invalid character \";;\": expected exactly one ASCII character",
    );
    assert_err(
        &format("comment = \"\\n\""),
        ":12:11: jobs.orders.format.comment: invalid character \"\\n\": a line break cannot be used here",
    );
    assert_err(
        &format("delimiter = \"'\"\nquote = \"'\""),
        ":13:9: jobs.orders.format.quote: `quote` is '\\'', the same as `delimiter`: each must be a different character",
    );
    assert_err(
        &format("escape = '\"'"),
        ":12:10: jobs.orders.format.escape: `escape` is '\"', the same as `quote` (its default): each must be a different character",
    );
}

#[test]
fn bad_duration() {
    assert_err(
        &format!("{MINIMAL}settle = \"2 sec\"\n"),
        ":11:10: jobs.orders.source.settle: invalid duration \"2 sec\": unknown unit \"sec\" (expected ms, s, m or h)",
    );
    assert_err(
        &format!("{MINIMAL}[daemon]\nrescan_interval = \"0s\"\n"),
        ":12:19: daemon.rescan_interval: must be longer than 0s",
    );
    assert_err(
        &format!("{MINIMAL}settle = -1\n"),
        ":11:10: jobs.orders.source.settle: invalid duration -1: must not be negative",
    );
}

#[test]
fn bad_size() {
    assert_err(
        &with_job_key("batch_bytes = \"4MB\""),
        ":7:15: jobs.orders.batch_bytes: invalid size \"4MB\": ambiguous unit \"MB\" (use KiB, MiB or GiB, powers of 1024)",
    );
    assert_err(
        &with_job_key("max_record_bytes = 8"),
        ":7:20: jobs.orders.max_record_bytes: must be between 16 bytes and 64MiB, got 8 bytes",
    );
    assert_err(
        &with_job_key("batch_bytes = \"128MiB\""),
        ":7:15: jobs.orders.batch_bytes: must be between 1KiB and 64MiB, got 128MiB",
    );
}

#[test]
fn numbers_out_of_range() {
    assert_err(
        &with_job_key("workers = 0"),
        ":7:11: jobs.orders.workers: must be between 1 and 64, got 0",
    );
    assert_err(
        &with_job_key("max_errors = -1"),
        ":7:14: jobs.orders.max_errors: must be at least 0, got -1",
    );
}

#[test]
fn bad_pattern() {
    assert_err(
        &format!("{MINIMAL}pattern = \"[a\"\n"),
        ":11:11: jobs.orders.source.pattern: invalid pattern \"[a\": ",
    );
    assert_err(
        &format!("{MINIMAL}pattern = \"sub/*.csv\"\n"),
        ":11:11: jobs.orders.source.pattern: invalid pattern \"sub/*.csv\": it is matched against file names",
    );
}

#[test]
fn toml_syntax_error() {
    assert_err(
        &MINIMAL.replace("sink = \"local\"", "sink = = \"local\""),
        ":6:8: invalid TOML: ",
    );
}

#[test]
fn upsert_needs_a_key_among_the_columns() {
    assert_err(
        &with_job_key("mode = \"upsert\""),
        ":7:8: jobs.orders.mode: mode = \"upsert\" needs `key`",
    );
    assert_err(
        &with_job_key("key = [\"id\"]"),
        ":7:7: jobs.orders.key: `key` is only for mode = \"upsert\"",
    );
    let cols = "[[jobs.orders.columns]]\nname = \"id\"\ntype = \"bigint\"\n";
    assert_err(
        &format!(
            "{}{cols}",
            with_job_key("mode = \"upsert\"\nkey = [\"ID\", \"nope\"]")
        ),
        ":8:14: jobs.orders.key: key column \"nope\" is not among the columns (id)",
    );
}

#[test]
fn upsert_key_takes_the_columns_spelling() {
    let cols = "[[jobs.orders.columns]]\nname = \"Id\"\ntype = \"bigint\"\n";
    let text = format!(
        "{}{cols}",
        with_job_key("mode = \"upsert\"\nkey = [\"id\"]")
    );
    let cfg = Fixture::new().ok(&text);
    assert_eq!(
        cfg.jobs["orders"].mode,
        crate::config::WriteMode::Upsert {
            key: vec!["Id".into()]
        }
    );
}

#[test]
fn daemon_keys() {
    assert_err(
        &format!("{MINIMAL}[daemon]\nmetrics_listen = \"localhost\"\n"),
        ":12:18: daemon.metrics_listen: \"localhost\" is not an address and port",
    );
    assert_err(
        &format!("{MINIMAL}[daemon]\ndrain_timeout = \"0s\"\n"),
        ":12:17: daemon.drain_timeout: must be longer than 0s",
    );
}

#[test]
fn column_options() {
    assert_err(
        &with_column("name = \"a\"\ntype = \"timestamptz\"\nformat = [\"%Y-%m-%d %H:%M\"]"),
        ":14:10: jobs.orders.columns[0].format: format \"%Y-%m-%d %H:%M\" reads no time zone offset",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"timestamp\"\nformat = \"%Y-%m-%d %H:%M %z\""),
        ":14:10: jobs.orders.columns[0].format: format \"%Y-%m-%d %H:%M %z\" reads a time zone offset, which a timestamp column cannot keep: use a timestamptz column",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"date\"\nformat = []"),
        ":14:10: jobs.orders.columns[0].format: empty format list",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"int\"\ndefault = \"x\""),
        ":14:11: jobs.orders.columns[0].default: a: \"x\" is not an int",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"int\"\nconstant = \"1\"\nfrom = \"b\""),
        ":14:12: jobs.orders.columns[0].constant: a column with a `constant` takes nothing from the record: remove `from`",
    );
    assert_err(
        &with_column("name = \"a\"\ntype = \"int\"\nfrom = \"\""),
        ":14:8: jobs.orders.columns[0].from: empty `from`",
    );
}
