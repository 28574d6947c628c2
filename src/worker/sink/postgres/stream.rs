//! PostgreSQL's part in a stream's batch (`deliver::stream`): the ledger
//! look-up of held sequences, the lock on the source (a transaction-level
//! advisory lock on the hash of job, target and source: held to COMMIT, so
//! daemons writing the same stream take turns only for the ledger check and
//! insert, after their COPY), and the ledger row with its runs.
//!
//! Owns those statements' use. Must not decide what is held or written
//! (`deliver::stream` does).

use postgres::types::ToSql;

use super::classify::Fail;
use super::encode::Target;
use super::write::{Tx, step_err};
use super::{INT, PgTarget};
use crate::worker::sink::deliver::stream::{self, StreamSink, StreamSteps, Try};
use crate::worker::sink::deliver::{Key, LedgerInsert, LedgerRow};
use crate::worker::sink::ledger::{self, runs};
use crate::worker::sink::{SinkError, WriteRequest};

/// The runs of the rows `ledger::runs::select_sql` returns, merged.
fn held(
    client: &mut postgres::Client,
    stmt: &postgres::Statement,
    key: &Key<'_>,
) -> Result<Vec<(u64, u64)>, SinkError> {
    let low = runs::low(key.start);
    let params: [&(dyn ToSql + Sync); 6] = [
        &key.job,
        &key.target,
        &key.source,
        &key.start,
        &key.end,
        &low,
    ];
    let rows = client
        .query(stmt, &params)
        .map_err(|e| step_err("reading the ledger", &Fail::from_pg(&e)))?;
    let mut all = Vec::new();
    for r in &rows {
        let text: Option<&str> = r.get(2);
        all.extend(runs::of_row(r.get(0), r.get(1), text).map_err(SinkError::bad_request)?);
    }
    Ok(runs::merge(all))
}

impl StreamSteps for Tx<'_> {
    fn lock_source(&mut self, key: &Key<'_>) -> Result<(), SinkError> {
        let name = format!("{}\u{1f}{}\u{1f}{}", key.job, key.target, key.source);
        self.client
            .execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&name],
            )
            .map(drop)
            .map_err(|e| step_err("locking the source's ledger rows", &Fail::from_pg(&e)))
    }

    fn held_runs(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError> {
        held(self.client, &self.stmts.runs, key)
    }

    fn insert_runs(&mut self, row: &LedgerRow<'_>, text: &str) -> Result<LedgerInsert, SinkError> {
        let k = row.key;
        let pid = i64::from(self.pid);
        let params: [&(dyn ToSql + Sync); 11] = [
            &k.job,
            &k.target,
            &k.source,
            &k.start,
            &k.end,
            &k.first_line,
            &row.loaded,
            &row.rejected,
            &row.rejects,
            &pid,
            &text,
        ];
        match self.client.execute(&self.stmts.insert_runs, &params) {
            Ok(_) => Ok(LedgerInsert::Inserted),
            Err(e) => {
                let f = Fail::from_pg(&e);
                if f.code == "23505" && f.more.table.as_deref() == Some(ledger::TABLE) {
                    return Ok(LedgerInsert::DuplicateKey);
                }
                Err(step_err("writing the ledger row", &f))
            }
        }
    }
}

/// `PgTarget` as `deliver::stream` drives it.
pub struct PgStream<'a>(pub &'a mut PgTarget);

impl StreamSink for PgStream<'_> {
    fn held(&mut self, key: &Key<'_>) -> Result<Vec<(u64, u64)>, SinkError> {
        let conn = self.0.conn()?;
        held(&mut conn.client, &conn.ledger.runs, key)
    }

    fn try_part(
        &mut self,
        req: &WriteRequest<'_>,
        key: &Key<'_>,
        part: &[(u64, u64)],
    ) -> Result<Try, SinkError> {
        let t = &mut *self.0;
        let i = t.plan(req.table, req.columns, false, req.mode)?;
        let plan = t.plans[i].clone();
        let targets: Vec<Target<'_>> = req
            .columns
            .iter()
            .zip(&plan.types)
            .map(|(c, &ty)| Target { name: &c.name, ty })
            .collect();
        let enc = t.encoder.encode(req.rows, &targets, plan.key.is_some());
        let pid = t.session.pid;
        let conn = t.conn()?;
        let mut tx = Tx {
            client: &mut conn.client,
            stmts: &conn.ledger,
            plan: &plan,
            enc: &enc,
            pid,
        };
        let tried = stream::attempt(&mut tx, req, key, part, INT);
        t.encoder.recycle(enc);
        tried
    }
}
