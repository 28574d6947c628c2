//! The PostgreSQL sink through the real worker process, each test in a
//! schema of its own: typed values parsed from CSV and read back as
//! written, the ledger (a redelivery answered from it, a partial overlap
//! that stops the job, the committed ranges per job and source, the session
//! gone after Shutdown), and a concurrent duplicate answered as already
//! committed. Failures are `pg_sink_faults`, refused rows `pg_sink_rejects`.

use std::time::{Duration, Instant};

use ingestd::format::ColumnType;
use ingestd::protocol::{ErrorClass, ToWorker};

use crate::support::pg::{self, Schema};
use crate::support::trials;
use crate::support::worker::{Feed, TEXT, Worker, col, pg_setup};

trials![
    typed_values_read_back_as_written[Pg],
    ledger_redelivery_overlap_and_ranges[Pg],
    a_concurrent_duplicate_is_reported_as_already_committed[Pg],
];

fn typed_values_read_back_as_written() {
    let mut db = Schema::new("types");
    db.exec(
        "CREATE TABLE t (i2 smallint, i4 integer, i8 bigint, n numeric(20,4), nu numeric, \
         f4 real, f8 double precision, t text, v varchar(5), c char(3), j jsonb, b boolean, \
         d date, ts timestamp, tz timestamptz, b2 boolean)",
    );
    db.exec("SET TIME ZONE 'UTC'");
    let dec = ColumnType::Decimal {
        precision: 20,
        scale: 4,
    };
    // Some job types differ from the table's on purpose: the sink converts.
    let cols = [
        col("i2", ColumnType::Int, true),
        col("i4", ColumnType::Int, true),
        col("i8", ColumnType::BigInt, true),
        col("n", dec, true),
        col("nu", TEXT, true),
        col("f4", ColumnType::Float, true),
        col("f8", TEXT, true),
        col("t", TEXT, true),
        col("v", ColumnType::Int, true),
        col("c", TEXT, true),
        col("j", TEXT, true),
        col("b", TEXT, true),
        col("d", ColumnType::Date, true),
        col("ts", TEXT, true),
        col("tz", ColumnType::Date, true),
        col("b2", ColumnType::Bool, true),
    ];
    let mut w = Worker::start(pg_setup(db.sink(), "orders", "t"));
    w.ready();
    let b = Feed::new(&cols).next(&[
        "-7,123456,-9223372036854775808,-12345678.9012,1.5e-3,0.5,-Infinity,\
         \"Zoë \"\"q\"\"\nx\",42,ab,\"{\"\"a\"\": [1]}\",yes,2024-02-29,\
         2024-02-29 23:59:59.123456,2024-02-29,false",
        // Every field empty: all NULL.
        ",,,,,,,,,,,,,,,",
    ]);
    let done = w.load(&b);
    assert_eq!(
        (done.loaded, done.rejects, done.already),
        (2, vec![], false)
    );
    let all = "concat_ws('|', i2, i4, i8, n, nu, f4, f8, t, v, c, j, b, d, ts, tz, b2, \
               num_nulls(i2, i4, i8, n, nu, f4, f8, t, v, c, j, b, d, ts, tz, b2))";
    let got = db.texts(&format!("SELECT {all} FROM t"));
    assert_eq!(
        got,
        vec![
            "-7|123456|-9223372036854775808|-12345678.9012|0.0015|0.5|-Infinity|Zoë \"q\"\nx|42|ab |\
             {\"a\": [1]}|t|2024-02-29|2024-02-29 23:59:59.123456|2024-02-29 00:00:00+00|f|0"
                .to_string(),
            "16".to_string(),
        ]
    );
    assert_eq!(w.shutdown(), Some(0));
}

/// Sessions of the server tagged `app` (application_name).
fn sessions(db: &mut Schema, app: &str) -> i64 {
    db.int(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
}

/// Waits for the server to see session `app` end (it notices a goodbye a
/// moment after it is said).
fn wait_gone(db: &mut Schema, app: &str) {
    let t0 = Instant::now();
    while sessions(db, app) > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "session {app} outlived its worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ledger_redelivery_overlap_and_ranges() {
    let mut db = Schema::new("ledger");
    let cols = [
        col("id", ColumnType::BigInt, false),
        col("name", TEXT, true),
    ];
    let job = db.name.clone();
    let mut setup = pg_setup(db.sink(), &job, "t");
    setup.create_table = true;
    let mut w = Worker::start(setup);
    let pid = w.ready();
    let mut feed = Feed::new(&cols);
    let first = feed.next(&["1,a", "2,"]);
    let second = feed.next(&["3,c"]);
    assert_eq!(w.load(&first).loaded, 2);
    assert_eq!(w.load(&second).loaded, 1);
    // The same range again: answered from the ledger, nothing written.
    let again = w.load(&first);
    assert!(again.already, "{again:?}");
    assert_eq!((again.loaded, again.rejects.len()), (2, 0));
    let spans: Vec<_> = w
        .ledger("src")
        .iter()
        .map(|r| (r.start, r.end, r.first_line, r.loaded))
        .collect();
    assert_eq!(spans, vec![(0, 7, 1, 2), (7, 11, 3, 1)]);
    assert!(w.ledger("other").is_empty(), "ranges are per source");
    // ...and per job: another job's worker sees none of them.
    let mut other = pg_setup(db.sink(), &format!("{job}_other"), "t");
    other.worker = 2;
    let mut o = Worker::start(other);
    let other_pid = o.ready();
    assert!(o.ledger("src").is_empty(), "ranges are per job");
    assert_eq!(o.shutdown(), Some(0));
    wait_gone(&mut db, &format!("ingestd/{job}_other/w2/{other_pid}"));

    let app = format!("ingestd/{job}/w1/{pid}");
    assert_eq!(sessions(&mut db, &app), 1, "one session, tagged {app}");
    assert_eq!(db.int("SELECT count(*) FROM t"), 3);
    // Starting inside the first batch and reaching into the second: a
    // conflict, never a redelivery, so the job stops.
    let overlapping = feed.at(first.start + 4, 2, &["9,x", "9,y"]);
    w.send(ToWorker::Batch(overlapping));
    let (class, message) = w.fatal();
    assert_eq!(class, ErrorClass::Config, "{message}");
    assert!(message.contains("ledger conflict"), "{message}");
    assert_eq!(db.int("SELECT count(*) FROM t"), 3, "nothing of it written");
    // The worker closed its pool before it exited.
    wait_gone(&mut db, &app);
}

fn a_concurrent_duplicate_is_reported_as_already_committed() {
    let mut db = Schema::new("race");
    db.exec("CREATE TABLE t (id bigint NOT NULL)");
    let cols = [col("id", ColumnType::BigInt, false)];
    let batch = Feed::new(&cols).next(&["1", "2"]);
    let mut workers: Vec<(Worker, String)> = (1..=2)
        .map(|n| {
            let mut setup = pg_setup(db.sink(), "orders", "t");
            setup.worker = n;
            let mut w = Worker::start(setup);
            let pid = w.ready();
            (w, format!("ingestd/orders/w{n}/{pid}"))
        })
        .collect();
    // Both workers get the same batch while the test holds the ledger:
    // each checks it (reading is allowed), writes the rows, and waits to
    // add its ledger row. Only then does the test let go, so both have
    // passed the check before either commits.
    let mut holder = pg::connect().unwrap();
    holder
        .batch_execute(&format!(
            "SET search_path TO \"{}\"; BEGIN; LOCK TABLE ingestd_ledger IN EXCLUSIVE MODE",
            db.name
        ))
        .unwrap();
    for (w, _) in &mut workers {
        w.send(ToWorker::Batch(batch.clone()));
    }
    let apps: Vec<String> = workers.iter().map(|(_, app)| app.clone()).collect();
    let waiting = format!(
        "SELECT count(DISTINCT a.pid) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
         WHERE NOT l.granted AND l.relation = '\"{}\".ingestd_ledger'::regclass \
         AND a.application_name IN ('{}')",
        db.name,
        apps.join("', '")
    );
    let t0 = Instant::now();
    while db.int(&waiting) < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the workers never both waited for the ledger"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.batch_execute("COMMIT").unwrap();
    let outs: Vec<_> = workers.iter_mut().map(|(w, _)| w.done(&batch)).collect();
    let already = outs.iter().filter(|d| d.already).count();
    assert_eq!(already, 1, "{outs:?}");
    assert!(outs.iter().all(|d| d.loaded == 2), "{outs:?}");
    assert_eq!(db.int("SELECT count(*) FROM t"), 2);
    assert_eq!(db.int("SELECT count(*) FROM ingestd_ledger"), 1);
    for (w, _) in workers {
        assert_eq!(w.shutdown(), Some(0));
    }
}
