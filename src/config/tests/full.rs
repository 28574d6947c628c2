//! The full configuration: every key set to a non-default value, compared
//! with the expected model as a whole.

use std::time::Duration;

use super::{Fixture, defaults_of};
use crate::config::*;
use crate::format::{ColumnSpec, ColumnType, CsvFormat, Format};

const FULL: &str = r##"[daemon]
state_dir = "var/state"
rescan_interval = 45
runtime_dir = "run"
drain_timeout = "2m"
progress_interval = "0s"
log_file = "log/ingestd.log"
metrics_listen = "127.0.0.1:9464"

[sinks.local]
kind = "sqlite"
path = "var/quickstart.db"
busy_timeout = "90s"
synchronous = "full"

[jobs.orders]
sink = "local"
table = "orders_raw"
workers = 4
in_flight = 3
batch_rows = 5000
batch_bytes = "2MiB"
max_record_bytes = 65536
create_table = true
reject_dir = "../rejects"
max_errors = 0
max_batch_attempts = 5

[jobs.orders.source]
kind = "dir"
path = "landing"
pattern = "*.csv"
on_done = "archive"
archive_dir = "./done"
settle = "500ms"

[jobs.orders.format]
kind = "csv"
header = false
delimiter = "tab"
quote = "'"
escape = "\\"
double_quote = false
comment = "#"
null = "NULL"
skip_lines = 2
trim = true

[[jobs.orders.columns]]
name = "id"
type = "BIGINT"
nullable = false

[[jobs.orders.columns]]
name = "amount"
type = "decimal(12, 2)"

[[jobs.orders.columns]]
name = "placed"
type = "timestamp"
format = "%d/%m/%Y %H:%M"

[jobs.feed]
sink = "local"

[jobs.feed.source]
kind = "stdin"
"##;

#[test]
fn full_config_every_key() {
    let fx = Fixture::new();
    let conf = fx.conf_dir();
    let config = fx.ok(FULL);
    let sink = Sink::Sqlite(SqliteSink {
        path: conf.join("var/quickstart.db"),
        busy_timeout: Duration::from_secs(90),
        synchronous: SqliteSynchronous::Full,
    });
    let orders = Job {
        name: "orders".into(),
        sink_name: "local".into(),
        sink: sink.clone(),
        table: "orders_raw".into(),
        workers: 4,
        in_flight: 3,
        batch_rows: 5000,
        batch_bytes: 2 << 20,
        max_record_bytes: 65536,
        create_table: true,
        // Lexical resolution keeps `..` as written.
        reject_dir: conf.join("../rejects"),
        max_errors: 0,
        max_batch_attempts: 5,
        batch_linger: Duration::from_millis(200),
        compression: Compression::Auto,
        source: Source::Dir(DirSource {
            path: conf.join("landing"),
            pattern: "*.csv".into(),
            on_done: OnDone::Archive,
            archive_dir: conf.join("done"),
            settle: Duration::from_millis(500),
        }),
        format: Format::Csv(CsvFormat {
            header: false,
            delimiter: b'\t',
            quote: b'\'',
            escape: Some(b'\\'),
            double_quote: false,
            comment: Some(b'#'),
            null: "NULL".into(),
            skip_lines: 2,
            trim: true,
        }),
        mode: WriteMode::Insert,
        columns: Some(vec![
            ColumnSpec {
                name: "id".into(),
                ty: ColumnType::BigInt,
                nullable: false,
                formats: Vec::new(),
                from: None,
                null_if: None,
                default: None,
                constant: None,
            },
            ColumnSpec {
                name: "amount".into(),
                ty: ColumnType::Decimal {
                    precision: 12,
                    scale: 2,
                },
                nullable: true,
                formats: Vec::new(),
                from: None,
                null_if: None,
                default: None,
                constant: None,
            },
            ColumnSpec {
                name: "placed".into(),
                ty: ColumnType::Timestamp,
                nullable: true,
                formats: vec!["%d/%m/%Y %H:%M".into()],
                from: None,
                null_if: None,
                default: None,
                constant: None,
            },
        ]),
    };
    let feed = Job {
        name: "feed".into(),
        sink_name: "local".into(),
        table: "feed".into(),
        reject_dir: conf.join("var/state/rejects/feed"),
        compression: Compression::Auto,
        source: Source::Stdin { name: None },
        format: Format::Csv(CsvFormat::default()),
        columns: None,
        ..defaults_of(&orders)
    };
    let expected = Config {
        file: fx.file(),
        daemon: Daemon {
            state_dir: conf.join("var/state"),
            rescan_interval: Duration::from_secs(45),
            runtime_dir: conf.join("run"),
            drain_timeout: Duration::from_secs(120),
            progress_interval: Duration::ZERO,
            log_file: Some(conf.join("log/ingestd.log")),
            metrics_listen: Some("127.0.0.1:9464".parse().unwrap()),
        },
        sinks: [("local".to_string(), sink)].into(),
        jobs: [("feed".to_string(), feed), ("orders".to_string(), orders)].into(),
    };
    assert_eq!(config, expected);
}
