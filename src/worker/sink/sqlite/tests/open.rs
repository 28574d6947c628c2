//! Tests of opening and closing the SQLite sink and of its table checks,
//! against real files in temp folders.

use crate::config::WriteMode;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;

use super::{batch, cfg, count, int, open, peek, select, text};
use crate::config::{self, SqliteSink, SqliteSynchronous};
use crate::format::fixtures::{V, col};
use crate::format::{ColumnSpec, ColumnType};
use crate::protocol::ErrorClass;
use crate::worker::sink::{self, Session, SinkError};

fn table_err(e: SinkError) -> (ErrorClass, String) {
    let class = e.class();
    match &e {
        SinkError::Table { .. } => (class, e.to_string()),
        other => panic!("expected a table error, got {other:?}"),
    }
}

#[test]
fn ensure_table_creates_each_type_and_checks_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let cols = [
        col("i", ColumnType::Int, false),
        col("b", ColumnType::BigInt, true),
        col(
            "d",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            false,
        ),
        col("f", ColumnType::Float, true),
        col("t", ColumnType::Text { max_chars: None }, true),
        col("v", ColumnType::Text { max_chars: Some(3) }, false),
        col("o", ColumnType::Bool, true),
        col("day", ColumnType::Date, true),
        col("at", ColumnType::Timestamp, true),
    ];
    let table = r#"we"ird table"#;
    sink.ensure_table(table, &cols, true, &WriteMode::Insert)
        .expect("create");
    sink.ensure_table(table, &cols, false, &WriteMode::Insert)
        .expect("exists now");
    let db = peek(&cfg);
    let info = select(
        &db,
        r#"SELECT name, type, "notnull" FROM pragma_table_info('we"ird table')"#,
    );
    let want = [
        ("i", "INTEGER", 1),
        ("b", "INTEGER", 0),
        ("d", "NUMERIC", 1),
        ("f", "REAL", 0),
        ("t", "TEXT", 0),
        ("v", "TEXT", 1),
        ("o", "INTEGER", 0),
        ("day", "TEXT", 0),
        ("at", "TEXT", 0),
    ];
    let want: Vec<Vec<Value>> = want
        .iter()
        .map(|(n, t, nn)| vec![text(n), text(t), int(*nn)])
        .collect();
    assert_eq!(info, want);

    // Missing table without create: a config error naming it and the way out.
    let (class, msg) = table_err(
        sink.ensure_table("absent", &cols, false, &WriteMode::Insert)
            .expect_err("missing"),
    );
    assert_eq!(class, ErrorClass::Config);
    assert!(
        msg.contains("absent") && msg.contains("create_table = true"),
        "{msg}"
    );

    // Existing table: names compare ignoring ASCII case; extra table columns are fine.
    db.execute_batch(r#"CREATE TABLE "Orders" (ID INTEGER, Name TEXT, extra TEXT)"#)
        .expect("create by hand");
    let two = [
        col("id", ColumnType::BigInt, false),
        ColumnSpec::text("NAME"),
    ];
    sink.ensure_table("orders", &two, false, &WriteMode::Insert)
        .expect("case-insensitive match");
    let four = [
        two[0].clone(),
        two[1].clone(),
        ColumnSpec::text("qty"),
        ColumnSpec::text("z"),
    ];
    let e = sink
        .ensure_table("orders", &four, true, &WriteMode::Insert)
        .expect_err("columns");
    assert!(matches!(e, SinkError::Columns { .. }), "{e}");
    let (class, msg) = (e.class(), e.to_string());
    assert_eq!(class, ErrorClass::Config);
    assert!(msg.contains("missing column(s) qty, z"), "{msg}");
    sink.close().expect("close");
}

#[test]
fn open_creates_folders_uses_wal_and_close_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(&dir.path().join("deep").join("er"), 1000);
    let mut sink = open(&cfg);
    let cols = [col("id", ColumnType::BigInt, false)];
    sink.ensure_table("t", &cols, true, &WriteMode::Insert)
        .expect("create");
    let b = batch(0, &[vec![V::I(1)], vec![V::I(2)]], 0);
    sink.write(&b.req("t", &cols, "s")).expect("write");
    sink.close().expect("close");

    let db = peek(&cfg);
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 2);
    let mut again = open(&cfg);
    assert_eq!(
        again
            .committed("orders", "t", "s")
            .expect("committed")
            .len(),
        1
    );
    again.close().expect("close");
}

#[test]
fn open_errors_are_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open_err = |path: &Path| {
        let cfg = SqliteSink {
            path: path.to_path_buf(),
            busy_timeout: Duration::from_millis(10),
            synchronous: SqliteSynchronous::Full,
        };
        let session = Session {
            job: "j".into(),
            worker: 1,
            pid: 1,
        };
        match sink::open(&config::Sink::Sqlite(cfg), &session) {
            Ok(_) => panic!("{} opened", path.display()),
            Err(e) => (e.class(), e.to_string()),
        }
    };
    // A folder where the file should be.
    let (class, msg) = open_err(dir.path());
    assert_eq!(class, ErrorClass::Config, "{msg}");
    // A file that is not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).expect("write junk");
    let (class, msg) = open_err(&junk);
    assert_eq!(class, ErrorClass::Config, "{msg}");
    assert!(msg.contains("SQLITE_NOTADB"), "{msg}");
    // A parent "folder" that is a file.
    let (class, msg) = open_err(&junk.join("db.sqlite"));
    assert_eq!(class, ErrorClass::Config, "{msg}");
    assert!(msg.contains("creating the folder"), "{msg}");
}
