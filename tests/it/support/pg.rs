//! The PostgreSQL test server: where it is (`INGESTD_TEST_PG_URL`, default
//! postgres://postgres@127.0.0.1:5432/test), whether it answers (asked once
//! by the harness; `INGESTD_REQUIRE_PG=1` makes a missing server a failure),
//! a schema of each test's own, the orders sum of a table, and what the
//! server says about its sessions and whose sockets they are.

use std::fs;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use ingestd::config::{PgSslMode, PostgresSink};
use postgres::config::Host;
use postgres::{Client, NoTls};

use super::{Sum, canonical};

/// The test server's address, parsed once from its URL.
pub struct Server {
    pub url: String,
    /// A host name, an address, or a unix socket's folder.
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
}

pub fn server() -> &'static Server {
    static SERVER: LazyLock<Server> = LazyLock::new(|| {
        let url = std::env::var("INGESTD_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pg = postgres::Config::from_str(&url)
            .unwrap_or_else(|e| panic!("INGESTD_TEST_PG_URL={url}: {e}"));
        let host = match pg.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "127.0.0.1".into(),
        };
        Server {
            host,
            port: pg.get_ports().first().copied().unwrap_or(5432),
            dbname: pg.get_dbname().unwrap_or("test").into(),
            user: pg.get_user().unwrap_or("postgres").into(),
            url,
        }
    });
    &SERVER
}

/// Whether a missing server fails the tests that need it (CI) instead of
/// leaving them ignored.
pub fn required() -> bool {
    std::env::var("INGESTD_REQUIRE_PG").as_deref() == Ok("1")
}

/// A new session on the test server.
pub fn connect() -> Result<Client, postgres::Error> {
    let mut cfg = postgres::Config::from_str(&server().url)?;
    // A server that drops packets must not stall the run.
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    cfg.connect(NoTls)
}

/// Whether the test server answers; the reason when it does not.
pub(super) fn probe() -> Result<(), String> {
    connect().map(drop).map_err(|e| {
        // The driver's message alone is "error connecting to server": the
        // cause (refused, timed out, no such role...) is its source.
        let cause = std::error::Error::source(&e).map_or(String::new(), |c| format!(": {c}"));
        format!(
            "no PostgreSQL at {}: {e}{cause} (set INGESTD_TEST_PG_URL)",
            server().url
        )
    })
}

/// The test server's certificate file, when it has TLS on, the file is
/// readable here and the server is reached over TCP (where TLS applies).
pub fn tls_certificate() -> Result<PathBuf, String> {
    let mut c = connect().map_err(|e| e.to_string())?;
    let mut show = |what: &str| -> Result<String, String> {
        c.query_one(&format!("SHOW {what}"), &[])
            .map(|r| r.get(0))
            .map_err(|e| format!("SHOW {what}: {e}"))
    };
    let (ssl, cert) = (show("ssl")?, PathBuf::from(show("ssl_cert_file")?));
    if ssl != "on" {
        return Err(format!("the test server has TLS off (ssl = {ssl})"));
    }
    if fs::File::open(&cert).is_err() {
        return Err(format!(
            "the test server's certificate {} is not readable here",
            cert.display()
        ));
    }
    if server().host.starts_with('/') {
        return Err(
            "the test server is reached over a unix socket, where TLS does not apply".into(),
        );
    }
    Ok(cert)
}

/// A schema of one test's own on the test server, dropped (with what is
/// in it) at the end.
pub struct Schema {
    pub client: Client,
    pub name: String,
}

impl Schema {
    /// `ingestd_it_TAG_PID`, created afresh (the harness has checked that
    /// the server answers).
    pub fn new(tag: &str) -> Schema {
        let mut client = connect().expect("the test server answered the harness");
        let name = format!("ingestd_it_{tag}_{}", std::process::id());
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE; CREATE SCHEMA \"{name}\""
            ))
            .expect("create the test schema");
        Schema { client, name }
    }

    /// The body of a `[sinks.NAME]` table for this schema.
    pub fn sink_toml(&self) -> String {
        format!(
            "kind = \"postgres\"\nurl = \"{}\"\nschema = \"{}\"\n",
            server().url,
            self.name
        )
    }

    /// The PostgreSQL sink of a worker writing into this schema of the test
    /// server: one session, TLS if the server offers it, no password.
    pub fn sink(&self) -> PostgresSink {
        let pg = server();
        PostgresSink {
            host: pg.host.clone(),
            port: pg.port,
            dbname: pg.dbname.clone(),
            user: pg.user.clone(),
            schema: self.name.clone(),
            password: None,
            sslmode: PgSslMode::Prefer,
            sslrootcert: None,
            pool_max: 1,
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Runs `sql` with this schema first on the search path.
    pub fn exec(&mut self, sql: &str) {
        let sql = format!("SET search_path TO \"{}\"; {sql}", self.name);
        self.client
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// The first column of the first row of `sql` (an integer).
    pub fn int(&mut self, sql: &str) -> i64 {
        self.exec("SELECT 1");
        self.client
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    /// The first column (text) of every row of `sql`, sorted.
    pub fn texts(&mut self, sql: &str) -> Vec<String> {
        self.exec("SELECT 1");
        let mut v: Vec<String> = self
            .client
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        v.sort();
        v
    }

    /// The orders sum of `table` (rows `filter` keeps).
    pub fn sum(&mut self, table: &str, filter: &str) -> Sum {
        self.exec("SELECT 1");
        orders_sum(&mut self.client, table, filter)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
    }
}

/// The order-independent sum of an orders table, as `Sum` of the file.
pub fn orders_sum(client: &mut Client, table: &str, filter: &str) -> Sum {
    let sql = format!(
        "SELECT id, customer_id::bigint, customer_name, (amount * 100)::bigint, currency::text, \
         created_at::text, status, note FROM \"{table}\" WHERE {filter}"
    );
    let mut sum = Sum::default();
    for r in client
        .query(&sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    {
        let note: Option<String> = r.get(7);
        sum.add(&canonical(
            r.get(0),
            r.get(1),
            &r.get::<_, String>(2),
            r.get(3),
            &r.get::<_, String>(4),
            &r.get::<_, String>(5),
            &r.get::<_, String>(6),
            note.as_deref(),
        ));
    }
    sum
}

/// Sessions on the server whose `application_name` starts with `prefix`:
/// (backend pid, application_name, client port).
pub fn sessions(client: &mut Client, prefix: &str) -> Vec<(i32, String, Option<i32>)> {
    client
        .query(
            "SELECT pid, application_name, client_port FROM pg_stat_activity \
             WHERE starts_with(application_name, $1)",
            &[&prefix],
        )
        .expect("pg_stat_activity")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The process that owns the local end of the TCP connection from
/// `local_port` (a client's port) to `server_port`, among `pids`.
pub fn socket_owner(local_port: u16, server_port: u16, pids: &[u32]) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if f.len() > 9 && port(f[1]) == Some(local_port) && port(f[2]) == Some(server_port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    pids.iter().copied().find(|pid| {
        super::fd_targets(*pid)
            .iter()
            .any(|t| inodes.iter().any(|i| t.as_os_str() == i.as_str()))
    })
}
