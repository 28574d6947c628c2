//! Sessions of a worker's pool: taking one, tagging it so a DBA sees in
//! `V$SESSION` which job and worker it serves (client identifier, module,
//! action), DRCP's connection class when the connect string asks for a
//! pooled server, and setting it up (`setup_sql`): NLS formats that do not
//! depend on the client's or the server's defaults, binary comparison (a
//! MERGE's key match is never linguistic), and the schema the target tables
//! and the ledger are found in. Owns no transaction.
//!
//! The binds never depend on NLS (numbers, dates and timestamps are
//! converted in the worker and bound in their own types, see `bind.rs`):
//! the formats here are the second line of defence, for anything the
//! database itself converts from text (a trigger, a default, a view).

use oracle::Connection;
use oracle::conn::Purity;
use oracle::pool::{Pool, PoolOptions};

use crate::worker::sink::Session;
use crate::worker::sink::sql::push_ident;

/// What a session says about itself, and the statement that sets it up.
/// Oracle's limits: module 48 bytes, action 32, client identifier 64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tags {
    pub client_identifier: String,
    pub module: String,
    pub action: String,
    /// The connect string asks for DRCP (`:POOLED`, `(SERVER=POOLED)`).
    pub drcp: bool,
    /// `setup_sql` for the sink's schema, run on every session taken.
    pub setup: String,
}

/// DRCP sessions of every ingestd worker share one connection class.
pub const CONNECTION_CLASS: &str = "INGESTD";

impl Tags {
    pub fn new(s: &Session, connect: &str, schema: Option<&str>) -> Tags {
        Tags {
            client_identifier: cut(format!("ingestd:{}:{}:{}", s.job, s.worker, s.pid), 64),
            module: cut(format!("ingestd {}", s.job), 48),
            action: cut(format!("worker {} pid {}", s.worker, s.pid), 32),
            drcp: is_drcp(connect),
            setup: setup_sql(schema),
        }
    }
}

/// The NLS settings of every session, ISO formats and `.` as the decimal
/// point: what an operator reading the database sees ingestd send.
pub const NLS: &str = "NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS' \
     NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9' \
     NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM' \
     NLS_NUMERIC_CHARACTERS = '.,' NLS_COMP = BINARY NLS_SORT = BINARY";

/// One `ALTER SESSION` (one round trip) with the NLS settings and, with a
/// schema, `CURRENT_SCHEMA` (quoted as configured): unqualified names (the
/// target, `ingestd_ledger`) are then looked up, and created, there.
pub fn setup_sql(schema: Option<&str>) -> String {
    let mut s = format!("ALTER SESSION SET {NLS}");
    if let Some(owner) = schema {
        s.push_str(" CURRENT_SCHEMA = ");
        push_ident(&mut s, owner);
    }
    s
}

/// Whether `connect` asks for a DRCP pooled server.
pub fn is_drcp(connect: &str) -> bool {
    let up: String = connect
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    up.ends_with(":POOLED") || up.contains("(SERVER=POOLED)")
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// The session in `slot`, or a new one from `pool`, tagged.
pub fn acquire<'a>(
    slot: &'a mut Option<Connection>,
    pool: &Pool,
    tags: &Tags,
) -> oracle::Result<&'a Connection> {
    if let Some(conn) = slot {
        return Ok(conn);
    }
    let conn = if tags.drcp {
        let opts = PoolOptions::new()
            .connection_class(CONNECTION_CLASS)
            .purity(Purity::Self_);
        pool.get_with_options(&opts)?
    } else {
        pool.get()?
    };
    // Sent with the next round trip: the setup's.
    conn.set_client_identifier(&tags.client_identifier)?;
    conn.set_module(&tags.module)?;
    conn.set_action(&tags.action)?;
    conn.execute(&tags.setup, &[])?;
    Ok(slot.insert(conn))
}
