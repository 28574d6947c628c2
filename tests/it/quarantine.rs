//! A batch that kills workers is quarantined instead of crash-looping: here
//! the test itself SIGKILLs every worker that is loading the one batch of a
//! file, until the supervisor gives up on the batch; its records then go to
//! the reject files with code `quarantined`, and nothing is loaded twice.

use std::time::{Duration, Instant};

use crate::support::rejects::notes;
use crate::support::*;

trials![a_batch_that_keeps_killing_workers_is_quarantined];

fn a_batch_that_keeps_killing_workers_is_quarantined() {
    let rows = 100_000;
    // One worker and one big batch, so the batch is being loaded whenever the
    // worker is killed a moment after it got ready.
    let s = Setup::new(
        "workers = 1\nbatch_rows = 1000000\nbatch_bytes = \"64MiB\"\nmax_batch_attempts = 2\nmax_errors = 1000000\n",
        "synchronous = \"full\"",
        "on_done = \"keep\"",
    );
    write_orders(&s.landing.join("one.csv"), rows, 1, 3);
    let cfg = s.config.to_str().unwrap();
    let mut d = Daemon::start(&["run", "--once", "--config", cfg], &s.path("d.log"));
    let t0 = Instant::now();
    let mut kills = 0;
    while !d.log_text().contains("quarantining a batch") {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no quarantine:\n{}",
            d.log_text()
        );
        let ready = d.log_text().matches("worker ready").count();
        if ready > kills {
            // The batch goes out as soon as the worker is ready.
            std::thread::sleep(Duration::from_millis(30));
            for w in children(d.pid()) {
                kill(w, 9);
            }
            kills += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = d.wait_exit(Duration::from_secs(60)).expect("run ends");
    assert_eq!(code, 3, "some records rejected:\n{}", d.log_text());
    assert_eq!(
        sqlite_count(&s.db, "SELECT count(*) FROM orders"),
        0,
        "none of the batch loaded"
    );
    let notes = notes(&s.rejects.join("one.csv.bad.jsonl"));
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0]["code"], "quarantined");
    assert_eq!(notes[0]["records"], rows);
    assert_eq!(notes[0]["line"], 2);
    // The .bad file holds the whole batch: the file minus nothing.
    let bad = std::fs::read(s.rejects.join("one.csv.bad")).unwrap();
    assert_eq!(bad, std::fs::read(s.landing.join("one.csv")).unwrap());
    assert_eq!(
        sqlite_count(&s.db, "SELECT sum(rows_rejected) FROM ingestd_ledger"),
        rows as i64,
        "the quarantine is in the ledger, so it is not retried on the next start"
    );
}
