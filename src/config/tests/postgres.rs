//! `kind = "postgres"` sinks: the URL and key forms, defaults, and one test
//! per rule with the exact `:line:column: key.path` of the error.
//!
//! `PG` puts the sink's keys on lines 2-3; a key added with `sink_key` is on line 4.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::{Fixture, MINIMAL};
use crate::config::{PgSslMode, PostgresSink, Secret, Sink};

const PG: &str = r#"[sinks.pg]
kind = "postgres"
url = "postgres://loader@db.example:5432/warehouse"

[jobs.orders]
sink = "pg"

[jobs.orders.source]
kind = "dir"
path = "landing"
"#;

/// `PG` with `line` added as line 4, inside `[sinks.pg]`.
fn sink_key(line: &str) -> String {
    PG.replace("/warehouse\"\n", &format!("/warehouse\"\n{line}\n"))
}

/// `PG` with the URL replaced by `lines` (starting on line 3).
fn keys(lines: &str) -> String {
    PG.replace(
        "url = \"postgres://loader@db.example:5432/warehouse\"",
        lines,
    )
}

fn assert_err(text: &str, expected: &str) {
    let got = Fixture::new().err(text);
    assert!(
        got.starts_with(expected),
        "\nexpected: {expected}\n     got: {got}"
    );
}

fn pg_of(text: &str) -> PostgresSink {
    match Fixture::new().ok(text).sinks.remove("pg") {
        Some(Sink::Postgres(p)) => p,
        other => panic!("expected a postgres sink, got {other:?}"),
    }
}

#[test]
fn url_form_with_defaults() {
    assert_eq!(
        pg_of(PG),
        PostgresSink {
            host: "db.example".into(),
            port: 5432,
            dbname: "warehouse".into(),
            user: "loader".into(),
            schema: "public".into(),
            password: None,
            sslmode: PgSslMode::Prefer,
            sslrootcert: None,
            pool_max: 1,
            connect_timeout: Duration::from_secs(10),
        }
    );
}

#[test]
fn key_form_with_every_key() {
    let fx = Fixture::new();
    fs::write(fx.conf_dir().join("ca.pem"), "not checked here").expect("write");
    let text = keys(
        "host = \"10.1.2.3\"\nport = 6432\ndbname = \"w\"\nuser = \"u\"\nschema = \"Staging\"\n\
         sslmode = \"verify-full\"\nsslrootcert = \"ca.pem\"\npool_max = 2\n\
         connect_timeout = \"3s\"\npassword_env = \"PGPASS\"",
    );
    let Some(Sink::Postgres(p)) = fx.ok(&text).sinks.remove("pg") else {
        panic!("postgres sink")
    };
    assert_eq!(
        p,
        PostgresSink {
            host: "10.1.2.3".into(),
            port: 6432,
            dbname: "w".into(),
            user: "u".into(),
            schema: "Staging".into(),
            password: Some(Secret::Env("PGPASS".into())),
            sslmode: PgSslMode::VerifyFull,
            sslrootcert: Some(fx.conf_dir().join("ca.pem")),
            pool_max: 2,
            connect_timeout: Duration::from_secs(3),
        }
    );
}

#[test]
fn url_parameters_and_unix_sockets() {
    let p = pg_of(&PG.replace(
        "5432/warehouse\"",
        "5432/warehouse?sslmode=disable&connect_timeout=2\"",
    ));
    assert_eq!(p.sslmode, PgSslMode::Disable);
    assert_eq!(p.connect_timeout, Duration::from_secs(2));
    let p = pg_of(&keys(
        "host = \"/var/run/postgresql\"\ndbname = \"d\"\nuser = \"u\"",
    ));
    assert_eq!((p.host.as_str(), p.port), ("/var/run/postgresql", 5432));
}

#[test]
fn password_inside_the_url() {
    assert_err(
        &PG.replace("loader@", "loader:s3cret@"),
        ":3:7: sinks.pg.url: a password inside the URL is refused: keep it in password_file, \
         password_env or password_credential",
    );
    assert_err(
        &PG.replace("/warehouse\"", "/warehouse?password=x\""),
        ":3:7: sinks.pg.url: a password inside the URL is refused",
    );
}

#[test]
fn url_that_is_not_one() {
    assert_err(
        &PG.replace("postgres://", "mysql://"),
        ":3:7: sinks.pg.url: \"mysql://loader@db.example:5432/warehouse\" is not a URL like postgres://",
    );
    assert_err(
        &PG.replace("/warehouse\"", "/warehouse?options=-csearch_path%3Dx\""),
        ":3:7: sinks.pg.url: unknown URL parameter \"options\" (supported: host, port, ",
    );
}

#[test]
fn url_missing_parts() {
    assert_err(
        &PG.replace("/warehouse", ""),
        ":3:7: sinks.pg.url: the URL names no dbname",
    );
    assert_err(
        &PG.replace("loader@", ""),
        ":3:7: sinks.pg.url: the URL names no user",
    );
}

#[test]
fn url_and_keys_together() {
    assert_err(
        &sink_key("host = \"other\""),
        ":4:8: sinks.pg.host: `host` cannot be combined with `url`: give either url or host/port/dbname/user",
    );
    assert_err(
        &PG.replace(
            "/warehouse\"",
            "/warehouse?sslmode=require\"\nsslmode = \"disable\"",
        ),
        ":4:11: sinks.pg.sslmode: `sslmode` is also given in `url`: keep one",
    );
}

#[test]
fn missing_keys() {
    assert_err(
        &keys("host = \"h\"\ndbname = \"d\""),
        ":1:1: sinks.pg: missing key `user`: a postgres sink needs `url`, or `host`, `dbname` and `user`",
    );
    assert_err(
        &keys("dbname = \"d\"\nuser = \"u\""),
        ":1:1: sinks.pg: missing key `host`",
    );
}

#[test]
fn bad_values() {
    assert_err(
        &sink_key("sslmode = \"allow\""),
        ":4:11: sinks.pg.sslmode: unknown value `allow`, expected one of `disable`, `prefer`, `require`, `verify-ca`, `verify-full`",
    );
    assert_err(
        &sink_key("pool_max = 0"),
        ":4:12: sinks.pg.pool_max: must be between 1 and 16, got 0",
    );
    assert_err(
        &keys("host = \"h\"\nport = 70000\ndbname = \"d\"\nuser = \"u\""),
        ":4:8: sinks.pg.port: must be between 1 and 65535, got 70000",
    );
    assert_err(
        &sink_key("connect_timeout = \"0s\""),
        ":4:19: sinks.pg.connect_timeout: must be longer than 0s",
    );
    assert_err(
        &sink_key("schema = \"\""),
        ":4:10: sinks.pg.schema: empty schema name",
    );
    assert_err(
        &keys("host = \"a,b\"\ndbname = \"d\"\nuser = \"u\""),
        ":3:8: sinks.pg.host: several hosts (a,b) are not supported",
    );
    assert_err(
        &keys("host = \"run/pg\"\ndbname = \"d\"\nuser = \"u\""),
        ":3:8: sinks.pg.host: invalid host \"run/pg\": a unix socket folder must be an absolute path",
    );
}

#[test]
fn tls_rules() {
    assert_err(
        &keys("host = \"/tmp\"\ndbname = \"d\"\nuser = \"u\"\nsslmode = \"verify-full\""),
        ":6:11: sinks.pg.sslmode: sslmode = verify-full needs a TCP host: TLS is not used over a unix socket (/tmp)",
    );
    assert_err(
        &sink_key("sslrootcert = \"ca.pem\""),
        ":4:15: sinks.pg.sslrootcert: sslrootcert is only used with sslmode = require, verify-ca or verify-full (sslmode is prefer)",
    );
    let fx = Fixture::new();
    let missing: PathBuf = fx.conf_dir().join("nope.pem");
    assert_eq!(
        fx.err(&sink_key(
            "sslmode = \"verify-ca\"\nsslrootcert = \"nope.pem\""
        )),
        format!(
            ":5:15: sinks.pg.sslrootcert: no readable file at {}",
            missing.display()
        )
    );
}

#[test]
fn passwords() {
    assert_err(
        &sink_key("password_env = \"A\"\npassword_file = \"pw\""),
        ":4:16: sinks.pg.password_env: give the password in one place only",
    );
    let fx = Fixture::new();
    assert_eq!(
        fx.err(&sink_key("password_file = \"pw\"")),
        format!(
            ":4:17: sinks.pg.password_file: no readable file at {}",
            fx.conf_dir().join("pw").display()
        )
    );
    assert_err(
        &sink_key("password_credential = \"a/b\""),
        ":4:23: sinks.pg.password_credential: expected a credential name",
    );
}

#[test]
fn keys_of_the_other_kind() {
    assert_err(
        &sink_key("path = \"x.db\""),
        ":4:8: sinks.pg.path: key `path` is not valid for sink kind `postgres` (only for kind `sqlite`)",
    );
    assert_err(
        &sink_key("synchronous = \"full\""),
        ":4:15: sinks.pg.synchronous: key `synchronous` is not valid for sink kind `postgres`",
    );
    assert_err(
        &MINIMAL.replace(
            "path = \"db/test.db\"",
            "path = \"db/test.db\"\nschema = \"s\"",
        ),
        ":4:10: sinks.local.schema: key `schema` is not valid for sink kind `sqlite` (only for kind `postgres` or `oracle`)",
    );
    assert_err(
        &MINIMAL.replace(
            "path = \"db/test.db\"",
            "path = \"db/test.db\"\nurl = \"postgres://u@h/d\"",
        ),
        ":4:7: sinks.local.url: key `url` is not valid for sink kind `sqlite`",
    );
    assert_err(
        &sink_key("pool_min = 1"),
        ":4:12: sinks.pg.pool_min: key `pool_min` is not valid for sink kind `postgres` (only for kind `oracle`)",
    );
    assert_err(
        &MINIMAL.replace(
            "path = \"db/test.db\"",
            "path = \"db/test.db\"\nuser = \"u\"",
        ),
        ":4:8: sinks.local.user: key `user` is not valid for sink kind `sqlite` (only for kind `postgres` or `oracle`)",
    );
    // An oracle sink refuses the keys only postgres has (user and pool_max are both's).
    let oracle = "[sinks.pg]\nkind = \"oracle\"\nconnect = \"db:1521/X\"\nuser = \"u\"\n\
                  password_env = \"P\"\nsslmode = \"require\"\n";
    assert_err(
        &PG.replace(
            "[sinks.pg]\nkind = \"postgres\"\nurl = \"postgres://loader@db.example:5432/warehouse\"\n",
            oracle,
        ),
        ":6:11: sinks.pg.sslmode: key `sslmode` is not valid for sink kind `oracle` (only for kind `postgres`)",
    );
}
