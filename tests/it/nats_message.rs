//! What a message brings besides its payload, and a poison message inside
//! a full batch, with the real binary, a private `nats-server` and
//! PostgreSQL.
//!
//! 400 messages are published before the daemon starts (so its batches
//! are full: 50 messages each), with a `Nats-Msg-Id` header (one message
//! without it) and an `X-Count` header (one that is no number) on four
//! subjects. Columns take the header, the subject, the stream sequence and
//! the publish time. The table has a trigger that sleeps in the insert of
//! record 137; whenever a worker's session sleeps there, the test
//! SIGKILLs that worker (and ends its session). The batch holding it is cut
//! in halves after `max_batch_attempts` deaths, again and again, until the
//! one message is quarantined; everything batched with it loads.
//! Afterwards: 398 rows, each with its message's values, a NULL `msg_id`
//! for the message without the header, the record with the bad header
//! rejected naming its column, the poison message quarantined with its
//! sequence and subject, and the consumer with nothing pending or unacked.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::nats::{CONSUMER, Client, STREAM, SUBJECTS, Server, payload, subject};
use crate::support::pg::Schema;
use crate::support::rejects::notes;
use crate::support::*;

trials![
    message_columns_and_a_poison_message_inside_a_full_batch[Pg, NatsServer],
    run_once_loads_what_the_stream_holds_and_ends[NatsServer],
];

const RECORDS: u64 = 400;
const SEED: u64 = 20_261_206;
const POISON: u64 = 137;
const NO_MSG_ID: u64 = 5;
const BAD_COUNT: u64 = 9;

fn message_columns_and_a_poison_message_inside_a_full_batch() {
    let mut pg = Schema::new("nats_msg");
    pg.exec(&format!(
        "CREATE TABLE events (id bigint NOT NULL, body text, msg_id text, subject text, \
         seq bigint, published timestamptz, n int);
         CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.id = {POISON} THEN PERFORM pg_sleep(120); END IF; RETURN NEW; END $$;
         CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison();"
    ));
    let server = Server::start();
    let client = Client::connect(&server.url());
    client.create_stream();
    let t0 = now();
    let mut seqs = HashMap::new();
    for id in 1..=RECORDS {
        let msg_id = format!("m-{id}");
        let count = match id {
            BAD_COUNT => "nine".to_string(),
            _ => id.to_string(),
        };
        let mut headers = vec![("X-Count", count.as_str())];
        if id != NO_MSG_ID {
            headers.push(("Nats-Msg-Id", msg_id.as_str()));
        }
        let seq = client.publish_with_headers(&subject(id), &headers, payload(SEED, id));
        seqs.insert(id, seq);
    }
    let t1 = now();

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ingestd.toml");
    std::fs::write(&cfg, config(&server.url(), &pg.sink_toml())).unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let mut daemon = Daemon::start(&["run", "--config", &cfg], &dir.path().join("ingestd.log"));

    // Kill whichever worker sleeps in the poison record's insert.
    let (started, mut kills) = (Instant::now(), 0);
    let mut watcher = crate::support::pg::connect().unwrap();
    while !daemon.log_text().contains("quarantining a batch") {
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "no quarantine after {kills} kills:\n{}",
            tail(&daemon.log_text())
        );
        let sleeping = watcher
            .query(
                "SELECT pid, application_name FROM pg_stat_activity \
                 WHERE wait_event = 'PgSleep' AND starts_with(application_name, 'ingestd/')",
                &[],
            )
            .unwrap();
        for row in sleeping {
            let (backend, app): (i32, String) = (row.get(0), row.get(1));
            let worker: u32 = app.rsplit('/').next().unwrap().parse().unwrap();
            if children(daemon.pid()).contains(&worker) {
                kill(worker, 9);
                kills += 1;
            }
            watcher
                .execute("SELECT pg_terminate_backend($1)", &[&backend])
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let nats = Client::connect(&server.url());
    let t = Instant::now();
    loop {
        let rows = pg.int("SELECT count(*) FROM events");
        let settled = nats.consumer().is_ok_and(|c| c.settled());
        if rows == RECORDS as i64 - 2 && settled {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{rows} rows; {}\n{}",
            nats.describe(),
            tail(&daemon.log_text())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = daemon.log_text();
    eprintln!("{kills} worker kills");
    assert!(
        log.contains("its halves are loaded apart"),
        "{}",
        tail(&log)
    );

    // Every row has its own message's values.
    let s = pg.name.clone();
    let wrong = pg.int(&format!(
        "SELECT count(*) FROM \"{s}\".events WHERE id IN ({POISON}, {BAD_COUNT}) \
         OR msg_id IS DISTINCT FROM CASE WHEN id = {NO_MSG_ID} THEN NULL ELSE 'm-' || id END \
         OR subject <> 'events.k' || (id % 4) OR n <> id \
         OR published < to_timestamp({t0} - 2) OR published > to_timestamp({t1} + 2)"
    ));
    assert_eq!(wrong, 0, "rows with values that are not their message's");
    assert_eq!(
        pg.int(&format!("SELECT count(DISTINCT id) FROM \"{s}\".events")),
        RECORDS as i64 - 2
    );
    for id in (1..=RECORDS).filter(|i| ![POISON, BAD_COUNT].contains(i)) {
        let got = pg.int(&format!("SELECT seq FROM \"{s}\".events WHERE id = {id}"));
        assert_eq!(got as u64, seqs[&id], "the sequence of record {id}");
    }
    let unordered = pg.int(&format!(
        "SELECT count(*) FROM (SELECT published < lag(published) OVER (ORDER BY seq) AS back \
         FROM \"{s}\".events) t WHERE back"
    ));
    assert_eq!(unordered, 0, "publish times follow the sequences");

    // Two rejects: the bad header naming its column, the poison message.
    let files: Vec<_> = glob::glob(&format!("{}/rejects/*.bad.jsonl", dir.path().display()))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let all = notes(&files[0]);
    for n in &all {
        let id = [POISON, BAD_COUNT]
            .into_iter()
            .find(|i| n["offset"] == seqs[i]);
        let id = id.unwrap_or_else(|| panic!("a note of another message: {n}"));
        assert_eq!(n["subject"], subject(id), "{n}");
        assert_eq!(n["file"], STREAM, "{n}");
    }
    let mut got: Vec<(u64, String, Option<String>)> = all
        .iter()
        .map(|n| {
            let column = n["column"].as_str().map(String::from);
            (
                n["offset"].as_u64().unwrap(),
                n["code"].as_str().unwrap().into(),
                column,
            )
        })
        .collect();
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, seqs[&BAD_COUNT], "{got:?}");
    assert_eq!(got[0].2.as_deref(), Some("n"), "{got:?}");
    assert_eq!(
        (got[1].0, got[1].1.as_str()),
        (seqs[&POISON], "quarantined"),
        "{got:?}"
    );
    let bad = std::fs::read_to_string(files[0].with_extension("")).unwrap();
    assert!(bad.contains(&payload(SEED, POISON)), "{bad}");
    let ledger = pg.int(&format!(
        "SELECT (sum(rows_loaded) * 1000 + sum(rows_rejected))::bigint FROM \"{s}\".ingestd_ledger"
    ));
    assert_eq!(
        ledger,
        (RECORDS as i64 - 2) * 1000 + 2,
        "the ledger's counts"
    );
    daemon.signal(15);
    assert_eq!(daemon.wait_exit(Duration::from_secs(30)), Some(0));
}

/// `run --once` on a stream: it reads until the consumer has nothing
/// pending, waits for its batches to commit, acks them and exits 0; a
/// second run finds nothing and ends too; a message published later is
/// loaded by a third.
fn run_once_loads_what_the_stream_holds_and_ends() {
    let server = Server::start();
    let client = Client::connect(&server.url());
    client.create_stream();
    for id in 1..=3_000 {
        client.publish(&subject(id), payload(SEED, id));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("once.db");
    let sink = format!("kind = \"sqlite\"\npath = {:?}\n", db.to_str().unwrap());
    let text = config(&server.url(), &sink)
        .replace(
            "workers = 2\nbatch_rows = 50",
            "workers = 2\nbatch_rows = 500",
        )
        .replace(
            "\n[jobs.events]\n",
            "\n[jobs.events]\ncreate_table = true\n",
        );
    let cfg = dir.path().join("ingestd.toml");
    std::fs::write(&cfg, text).unwrap();
    let count = || {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row("SELECT count(*), count(DISTINCT id) FROM events", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .unwrap()
    };
    let once = || {
        let ran = ingestd(["run", "--once", "--config"])
            .arg(&cfg)
            .deadline(Duration::from_secs(60))
            .run();
        assert_eq!(ran.code, Some(0), "{}", ran.output());
        ran
    };
    let first = once();
    assert_eq!(count(), (3_000, 3_000), "{}", first.output());
    assert!(Client::connect(&server.url()).consumer().unwrap().settled());
    once();
    assert_eq!(count(), (3_000, 3_000));
    client.publish(&subject(3_001), payload(SEED, 3_001));
    once();
    assert_eq!(count(), (3_001, 3_001));
    let c = Client::connect(&server.url()).consumer().unwrap();
    assert!(c.settled() && c.ack_floor == 3_001, "{c:?}");
}

fn config(url: &str, sink: &str) -> String {
    let col = |name: &str, ty: &str, from: &str| {
        format!(
            "[[jobs.events.columns]]\nname = \"{name}\"\ntype = \"{ty}\"\nfrom = \"{from}\"\n\n"
        )
    };
    let columns = [
        col("id", "bigint", "id"),
        col("body", "text", "body"),
        col("msg_id", "text", "header:Nats-Msg-Id"),
        col("subject", "text", "nats:subject"),
        col("seq", "bigint", "nats:sequence"),
        col("published", "timestamptz", "nats:published"),
        col("n", "int", "header:X-Count"),
    ]
    .concat();
    format!(
        "[daemon]\nstate_dir = \"state\"\n\n[sinks.db]\n{sink}\n\
         [jobs.events]\nsink = \"db\"\ntable = \"events\"\nreject_dir = \"rejects\"\n\
         workers = 2\nbatch_rows = 50\nmax_batch_attempts = 2\n\n\
         [jobs.events.source]\nkind = \"nats\"\nurl = \"{url}\"\nstream = \"{STREAM}\"\n\
         consumer = \"{CONSUMER}\"\nfilter_subject = \"{SUBJECTS}\"\nack_wait = \"5s\"\n\n\
         [jobs.events.format]\nkind = \"jsonl\"\n\n{columns}"
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn tail(log: &str) -> String {
    crate::support::nats::tail(log, 40)
}
