//! `ingestd ledger` and `ingestd ledger forget` with the real binary, on
//! SQLite and PostgreSQL: the listing agrees with the ledger table and the
//! target table, `forget --yes` followed by a run reloads exactly that
//! file once (its rows twice in the table, the other file's once, its
//! ledger entry back), `forget` refuses without `--yes` when standard input
//! is not a terminal and asks on one (a pseudo-terminal from util-linux's
//! `script`), and a file the ledger does not hold is a clear error.

use std::path::{Path, PathBuf};

use crate::support::pg::Schema;
use crate::support::*;

trials![
    sqlite_listing_and_forget_reload_exactly_that_file,
    postgres_listing_and_forget_reload_exactly_that_file[Pg],
    forget_of_an_unknown_file_or_job_is_a_clear_error,
    forget_asks_on_a_terminal_and_only_yes_forgets,
];

/// Counts in the job's target database.
trait Db {
    fn count(&mut self, sql: &str) -> i64;
}

struct Lite(PathBuf);

impl Db for Lite {
    fn count(&mut self, sql: &str) -> i64 {
        sqlite_count(&self.0, sql)
    }
}

impl Db for Schema {
    fn count(&mut self, sql: &str) -> i64 {
        self.int(sql)
    }
}

/// Batches of 100 rows, files kept where they are (so a run finds them again).
const JOB: &str = "create_table = true\nbatch_rows = 100";
const KEEP: &str = "on_done = \"keep\"";

/// `a.csv`: orders 1..=300, two of them (7 and 150) rejected; `b.csv`:
/// orders 1001..=1200.
fn landing(s: &Setup) {
    let mut a = OrdersFile::create(&s.landing.join("a.csv"), 5);
    a.orders_with_bad(
        300,
        &[(7, "bad_decimal"), (150, "bad_decimal")],
        unparseable,
    );
    a.finish();
    drop_orders(&s.landing, "b.csv", 200, 1001, 6);
}

/// `ingestd ledger --config C ARGS...`.
fn ledger(s: &Setup, args: &[&str]) -> Ran {
    let head = ["ledger", "--config", s.cfg()];
    ingestd(head.iter().chain(args)).run()
}

/// The job's sources in `ingestd ledger --json`.
fn listed(s: &Setup) -> Vec<serde_json::Value> {
    let ran = ledger(s, &["--job", "orders", "--json"]).expect(0);
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).expect(&ran.stdout);
    let job = &v["jobs"][0];
    assert_eq!(job["job"], "orders", "{v}");
    job["sources"].as_array().expect("sources").clone()
}

/// The source of file `name` in a listing.
fn source<'a>(sources: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    let prefix = format!("{name}:");
    let found: Vec<_> = (sources.iter())
        .filter(|s| s["source"].as_str().unwrap().starts_with(&prefix))
        .collect();
    assert_eq!(found.len(), 1, "{name} once in {sources:?}");
    found[0]
}

/// `sql` with `KEY` replaced by `key`, quoted.
fn of(sql: &str, key: &str) -> String {
    sql.replace("KEY", &format!("'{key}'"))
}

/// A source's figures in the listing are the ledger table's and the file's.
#[track_caller]
fn agrees(db: &mut dyn Db, src: &serde_json::Value, file: &Path, loaded: i64, rejected: i64) {
    let key = src["source"].as_str().unwrap();
    let size = std::fs::metadata(file).unwrap().len();
    assert!(key.starts_with(&format!(
        "{}:{size}:",
        file.file_name().unwrap().to_str().unwrap()
    )));
    assert_eq!(src["target"], "orders");
    assert_eq!(src["stream"], false);
    let batches = db.count(&of(
        "SELECT count(*) FROM ingestd_ledger WHERE source = KEY",
        key,
    ));
    let in_ledger = db.count(&of(
        "SELECT CAST(sum(rows_loaded) AS BIGINT) FROM ingestd_ledger WHERE source = KEY",
        key,
    ));
    let rejected_in_ledger = db.count(&of(
        "SELECT CAST(sum(rows_rejected) AS BIGINT) FROM ingestd_ledger WHERE source = KEY",
        key,
    ));
    assert!(batches >= 2, "batch_rows 100: {batches} batches");
    assert_eq!(src["batches"], batches);
    assert_eq!((src["loaded"].as_i64(), in_ledger), (Some(loaded), loaded));
    assert_eq!(
        (src["rejected"].as_i64(), rejected_in_ledger),
        (Some(rejected), rejected)
    );
    // Its batches touch: one range, from the end of the header to the end.
    let ranges = src["ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!(ranges[0][1].as_u64(), Some(size), "{ranges:?}");
    assert!(src["first_commit"].as_str().unwrap() <= src["last_commit"].as_str().unwrap());
}

/// The whole story on one database; `by_key`: forget names the source by
/// the key the listing printed instead of the file's path.
fn listing_and_forget(s: &Setup, db: &mut dyn Db, by_key: bool) {
    landing(s);
    cli::run_once(&s.config).expect(3); // two records rejected
    let count =
        |db: &mut dyn Db, w: &str| db.count(&format!("SELECT count(*) FROM orders WHERE {w}"));
    assert_eq!((count(db, "id <= 300"), count(db, "id > 1000")), (298, 200));
    let sources = listed(s);
    assert_eq!(sources.len(), 2, "{sources:?}");
    let (a, b) = (source(&sources, "a.csv"), source(&sources, "b.csv"));
    agrees(db, a, &s.landing.join("a.csv"), 298, 2);
    agrees(db, b, &s.landing.join("b.csv"), 200, 0);
    let a_key = a["source"].as_str().unwrap().to_string();
    let a_batches = a["batches"].as_i64().unwrap();
    let text = ledger(s, &[]).expect(0).stdout;
    assert!(text.contains("job orders: table orders"), "{text}");
    assert!(text.contains(&format!("  {a_key}\n")), "{text}");
    assert!(text.contains("; 298 rows loaded, 2 rejected; "), "{text}");
    let rows = |db: &mut dyn Db| {
        db.count(&of(
            "SELECT count(*) FROM ingestd_ledger WHERE source = KEY",
            &a_key,
        ))
    };

    let named = match by_key {
        true => a_key.clone(),
        false => s.landing.join("a.csv").display().to_string(),
    };
    // Standard input is a pipe here: no question can be asked.
    let refused = ledger(s, &["forget", "--job", "orders", &named]).expect(2);
    assert!(
        refused
            .stderr
            .contains("refusing to forget without confirmation"),
        "{}",
        refused.output()
    );
    assert!(
        refused.stdout.contains(&format!("forgetting {a_key}")),
        "{}",
        refused.stdout
    );
    assert_eq!(rows(db), a_batches, "nothing forgotten");

    let forgot = ledger(s, &["forget", "--job", "orders", &named, "--yes"]).expect(0);
    let out = forgot.stdout;
    assert!(out.contains("298 rows loaded, 2 rejected"), "{out}");
    assert!(
        out.contains("The 298 row(s) already loaded stay in table orders"),
        "{out}"
    );
    assert!(
        out.contains(&format!("forgot {a_batches} ledger row(s) of {a_key}")),
        "{out}"
    );
    assert_eq!(rows(db), 0);
    assert_eq!(listed(s).len(), 1);

    // The next run loads a.csv again, once, and b.csv not at all.
    let ran = cli::run_once(&s.config).expect(3);
    assert!(
        ran.stdout
            .contains("orders/a.csv: 298 rows loaded, 2 rejected"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("orders/b.csv: 0 rows loaded"),
        "{}",
        ran.stdout
    );
    assert_eq!((count(db, "id <= 300"), count(db, "id > 1000")), (596, 200));
    assert_eq!(count(db, "id = 5"), 2, "a.csv's rows twice");
    let sources = listed(s);
    assert_eq!(sources.len(), 2);
    agrees(
        db,
        source(&sources, "a.csv"),
        &s.landing.join("a.csv"),
        298,
        2,
    );
    assert_eq!(rows(db), a_batches, "its ledger entry once again");
    cli::run_once(&s.config).expect(0);
    assert_eq!(count(db, "id <= 300"), 596, "and not a third time");
}

fn sqlite_listing_and_forget_reload_exactly_that_file() {
    let s = Setup::new("batch_rows = 100", "", KEEP);
    let mut db = Lite(s.db.clone());
    listing_and_forget(&s, &mut db, false);
}

fn postgres_listing_and_forget_reload_exactly_that_file() {
    let mut db = Schema::new("ledcmd");
    let s = Setup::on("pg", &db.sink_toml(), "orders", "orders", JOB, KEEP);
    listing_and_forget(&s, &mut db, true);
}

fn forget_of_an_unknown_file_or_job_is_a_clear_error() {
    let s = Setup::new("batch_rows = 100", "", KEEP);
    landing(&s);
    cli::run_once(&s.config).expect(3);
    // A landing file never loaded: identified, but not in the ledger.
    drop_orders(&s.landing, "c.csv", 10, 2001, 7);
    let c = s.landing.join("c.csv");
    let ran = ledger(
        &s,
        &["forget", "--job", "orders", c.to_str().unwrap(), "--yes"],
    )
    .expect(1);
    assert!(
        ran.stderr.contains("job orders: the file ")
            && ran.stderr.contains("c.csv")
            && ran
                .stderr
                .contains("is not in the ledger of table orders (a file is known by")
            && ran.stderr.contains("): nothing to forget"),
        "{}",
        ran.stderr
    );
    // Neither a file nor a key.
    let ran = ledger(&s, &["forget", "--job", "orders", "nope.csv", "--yes"]).expect(1);
    assert!(
        ran.stderr
            .contains("there is no file at \"nope.csv\", and the ledger of table orders"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("nothing to forget"), "{}", ran.stderr);
    let ran = ledger(&s, &["forget", "--job", "nojob", "nope.csv", "--yes"]).expect(78);
    assert!(
        ran.stderr.contains("no job named \"nojob\""),
        "{}",
        ran.stderr
    );
    let ran = ingestd(["ledger", "forget", "x"]).run().expect(2);
    assert!(
        ran.stderr.contains("--config FILE is required"),
        "{}",
        ran.stderr
    );
    // Nothing was forgotten by any of these.
    let held = sqlite_count(&s.db, "SELECT count(DISTINCT source) FROM ingestd_ledger");
    assert_eq!(held, 2);
    assert_eq!(sqlite_rows(&s.db, "orders"), 498);
}

/// `ingestd ledger --config C ARGS...` on a pseudo-terminal (util-linux's
/// `script`, Essential in Debian), `answer` typed in: its exit code and
/// what the terminal showed.
fn on_a_terminal(s: &Setup, args: &[&str], answer: &str) -> (Option<i32>, String) {
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let mut line = format!("{} ledger --config {}", quote(bin()), quote(s.cfg()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut child = std::process::Command::new("timeout")
        .args(["60", "script", "-qec", &line, "/dev/null"])
        .env("INGESTD_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out.status.code(), shown)
}

fn forget_asks_on_a_terminal_and_only_yes_forgets() {
    let s = Setup::new("batch_rows = 100", "", KEEP);
    drop_orders(&s.landing, "b.csv", 200, 1001, 6);
    cli::run_once(&s.config).expect(0);
    let held = || sqlite_count(&s.db, "SELECT count(*) FROM ingestd_ledger");
    assert_eq!(held(), 2);
    let file = s.landing.join("b.csv");
    let args = ["forget", "--job", "orders", file.to_str().unwrap()];
    for no in ["n\n", "\n", "maybe\n"] {
        let (code, shown) = on_a_terminal(&s, &args, no);
        assert_eq!(code, Some(1), "{no:?}: {shown}");
        assert!(
            shown.contains("Forget these 2 ledger row(s)? [y/N] "),
            "{shown}"
        );
        assert!(shown.contains("nothing forgotten"), "{shown}");
        assert_eq!(held(), 2, "{no:?} forgets nothing");
    }
    let (code, shown) = on_a_terminal(&s, &args, "y\n");
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("forgot 2 ledger row(s) of b.csv:"),
        "{shown}"
    );
    assert_eq!(held(), 0);
}
