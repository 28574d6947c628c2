//! SQLite's part in a stream's batch (`deliver::stream`): the ledger
//! look-up of held sequences and the ledger row with its runs. A writing
//! transaction holds the file's write lock from `BEGIN IMMEDIATE` to its
//! end, so the source needs no lock of its own.
//!
//! Owns those statements' use. Must not decide what is held or written.

use rusqlite::{Connection, ErrorCode, ffi, params};

use super::steps::Tx;
use super::{NOW, SqliteTarget, write_err};
use crate::worker::sink::deliver::stream::{self, StreamSink, StreamSteps, Try};
use crate::worker::sink::deliver::{Key, LedgerInsert, LedgerRow};
use crate::worker::sink::ledger::runs;
use crate::worker::sink::sql::Placeholder;
use crate::worker::sink::{SinkError, WriteRequest};

use super::insert::Plan;

fn held(conn: &Connection, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError> {
    let read = |e: rusqlite::Error| write_err("reading the ledger", &e);
    let mut stmt = conn
        .prepare_cached(&runs::select_sql(Placeholder::Question))
        .map_err(read)?;
    let rows = stmt
        .query_map(
            params![
                key.job,
                key.target,
                key.source,
                key.start,
                key.end,
                runs::low(key.start)
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .map_err(read)?;
    let mut all = Vec::new();
    for row in rows {
        let (a, b, text) = row.map_err(read)?;
        all.extend(runs::of_row(a, b, text.as_deref()).map_err(SinkError::bad_request)?);
    }
    Ok(runs::merge(all))
}

impl StreamSteps for Tx<'_> {
    fn lock_source(&mut self, _: &Key<'_>) -> Result<(), SinkError> {
        Ok(())
    }

    fn held_runs(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError> {
        held(self.conn, key)
    }

    fn insert_runs(&mut self, row: &LedgerRow<'_>, text: &str) -> Result<LedgerInsert, SinkError> {
        let k = row.key;
        let ledger_write = |e: rusqlite::Error| write_err("writing the ledger row", &e);
        let done = self
            .conn
            .prepare_cached(&runs::insert_sql(Placeholder::Question, NOW))
            .map_err(ledger_write)?
            .execute(params![
                k.job,
                k.target,
                k.source,
                k.start,
                k.end,
                k.first_line,
                row.loaded,
                row.rejected,
                row.rejects,
                self.pid,
                text
            ]);
        match done {
            Ok(_) => Ok(LedgerInsert::Inserted),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == ErrorCode::ConstraintViolation
                    && f.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                Ok(LedgerInsert::DuplicateKey)
            }
            Err(e) => Err(ledger_write(e)),
        }
    }
}

/// `SqliteTarget` as `deliver::stream` drives it.
pub struct SqliteStream<'a>(pub &'a mut SqliteTarget);

impl StreamSink for SqliteStream<'_> {
    fn held(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError> {
        held(&self.0.conn, key)
    }

    fn try_part(
        &mut self,
        req: &WriteRequest<'_>,
        key: &Key<'_>,
        part: &[(u64, u64)],
    ) -> Result<Try, SinkError> {
        let t = &mut *self.0;
        let mut tx = Tx {
            conn: &t.conn,
            tx: None,
            plan: Plan::for_request(&mut t.plan, req),
            ledger_overlapping: &t.ledger_overlapping,
            ledger_insert: &t.ledger_insert,
            pid: t.pid,
        };
        stream::attempt(&mut tx, req, key, part, super::INT)
    }
}
