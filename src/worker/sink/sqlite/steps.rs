//! SQLite's steps of a batch's transaction, for the delivery driver
//! (`deliver::Steps`): `BEGIN IMMEDIATE`, the ledger read and insert with
//! the cached statements, the rows through `insert.rs`, COMMIT / ROLLBACK.
//!
//! IMMEDIATE takes the write lock at BEGIN (waiting in `busy_timeout`), so
//! the ledger check and the insert see the same state and never need to
//! upgrade a read lock, which fails at once with SQLITE_BUSY in WAL. Two
//! workers on one file therefore never reach the ledger insert with the same
//! range; the driver's duplicate-key rule covers rows written by others.
//!
//! Owns the statements' parameters and which error is a duplicate ledger
//! key. Must not decide anything about the ledger: the driver does.

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, ffi, params};

use super::insert::{self, Plan};
use super::{read_range, write_err};
use crate::protocol::LedgerRange;
use crate::worker::sink::deliver::{Care, Key, LedgerInsert, LedgerRow, Steps, Written};
use crate::worker::sink::{SinkError, WriteRequest};

/// One batch's transaction on `conn`.
pub struct Tx<'a> {
    pub conn: &'a Connection,
    /// Open between `begin` and `commit` / `rollback`; dropping it rolls back.
    pub tx: Option<Transaction<'a>>,
    pub plan: &'a mut Plan,
    pub ledger_overlapping: &'a str,
    pub ledger_insert: &'a str,
    pub pid: u32,
}

impl Steps for Tx<'_> {
    fn begin(&mut self) -> Result<(), SinkError> {
        let tx = Transaction::new_unchecked(self.conn, TransactionBehavior::Immediate)
            .map_err(|e| write_err("BEGIN IMMEDIATE", &e))?;
        self.tx = Some(tx);
        Ok(())
    }

    fn overlapping(&mut self, key: &Key<'_>) -> Result<Vec<LedgerRange>, SinkError> {
        let read = |e: rusqlite::Error| write_err("reading the ledger", &e);
        let mut stmt = self
            .conn
            .prepare_cached(self.ledger_overlapping)
            .map_err(read)?;
        let rows = stmt
            .query_map(
                params![key.job, key.target, key.source, key.start, key.end],
                read_range,
            )
            .map_err(read)?;
        let mut stored = Vec::new();
        for row in rows {
            stored.push(row.map_err(read)?.map_err(SinkError::bad_request)?);
        }
        Ok(stored)
    }

    fn write_rows(&mut self, req: &WriteRequest<'_>, _: Care) -> Result<Written, SinkError> {
        // Rows are isolated on the first try: a refused statement leaves the
        // transaction open, so there is nothing to redo.
        let (loaded, rejects) = insert::insert_rows(self.conn, self.plan, req)?;
        Ok(Written::Rows { loaded, rejects })
    }

    fn insert_ledger(&mut self, row: &LedgerRow<'_>) -> Result<LedgerInsert, SinkError> {
        let k = row.key;
        let ledger_write = |e: rusqlite::Error| write_err("writing the ledger row", &e);
        let done = self
            .conn
            .prepare_cached(self.ledger_insert)
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
                self.pid
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

    fn commit(&mut self) -> Result<(), SinkError> {
        match self.tx.take() {
            Some(tx) => tx.commit().map_err(|e| write_err("COMMIT", &e)),
            None => Err(SinkError::bad_request(
                "COMMIT without a transaction (a bug)".into(),
            )),
        }
    }

    fn rollback(&mut self) -> Result<(), SinkError> {
        match self.tx.take() {
            Some(tx) => tx.rollback().map_err(|e| write_err("ROLLBACK", &e)),
            None => Ok(()),
        }
    }
}
