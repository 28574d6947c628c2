//! What happens to files, with the real binary: a loaded file is archived; the
//! same file dropped again is recognised and not loaded twice; renamed, it
//! loads again on purpose; a file over `max_errors` is set aside with the
//! records not loaded in `.rest`; standard input loads through `load -`.

use std::io::Write;
use std::time::Duration;

use crate::support::*;

trials![
    a_file_dropped_again_is_not_loaded_twice_but_a_renamed_copy_is,
    a_daemon_picks_up_files_renamed_into_the_landing_directory,
    too_many_rejects_set_the_file_aside_with_the_rest_kept,
    standard_input_loads_through_load_dash,
];

fn count(s: &Setup) -> i64 {
    sqlite_rows(&s.db, "orders") as i64
}

fn a_file_dropped_again_is_not_loaded_twice_but_a_renamed_copy_is() {
    let s = Setup::new("", "", "on_done = \"archive\"");
    let staged = s.path("a.csv");
    let sum = write_orders(&staged, 5_000, 1, 11);
    std::fs::copy(&staged, s.landing.join("a.csv")).unwrap();
    cli::run_once(&s.config).expect(0);
    assert_eq!(sqlite_sum(&s.db, "orders"), sum);
    assert!(s.landing.join("archive/a.csv").exists());

    // Same name, same bytes: skipped (and archived again).
    std::fs::copy(&staged, s.landing.join("a.csv")).unwrap();
    let out = cli::run_once(&s.config).expect(0).stdout;
    assert!(out.contains("already loaded"), "{out}");
    assert_eq!(count(&s), 5_000);
    assert!(!s.landing.join("a.csv").exists());

    // Reloading on purpose: another name is another source.
    std::fs::copy(&staged, s.landing.join("a-reload.csv")).unwrap();
    cli::run_once(&s.config).expect(0);
    assert_eq!(count(&s), 10_000);
}

fn a_daemon_picks_up_files_renamed_into_the_landing_directory() {
    let s = Setup::new("", "", "on_done = \"delete\"");
    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("d.log"));
    d.expect_log("worker ready", 2, Duration::from_secs(30));
    let mut total = Sum::default();
    for (i, name) in ["one.csv", "two.csv"].iter().enumerate() {
        let staged = s.path(name);
        let sum = write_orders(&staged, 3_000, 1 + i as u64 * 3_000, i as u64);
        total = total.plus(sum);
        std::fs::rename(&staged, s.landing.join(name)).unwrap();
    }
    d.expect_log("file done", 2, Duration::from_secs(60));
    assert_eq!(sqlite_sum(&s.db, "orders"), total);
    assert!(!s.landing.join("one.csv").exists(), "deleted once loaded");
    d.stop(Duration::from_secs(30));
}

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
    let out = cli::run_once(&s.config).expect(3).stdout;
    assert!(out.contains("set aside"), "{out}");
    assert!(
        s.rejects.join("big.csv").exists(),
        "the file is moved to the reject folder"
    );
    assert!(!path.exists());
    // Named to match the job's pattern (*.csv), so it can be dropped back in.
    let rest_path = s.rejects.join("big.rest.csv");
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

fn standard_input_loads_through_load_dash() {
    let s = Setup::new("", "", "");
    let staged = s.path("in.csv");
    let sum = write_orders(&staged, 3_000, 1, 9);
    ingestd(["load", "--config", s.cfg(), "--job", "orders", "-"])
        .stdin(std::fs::read(&staged).unwrap())
        .run()
        .expect(0);
    assert_eq!(sqlite_sum(&s.db, "orders"), sum);
}
