//! The tail source into PostgreSQL over a real connection: a log rotated
//! by the real logrotate in both modes while it is written, the supervisor
//! SIGKILLed once and started again; the table holds each record once.

use std::time::{Duration, Instant};

use crate::support::chaos::kill_supervisor;
use crate::support::pg::Schema;
use crate::support::tail::{Held, JSONL, Tail, append};
use crate::support::*;

trials![a_rotating_log_reaches_postgresql_once[Pg, Logrotate]];

fn a_rotating_log_reaches_postgresql_once() {
    let mut db = Schema::new("tail");
    let t = Tail::on(
        &db.sink_toml(),
        "batch_rows = 200\n",
        "rotate_wait = \"1s\"\n",
        JSONL,
    );
    let create = t.rotate_conf("create.conf", "create\n    compress\n    delaycompress");
    let copy = t.rotate_conf("copy.conf", "copytruncate");
    let args = ["run", "--config", t.cfg()];
    let mut d = Daemon::start(&args, &t.path("first.log"));
    d.expect_log("ready", 1, Duration::from_secs(30));
    let mut n = 0;
    for round in 0..4 {
        append(&t.log, n, n + 3000);
        n += 3000;
        t.logrotate(if round % 2 == 0 { &create } else { &copy });
        append(&t.log, n, n + 500);
        n += 500;
        if round == 1 {
            kill_supervisor(&mut d);
            d = Daemon::start(&args, &t.path("second.log"));
        }
    }
    let t0 = Instant::now();
    let mut got = Held::pg(&mut db);
    while got.rows < n && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        got = Held::pg(&mut db);
    }
    assert_eq!(got, Held::exactly(n), "{}", d.log_text());
    d.stop(Duration::from_secs(30));
}
