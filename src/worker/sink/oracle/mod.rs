//! The Oracle sink: one session pool per worker process, built with the
//! `oracle` crate's `PoolBuilder` after the worker starts and closed
//! (`pool.close`) before it exits. ODPI-C creates one process-global OCI
//! environment on first use and has no fork handling, so it is initialised
//! here, in the worker, and never in the supervisor (which does not import
//! this module; `client` alone, which never loads the library, serves
//! `ingestd check`).
//!
//! Owns client initialisation (`InitParams`, once per process), the pool
//! and its session tags, table checks and creation, and Oracle's steps of
//! the batch transaction (`steps.rs`: rows by array DML in `write.rs`, the
//! ledger row, one COMMIT; its shape and the ledger's rules are `deliver`'s).
//! Must not touch pipes, files or the supervisor's state.
//!
//! A client library that cannot be loaded (DPI-1047) is
//! `SinkError::ClientLibrary`: the failure sticks for the life of the
//! process, so the worker exits for a new one instead of retrying in place.

mod bind;
mod classify;

mod session;
mod sql;
mod steps;
mod table;
mod write;

use oracle::pool::{CloseMode, Pool, PoolBuilder};
use oracle::sql_type::OracleType;
use oracle::{Connection, InitParams};
use tracing::{debug, info};

use self::bind::TargetColumn;
pub use self::classify::classify;
use self::classify::describe;
use self::session::Tags;
use self::steps::Tx;
use self::write::step_err;
use super::sql::{self as common_sql, Placeholder};
use super::{Session, Sink, SinkError, WriteOutcome, WriteRequest};
use super::{deliver, ledger};
use crate::config::{OracleSink, WriteMode};
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, LedgerRange};

/// A worker's pool on one Oracle database.
pub struct OracleTarget {
    pool: Pool,
    /// The session in use, taken from the pool at first need and kept; a
    /// session that failed with a transient error is dropped, not returned.
    conn: Option<Connection>,
    tags: Tags,
    pid: u32,
    /// Tables checked (or created) by `ensure_table`, with their columns.
    tables: Vec<(String, Vec<TargetColumn>)>,
    ledger_overlapping: String,
    ledger_committed: String,
    ledger_insert: String,
}

/// The ledger's key columns bind as VARCHAR2, never NVARCHAR2: an NVARCHAR2
/// bind compared with a VARCHAR2 column converts the column, not the value,
/// and the primary key's index goes unused.
pub(super) const KEY_BIND: OracleType = OracleType::Varchar2(sql::LEDGER_KEY_CHARS);

/// The ledger's `target`, bound as VARCHAR2 for the same reason.
pub(super) const TARGET_BIND: OracleType = OracleType::Varchar2(sql::LEDGER_TARGET_CHARS);

/// Loads the Oracle Client library (once per process: ODPI-C keeps one
/// global environment). Any failure here is about the library itself.
fn init_client(cfg: &OracleSink) -> Result<(), SinkError> {
    let lib_dir = cfg.client_lib_dir.as_deref();
    let failed = |e: oracle::Error| {
        let what = match e.dpi_code() {
            Some(1047) => "the Oracle Client library (libclntsh.so) cannot be found or loaded",
            Some(1050 | 1072) => "the Oracle Client library found is not a version ODPI-C can use",
            _ => "the Oracle Client library cannot be initialised",
        };
        SinkError::ClientLibrary {
            detail: format!(
                "{what}: {e}. To fix: {}",
                crate::oracle_client::how_to_fix(lib_dir)
            ),
        }
    };
    let mut params = InitParams::new();
    params
        .default_driver_name(format!("ingestd : {}", env!("CARGO_PKG_VERSION")))
        .map_err(failed)?;
    if let Some(dir) = lib_dir {
        params.oracle_client_lib_dir(dir).map_err(failed)?;
    }
    if let Some(dir) = &cfg.config_dir {
        params.oracle_client_config_dir(dir).map_err(failed)?;
    }
    params.init().map(drop).map_err(failed)
}

impl OracleTarget {
    /// Loads the client library, builds the pool, and creates the ledger
    /// table when it is missing.
    pub fn open(cfg: &OracleSink, session: &Session) -> Result<Self, SinkError> {
        // The worker's span carries job, worker and pid.
        info!(connect = %cfg.connect, user = %cfg.user, "opening the pool");
        init_client(cfg)?;
        let open_err = |class, detail: String| SinkError::Open {
            class,
            detail: format!("{} as {}: {detail}", cfg.connect, cfg.user),
        };
        let password = cfg
            .password
            .read()
            .map_err(|e| open_err(ErrorClass::Config, e.to_string()))?;
        let pool = PoolBuilder::new(cfg.user.as_str(), password.as_str(), cfg.connect.as_str())
            .min_connections(cfg.pool_min)
            .max_connections(cfg.pool_max)
            .connection_increment(cfg.pool_increment)
            .stmt_cache_size(cfg.stmt_cache_size)
            .build()
            .map_err(|e| open_err(classify(&e), e.to_string()))?;
        let mut target = OracleTarget {
            pool,
            conn: None,
            tags: Tags::new(session, &cfg.connect),
            pid: session.pid,
            tables: Vec::new(),
            ledger_overlapping: sql::ledger_overlapping_sql(),
            ledger_committed: ledger::select_committed_sql(Placeholder::Colon),
            ledger_insert: ledger::insert_sql(Placeholder::Colon, sql::NOW),
        };
        if let Err(e) = target.create_ledger() {
            let _ = target.pool.close(&CloseMode::Force);
            return Err(e);
        }
        debug!(connect = %cfg.connect, "oracle pool open");
        Ok(target)
    }

    /// `CREATE TABLE ingestd_ledger` when the schema has none (looked up
    /// first, so a user without CREATE TABLE can use a ledger a DBA made);
    /// ORA-00955 means another worker created it meanwhile. A ledger an
    /// older version made is upgraded (`sql::ledger_upgrade_steps`).
    fn create_ledger(&mut self) -> Result<(), SinkError> {
        let ledger_err = |what: &str, e: &oracle::Error| SinkError::Ledger {
            class: classify(e),
            detail: format!("{what} {}: {}", ledger::TABLE, e),
        };
        let conn = self.session().map_err(|e| ledger_err("creating", &e))?;
        let count = |q: &str| conn.query_row_as::<i64>(q, &[]);
        let exists = count(sql::LEDGER_EXISTS_SQL).map_err(|e| ledger_err("creating", &e))?;
        if exists == 0 {
            let ddl = ledger::create_sql(&sql::LEDGER_TYPES, ledger::TABLE, false);
            return match conn.execute(&ddl, &[]) {
                Ok(_) => Ok(()),
                Err(e) if e.oci_code() == Some(sql::ORA_NAME_IN_USE) => Ok(()),
                Err(e) => Err(ledger_err("creating", &e)),
            };
        }
        let upgraded =
            count(sql::LEDGER_KEY_HAS_TARGET_SQL).map_err(|e| ledger_err("reading", &e))?;
        if upgraded > 0 {
            return Ok(());
        }
        for (ddl, done_by_another) in sql::ledger_upgrade_steps() {
            match conn.execute(&ddl, &[]) {
                Ok(_) => {}
                Err(e) if e.oci_code() == Some(done_by_another) => {}
                Err(e) => return Err(ledger_err("upgrading", &e)),
            }
        }
        info!("{}", ledger::UPGRADED);
        Ok(())
    }

    /// The session in use, taken from the pool (and tagged) when there is none.
    fn session(&mut self) -> oracle::Result<&Connection> {
        session::acquire(&mut self.conn, &self.pool, &self.tags)
    }

    /// After a failed step outside a batch (see `steps::after_error`).
    fn after_error(&mut self, e: &SinkError) {
        steps::after_error(&mut self.conn, e);
    }

    /// The dictionary's description of `columns` in `table` (as checked by
    /// `ensure_table`), in the same order; `None` where unknown.
    fn targets(&self, table: &str, columns: &[ColumnSpec]) -> Vec<Option<TargetColumn>> {
        let have = self.tables.iter().find(|(t, _)| t == table).map(|(_, c)| c);
        columns
            .iter()
            .map(|c| {
                have.and_then(|h| h.iter().find(|t| t.name == c.name))
                    .cloned()
            })
            .collect()
    }
}

/// A step that is not one row's (see `SinkError::whole_step`).
pub(super) fn whole_step(what: &str, e: &oracle::Error) -> SinkError {
    SinkError::whole_step(what, classify(e), describe(e))
}

/// How `ledger::to_i64` names Oracle's integers (the ledger's NUMBER(19)).
const INT: &str = sql::LEDGER_TYPES.int;

/// One ledger row as `ledger::range_from_row` takes it.
pub(super) fn read_range(row: &oracle::Row) -> Result<LedgerRange, SinkError> {
    let err = |e: oracle::Error| step_err("reading a ledger row", &e);
    let mut ints = [0i64; 5];
    for (i, v) in ints.iter_mut().enumerate() {
        *v = row.get(i).map_err(err)?;
    }
    let rejects: String = row.get(5).map_err(err)?;
    ledger::range_from_row(ints, &rejects).map_err(SinkError::bad_request)
}

impl Sink for OracleTarget {
    fn ensure_table(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        create: bool,
        mode: &WriteMode,
    ) -> Result<Vec<String>, SinkError> {
        let conn = self.session().map_err(|e| SinkError::Table {
            class: classify(&e),
            table: table.to_string(),
            detail: format!("taking a session from the pool: {e}"),
        })?;
        let result = table::ensure(conn, table, columns, create, mode);
        match result {
            Ok((names, have)) => {
                self.tables.retain(|(t, _)| t != table);
                self.tables.push((table.to_string(), have));
                Ok(names)
            }
            Err(e) => {
                self.after_error(&e);
                Err(e)
            }
        }
    }

    fn committed(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
    ) -> Result<Vec<LedgerRange>, SinkError> {
        let ledger_err = ledger::committed_err(job, source);
        let db_err = |e: oracle::Error| ledger_err(classify(&e), e.to_string());
        let sql = &self.ledger_committed;
        let target = table::LIMITS.identity(table);
        let result = (|| {
            let conn = session::acquire(&mut self.conn, &self.pool, &self.tags).map_err(db_err)?;
            let params: [&dyn oracle::sql_type::ToSql; 3] = [
                &(&job, &KEY_BIND),
                &(&target, &TARGET_BIND),
                &(&source, &KEY_BIND),
            ];
            let rows = conn.query(sql, &params).map_err(db_err)?;
            let mut ranges = Vec::new();
            for row in rows {
                ranges.push(read_range(&row.map_err(db_err)?)?);
            }
            Ok(ranges)
        })();
        if let Err(e) = &result {
            self.after_error(e);
        }
        result
    }

    fn claim_legacy(&mut self, job: &str, table: &str) -> Result<u64, SinkError> {
        let target = table::LIMITS.identity(table);
        let has = ledger::has_legacy_sql(Placeholder::Colon);
        let claim = ledger::claim_sql(Placeholder::Colon);
        let result = (|| {
            let conn = self.session()?;
            if conn.query_row_as::<i64>(&has, &[&(&job, &KEY_BIND)])? == 0 {
                return Ok(0);
            }
            // Bound by position of occurrence: the target (`:2`) comes first.
            let done = conn.execute(&claim, &[&(&target, &TARGET_BIND), &(&job, &KEY_BIND)])?;
            conn.commit()?;
            done.row_count()
        })();
        result.map_err(|e| {
            let e = ledger::claim_err(job, &target)(classify(&e), describe(&e));
            self.after_error(&e);
            e
        })
    }

    fn write(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        let batch = deliver::check(req, INT, &target)?;
        let targets = self.targets(req.table, req.columns);
        let insert = match req.mode {
            WriteMode::Insert => common_sql::insert_sql(req.table, req.columns, Placeholder::Colon),
            WriteMode::Upsert { key } => sql::merge_sql(req.table, req.columns, key),
        };
        let mut tx = Tx {
            slot: &mut self.conn,
            pool: &self.pool,
            tags: &self.tags,
            insert: &insert,
            targets: &targets,
            ledger_overlapping: &self.ledger_overlapping,
            ledger_insert: &self.ledger_insert,
            pid: self.pid,
        };
        // Any failure ends in `Tx::abort`, which keeps or drops the session.
        deliver::run(&mut tx, &batch)
    }

    fn close(self: Box<Self>) -> Result<(), SinkError> {
        let OracleTarget { pool, conn, .. } = *self;
        // Back to the pool first: a pool with a session out refuses Default.
        if let Some(conn) = conn {
            let _ = conn.rollback();
            drop(conn);
        }
        pool.close(&CloseMode::Default)
            .or_else(|_| pool.close(&CloseMode::Force))
            .map_err(|e| SinkError::Close {
                class: classify(&e),
                detail: e.to_string(),
            })
    }
}

#[cfg(test)]
#[path = "tests/session.rs"]
mod tests;
