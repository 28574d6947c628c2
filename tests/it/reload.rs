//! Reloads (SIGHUP) during a continuous load, with the real binary: add a
//! job, change a job's columns, a broken configuration (the old one keeps
//! running and the log says why), remove a job while it loads and add it
//! back. Afterwards every record is in its table exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::config::{DAEMON, orders_job, sink};
use crate::support::*;

trials![reloads_during_a_continuous_load_lose_and_repeat_nothing];

/// A config with the given jobs; each reads `in-NAME/` into table NAME. A
/// job's `column_change` replaces the type of its first text column.
fn config(root: &Path, jobs: &[(&str, &str)]) -> String {
    let mut text =
        DAEMON.to_string() + &sink("local", "kind = \"sqlite\"\npath = \"out/target.db\"");
    for (name, column_change) in jobs {
        std::fs::create_dir_all(root.join(format!("in-{name}"))).unwrap();
        let dir = format!("in-{name}");
        let extra = "create_table = true\nworkers = 2\nbatch_rows = 100";
        let mut job = orders_job(name, "local", name, &dir, extra, "");
        if !column_change.is_empty() {
            job = job.replacen("type = \"text\"", column_change, 1);
        }
        text.push_str(&job);
    }
    text
}

/// Drops a 300-row file into each active landing directory every ~40 ms.
struct Producer {
    active: Arc<Mutex<BTreeMap<String, bool>>>,
    sums: Arc<Mutex<BTreeMap<String, Sum>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Producer {
    fn start(root: PathBuf) -> Producer {
        let active = Arc::new(Mutex::new(BTreeMap::<String, bool>::new()));
        let sums = Arc::new(Mutex::new(BTreeMap::<String, Sum>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s, st) = (active.clone(), sums.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !st.load(Ordering::Relaxed) {
                let names: Vec<String> = a
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(_, on)| **on)
                    .map(|(k, _)| k.clone())
                    .collect();
                for name in names {
                    n += 1;
                    let sum = drop_orders(
                        &root.join(format!("in-{name}")),
                        &format!("f{n:05}.csv"),
                        300,
                        n * 1000,
                        n,
                    );
                    let mut sums = s.lock().unwrap();
                    let e = sums.entry(name).or_default();
                    *e = e.plus(sum);
                }
                std::thread::sleep(Duration::from_millis(40));
            }
        });
        Producer {
            active,
            sums,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, name: &str, on: bool) {
        self.active.lock().unwrap().insert(name.to_string(), on);
    }

    fn finish(mut self) -> BTreeMap<String, Sum> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.sums.lock().unwrap().clone()
    }
}

fn rows(db: &Path, table: &str) -> (i64, i64) {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    c.and_then(|c| {
        c.query_row(
            &format!("SELECT count(*), count(DISTINCT id) FROM \"{table}\""),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
    .unwrap_or((0, 0))
}

fn wait_until(what: &str, d: &Daemon, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}:\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pending(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".csv"))
        .count()
}

fn reloads_during_a_continuous_load_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let cfg = root.join("ingestd.toml");
    let db = root.join("out/target.db");
    let write = |jobs: &[(&str, &str)]| std::fs::write(&cfg, config(root, jobs)).unwrap();
    write(&[("a", "")]);
    let producer = Producer::start(root.to_path_buf());
    producer.set("a", true);
    let mut d = Daemon::start(
        &["run", "--config", cfg.to_str().unwrap()],
        &root.join("d.log"),
    );
    wait_until("table a", &d, || rows(&db, "a").0 > 0);

    // 1. Add a job.
    write(&[("a", ""), ("b", "")]);
    d.signal(1);
    d.expect_log("configuration reloaded", 1, Duration::from_secs(30));
    producer.set("b", true);
    wait_until("table b", &d, || rows(&db, "b").0 > 0);

    // 2. Change a job's columns: its workers drain and new ones start.
    write(&[("a", "type = \"varchar(500)\""), ("b", "")]);
    d.signal(1);
    d.expect_log("job stopped by the reload", 1, Duration::from_secs(30));
    let before = rows(&db, "a").0;
    wait_until("a loading again", &d, || rows(&db, "a").0 > before);

    // 3. A broken configuration: logged, and the running one goes on.
    std::fs::write(&cfg, "[jobs.a\nthis is not toml").unwrap();
    d.signal(1);
    d.expect_log("reload failed", 1, Duration::from_secs(30));
    let before = rows(&db, "a").0;
    wait_until("a still loading", &d, || rows(&db, "a").0 > before);

    // 4. Remove a job while it loads; nothing of it may be loaded twice.
    producer.set("b", false);
    write(&[("a", "type = \"varchar(500)\"")]);
    d.signal(1);
    d.expect_log("job stopped by the reload", 2, Duration::from_secs(30));
    let (n, distinct) = rows(&db, "b");
    assert_eq!(n, distinct, "duplicates in b after its removal");

    // 5. Add it back: what it had left loads now.
    write(&[("a", "type = \"varchar(500)\""), ("b", "")]);
    d.signal(1);
    let sums = producer.finish();
    wait_until("every file loaded", &d, || {
        pending(&root.join("in-a")) == 0 && pending(&root.join("in-b")) == 0
    });
    d.stop(Duration::from_secs(60));

    for (name, expected) in &sums {
        assert_eq!(&sqlite_sum(&db, name), expected, "table {name}");
        let (n, distinct) = rows(&db, name);
        assert_eq!(n, distinct, "duplicates in {name}");
    }
    assert!(sums["a"].rows >= 1_500 && sums["b"].rows >= 600, "{sums:?}");
}
