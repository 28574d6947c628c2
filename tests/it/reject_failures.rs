//! When what ends a file cannot be done, with the real binary on SQLite:
//! a reject folder that is full or read-only, a file name too long for its
//! reject files' names, a landing folder that cannot be listed, an archive
//! folder that cannot be written. The source is never let go while its
//! rejects exist only in the ledger; the run says so and exits non-zero;
//! the next run, once the folder is fixed, writes them: none lost, none
//! twice.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::cli::run_once;
use crate::support::mount::SmallFs;
use crate::support::rejects::assert_rejected;
use crate::support::*;

trials![
    a_full_reject_folder_keeps_the_source_until_its_rejects_are_written[Mount],
    a_read_only_reject_folder_keeps_the_source_until_its_rejects_are_written,
    a_file_name_too_long_for_its_reject_names_gets_shortened_names,
    an_unreadable_landing_folder_fails_the_run,
    an_archive_folder_that_cannot_be_written_fails_the_run_and_keeps_the_file,
];

/// `orders.csv` in the landing folder: 2,000 orders, one in four refused by
/// the parser (about 20 kB of reject files).
fn orders_with_many_rejects(s: &Setup) -> (Sum, Vec<BadRecord>) {
    let mut f = OrdersFile::create(&s.landing.join("orders.csv"), 7);
    let bad: Vec<(u64, &'static str)> = (1..=2000)
        .filter(|id| id % 4 == 0)
        .map(|id| (id, "bad_decimal"))
        .collect();
    f.orders_with_bad(2000, &bad, unparseable);
    f.finish()
}

fn setup() -> Setup {
    Setup::new(
        "batch_rows = 100\nmax_errors = 100000\n",
        "",
        "on_done = \"delete\"",
    )
}

/// The first run cannot write the rejects (`broken` made it so), the second
/// (after `fixed`) can.
fn rejects_written_on_the_next_run(
    s: &Setup,
    run: impl Fn() -> Ran,
    fixed: impl FnOnce(),
    (good, bad): (Sum, Vec<BadRecord>),
) {
    let first = run().expect(1);
    let out = first.output();
    assert!(
        out.contains("orders.csv: 1500 rows loaded, 500 rejected")
            && out.contains("not finished: its 500 rejected records could not be written"),
        "{out}"
    );
    assert!(out.contains("ERROR"), "said at error level: {out}");
    assert!(
        s.landing.join("orders.csv").exists(),
        "the source is kept while its rejects are not written"
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "the good rows, once");

    fixed();
    let second = run().expect(0);
    assert!(
        second
            .stdout
            .contains("already loaded by another run (1500 rows, 500 rejected)"),
        "{}",
        second.output()
    );
    assert!(!s.landing.join("orders.csv").exists(), "deleted now");
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "nothing loaded twice");
    assert_rejected(&s.rejects, "orders.csv", &bad);
}

fn a_full_reject_folder_keeps_the_source_until_its_rejects_are_written() {
    let s = setup();
    let data = orders_with_many_rejects(&s);
    let small = SmallFs::mount(&s.rejects, 8).unwrap();
    let run = || run_once(&s.config);
    rejects_written_on_the_next_run(&s, run, || small.resize(4096), data);
}

fn a_read_only_reject_folder_keeps_the_source_until_its_rejects_are_written() {
    let s = setup();
    let data = orders_with_many_rejects(&s);
    fs::create_dir_all(&s.rejects).unwrap();
    let mode = |m| fs::set_permissions(&s.rejects, fs::Permissions::from_mode(m)).unwrap();
    mode(0o555);
    let run = || {
        ingestd(["run", "--once", "--config"])
            .arg(&s.config)
            .without_dac()
            .run()
    };
    rejects_written_on_the_next_run(&s, run, || mode(0o755), data);
}

fn a_file_name_too_long_for_its_reject_names_gets_shortened_names() {
    let s = setup();
    // 250 bytes: `<name>.bad.jsonl` would be 260, past the 255 a name may have.
    let name = format!("{}.csv", "o".repeat(246));
    let mut f = OrdersFile::create(&s.landing.join(&name), 3);
    f.orders_with_bad(
        300,
        &[(10, "bad_decimal"), (200, "bad_decimal")],
        unparseable,
    );
    let (good, bad) = f.finish();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(out.contains("298 rows loaded, 2 rejected"), "{out}");
    assert!(
        !s.landing.join(&name).exists(),
        "deleted once its rejects are written"
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), good);
    let mut names: Vec<String> = fs::read_dir(&s.rejects)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.len() <= 255), "{names:?}");
    let jsonl = names.iter().find(|n| n.ends_with(".bad.jsonl")).unwrap();
    let stem = jsonl.trim_end_matches(".bad.jsonl");
    assert!(name.starts_with(&stem[..stem.find('~').unwrap()]), "{stem}");
    // The notes name the whole file; the records are those rejected.
    let notes = crate::support::rejects::notes(&s.rejects.join(jsonl));
    assert!(
        notes.iter().all(|n| n["file"] == name.as_str()),
        "{notes:?}"
    );
    fs::rename(s.rejects.join(jsonl), s.rejects.join("short.bad.jsonl")).unwrap();
    let bad_file = names.iter().find(|n| n.ends_with(".bad")).unwrap();
    fs::rename(s.rejects.join(bad_file), s.rejects.join("short.bad")).unwrap();
    assert_rejected(&s.rejects, "short", &bad);
}

fn an_unreadable_landing_folder_fails_the_run() {
    let s = setup();
    write_orders(&s.landing.join("orders.csv"), 10, 1, 1);
    fs::set_permissions(&s.landing, fs::Permissions::from_mode(0o000)).unwrap();
    let ran = ingestd(["run", "--once", "--config"])
        .arg(&s.config)
        .without_dac()
        .run();
    fs::set_permissions(&s.landing, fs::Permissions::from_mode(0o755)).unwrap();
    let out = ran.expect(1).output();
    assert!(
        out.contains("job orders: cannot list the landing folder")
            && out.contains("Permission denied"),
        "{out}"
    );
    assert!(s.landing.join("orders.csv").exists());
}

fn an_archive_folder_that_cannot_be_written_fails_the_run_and_keeps_the_file() {
    let s = Setup::new("", "", "on_done = \"archive\"\narchive_dir = \"archive\"");
    let sum = write_orders(&s.landing.join("orders.csv"), 50, 1, 1);
    // A folder the daemon's user may not write into.
    let archive = s.path("archive");
    fs::create_dir_all(&archive).unwrap();
    let mode = |m| fs::set_permissions(&archive, fs::Permissions::from_mode(m)).unwrap();
    mode(0o555);
    let ran = ingestd(["run", "--once", "--config"])
        .arg(&s.config)
        .without_dac()
        .run();
    mode(0o755);
    let out = ran.expect(1).output();
    assert!(
        out.contains("orders.csv: 50 rows loaded, 0 rejected")
            && out.contains("its records are loaded, but it cannot be archived"),
        "{out}"
    );
    assert!(s.landing.join("orders.csv").exists(), "left in place");
    let out = run_once(&s.config).expect(0).stdout;
    assert!(
        out.contains("already loaded by another run (50 rows"),
        "{out}"
    );
    assert!(
        s.path("archive/orders.csv").exists(),
        "archived on the next run"
    );
    assert!(!s.landing.join("orders.csv").exists());
    assert_eq!(sqlite_sum(&s.db, "orders"), sum, "loaded once");
    assert_eq!(sqlite_rows(&s.db, "orders"), 50);
}
