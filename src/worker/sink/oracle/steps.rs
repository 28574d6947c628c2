//! Oracle's steps of a batch's transaction, for the delivery driver
//! (`deliver::Steps`). Oracle begins a transaction at the first DML, so
//! `begin` takes the session (tagged and set up) from the pool and makes
//! every deferrable constraint immediate for this transaction (`SET
//! CONSTRAINTS ALL IMMEDIATE`): a deferred foreign key or check then fails
//! at its row, which is rejected like any other, not at COMMIT. The ledger
//! read and insert bind the key columns as VARCHAR2 (`KEY_BIND`) and the
//! notes as a CLOB; the rows go by array DML (`write.rs`). ORA-00001 on the
//! ledger insert is told to the driver as a duplicate key, whose rule reads
//! the ledger again.
//!
//! Owns the binds of the ledger statements and what happens to the session
//! after a failure (`after_error`). Must not decide about the ledger: the
//! driver does.

use oracle::Connection;
use oracle::pool::Pool;
use oracle::sql_type::{OracleType, ToSql};

use super::session::{self, Tags};
use super::sql::SET_CONSTRAINTS_SQL;
use super::target::TargetColumn;
use super::write::{self, ORA_UNIQUE, step_err};
use super::{KEY_BIND, TARGET_BIND, read_range, whole_step};
use crate::protocol::{ErrorClass, LedgerRange};
use crate::worker::sink::deliver::{Care, Key, LedgerInsert, LedgerRow, Steps, Written};
use crate::worker::sink::{SinkError, WriteRequest};

/// What `begin` runs first in each batch's transaction.
pub const BEGIN: [&str; 1] = [SET_CONSTRAINTS_SQL];

/// One batch's transaction on the worker's session.
pub struct Tx<'a> {
    /// The session in use; `begin` takes one from the pool when there is none.
    pub slot: &'a mut Option<Connection>,
    pub pool: &'a Pool,
    pub tags: &'a Tags,
    pub targets: &'a [Option<TargetColumn>],
    pub ledger_overlapping: &'a str,
    pub ledger_insert: &'a str,
    pub pid: u32,
}

impl Tx<'_> {
    /// The session `begin` took.
    fn conn(&self) -> Result<&Connection, SinkError> {
        self.slot.as_ref().ok_or_else(|| {
            SinkError::bad_request("the session was lost in the middle of a batch (a bug)".into())
        })
    }
}

impl Steps for Tx<'_> {
    fn begin(&mut self) -> Result<(), SinkError> {
        let conn = session::acquire(self.slot, self.pool, self.tags)
            .map_err(|e| step_err("taking a session from the pool", &e))?;
        for sql in BEGIN {
            conn.execute(sql, &[]).map_err(|e| whole_step(sql, &e))?;
        }
        Ok(())
    }

    fn overlapping(&mut self, key: &Key<'_>) -> Result<Vec<LedgerRange>, SinkError> {
        let read = |e: oracle::Error| step_err("reading the ledger", &e);
        // Oracle binds by position of occurrence: the start twice.
        let params: [&dyn ToSql; 6] = [
            &(&key.job, &KEY_BIND),
            &(&key.target, &TARGET_BIND),
            &(&key.source, &KEY_BIND),
            &key.end,
            &key.start,
            &key.start,
        ];
        let found = self
            .conn()?
            .query(self.ledger_overlapping, &params)
            .map_err(read)?;
        let mut stored = Vec::new();
        for row in found {
            stored.push(read_range(&row.map_err(read)?)?);
        }
        Ok(stored)
    }

    fn write_rows(&mut self, req: &WriteRequest<'_>, _: Care) -> Result<Written, SinkError> {
        // Batch errors name each refused row on the first try: nothing to redo.
        let (loaded, rejects) = write::write_rows(self.conn()?, req, self.targets)?;
        Ok(Written::Rows { loaded, rejects })
    }

    fn insert_ledger(&mut self, row: &LedgerRow<'_>) -> Result<LedgerInsert, SinkError> {
        let k = row.key;
        let pid = i64::from(self.pid);
        let params: [&dyn ToSql; 10] = [
            &(&k.job, &KEY_BIND),
            &(&k.target, &TARGET_BIND),
            &(&k.source, &KEY_BIND),
            &k.start,
            &k.end,
            &k.first_line,
            &row.loaded,
            &row.rejected,
            &(&row.rejects, &OracleType::CLOB),
            &pid,
        ];
        match self.conn()?.execute(self.ledger_insert, &params) {
            Ok(_) => Ok(LedgerInsert::Inserted),
            // The ledger's primary key, its only unique constraint.
            Err(e) if e.oci_code() == Some(ORA_UNIQUE) => Ok(LedgerInsert::DuplicateKey),
            Err(e) => Err(whole_step("writing the ledger row", &e)),
        }
    }

    fn commit(&mut self) -> Result<(), SinkError> {
        self.conn()?.commit().map_err(|e| whole_step("COMMIT", &e))
    }

    fn rollback(&mut self) -> Result<(), SinkError> {
        match self.slot.as_ref() {
            Some(conn) => conn.rollback().map_err(|e| whole_step("ROLLBACK", &e)),
            None => Ok(()),
        }
    }

    fn abort(&mut self, failed: &SinkError) {
        after_error(self.slot, failed);
    }
}

/// After a failed step: a lost session is dropped (the pool makes a new
/// one); otherwise the transaction is rolled back and the session kept.
pub fn after_error(slot: &mut Option<Connection>, e: &SinkError) {
    let Some(conn) = slot.take() else { return };
    if e.class() == ErrorClass::Transient || conn.rollback().is_err() {
        let _ = conn.close_with_mode(oracle::conn::CloseMode::Drop);
    } else {
        *slot = Some(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_transaction_begins_with_constraints_immediate() {
        assert_eq!(BEGIN, ["SET CONSTRAINTS ALL IMMEDIATE"]);
    }
}
