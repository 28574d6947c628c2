//! Standard input with the real binary: `load --source-name NAME -` gives it
//! a stable identity, so running the same bytes again after a load that was
//! killed half-way loads only what is missing; without a name every run is a
//! new source (and loads everything again, as the README says); a stdin load
//! stopped by `max_errors` keeps what it did not read in a `.rest` file.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

trials![
    a_named_stdin_run_again_after_a_kill_loads_only_what_is_missing,
    a_stdin_load_stopped_by_max_errors_keeps_the_rest,
    a_source_name_must_be_a_plain_name_and_needs_stdin,
];

const ROWS: u64 = 60_000;

/// `ingestd load ... -` with `input` on its standard input, started and not
/// waited for.
fn start_load(s: &Setup, input: &std::path::Path, name: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(bin());
    cmd.env("INGESTD_LOG", "warn")
        .args(["load", "--config", s.cfg(), "--job", "orders"])
        .stdin(Stdio::from(std::fs::File::open(input).unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(n) = name {
        cmd.args(["--source-name", n]);
    }
    cmd.arg("-").spawn().unwrap()
}

/// Starts a load and kills it (supervisor and workers) once some rows are in.
fn killed_half_way(s: &Setup, input: &std::path::Path, name: Option<&str>) -> u64 {
    let mut child = start_load(s, input, name);
    let t0 = Instant::now();
    loop {
        if s.db.exists() && sqlite_rows(&s.db, "orders") > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the load ended before it was killed"
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "no row loaded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let workers = children(child.id());
    kill(child.id(), 9);
    let _ = child.wait();
    assert!(chaos::all_gone(&workers, Duration::from_secs(10)));
    let loaded = sqlite_rows(&s.db, "orders");
    assert!(loaded < ROWS, "killed too late: {loaded} rows in");
    loaded
}

fn a_named_stdin_run_again_after_a_kill_loads_only_what_is_missing() {
    // Small batches, synchronous commits: the kill lands mid-load.
    let s = Setup::new(
        "workers = 1\nbatch_rows = 100\n",
        "synchronous = \"full\"",
        "",
    );
    let input = s.path("feed.csv");
    let sum = write_orders(&input, ROWS, 1, 21);
    let first = killed_half_way(&s, &input, Some("feed"));
    let again = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg("--source-name")
        .arg("feed")
        .arg("-")
        .stdin(std::fs::read(&input).unwrap())
        .run()
        .expect(0);
    assert_eq!(
        sqlite_sum(&s.db, "orders"),
        sum,
        "{first} rows before the kill"
    );
    assert!(
        again
            .stdout
            .contains(&format!("{} rows loaded", ROWS - first)),
        "{}",
        again.stdout
    );
    // The same bytes a third time: nothing to do.
    let third = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg("--source-name")
        .arg("feed")
        .arg("-")
        .stdin(std::fs::read(&input).unwrap())
        .run()
        .expect(0);
    assert!(third.stdout.contains("already loaded"), "{}", third.stdout);
    assert_eq!(sqlite_rows(&s.db, "orders"), ROWS);

    // Without a name, a new source every time: loaded again in full.
    let s = Setup::new(
        "workers = 1\nbatch_rows = 100\n",
        "synchronous = \"full\"",
        "",
    );
    let first = killed_half_way(&s, &input, None);
    ingestd(["load", "--config", s.cfg(), "--job", "orders", "-"])
        .stdin(std::fs::read(&input).unwrap())
        .run()
        .expect(0);
    assert_eq!(sqlite_rows(&s.db, "orders"), first + ROWS);
}

fn a_stdin_load_stopped_by_max_errors_keeps_the_rest() {
    let s = Setup::new("max_errors = 2\nbatch_rows = 500\nworkers = 1\n", "", "");
    let input = s.path("feed.csv");
    let mut out = std::fs::File::create(&input).unwrap();
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
    let ran = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg("--source-name")
        .arg("feed")
        .arg("-")
        .stdin(std::fs::read(&input).unwrap())
        .run()
        .expect(3);
    assert!(ran.stdout.contains("set aside"), "{}", ran.output());
    let rest_path = s.rejects.join("feed.rest");
    let rest = std::fs::read_to_string(&rest_path).expect(".rest written");
    assert!(
        rest.starts_with(HEADER),
        "the .rest file can be loaded again"
    );
    let rest_records = csv::Reader::from_path(&rest_path)
        .unwrap()
        .records()
        .count() as u64;
    let rejected = std::fs::read_to_string(s.rejects.join("feed.bad.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("file_set_aside"))
        .count() as u64;
    assert!(rest_records > 0, "stopped before the end");
    assert_eq!(
        sqlite_rows(&s.db, "orders") + rejected + rest_records,
        total
    );
}

fn a_source_name_must_be_a_plain_name_and_needs_stdin() {
    let s = Setup::new("", "", "");
    let staged = s.path("a.csv");
    write_orders(&staged, 10, 1, 1);
    let ran = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg("--source-name")
        .arg("x")
        .arg(&staged)
        .run()
        .expect(1);
    assert!(ran.stderr.contains("use it with `-`"), "{}", ran.output());
    let ran = ingestd(["load", "--config", s.cfg(), "--job", "orders"])
        .arg("--source-name")
        .arg("../x")
        .arg("-")
        .run()
        .expect(1);
    assert!(ran.stderr.contains("plain file name"), "{}", ran.output());
}
