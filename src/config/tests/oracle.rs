//! The `kind = "oracle"` sink: a full valid table, defaults, and one test per
//! error with its exact `:line:column: key.path`.
//!
//! `ORACLE` is 15 lines; text appended to it starts on line 16, inside
//! `[jobs.orders.source]`.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::{Fixture, MINIMAL};
use crate::config::{OracleSink, Secret, Sink};

/// MINIMAL with its sink replaced by an oracle one (lines 1-5 are the sink).
const ORACLE: &str = r#"[sinks.local]
kind = "oracle"
connect = "dbhost:1521/FREEPDB1"
user = "loader"
password_env = "INGESTD_TEST_ORACLE_PW"

[jobs.orders]
sink = "local"

[jobs.orders.source]
kind = "dir"
path = "landing"
"#;

fn with_sink_key(line: &str) -> String {
    ORACLE.replace(
        "password_env = \"INGESTD_TEST_ORACLE_PW\"\n",
        &format!("password_env = \"INGESTD_TEST_ORACLE_PW\"\n{line}\n"),
    )
}

fn assert_err(text: &str, expected: &str) {
    let got = Fixture::new().err(text);
    assert!(
        got.starts_with(expected),
        "\nexpected: {expected}\n     got: {got}"
    );
}

#[test]
fn defaults() {
    let fx = Fixture::new();
    let cfg = fx.ok(ORACLE);
    assert_eq!(
        cfg.sinks["local"],
        Sink::Oracle(OracleSink {
            connect: "dbhost:1521/FREEPDB1".into(),
            user: "loader".into(),
            password: Secret::Env("INGESTD_TEST_ORACLE_PW".into()),
            schema: None,
            connect_timeout: Duration::from_secs(10),
            client_lib_dir: None,
            config_dir: None,
            pool_min: 1,
            pool_max: 2,
            pool_increment: 1,
            stmt_cache_size: 20,
        })
    );
    assert_eq!(cfg.sinks["local"].kind(), "oracle");
}

#[test]
fn every_key() {
    let fx = Fixture::new();
    fs::create_dir_all(fx.conf_dir().join("tns")).expect("mkdir");
    fs::write(fx.conf_dir().join("pw"), "secret\n").expect("write");
    let text = ORACLE
        .replace(
            "password_env = \"INGESTD_TEST_ORACLE_PW\"\n",
            "password_file = \"pw\"\nclient_lib_dir = \"ic\"\nconfig_dir = \"tns\"\n\
             pool_min = 0\npool_max = 4\npool_increment = 2\nstmt_cache_size = 0\n\
             schema = \"SALES\"\nconnect_timeout = \"3s\"\n",
        )
        .replace("dbhost:1521/FREEPDB1", "SALES_HA");
    let cfg = fx.ok(&text);
    let conf = fx.conf_dir();
    assert_eq!(
        cfg.sinks["local"],
        Sink::Oracle(OracleSink {
            connect: "SALES_HA".into(),
            user: "loader".into(),
            password: Secret::File(conf.join("pw")),
            schema: Some("SALES".into()),
            connect_timeout: Duration::from_secs(3),
            // Need not exist yet: the client may be installed later.
            client_lib_dir: Some(conf.join("ic")),
            config_dir: Some(conf.join("tns")),
            pool_min: 0,
            pool_max: 4,
            pool_increment: 2,
            stmt_cache_size: 0,
        })
    );
}

#[test]
fn missing_keys() {
    assert_err(
        &ORACLE.replace("connect = \"dbhost:1521/FREEPDB1\"\n", ""),
        ":1:1: sinks.local: missing key `connect`: an oracle sink needs its connect string",
    );
    assert_err(
        &ORACLE.replace("user = \"loader\"\n", ""),
        ":1:1: sinks.local: missing key `user`: an oracle sink needs the database user",
    );
    assert_err(
        &ORACLE.replace("password_env = \"INGESTD_TEST_ORACLE_PW\"\n", ""),
        ":1:1: sinks.local: missing password: an oracle sink needs one of password_file, \
         password_env or password_credential",
    );
    assert_err(
        &ORACLE.replace("user = \"loader\"", "user = \" \""),
        ":4:8: sinks.local.user: expected the database user to log in as",
    );
}

#[test]
fn pool_sizes() {
    assert_err(
        &with_sink_key("pool_max = 0"),
        ":6:12: sinks.local.pool_max: must be between 1 and 1024, got 0",
    );
    assert_err(
        &with_sink_key("pool_min = 3"),
        ":6:12: sinks.local.pool_min: pool_min (3) must not be larger than pool_max (2)",
    );
    assert_err(
        &with_sink_key("pool_increment = 0"),
        ":6:18: sinks.local.pool_increment: must be between 1 and 1024, got 0",
    );
    assert_err(
        &with_sink_key("stmt_cache_size = -1"),
        ":6:19: sinks.local.stmt_cache_size: must be between 0 and 10000, got -1",
    );
    assert_err(
        &with_sink_key("pool_min = \"1\""),
        ":6:12: sinks.local.pool_min: invalid type: string \"1\", expected an integer",
    );
}

#[test]
fn folders() {
    let fx = Fixture::new();
    let missing: PathBuf = fx.conf_dir().join("tns");
    assert_eq!(
        fx.err(&with_sink_key("config_dir = \"tns\"")),
        format!(
            ":6:14: sinks.local.config_dir: bad path {}: no such directory",
            missing.display()
        )
    );
    assert_err(
        &with_sink_key("client_lib_dir = \"~/ic\""),
        ":6:18: sinks.local.client_lib_dir: `~` is not expanded here: write the full path",
    );
}

#[test]
fn keys_of_another_kind_are_refused() {
    assert_err(
        &with_sink_key("path = \"db.sqlite\""),
        ":6:8: sinks.local.path: key `path` is not valid for sink kind `oracle` (only for kind `sqlite`)",
    );
    assert_err(
        &with_sink_key("synchronous = \"full\""),
        ":6:15: sinks.local.synchronous: key `synchronous` is not valid for sink kind `oracle` (only for kind `sqlite`)",
    );
    let sqlite = |line: &str| {
        MINIMAL.replace(
            "path = \"db/test.db\"\n",
            &format!("path = \"db/test.db\"\n{line}\n"),
        )
    };
    assert_err(
        &sqlite("connect = \"x\""),
        ":4:11: sinks.local.connect: key `connect` is not valid for sink kind `sqlite` (only for kind `oracle`)",
    );
    assert_err(
        &sqlite("pool_max = 3"),
        ":4:12: sinks.local.pool_max: key `pool_max` is not valid for sink kind `sqlite` (only for kind `postgres` or `oracle`)",
    );
}

#[test]
fn a_password_in_connect_is_refused_at_its_place_without_repeating_it() {
    let got = Fixture::new().err(&ORACLE.replace("dbhost:1521/FREEPDB1", "scott/tiger@db"));
    assert!(
        got.starts_with(
            ":3:11: sinks.local.connect: a password inside the connect string \
             (user/password@...) is refused: write only what follows the @ here, the user in \
             `user`, and keep it in password_file, password_env or password_credential"
        ),
        "{got}"
    );
    assert!(!got.contains("tiger"), "{got}");
    assert_err(
        &ORACLE.replace("dbhost:1521/FREEPDB1", "scott@dbhost:1521/FREEPDB1"),
        ":3:11: sinks.local.connect: a user inside the connect string (user@...) is refused",
    );
}

#[test]
fn an_at_sign_inside_a_description_or_a_parameter_is_not_a_password() {
    let fx = Fixture::new();
    for connect in [
        "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCPS)(HOST=db)(PORT=2484))(SECURITY=(SSL_SERVER_CERT_DN=\"E=dba@example.com\"))(CONNECT_DATA=(SERVICE_NAME=x)))",
        "tcps://db:2484/svc?wallet_location=/etc/w@1",
        "db:1521/FREEPDB1",
    ] {
        let text = ORACLE.replace("\"dbhost:1521/FREEPDB1\"", &format!("{connect:?}"));
        let cfg = fx.ok(&text);
        let Sink::Oracle(o) = &cfg.sinks["local"] else {
            panic!("not oracle")
        };
        assert_eq!(o.connect, connect);
    }
}

#[test]
fn a_password_in_user_is_refused_at_its_place_without_repeating_it() {
    let got = Fixture::new().err(&ORACLE.replace("user = \"loader\"", "user = \"scott/tiger\""));
    assert!(
        got.starts_with(
            ":4:8: sinks.local.user: a password inside `user` (user/password) is refused: write \
             the user alone, and keep it in password_file"
        ),
        "{got}"
    );
    assert!(!got.contains("tiger"), "{got}");
    assert_err(
        &ORACLE.replace("user = \"loader\"", "user = \"scott@db\""),
        ":4:8: sinks.local.user: a connect string inside `user` (user@db) is refused",
    );
    // A proxy user is a user.
    let cfg = Fixture::new().ok(&ORACLE.replace("user = \"loader\"", "user = \"loader[SALES]\""));
    let Sink::Oracle(o) = &cfg.sinks["local"] else {
        panic!("not oracle")
    };
    assert_eq!(o.user, "loader[SALES]");
}

#[test]
fn schema_names_are_checked() {
    assert_err(
        &with_sink_key("schema = \"\""),
        ":6:10: sinks.local.schema: empty schema name",
    );
    assert_err(
        &with_sink_key("schema = 'A\"B'"),
        ":6:10: sinks.local.schema: a schema name cannot hold a double quote",
    );
    assert_err(
        &with_sink_key(&format!("schema = \"{}\"", "S".repeat(129))),
        ":6:10: sinks.local.schema: a schema name is at most 128 bytes, this one has 129",
    );
}

#[test]
fn connect_timeout_is_whole_seconds() {
    assert_err(
        &with_sink_key("connect_timeout = \"0s\""),
        ":6:19: sinks.local.connect_timeout: must be 1s or longer",
    );
    assert_err(
        &with_sink_key("connect_timeout = \"500ms\""),
        ":6:19: sinks.local.connect_timeout: must be 1s or longer",
    );
}
