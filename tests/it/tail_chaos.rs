//! Exactly once while tailing through chaos, with the real binary, the real
//! `logrotate` and a real SQLite file: a writer appends 300,000 JSON Lines
//! records at a steady rate while logrotate rotates the log 5 times with
//! `create` and 5 times with `copytruncate`, workers are SIGKILLed every
//! 0.2-0.4 s, and the supervisor is SIGKILLed once and started again. The
//! table must hold every record exactly once, and nothing else.
//!
//! `copytruncate` loses what is written between its copy and its
//! truncation (logrotate documents it): the writer pauses around those.
//! After a `create` rotation the writer goes on into the renamed file for
//! a moment before it reopens the log, as an application signalled by
//! `postrotate` does.

use std::time::{Duration, Instant};

use crate::support::chaos::{WorkerKiller, all_gone, kill_supervisor};
use crate::support::tail::{Held, Tail, Writer, missing};
use crate::support::*;

trials![
    every_record_lands_once_through_rotations_and_kills[Logrotate],
    rapid_rotations_with_immediate_compression_and_restarts[Logrotate],
];

const RECORDS: u64 = 300_000;
const PER_SECOND: u64 = 5_000;

fn every_record_lands_once_through_rotations_and_kills() {
    let t = Tail::new(
        "workers = 2\nbatch_rows = 500\nmax_batch_attempts = 100\n",
        "rotate_wait = \"2s\"\n",
    );
    let create = t.rotate_conf("create.conf", "create");
    let copy = t.rotate_conf("copy.conf", "copytruncate");
    let args = ["run", "--config", t.cfg()];
    let mut first = Daemon::start(&args, &t.path("first.log"));
    first.expect_log("worker ready", 2, Duration::from_secs(30));

    let mut writer = Writer::start(&t.log, RECORDS, PER_SECOND);
    // Ten rotations spread over the writing, alternating the two modes.
    let every = Duration::from_secs_f64(RECORDS as f64 / PER_SECOND as f64 / 11.0);
    let rotations = std::cell::Cell::new(0);
    let mut next = Instant::now() + every;
    let mut rotate = |w: &Writer| {
        if rotations.get() >= 10 || Instant::now() < next || w.done() {
            return;
        }
        next = Instant::now() + every;
        if rotations.get() % 2 == 0 {
            t.logrotate(&create);
            std::thread::sleep(Duration::from_millis(50));
            w.reopen();
        } else {
            w.pause();
            t.logrotate(&copy);
            w.resume();
        }
        rotations.set(rotations.get() + 1);
    };

    let mut killer = WorkerKiller::new(13);
    killer.until(&mut first, Duration::from_millis(20), |_| {
        rotate(&writer);
        writer.written.load(std::sync::atomic::Ordering::SeqCst) >= RECORDS * 2 / 5
    });
    let orphans = kill_supervisor(&mut first);
    assert!(
        all_gone(&orphans, Duration::from_secs(5)),
        "workers outlived their supervisor"
    );
    let midway = t.table().rows;
    let mut second = Daemon::start(&args, &t.path("second.log"));
    killer.until(&mut second, Duration::from_millis(20), |_| {
        rotate(&writer);
        writer.done() && rotations.get() >= 10
    });
    writer.join();
    assert_eq!(
        rotations.get(),
        10,
        "the writing ended before the rotations"
    );
    t.wait_rows(RECORDS, Duration::from_secs(120));
    // Settled: nothing more arrives.
    std::thread::sleep(Duration::from_secs(3));
    let got = t.table();
    eprintln!(
        "{} worker kills; supervisor killed at {midway} rows",
        killer.kills
    );
    assert!(killer.kills >= 6, "only {} worker kills", killer.kills);
    if got != Held::exactly(RECORDS) {
        panic!(
            "the table holds {got:?}, not each record once; missing: {:?}\n{}",
            missing(&t.db, RECORDS),
            second.log_text()
        );
    }
    let overlaps = sqlite_count(
        &t.db,
        "SELECT count(*) FROM ingestd_ledger a JOIN ingestd_ledger b ON a.source = b.source \
         AND a.start_off < b.start_off AND b.start_off < a.end_off",
    );
    assert_eq!(overlaps, 0, "a range committed twice");
    second.stop(Duration::from_secs(30));
}

/// Rotations faster than `rotate_wait`, each compressing the rotated file
/// at once (gzip deletes it: a reader still on it holds its last link), and
/// the supervisor SIGKILLed twice: every record once. The writer reopens
/// the log before it writes again, as `postrotate` makes an application
/// do: with `compress` and no `delaycompress`, what a writer appends to the
/// renamed file after gzip has read it exists nowhere once gzip deletes it
/// (ingestd still loads it when it is running, but not across a kill).
fn rapid_rotations_with_immediate_compression_and_restarts() {
    const N: u64 = 60_000;
    let t = Tail::new("batch_rows = 300\n", "rotate_wait = \"3s\"\n");
    let rotate = t.rotate_conf("gz.conf", "create\n    compress");
    let args = ["run", "--config", t.cfg()];
    let mut d = Daemon::start(&args, &t.path("d0.log"));
    d.expect_log("worker ready", 2, Duration::from_secs(30));
    let mut writer = Writer::start(&t.log, N, 6_000);
    let (mut rotations, mut kills) = (0, 0);
    while !writer.done() {
        std::thread::sleep(Duration::from_millis(300));
        writer.pause();
        t.logrotate(&rotate);
        writer.reopen();
        writer.resume();
        rotations += 1;
        if rotations % 12 == 0 && kills < 2 {
            kill_supervisor(&mut d);
            kills += 1;
            d = Daemon::start(&args, &t.path(&format!("d{kills}.log")));
        }
    }
    writer.join();
    assert_eq!(
        kills, 2,
        "the writing ended before the kills ({rotations} rotations)"
    );
    t.wait_rows(N, Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(2));
    let got = t.table();
    if got != Held::exactly(N) {
        panic!(
            "the table holds {got:?} after {rotations} rotations; missing: {:?}\n{}",
            missing(&t.db, N),
            d.log_text()
        );
    }
    d.stop(Duration::from_secs(30));
}
