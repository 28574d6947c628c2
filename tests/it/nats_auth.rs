//! Credentials for a nats source against a real `nats-server` that demands
//! them: a token from a file and from the environment, a user with a
//! password file; a wrong token is a configuration error (`run --once` ends
//! with 78, the job stopped), never a silent wait, and the secret itself is
//! never printed.

use std::path::Path;
use std::time::Duration;

use crate::support::nats::{CONSUMER, Client, STREAM, SUBJECTS, Server, payload, subject};
use crate::support::*;

trials![
    a_token_from_a_file_or_the_environment[NatsServer],
    a_user_and_a_password_file[NatsServer],
];

const TOKEN: &str = "s3cret-t0ken-for-the-test";
const PASSWORD: &str = "pa55-for-the-test";

fn a_token_from_a_file_or_the_environment() {
    let server = Server::start_with(&["--auth", TOKEN]);
    let opts = async_nats::ConnectOptions::with_token(TOKEN.into());
    publish(Client::connect_with(&server.url(), opts), 200);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nats.token"), format!("{TOKEN}\n")).unwrap();

    let cfg = config(dir.path(), &server.url(), "token_file = \"nats.token\"");
    let ran = once(&cfg, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.output());
    assert_eq!(rows(dir.path()), 200);

    let cfg = config(dir.path(), &server.url(), "token_env = \"TEST_NATS_TOKEN\"");
    let ran = once(&cfg, &[("TEST_NATS_TOKEN", TOKEN)]);
    assert_eq!(ran.code, Some(0), "{}", ran.output());
    assert_eq!(rows(dir.path()), 200, "nothing loaded twice");

    let ran = once(&cfg, &[("TEST_NATS_TOKEN", "not-the-token")]);
    assert_eq!(
        ran.code,
        Some(78),
        "a configuration error: {}",
        ran.output()
    );
    let out = ran.output();
    assert!(out.to_lowercase().contains("authorization"), "{out}");
    assert!(
        !out.contains("not-the-token") && !out.contains(TOKEN),
        "{out}"
    );
}

fn a_user_and_a_password_file() {
    let server = Server::start_with(&["--user", "loader", "--pass", PASSWORD]);
    let opts = async_nats::ConnectOptions::with_user_and_password("loader".into(), PASSWORD.into());
    publish(Client::connect_with(&server.url(), opts), 50);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nats.password"), PASSWORD).unwrap();
    let cfg = config(
        dir.path(),
        &server.url(),
        "user = \"loader\"\npassword_file = \"nats.password\"",
    );
    let ran = once(&cfg, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.output());
    assert_eq!(rows(dir.path()), 50);
    assert!(!ran.output().contains(PASSWORD), "{}", ran.output());
}

fn publish(client: Client, n: u64) {
    client.create_stream();
    for id in 1..=n {
        client.publish(&subject(id), payload(7, id));
    }
}

/// `run --once` of `cfg`, with `env`; a minute at most.
fn once(cfg: &Path, env: &[(&str, &str)]) -> Ran {
    let mut cmd = ingestd(["run", "--once", "--give-up-after", "10s", "--config"])
        .arg(cfg)
        .deadline(Duration::from_secs(60));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run()
}

fn rows(dir: &Path) -> i64 {
    let c = rusqlite::Connection::open(dir.join("auth.db")).unwrap();
    c.query_row("SELECT count(DISTINCT id) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// A configuration in `dir` with `auth` among the source's keys.
fn config(dir: &Path, url: &str, auth: &str) -> std::path::PathBuf {
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n\n[sinks.db]\nkind = \"sqlite\"\npath = \"auth.db\"\n\n\
         [jobs.events]\nsink = \"db\"\ntable = \"events\"\ncreate_table = true\n\
         reject_dir = \"rejects\"\n\n\
         [jobs.events.source]\nkind = \"nats\"\nurl = \"{url}\"\nstream = \"{STREAM}\"\n\
         consumer = \"{CONSUMER}\"\nfilter_subject = \"{SUBJECTS}\"\n{auth}\n\n\
         [jobs.events.format]\nkind = \"jsonl\"\n\n\
         [[jobs.events.columns]]\nname = \"id\"\ntype = \"bigint\"\n\n\
         [[jobs.events.columns]]\nname = \"body\"\ntype = \"text\"\n"
    );
    let path = dir.join("ingestd.toml");
    std::fs::write(&path, text).unwrap();
    path
}
