//! What happens to files, with the real binary: a loaded file is archived; the
//! same file dropped again is recognised and not loaded twice; renamed, it
//! loads again on purpose; a file over `max_errors` is set aside with the
//! records not loaded in `.rest`; standard input loads through `load -`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn run_once(s: &Setup) -> (i32, String, String) {
    let o = Command::new(bin())
        .args(["run", "--once", "--config", s.config.to_str().unwrap()])
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn count(s: &Setup) -> i64 {
    sqlite_count(&s.db, "SELECT count(*) FROM orders")
}

#[test]
fn a_file_dropped_again_is_not_loaded_twice_but_a_renamed_copy_is() {
    let s = Setup::new("", "", "on_done = \"archive\"");
    let staged = s.path("a.csv");
    let sum = write_orders(&staged, 5_000, 1, 11);
    std::fs::copy(&staged, s.landing.join("a.csv")).unwrap();
    let (code, out, err) = run_once(&s);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(sqlite_sum(&s.db, "orders"), sum);
    assert!(s.landing.join("archive/a.csv").exists());

    // Same name, same bytes: skipped (and archived again).
    std::fs::copy(&staged, s.landing.join("a.csv")).unwrap();
    let (code, out, err) = run_once(&s);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("already loaded"), "{out}");
    assert_eq!(count(&s), 5_000);
    assert!(!s.landing.join("a.csv").exists());

    // Reloading on purpose: another name is another source.
    std::fs::copy(&staged, s.landing.join("a-reload.csv")).unwrap();
    let (code, out, err) = run_once(&s);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(count(&s), 10_000);
}

#[test]
fn a_daemon_picks_up_files_renamed_into_the_landing_directory() {
    let s = Setup::new("", "", "on_done = \"delete\"");
    let mut d = Daemon::start(
        &["run", "--config", s.config.to_str().unwrap()],
        &s.path("d.log"),
    );
    assert!(
        d.wait_log("worker ready", 2, Duration::from_secs(30)),
        "{}",
        d.log_text()
    );
    let mut total = Sum::default();
    for (i, name) in ["one.csv", "two.csv"].iter().enumerate() {
        let staged = s.path(name);
        let sum = write_orders(&staged, 3_000, 1 + i as u64 * 3_000, i as u64);
        total.rows += sum.rows;
        total.hash = total.hash.wrapping_add(sum.hash);
        std::fs::rename(&staged, s.landing.join(name)).unwrap();
    }
    assert!(
        d.wait_log("file done", 2, Duration::from_secs(60)),
        "{}",
        d.log_text()
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), total);
    assert!(!s.landing.join("one.csv").exists(), "deleted once loaded");
    d.signal(15);
    assert_eq!(
        d.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        d.log_text()
    );
}

#[test]
fn too_many_rejects_set_the_file_aside_with_the_rest_kept() {
    let s = Setup::new("max_errors = 2\nbatch_rows = 500\nworkers = 1\n", "", "");
    let path = s.landing.join("big.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    out.write_all(HEADER.as_bytes()).unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    let total = 20_000u64;
    for i in 1..=total {
        if i % 1000 == 0 {
            writeln!(out, "{i},1,Bad,not-a-number,USD,2025-01-01T00:00:00,paid,").unwrap();
        } else {
            out.write_all(order(&mut rng, i).0.as_bytes()).unwrap();
        }
    }
    drop(out);
    let (code, out, err) = run_once(&s);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("set aside"), "{out}");
    assert!(
        s.rejects.join("big.csv").exists(),
        "the file is moved to the reject folder"
    );
    assert!(!path.exists());
    let rest_path = s.rejects.join("big.csv.rest");
    let rest = std::fs::read_to_string(&rest_path).expect(".rest written");
    assert!(
        rest.starts_with(HEADER),
        "the .rest file can be dropped back in"
    );
    let rest_records = csv::Reader::from_path(&rest_path)
        .unwrap()
        .records()
        .count() as i64;
    let rejected = std::fs::read_to_string(s.rejects.join("big.csv.bad.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("file_set_aside"))
        .count() as i64;
    assert!(rejected >= 3, "{rejected}");
    assert!(rest_records > 0, "the file was stopped before its end");
    assert_eq!(
        count(&s) + rejected + rest_records,
        total as i64,
        "loaded + rejected + rest = records"
    );
}

#[test]
fn standard_input_loads_through_load_dash() {
    let s = Setup::new("", "", "");
    let staged = s.path("in.csv");
    let sum = write_orders(&staged, 3_000, 1, 9);
    let mut child = Command::new(bin())
        .args([
            "load",
            "--config",
            s.config.to_str().unwrap(),
            "--job",
            "orders",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&staged).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), sum);
}
