//! Sessions of a worker's pool: taking one and tagging it so a DBA sees in
//! `V$SESSION` which job and worker it serves (client identifier, module,
//! action), and DRCP's connection class when the connect string asks for a
//! pooled server. Owns no transaction.

use oracle::Connection;
use oracle::conn::Purity;
use oracle::pool::{Pool, PoolOptions};

use crate::worker::sink::Session;

/// What a session says about itself. Oracle's limits: module 48 bytes,
/// action 32, client identifier 64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tags {
    pub client_identifier: String,
    pub module: String,
    pub action: String,
    /// The connect string asks for DRCP (`:POOLED`, `(SERVER=POOLED)`).
    pub drcp: bool,
}

/// DRCP sessions of every ingestd worker share one connection class.
pub const CONNECTION_CLASS: &str = "INGESTD";

impl Tags {
    pub fn new(s: &Session, connect: &str) -> Tags {
        Tags {
            client_identifier: cut(format!("ingestd:{}:{}:{}", s.job, s.worker, s.pid), 64),
            module: cut(format!("ingestd {}", s.job), 48),
            action: cut(format!("worker {} pid {}", s.worker, s.pid), 32),
            drcp: is_drcp(connect),
        }
    }
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
    // Sent with the next round trip: no extra one here.
    conn.set_client_identifier(&tags.client_identifier)?;
    conn.set_module(&tags.module)?;
    conn.set_action(&tags.action)?;
    Ok(slot.insert(conn))
}
