//! The NATS JetStream source through chaos, with the real binary, a real
//! `nats-server` of the test's own and real PostgreSQL: three daemons
//! (separate state and reject folders, one configuration otherwise) share
//! the durable pull consumer `ingestd` of stream `EVENTS` and load into one
//! schema while 300,000 messages are published at 5,000 a second; a third
//! of the way in one daemon is SIGKILLed (supervisor and workers) and not
//! started again, so what it had been delivered and not acked comes back to
//! the others after `ack_wait`; the workers of the other two are SIGKILLed
//! every 0.2-0.4 s; at three fifths the server is SIGKILLed and started
//! again on its port and store. Afterwards the table holds every record
//! exactly once (count, distinct ids, every body compared with what was
//! published), nothing outside them, nothing was rejected, the consumer has
//! nothing pending or unacked, and the two survivors stop cleanly.
//!
//! `Fleet` and `Target` are the scenario both targets run (`nats_sqlite`
//! runs it on SQLite, with a poison message first).

use std::ops::{Range, RangeInclusive};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::chaos::all_gone;
use crate::support::nats::{Client, Publisher, Server, compare, host_config, tail};
use crate::support::pg::Schema;
use crate::support::*;

trials![three_daemons_share_a_consumer_through_kills_and_a_server_restart[Pg, NatsServer]];

const RECORDS: u64 = 300_000;
const SEED: u64 = 20_261_101;

fn three_daemons_share_a_consumer_through_kills_and_a_server_restart() {
    let mut pg = Pg(Schema::new("nats"));
    let mut fleet = Fleet::start(
        &pg.0.sink_toml(),
        "workers = 2\nbatch_rows = 500\nmax_batch_attempts = 100\n",
    );
    let chaos = Chaos {
        seed: SEED,
        ids: 1..=RECORDS,
        per_second: 5_000,
        kill_pause_ms: 200..400,
        in_stream: RECORDS,
    };
    fleet.run(&mut pg, &chaos);
    fleet.assert_exactly(&mut pg, &chaos);
    let rejected = fleet.reject_files();
    assert!(
        rejected.is_empty(),
        "a kill is never a reason to reject: {rejected:?}"
    );
    fleet.stop_survivors();
}

/// The table of a test, on either target.
pub(crate) trait Target {
    /// Rows in `events` (0 before it exists).
    fn rows(&mut self) -> u64;
    /// (rows, distinct ids, rows whose id is outside `ids`).
    fn counts(&mut self, ids: &RangeInclusive<u64>) -> (u64, u64, u64);
    /// Every (id, body), in id order.
    fn all(&mut self) -> Vec<(i64, String)>;
}

struct Pg(Schema);

impl Target for Pg {
    fn rows(&mut self) -> u64 {
        let sql = format!("SELECT count(*) FROM \"{}\".events", self.0.name);
        self.0
            .client
            .query_one(&sql, &[])
            .map_or(0, |r| r.get::<_, i64>(0) as u64)
    }

    fn counts(&mut self, ids: &RangeInclusive<u64>) -> (u64, u64, u64) {
        let sql = format!(
            "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id < {} OR id > {}) \
             FROM \"{}\".events",
            ids.start(),
            ids.end(),
            self.0.name
        );
        let r = self.0.client.query_one(&sql, &[]).expect(&sql);
        let n = |i| r.get::<_, i64>(i) as u64;
        (n(0), n(1), n(2))
    }

    fn all(&mut self) -> Vec<(i64, String)> {
        let sql = format!(
            "SELECT id, body FROM \"{}\".events ORDER BY id",
            self.0.name
        );
        let rows = self.0.client.query(&sql, &[]).expect(&sql);
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }
}

/// What a chaos run publishes and how hard it kills.
pub(crate) struct Chaos {
    pub seed: u64,
    pub ids: RangeInclusive<u64>,
    pub per_second: u64,
    /// Pause between two worker kills, in ms.
    pub kill_pause_ms: Range<u64>,
    /// Messages the stream must hold once everything is published.
    pub in_stream: u64,
}

/// A private nats-server with stream `EVENTS`, and three daemons `a`, `b`,
/// `c` on it (configs, logs, state and reject folders in `dir`); `a` is the
/// one killed for good.
pub(crate) struct Fleet {
    pub server: Server,
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub daemons: Vec<Daemon>,
    /// Whether each daemon still runs (the test killed `a`).
    pub alive: Vec<bool>,
    rng: fastrand::Rng,
    pub kills: u32,
}

pub(crate) const HOSTS: [&str; 3] = ["a", "b", "c"];

impl Fleet {
    /// Starts the server, creates the stream, starts the three daemons on
    /// sink `sink` with `job_extra` in the job, and waits for all their
    /// workers (two each) to be ready.
    pub fn start(sink: &str, job_extra: &str) -> Fleet {
        let server = Server::start();
        let client = Client::connect(&server.url());
        client.create_stream();
        let dir = tempfile::tempdir().unwrap();
        let daemons: Vec<Daemon> = HOSTS
            .iter()
            .map(|h| {
                let cfg = dir.path().join(format!("{h}.toml"));
                std::fs::write(&cfg, host_config(h, &server.url(), sink, job_extra)).unwrap();
                let cfg = cfg.to_str().unwrap().to_string();
                Daemon::start(
                    &["run", "--config", &cfg],
                    &dir.path().join(format!("{h}.log")),
                )
            })
            .collect();
        let mut fleet = Fleet {
            server,
            client,
            dir,
            alive: vec![true; daemons.len()],
            daemons,
            rng: fastrand::Rng::with_seed(99),
            kills: 0,
        };
        let t0 = Instant::now();
        while !fleet
            .daemons
            .iter()
            .all(|d| d.log_text().matches("worker ready").count() >= 2)
        {
            let ended = fleet
                .daemons
                .iter_mut()
                .any(|d| d.child.try_wait().unwrap().is_some());
            assert!(
                !ended && t0.elapsed() < Duration::from_secs(60),
                "the daemons did not get ready:\n{}",
                fleet.report(None)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fleet
    }

    /// "worker ready" lines logged by all the daemons so far.
    pub fn ready_count(&self) -> usize {
        let count = |d: &Daemon| d.log_text().matches("worker ready").count();
        self.daemons.iter().map(count).sum()
    }

    /// Whether any daemon logged `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.daemons.iter().any(|d| d.log_text().contains(needle))
    }

    /// SIGKILLs every worker of every running daemon; how many.
    pub fn kill_all_workers(&mut self) -> usize {
        let mut n = 0;
        for (i, d) in self.daemons.iter().enumerate() {
            if self.alive[i] {
                for w in children(d.pid()) {
                    kill(w, 9);
                    n += 1;
                }
            }
        }
        n
    }

    /// SIGKILLs one worker of one of the running daemons, picked at random.
    fn kill_a_worker(&mut self) {
        let running: Vec<usize> = (0..self.daemons.len()).filter(|&i| self.alive[i]).collect();
        let d = &self.daemons[running[self.rng.usize(..running.len())]];
        let workers = children(d.pid());
        if !workers.is_empty() {
            kill(workers[self.rng.usize(..workers.len())], 9);
            self.kills += 1;
        }
    }

    /// SIGKILLs daemon `i`, its supervisor and its workers at once, for good.
    fn kill_daemon(&mut self, i: usize) {
        let d = &mut self.daemons[i];
        let workers = children(d.pid());
        kill(d.pid(), 9);
        for w in &workers {
            kill(*w, 9);
        }
        d.wait_exit(Duration::from_secs(5))
            .expect("supervisor killed");
        assert!(
            all_gone(&workers, Duration::from_secs(5)),
            "workers survived"
        );
        self.alive[i] = false;
    }

    /// Fails the test (with the report) if a daemon that should run ended.
    #[track_caller]
    fn assert_running(&mut self, target: &mut dyn Target) {
        for (i, host) in HOSTS.iter().enumerate() {
            if self.alive[i] && self.daemons[i].child.try_wait().unwrap().is_some() {
                panic!(
                    "daemon {host} ended by itself:\n{}",
                    self.report(Some(target))
                );
            }
        }
    }

    /// Publishes `chaos.ids` while killing: a worker of a running daemon
    /// every `kill_pause_ms`, daemon `a` for good a third of the way in,
    /// and the server once at three fifths (the publisher paused and its
    /// acks in around the restart). Then, still killing workers, waits
    /// until the table holds every record and the consumer has nothing
    /// pending or unacked.
    pub fn run(&mut self, target: &mut dyn Target, chaos: &Chaos) {
        let n = chaos.ids.end() - chaos.ids.start() + 1;
        let mut publisher = Publisher::start(
            &self.server.url(),
            chaos.seed,
            chaos.ids.clone(),
            chaos.per_second,
        );
        let t0 = Instant::now();
        let pause =
            |rng: &mut fastrand::Rng| Duration::from_millis(rng.u64(chaos.kill_pause_ms.clone()));
        let mut next_kill = Instant::now() + pause(&mut self.rng);
        let (mut killed_at, mut restarted_at) = (None, None);
        while !publisher.done() {
            self.assert_running(target);
            assert!(
                t0.elapsed() < Duration::from_secs(180),
                "publishing did not end:\n{}",
                self.report(Some(target))
            );
            let acked = publisher.acked();
            if killed_at.is_none() && acked >= n / 3 {
                let rows = target.rows();
                self.kill_daemon(0);
                // What `a` was delivered and had not acked comes back to
                // the others after ack_wait.
                killed_at = Some((rows, self.client.consumer().ok()));
            }
            if killed_at.is_some() && restarted_at.is_none() && acked >= n * 3 / 5 {
                publisher.pause();
                self.server.restart(9);
                publisher.resume();
                self.client.reconnect();
                restarted_at = Some((acked, target.rows()));
            }
            if Instant::now() >= next_kill {
                self.kill_a_worker();
                next_kill = Instant::now() + pause(&mut self.rng);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        publisher.join();
        let published = t0.elapsed();
        assert!(
            restarted_at.is_some(),
            "publishing ended before the chaos:\n{}",
            self.report(Some(target))
        );
        // The server lost nothing across its kill and kept no copy twice.
        let state = self.wait(Duration::from_secs(30), |f| f.client.stream_state().ok());
        assert_eq!(
            state,
            (chaos.in_stream, chaos.in_stream),
            "the stream's (messages, last sequence)"
        );
        // The rest of the load, still killing workers.
        let mut last_print = Instant::now();
        loop {
            self.assert_running(target);
            let rows = target.rows();
            if rows >= n && self.client.consumer().is_ok_and(|c| c.settled()) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(330),
                "the load did not end:\n{}",
                self.report(Some(target))
            );
            if last_print.elapsed() > Duration::from_secs(15) {
                eprintln!("{rows} rows; {}", self.client.describe());
                last_print = Instant::now();
            }
            if rows < n && Instant::now() >= next_kill {
                self.kill_a_worker();
                next_kill = Instant::now() + pause(&mut self.rng);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Settled: nothing more arrives (a late redelivery would show here).
        std::thread::sleep(Duration::from_secs(3));
        eprintln!(
            "{} worker kills; daemon a killed at (rows, consumer) {killed_at:?}; server restarted at \
             (acked, rows) {restarted_at:?}; published in {published:.1?}, loaded in {:.1?}; {}",
            self.kills,
            t0.elapsed(),
            self.client.describe()
        );
        assert!(self.kills >= 6, "only {} worker kills", self.kills);
    }

    /// Polls `f` every 100 ms until it gives something; fails after `within`.
    pub fn wait<T>(&mut self, within: Duration, mut f: impl FnMut(&mut Fleet) -> Option<T>) -> T {
        let t0 = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                t0.elapsed() < within,
                "nothing within {within:?}:\n{}",
                self.report(None)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The table holds records `chaos.ids` exactly once and nothing else,
    /// and the consumer has settled everything.
    pub fn assert_exactly(&mut self, target: &mut dyn Target, chaos: &Chaos) {
        let n = chaos.ids.end() - chaos.ids.start() + 1;
        let consumer = self.client.consumer().expect("consumer info");
        assert!(consumer.settled(), "consumer {consumer:?}");
        let counts = target.counts(&chaos.ids);
        let differs = compare(chaos.seed, chaos.ids.clone(), target.all()).err();
        if counts != (n, n, 0) || differs.is_some() {
            panic!(
                "(rows, distinct ids, ids never published) = {counts:?}, not ({n}, {n}, 0):\n{}\n{}",
                differs.unwrap_or_default(),
                self.report(Some(target))
            );
        }
    }

    /// Every file in the daemons' reject folders.
    pub fn reject_files(&self) -> Vec<PathBuf> {
        let pattern = self.dir.path().join("rejects-*/*");
        glob::glob(pattern.to_str().unwrap())
            .unwrap()
            .flatten()
            .collect()
    }

    /// SIGTERM to the daemons still running: each drains and exits 0.
    pub fn stop_survivors(&mut self) {
        for i in 0..self.daemons.len() {
            if self.alive[i] {
                self.daemons[i].stop(Duration::from_secs(60));
            }
        }
    }

    /// Rows, stream and consumer state, and the tail of every log.
    pub fn report(&self, target: Option<&mut dyn Target>) -> String {
        let mut out = String::new();
        if let Some(t) = target {
            out += &format!("{} rows in the table\n", t.rows());
        }
        out += &format!("{}\n", self.client.describe());
        for (i, d) in self.daemons.iter().enumerate() {
            let state = if self.alive[i] {
                "running"
            } else {
                "killed by the test"
            };
            out += &format!(
                "--- daemon {} ({state}), last lines of {}:\n{}\n",
                HOSTS[i],
                d.log.display(),
                tail(&d.log_text(), 40)
            );
        }
        out + &format!("--- nats-server:\n{}", self.server.log_tail(20))
    }
}
