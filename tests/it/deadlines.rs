//! No endless waits, honest exit codes: `check --connect` answers within the
//! sink's `connect_timeout` plus a few seconds when the server cannot be
//! reached (75, "target unavailable"), exits 78 for a role that does not
//! exist, and prints its verdict after, never before, a job's failure;
//! `check` fails on a landing folder it cannot read; `load` and `run --once`
//! stop retrying after `--give-up-after`, leave every file as it was and
//! exit 75, and what was not loaded loads, once, on the next run; a daemon
//! whose workers wait to retry a connect exits at once on SIGTERM.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::support::cluster::Cluster;
use crate::support::pg::{orders_sum, server};
use crate::support::*;

trials![
    check_connect_to_a_port_nothing_listens_on_answers_at_once_with_75,
    check_connect_to_a_server_that_never_answers_ends_at_connect_timeout_plus_3s,
    check_connect_with_a_role_that_does_not_exist_exits_78_and_says_ok_only_when_it_is[Pg],
    check_fails_on_a_landing_folder_it_cannot_read,
    run_once_gives_up_after_give_up_after_and_leaves_the_file_where_it_was,
    load_gives_up_while_the_server_is_down_and_the_next_load_completes_it_once[PgCluster],
    sigterm_during_connect_back_off_exits_within_2s,
];

/// Exit code of a run whose target stayed unavailable (README: 75).
const UNAVAILABLE: i32 = 75;

/// A PostgreSQL sink at 127.0.0.1:`port` with `connect_timeout = "2s"`.
fn pg_at(port: u16) -> String {
    format!(
        "kind = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\ndbname = \"test\"\n\
         user = \"postgres\"\nconnect_timeout = \"2s\"\n"
    )
}

/// Job `orders` on `sink`, its landing folder deleting what it loaded (so
/// that a file wrongly taken for done would vanish).
fn orders_on(sink: &str) -> Setup {
    Setup::on(
        "pg",
        sink,
        "orders",
        "orders",
        "create_table = true\nworkers = 2",
        "on_done = \"delete\"",
    )
}

/// `ingestd check --connect`, given `limit`; returns what it did and how long it took.
fn check_connect(s: &Setup, limit: Duration) -> (Ran, Duration) {
    let t0 = Instant::now();
    let ran = ingestd(["check", "--connect", "--config", s.cfg()])
        .deadline(limit)
        .run();
    (ran, t0.elapsed())
}

/// The lines of `stdout` before the first that contains `failed`; none of
/// them may say `ok` (an `ok` there would contradict the failure).
#[track_caller]
fn nothing_ok_before(stdout: &str, failed: &str) {
    let at = stdout
        .lines()
        .position(|l| l.contains(failed))
        .unwrap_or_else(|| panic!("no {failed:?} in:\n{stdout}"));
    for l in stdout.lines().take(at) {
        assert!(!l.contains("ok"), "{l:?} before the failure:\n{stdout}");
    }
}

fn check_connect_to_a_port_nothing_listens_on_answers_at_once_with_75() {
    let s = orders_on(&pg_at(free_port()));
    let (ran, took) = check_connect(&s, Duration::from_secs(20));
    let ran = ran.expect(UNAVAILABLE);
    assert!(took < Duration::from_secs(7), "took {took:?}");
    let out = &ran.stdout;
    assert!(
        out.contains("connect: FAILED (target unavailable, transient error): opening the database")
            && out.contains("Connection refused"),
        "{out}"
    );
    nothing_ok_before(out, "connect: FAILED");
    assert!(
        out.trim_end()
            .ends_with(": FAILED (job orders: target unavailable)"),
        "the verdict comes last:\n{out}"
    );
}

fn check_connect_to_a_server_that_never_answers_ends_at_connect_timeout_plus_3s() {
    // The kernel completes the TCP handshake for a listening socket that
    // never accepts: the driver's connect_timeout (TCP only) has passed, and
    // the server never answers the start-up.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let s = orders_on(&pg_at(port));
    let (ran, took) = check_connect(&s, Duration::from_secs(30));
    let ran = ran.expect(UNAVAILABLE);
    // connect_timeout 2s + 3s, within connect_timeout + 5s.
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(7),
        "took {took:?}:\n{}",
        ran.output()
    );
    assert!(
        ran.stdout.contains(
            "connect: FAILED (target unavailable, transient error): no connection within 5s \
             (the sink's connect_timeout 2s + 3s): the database does not answer"
        ),
        "{}",
        ran.stdout
    );
    nothing_ok_before(&ran.stdout, "connect: FAILED");
    drop(silent);
}

fn check_connect_with_a_role_that_does_not_exist_exits_78_and_says_ok_only_when_it_is() {
    let pg = server();
    let sink = |user: &str| {
        format!(
            "kind = \"postgres\"\nhost = \"{}\"\nport = {}\ndbname = \"{}\"\nuser = \"{user}\"\n",
            pg.host, pg.port, pg.dbname
        )
    };
    let s = orders_on(&sink("ingestd_no_such_role"));
    let (ran, _) = check_connect(&s, Duration::from_secs(60));
    let ran = ran.expect(78);
    let out = &ran.stdout;
    assert!(
        out.contains(
            "connect: FAILED (configuration error): opening the database: \
             ingestd_no_such_role@"
        ) && out.contains("role \"ingestd_no_such_role\" does not exist (SQLSTATE 28000)"),
        "{out}"
    );
    nothing_ok_before(out, "connect: FAILED");
    assert!(
        out.trim_end()
            .ends_with(": FAILED (job orders: cannot connect (configuration error))"),
        "{out}"
    );

    // The same job with the test server's own user: ok, and said last.
    let s = orders_on(&sink(&pg.user));
    let (ran, _) = check_connect(&s, Duration::from_secs(60));
    let out = ran.expect(0).stdout;
    assert!(out.contains("    connect: ok"), "{out}");
    let verdict = format!("{}: ok", s.cfg());
    assert_eq!(out.lines().last(), Some(verdict.as_str()), "{out}");
}

fn check_fails_on_a_landing_folder_it_cannot_read() {
    let s = Setup::new("", "", "");
    drop_orders(&s.landing, "a.csv", 10, 1, 1);
    set_mode(&s.landing, 0o000);
    // Root reads any folder: the check runs without that right.
    let ran = ingestd(["check", "--config", s.cfg()]).without_dac().run();
    set_mode(&s.landing, 0o755);
    let out = ran.expect(1).stdout;
    let shown = s.landing.display();
    assert!(
        out.contains(&format!(
            "    landing folder: FAILED: cannot read {shown}: Permission denied (os error 13); \
             the daemon would find no file there: give the user it runs as read and search \
             permission (r-x)"
        )),
        "{out}"
    );
    nothing_ok_before(&out, "landing folder: FAILED");
    assert!(
        out.trim_end()
            .ends_with(": FAILED (job orders: landing folder unreadable)"),
        "{out}"
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// What a file is: its bytes and modification time.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (bytes, fs::metadata(path).unwrap().modified().unwrap())
}

/// Everything under `dir`, recursively (empty when it does not exist).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        match p.is_dir() {
            true => out.extend(files_under(&p)),
            false => out.push(p.display().to_string()),
        }
    }
    out
}

fn run_once_gives_up_after_give_up_after_and_leaves_the_file_where_it_was() {
    let s = orders_on(&pg_at(free_port()));
    drop_orders(&s.landing, "orders.csv", 1000, 1, 7);
    let file = s.landing.join("orders.csv");
    let before = snapshot(&file);

    // The daemon never gives up: the flag is for --once only.
    let usage = ingestd(["run", "--give-up-after", "2s", "--config", s.cfg()]).run();
    let usage = usage.expect(2);
    assert!(usage.stderr.contains("--once"), "{}", usage.stderr);

    let t0 = Instant::now();
    let ran = ingestd([
        "run",
        "--once",
        "--give-up-after",
        "2s",
        "--config",
        s.cfg(),
    ])
    .deadline(Duration::from_secs(30))
    .run();
    let took = t0.elapsed();
    let ran = ran.expect(UNAVAILABLE);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}:\n{}",
        ran.output()
    );
    let out = &ran.stdout;
    assert!(
        out.contains(
            "orders/orders.csv: 0 rows loaded, 0 rejected, \
             "
        ) && out.contains(
            "not finished: the job stopped: its target stayed unavailable; the file stays \
             where it is"
        ),
        "{out}"
    );
    assert!(
        out.contains("job orders stopped (transient error): opening the database:")
            && out.contains("Connection refused")
            && out.contains(
                "so this run gives up (--give-up-after 2s): what is not loaded stays where it \
                 is for the next run"
            ),
        "{out}"
    );
    assert_eq!(snapshot(&file), before, "the file was touched");
    let landing = files_under(&s.landing);
    assert_eq!(landing, [file.display().to_string()], "landing folder");
    assert!(
        files_under(&s.rejects).is_empty(),
        "{:?}",
        files_under(&s.rejects)
    );
}

fn load_gives_up_while_the_server_is_down_and_the_next_load_completes_it_once() {
    const ROWS: u64 = 400_000;
    let cluster = Cluster::start();
    let sink = format!("kind = \"postgres\"\nurl = \"{}\"\n", cluster.url());
    let s = Setup::on(
        "pg",
        &sink,
        "orders",
        "orders",
        "create_table = true\nworkers = 2\nbatch_rows = 500",
        "",
    );
    let file = s.path("orders.csv");
    let expected = write_orders(&file, ROWS, 1, 99);
    let before = snapshot(&file);
    let file_s = file.to_str().unwrap();
    let args = [
        "load",
        "--config",
        s.cfg(),
        "--job",
        "orders",
        "--give-up-after",
        "3s",
        file_s,
    ];
    let mut load = Daemon::start(&args, &s.path("load.log"));

    // The server stops once the load is under way.
    let mut client = cluster.client();
    let t0 = Instant::now();
    loop {
        let table = client
            .query_one("SELECT to_regclass('public.orders') IS NOT NULL", &[])
            .unwrap()
            .get::<_, bool>(0);
        let rows = match table {
            true => client
                .query_one("SELECT count(*) FROM orders", &[])
                .unwrap()
                .get::<_, i64>(0),
            false => 0,
        };
        if rows > 0 {
            assert!(
                (rows as u64) < ROWS,
                "the load ended before the server stopped"
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "nothing loaded:\n{}",
            load.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(client);
    // Its first failure may come while it shuts down: the clock starts here.
    let down = Instant::now();
    cluster.down("fast");
    let code = load.wait_exit(Duration::from_secs(60));
    let took = down.elapsed();
    let log = load.log_text();
    assert_eq!(code, Some(UNAVAILABLE), "{log}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "took {took:?}:\n{log}"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(load.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(
        stdout.contains("job orders stopped (transient error)")
            && stdout.contains("(--give-up-after 3s)")
            && stdout.contains("not finished: the job stopped: its target stayed unavailable"),
        "{stdout}"
    );
    assert_eq!(snapshot(&file), before, "the file was touched");
    assert!(
        files_under(&s.rejects).is_empty(),
        "{:?}",
        files_under(&s.rejects)
    );

    // Back up: the next load loads the rest, and nothing twice.
    cluster.up();
    let ran = cli::load(&s.config, "orders", &[&file]).expect(0);
    assert!(ran.stdout.contains("0 rejected"), "{}", ran.stdout);
    let mut client = cluster.client();
    assert_eq!(orders_sum(&mut client, "orders", "true"), expected);
}

fn sigterm_during_connect_back_off_exits_within_2s() {
    let s = orders_on(&pg_at(free_port()));
    drop_orders(&s.landing, "orders.csv", 100, 1, 3);
    let mut d = Daemon::start(&["run", "--config", s.cfg()], &s.path("daemon.log"));
    // Both workers well into their back-off (waits of a second and more).
    d.expect_log("retry_in=", 12, Duration::from_secs(30));
    let t0 = Instant::now();
    d.signal(15);
    let code = d.wait_exit(Duration::from_secs(40));
    let took = t0.elapsed();
    let log = d.log_text();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(2), "took {took:?}:\n{log}");
    assert!(!log.contains("killing them"), "{log}");
    assert_eq!(
        log.matches("stopped while waiting to retry, as the supervisor asked")
            .count(),
        2,
        "{log}"
    );
    assert!(s.landing.join("orders.csv").exists());
}
