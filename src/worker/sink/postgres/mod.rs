//! The PostgreSQL sink: one session per worker process, opened after the
//! worker starts (never in the supervisor), tagged with
//! `application_name = ingestd/<job>/w<n>/<pid>`, and closed before it exits.
//!
//! Batches are written with binary COPY in one transaction with their ledger
//! row (the driver `deliver` with this sink's steps in `write.rs`); rows the
//! server refuses are isolated and rejected with their SQLSTATE, the rest
//! commit. A failure of the connection or a transient server state drops
//! the session: the next call opens a new one, and the worker's back-off
//! decides when that is. `pool_max` caps the sessions a worker holds; a
//! worker runs one batch at a time on one thread, so it holds one.
//!
//! Owns the session's life, the ledger table's creation and the cached
//! plans. Must not touch files other than the configured CA and password
//! files, pipes, or the supervisor's state.

mod classify;
mod connect;
mod encode;
mod isolate;
mod ledger_table;
mod numeric;
mod stream;
mod table;
mod values;
mod write;

use postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use self::classify::Fail;
pub use self::connect::application_name;
use self::encode::{Encoder, Target};
use self::table::Plan;
use self::write::{LedgerStmts, Tx, read_range};
use super::deliver;
use super::ledger::list::ListedRow;
use super::ledger::{self, LedgerTypes};
use super::sql::Placeholder;
use super::{Session, Sink, SinkError, WriteOutcome, WriteRequest};
use crate::config::{PostgresSink, WriteMode};
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, Forgot, LedgerRange};

const LEDGER_TYPES: LedgerTypes = LedgerTypes {
    key_text: "text",
    target_text: "text",
    int: "bigint",
    json: "text",
    timestamp: "timestamptz",
};

/// How `ledger::to_i64` names PostgreSQL's integers (the ledger's bigint).
const INT: &str = LEDGER_TYPES.int;

/// Plans a worker keeps (one per table, column set and mode).
const PLANS_KEPT: usize = 16;

/// A worker's session with one PostgreSQL database.
pub struct PgTarget {
    cfg: PostgresSink,
    session: Session,
    tls: MakeRustlsConnect,
    /// `None` after the session failed: the next call opens a new one.
    conn: Option<Conn>,
    /// A session was open once (so a new one is a reconnect).
    opened: bool,
    plans: Vec<Plan>,
    encoder: Encoder,
}

struct Conn {
    client: Client,
    ledger: LedgerStmts,
}

impl PgTarget {
    /// Connects, checks the schema and creates the ledger table if missing.
    pub fn open(cfg: &PostgresSink, session: &Session) -> Result<Self, SinkError> {
        let mut target = PgTarget {
            cfg: cfg.clone(),
            session: session.clone(),
            tls: connect::tls(cfg)?,
            conn: None,
            opened: false,
            plans: Vec::new(),
            encoder: Encoder::default(),
        };
        target.conn()?;
        tracing::debug!(
            target = %connect::shown(cfg),
            application_name = %application_name(session),
            "postgres session open"
        );
        Ok(target)
    }

    /// The live session, opening one when there is none.
    fn conn(&mut self) -> Result<&mut Conn, SinkError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let mut client = connect::connect(&self.cfg, &self.session, &self.tls)?;
            ledger_table::ensure(&mut client, &self.cfg)?;
            let prepare = |client: &mut Client, sql: String| {
                client.prepare(&sql).map_err(|e| SinkError::Ledger {
                    class: Fail::from_pg(&e).class,
                    detail: format!("preparing {sql:?}: {}", Fail::from_pg(&e).describe()),
                })
            };
            let ledger = LedgerStmts {
                overlapping: prepare(
                    &mut client,
                    ledger::select_overlapping_sql(Placeholder::Dollar),
                )?,
                committed: prepare(
                    &mut client,
                    ledger::select_committed_sql(Placeholder::Dollar),
                )?,
                insert: prepare(
                    &mut client,
                    ledger::insert_sql(Placeholder::Dollar, "now()"),
                )?,
                runs: prepare(&mut client, ledger::runs::select_sql(Placeholder::Dollar))?,
                insert_runs: prepare(
                    &mut client,
                    ledger::runs::insert_sql(Placeholder::Dollar, "now()"),
                )?,
            };
            if self.opened {
                // After a lost session: says the retries are over.
                tracing::info!(target = %connect::shown(&self.cfg), "postgres session reopened");
            }
            self.opened = true;
            self.conn = Some(Conn { client, ledger });
        }
        Ok(self.conn.as_mut().expect("set above"))
    }

    /// Keeps the session after `class` of failure only if it is still usable:
    /// transient failures (a lost connection, a server restarting) drop it.
    fn after<T>(&mut self, result: Result<T, SinkError>) -> Result<T, SinkError> {
        if let Err(e) = &result {
            let broken = self.conn.as_ref().is_none_or(|c| c.client.is_closed());
            if (broken || matches!(e.class(), ErrorClass::Transient))
                && let Some(c) = self.conn.take()
            {
                // A dead session closes with an error; nothing to do about it.
                let _ = c.client.close();
            }
        }
        result
    }

    fn plan(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        create: bool,
        mode: &WriteMode,
    ) -> Result<usize, SinkError> {
        if let Some(i) = self.plans.iter().position(|p| {
            p.fits(table, columns) && p.key.is_some() == matches!(mode, WriteMode::Upsert { .. })
        }) {
            return Ok(i);
        }
        let schema = self.cfg.schema.clone();
        let conn = self.conn()?;
        let plan = table::plan(&mut conn.client, &schema, table, columns, create, mode)?;
        // Headers differ from file to file: keep the latest few plans only.
        if self.plans.len() >= PLANS_KEPT {
            self.plans.remove(0);
        }
        self.plans.push(plan);
        Ok(self.plans.len() - 1)
    }
}

impl Sink for PgTarget {
    fn ensure_table(
        &mut self,
        table: &str,
        columns: &[ColumnSpec],
        create: bool,
        mode: &WriteMode,
    ) -> Result<Vec<String>, SinkError> {
        let r = self.plan(table, columns, create, mode);
        let r = r.map(|i| self.plans[i].names.clone());
        self.after(r)
    }

    fn committed(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
    ) -> Result<Vec<LedgerRange>, SinkError> {
        let target = table::LIMITS.identity(table);
        let r = (|| {
            let conn = self.conn()?;
            let ledger_err = ledger::committed_err(job, source);
            let rows = conn
                .client
                .query(&conn.ledger.committed, &[&job, &target, &source])
                .map_err(|e| {
                    let f = Fail::from_pg(&e);
                    ledger_err(f.class, f.describe())
                })?;
            rows.iter()
                .map(|r| read_range(r).map_err(|m| ledger_err(ErrorClass::Config, m)))
                .collect()
        })();
        self.after(r)
    }

    fn claim_legacy(&mut self, job: &str, table: &str) -> Result<u64, SinkError> {
        let target = table::LIMITS.identity(table);
        let r = self
            .conn()
            .and_then(|conn| ledger_table::claim(&mut conn.client, job, &target));
        self.after(r)
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
        let r = self
            .conn()
            .and_then(|conn| ledger_table::list(&mut conn.client, job, source, each));
        self.after(r)
    }

    fn forget(
        &mut self,
        job: &str,
        table: &str,
        source: &str,
        expected: u64,
    ) -> Result<Forgot, SinkError> {
        let target = table::LIMITS.identity(table);
        let r = self.conn().and_then(|conn| {
            ledger_table::forget(&mut conn.client, job, &target, source, expected)
        });
        self.after(r)
    }

    fn write(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError> {
        let r = self.write_batch(req);
        self.after(r)
    }

    fn write_stream(
        &mut self,
        req: &WriteRequest<'_>,
        seqs: &[u64],
    ) -> Result<deliver::stream::StreamOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        let r = deliver::stream::deliver(&mut stream::PgStream(self), req, seqs, &target);
        self.after(r)
    }

    fn close(self: Box<Self>) -> Result<(), SinkError> {
        let Some(conn) = self.conn else {
            return Ok(());
        };
        conn.client.close().map_err(|e| {
            let f = Fail::from_pg(&e);
            SinkError::Close {
                class: f.class,
                detail: format!("{}: {}", connect::shown(&self.cfg), f.describe()),
            }
        })
    }
}

impl PgTarget {
    fn write_batch(&mut self, req: &WriteRequest<'_>) -> Result<WriteOutcome, SinkError> {
        let target = table::LIMITS.identity(req.table);
        let batch = deliver::check(req, INT, &target)?;
        let i = self.plan(req.table, req.columns, false, req.mode)?;
        let plan = &self.plans[i];
        let targets: Vec<Target<'_>> = req
            .columns
            .iter()
            .zip(&plan.types)
            .map(|(c, &ty)| Target { name: &c.name, ty })
            .collect();
        // Encoded before the transaction begins, so it stays short.
        let enc = self.encoder.encode(req.rows, &targets, plan.key.is_some());
        let plan = self.plans[i].clone();
        let pid = self.session.pid;
        let conn = self.conn()?;
        let mut tx = Tx {
            client: &mut conn.client,
            stmts: &conn.ledger,
            plan: &plan,
            enc: &enc,
            pid,
        };
        let done = deliver::run(&mut tx, &batch);
        self.encoder.recycle(enc);
        done
    }
}
