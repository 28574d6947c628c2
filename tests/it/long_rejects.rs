//! Answers too large for a frame, with the real binary on SQLite: a table
//! whose trigger refuses every row with a long message of its own (about
//! 1.7 kB naming the order), so that a batch's notes, or a file's ledger
//! answer, are together far over the 80 MiB frame limit (100,000 x 1.7 kB).
//! Before answers were bounded each of these made the worker die on its
//! answer, restart, get the same batch or question, and die again.
//!
//! Each test checks every record's note (line, code, reason), the ledger's
//! count, and that no worker died: no `worker died` or `worker ended` in
//! the log, one `worker started` per worker, and the restart metric at 0.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::rejects::notes;
use crate::support::*;

trials![
    a_batch_of_100000_refused_rows_is_100000_rejects_without_a_restart,
    a_ledger_answer_larger_than_a_frame_rebuilds_the_rejects_without_a_restart,
];

const ROWS: u64 = 100_000;
/// How many times the refusal repeats the order's id.
const REPEAT: usize = 250;

/// The orders table of `Setup::new`, made before the load, with a trigger
/// that refuses every row with `refusal`'s message.
fn refusing_table(db: &Path) {
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE orders (id INTEGER NOT NULL, customer_id INTEGER, customer_name TEXT, \
         amount NUMERIC, currency TEXT, created_at TEXT, status TEXT, note TEXT);
         CREATE TRIGGER refuse BEFORE INSERT ON orders BEGIN
           SELECT RAISE(ABORT, 'order ' || NEW.id || ' refused for ' || NEW.customer_name || ': '
             || replace(hex(zeroblob({REPEAT})), '00', NEW.id || ';'));
         END;"
    ))
    .unwrap();
}

/// The trigger's message for order `id` of customer `name`.
fn refusal(id: u64, name: &str) -> String {
    format!(
        "order {id} refused for {name}: {}",
        format!("{id};").repeat(REPEAT)
    )
}

/// An order of `refusal`'s kind and the physical line it starts on.
struct Order {
    id: u64,
    name: String,
    line: u64,
}

/// Writes `ROWS` orders to `path`; every 1000th customer name holds a line
/// break, so lines and records differ.
fn write_orders(path: &Path) -> Vec<Order> {
    let mut text = String::from(HEADER);
    let mut line = 2;
    let mut orders = Vec::new();
    for id in 1..=ROWS {
        let name = match id % 1000 {
            0 => format!("Name {id}\nsecond line"),
            _ => format!("Name {id}"),
        };
        text.push_str(&format!(
            "{id},{},\"{name}\",1.00,USD,2025-01-01T00:00:00,paid,\n",
            id % 977
        ));
        orders.push(Order {
            id,
            name: name.clone(),
            line,
        });
        line += 1 + name.matches('\n').count() as u64;
    }
    std::fs::write(path, text).unwrap();
    orders
}

/// Every order has its note, in order, with its own line and the trigger's
/// code; `reason` checks each note's reason against the order's refusal.
#[track_caller]
fn assert_notes(jsonl: &Path, orders: &[Order], reason: impl Fn(&str, &str)) {
    let notes = notes(jsonl);
    assert_eq!(notes.len(), orders.len(), "one note per record");
    let mut notes: Vec<&Value> = notes.iter().collect();
    notes.sort_by_key(|n| n["line"].as_u64());
    for (n, o) in notes.iter().zip(orders) {
        assert_eq!(n["line"], o.line, "{n}");
        assert_eq!(n["records"], 1, "{n}");
        assert_eq!(n["code"], "SQLITE_CONSTRAINT_TRIGGER", "{n}");
        reason(
            n["reason"].as_str().expect("a reason"),
            &refusal(o.id, &o.name),
        );
    }
}

/// No worker died or was started again in the run logged in `log`.
#[track_caller]
fn assert_no_restart(log: &str, workers: usize) {
    assert!(!log.contains("worker died"), "{log}");
    assert!(!log.contains("worker ended"), "{log}");
    assert_eq!(log.matches("worker started").count(), workers, "{log}");
}

/// `sum(rows_rejected)`, `sum(rows_loaded)`, rows and notes of the ledger.
fn ledger(db: &Path) -> [i64; 4] {
    [
        "SELECT sum(rows_rejected) FROM ingestd_ledger",
        "SELECT sum(rows_loaded) FROM ingestd_ledger",
        "SELECT count(*) FROM ingestd_ledger",
        "SELECT sum(json_array_length(rejects, '$.notes')) FROM ingestd_ledger",
    ]
    .map(|sql| sqlite_count(db, sql))
}

fn a_batch_of_100000_refused_rows_is_100000_rejects_without_a_restart() {
    let port = free_port();
    let s = Setup::new(
        "workers = 2\nbatch_rows = 100000\nbatch_bytes = \"64MiB\"\nmax_errors = 1000000\n",
        "",
        "on_done = \"keep\"",
    );
    s.edit(|t| {
        t.replace(
            "[daemon]\n",
            &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
        )
    });
    refusing_table(&s.db);
    let orders = write_orders(&s.landing.join("big.csv"));
    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("d.log"));
    d.expect_log("file done", 1, Duration::from_secs(600));
    let metrics = http_get(port, "/metrics");
    for want in [
        "ingestd_worker_restarts_total{job=\"orders\"} 0\n".to_string(),
        format!("ingestd_rows_rejected_total{{job=\"orders\"}} {ROWS}\n"),
        "ingestd_rows_loaded_total{job=\"orders\"} 0\n".to_string(),
    ] {
        assert!(metrics.contains(&want), "no {want:?} in:\n{metrics}");
    }
    d.stop(Duration::from_secs(60));
    let log = d.log_text();
    assert_no_restart(&log, 2);
    assert!(log.contains(&format!("rejected={ROWS}")), "{log}");

    let n = ROWS as i64;
    assert_eq!(
        ledger(&s.db),
        [n, 0, 1, n],
        "one batch, every record rejected"
    );
    assert_eq!(sqlite_count(&s.db, "SELECT count(*) FROM orders"), 0);
    let jsonl = s.rejects.join("big.csv.bad.jsonl");
    // 100,000 reasons of 1.7 kB are more than a batch carries: each is cut,
    // its start kept and its end saying how much went.
    let cut = |got: &str, whole: &str| {
        let (kept, marker) = got
            .rsplit_once('…')
            .unwrap_or_else(|| panic!("not cut: {got}"));
        assert!(whole.starts_with(kept) && kept.len() > 80, "{got}");
        let gone = format!("[{} bytes cut]", whole.len() - kept.len());
        assert_eq!(marker, gone, "{got}");
    };
    assert_notes(&jsonl, &orders, cut);
    let bad = std::fs::read(s.rejects.join("big.csv.bad")).unwrap();
    assert_eq!(bad, std::fs::read(s.landing.join("big.csv")).unwrap());

    // Started again, the daemon rebuilds the reject files from the ledger's
    // answer: the same notes, since the ledger row holds what was answered.
    let first = std::fs::read_to_string(&jsonl).unwrap();
    std::fs::remove_file(&jsonl).unwrap();
    let mut d = Daemon::start(&["run", "--once", "--config", s.cfg()], &s.path("d2.log"));
    d.wait_exit(Duration::from_secs(300))
        .expect("the second run ends");
    assert_no_restart(&d.log_text(), 2);
    let log = d.log_text();
    assert!(log.contains(&format!("rejected_before={ROWS}")), "{log}");
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap(), first);
    assert_eq!(ledger(&s.db), [n, 0, 1, n], "nothing written twice");
}

fn a_ledger_answer_larger_than_a_frame_rebuilds_the_rejects_without_a_restart() {
    // 100 batches of 1,000 notes: each answer is 1.7 MB, reasons whole; the
    // file's ledger answer is 170 MB, and comes in parts.
    let s = Setup::new(
        "workers = 2\nbatch_rows = 1000\nmax_errors = 1000000\n",
        "",
        "on_done = \"keep\"",
    );
    refusing_table(&s.db);
    let orders = write_orders(&s.landing.join("many.csv"));
    let mut d = Daemon::start(&["run", "--once", "--config", s.cfg()], &s.path("d.log"));
    let code = d
        .wait_exit(Duration::from_secs(600))
        .expect("the first run ends");
    assert_eq!(code, 3, "every record rejected:\n{}", d.log_text());
    assert_no_restart(&d.log_text(), 2);
    let n = ROWS as i64;
    assert_eq!(ledger(&s.db), [n, 0, 100, n]);
    let jsonl = s.rejects.join("many.csv.bad.jsonl");
    let whole = |got: &str, want: &str| assert_eq!(got, want);
    assert_notes(&jsonl, &orders, whole);

    std::fs::remove_file(&jsonl).unwrap();
    let mut d = Daemon::start(&["run", "--once", "--config", s.cfg()], &s.path("d2.log"));
    d.wait_exit(Duration::from_secs(300))
        .expect("the second run ends");
    let log = d.log_text();
    assert_no_restart(&log, 2);
    assert!(log.contains(&format!("rejected_before={ROWS}")), "{log}");
    assert_notes(&jsonl, &orders, whole);
    assert_eq!(ledger(&s.db), [n, 0, 100, n], "nothing written twice");
}
