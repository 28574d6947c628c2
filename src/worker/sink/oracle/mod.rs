//! The Oracle sink: one session pool per worker process, built with the
//! `oracle` crate's `PoolBuilder` after the worker starts and closed
//! (`pool.close`) before it exits. ODPI-C creates one process-global OCI
//! environment on first use and has no fork handling, so it is initialised
//! here, in the worker, and never in the supervisor (which does not import
//! this module; `client` alone, which never loads the library, serves
//! `ingestd check`).
//!
//! Owns client initialisation and the pool (`connect.rs`), sessions, their
//! tags and NLS setup (`session.rs`), what the data dictionary says
//! (`dictionary.rs`, `target.rs`), table checks and creation (`table.rs`),
//! and Oracle's steps of the batch transaction (`steps.rs`: rows by array
//! DML in `write.rs` with binds in the target's types from `bind.rs`, the
//! ledger row, one COMMIT; its shape and the ledger's rules are
//! `deliver`'s). Must not touch pipes, files or the supervisor's state.
//!
//! The target tables and the ledger live in the session's schema: the
//! user's own, or the sink's `schema` (set as `CURRENT_SCHEMA` on every
//! session, so the SQL names them unqualified, like the other sinks').
//!
//! A client library that cannot be loaded (DPI-1047) is
//! `SinkError::ClientLibrary`: the failure sticks for the life of the
//! process, so the worker exits for a new one instead of retrying in place.

mod bind;
mod classify;
mod connect;
mod dictionary;
mod listing;
mod session;
mod sql;
mod steps;
mod table;
mod target;
mod values;
mod write;

use oracle::Connection;
use oracle::pool::{CloseMode, Pool};
use oracle::sql_type::OracleType;
use tracing::{debug, info};

use self::classify::{classify_at_connect, fail, fail_as};
use self::connect::{build_pool, init_client, open_err};
use self::session::Tags;
use self::steps::Tx;
use self::target::TargetColumn;
use self::write::step_err;
use super::ledger::list::ListedRow;
use super::sql::Placeholder;
use super::{Session, Sink, SinkError, WriteOutcome, WriteRequest};
use super::{deliver, ledger};
use crate::config::{OracleSink, WriteMode};
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, Forgot, LedgerRange};

/// A worker's pool on one Oracle database.
pub struct OracleTarget {
    pool: Pool,
    /// The session in use, taken from the pool at first need and kept; a
    /// session that failed with a transient error is dropped, not returned.
    conn: Option<Connection>,
    tags: Tags,
    pid: u32,
    /// The session's schema (`CURRENT_SCHEMA`), as the dictionary names it.
    owner: String,
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

impl OracleTarget {
    /// Loads the client library, builds the pool, takes (and sets up) the
    /// first session, and creates the ledger table when none is found.
    /// Until the first session is set up, a wrong service, port or host is
    /// a configuration error (`classify_at_connect`).
    pub fn open(cfg: &OracleSink, session: &Session) -> Result<Self, SinkError> {
        // The worker's span carries job, worker and pid. Neither value can
        // hold a password: the configuration refuses one in either.
        info!(connect = %cfg.connect, user = %cfg.user, "opening the pool");
        init_client(cfg)?;
        let password = cfg
            .password
            .read()
            .map_err(|e| open_err(cfg)(ErrorClass::Config, e.to_string()))?;
        let pool = build_pool(cfg, &password)?;
        let mut target = OracleTarget {
            pool,
            conn: None,
            tags: Tags::new(session, &cfg.connect, cfg.schema.as_deref()),
            pid: session.pid,
            owner: String::new(),
            tables: Vec::new(),
            ledger_overlapping: sql::ledger_overlapping_sql(),
            ledger_committed: ledger::select_committed_sql(Placeholder::Colon),
            ledger_insert: ledger::insert_sql(Placeholder::Colon, sql::NOW),
        };
        let first = target
            .session()
            .map(drop)
            .map_err(|e| fail_as(&e, classify_at_connect(&e), open_err(cfg)))
            .map_err(|e| with_schema_hint(e, cfg.schema.as_deref()));
        if let Err(e) = first.and_then(|()| target.create_ledger()) {
            let _ = target.pool.close(&CloseMode::Force);
            return Err(e);
        }
        debug!(connect = %cfg.connect, schema = %target.owner, "oracle pool open");
        Ok(target)
    }

    /// Learns the session's schema and creates `INGESTD_LEDGER` there when
    /// it resolves to nothing (a table of the schema, or a synonym of the
    /// schema or PUBLIC to a ledger a DBA made: then the user needs no
    /// CREATE TABLE); ORA-00955 means another worker created it meanwhile.
    /// A ledger an older version made is upgraded
    /// (`sql::ledger_upgrade_steps`; one behind a synonym needs its owner's
    /// rights for that).
    fn create_ledger(&mut self) -> Result<(), SinkError> {
        let ledger_err = |what: &'static str| {
            move |e: &oracle::Error| {
                fail(e, |class, detail| SinkError::Ledger {
                    class,
                    detail: format!("{what} {}: {detail}", ledger::TABLE),
                })
            }
        };
        let conn = self.session().map_err(|e| ledger_err("creating")(&e))?;
        let (owner, exists) =
            dictionary::ledger_lookup(conn).map_err(|e| ledger_err("creating")(&e))?;
        self.owner = owner;
        let conn = self.session().map_err(|e| ledger_err("creating")(&e))?;
        if !exists {
            let ddl = ledger::create_sql(&sql::LEDGER_TYPES, ledger::TABLE, false);
            return match conn.execute(&ddl, &[]) {
                Ok(_) => Ok(()),
                Err(e) if e.oci_code() == Some(sql::ORA_NAME_IN_USE) => Ok(()),
                Err(e) => Err(ledger_err("creating")(&e)),
            };
        }
        let owner = self.owner.clone();
        let conn = self.session().map_err(|e| ledger_err("reading")(&e))?;
        let upgraded = conn
            .query_row_as::<i64>(
                sql::LEDGER_KEY_HAS_TARGET_SQL,
                &[&(&owner, &dictionary::NAME_BIND)],
            )
            .map_err(|e| ledger_err("reading")(&e))?;
        if upgraded > 0 {
            return Ok(());
        }
        for (ddl, done_by_another) in sql::ledger_upgrade_steps() {
            match conn.execute(&ddl, &[]) {
                Ok(_) => {}
                Err(e) if e.oci_code() == Some(done_by_another) => {}
                Err(e) => return Err(ledger_err("upgrading")(&e)),
            }
        }
        info!("{}", ledger::UPGRADED);
        Ok(())
    }

    /// The session in use, taken from the pool (and set up) when there is none.
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
            .map(|c| have.and_then(|h| table::resolve(h, &c.name)).cloned())
            .collect()
    }
}

/// ORA-01435 (user does not exist) while setting `CURRENT_SCHEMA`: the
/// configured schema is wrong; say how names are matched.
fn with_schema_hint(e: SinkError, schema: Option<&str>) -> SinkError {
    match (e, schema) {
        (SinkError::Open { class, detail }, Some(owner)) if detail.contains("ORA-01435") => {
            SinkError::Open {
                class,
                detail: format!(
                    "{detail}: schema = {owner:?} names no user; {}",
                    table::UPPER_RULE
                ),
            }
        }
        (e, _) => e,
    }
}

/// A step that is not one row's (see `SinkError::whole_step`).
pub(super) fn whole_step(what: &str, e: &oracle::Error) -> SinkError {
    fail(e, |class, detail| {
        SinkError::whole_step(what, class, detail)
    })
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
        let conn = session::acquire(&mut self.conn, &self.pool, &self.tags).map_err(|e| {
            fail(&e, |class, detail| SinkError::Table {
                class,
                table: table.to_string(),
                detail: format!("taking a session from the pool: {detail}"),
            })
        })?;
        let result = table::ensure(conn, &self.owner, table, columns, create, mode);
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
        let db_err = |e: oracle::Error| fail(&e, &ledger_err);
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
            let e = fail(&e, ledger::claim_err(job, &target));
            self.after_error(&e);
            e
        })
    }

    fn target(&self, table: &str) -> String {
        table::LIMITS.identity(table)
    }

    fn list_ledger(
        &mut self,
        job: &str,
        source: Option<&str>,
        each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
    ) -> Result<(), SinkError> {
        let err = ledger::list::list_err(job);
        let result = match self.session() {
            Ok(conn) => listing::list(conn, job, source, each),
            Err(e) => Err(fail(&e, &err)),
        };
        if let Err(e) = &result {
            self.after_error(e);
        }
        result
    }

    fn forget(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
        expected: u64,
    ) -> Result<Forgot, SinkError> {
        let target = table::LIMITS.identity(table);
        let err = ledger::list::forget_err(job, source);
        let result = match self.session() {
            Ok(conn) => listing::forget(conn, job, &target, source, expected),
            Err(e) => Err(fail(&e, &err)),
        };
        if let Err(e) = &result {
            self.after_error(e);
        }
        result
    }

    fn write(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        let batch = deliver::check(req, INT, &target)?;
        let targets = self.targets(req.table, req.columns);
        let mut tx = Tx {
            slot: &mut self.conn,
            pool: &self.pool,
            tags: &self.tags,
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
            .map_err(|e| fail(&e, |class, detail| SinkError::Close { class, detail }))
    }
}

#[cfg(test)]
#[path = "tests/session.rs"]
mod tests;
