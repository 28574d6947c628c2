//! PostgreSQL's steps of a batch's transaction, for the delivery driver
//! (`deliver::Steps`): `BEGIN; SET CONSTRAINTS ALL IMMEDIATE`, the ledger
//! read and insert with the session's prepared statements, the rows by
//! binary COPY (insert), or COPY into a temporary table and `INSERT ... ON
//! CONFLICT DO UPDATE` (upsert), COMMIT / ROLLBACK.
//!
//! The fast try sends the rows in one go, with no savepoint (savepoints cost
//! a subtransaction per batch). If a row's value or a constraint fails it,
//! it answers `Written::Redo` and the driver does the transaction again
//! carefully: the same steps with the bad rows isolated (`isolate.rs`) and
//! rejected, so the rest commits. A duplicate key on the ledger (23505 on
//! `ingestd_ledger`: a concurrent redelivery) is told to the driver, whose
//! rule reads the ledger again.
//!
//! Owns the statement texts of the write. Must not reconnect or keep state
//! (`mod.rs` owns the connection), nor decide about the ledger (`deliver`).

use std::io::Write as _;

use postgres::types::ToSql;
use postgres::{Client, Statement};

use super::classify::Fail;
use super::encode::{Encoded, HEADER, TRAILER};
use super::isolate::isolate;
use super::table::Plan;
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};
use crate::worker::sink::deliver::{Care, Key, LedgerInsert, LedgerRow, Steps, Written};
use crate::worker::sink::ledger;
use crate::worker::sink::sql::{push_ident_list, quote_ident};
use crate::worker::sink::{SinkError, WriteRequest};

/// The session's prepared ledger statements.
pub struct LedgerStmts {
    pub overlapping: Statement,
    pub committed: Statement,
    pub insert: Statement,
    /// A stream's rows overlapping a span (`ledger::runs::select_sql`).
    pub runs: Statement,
    pub insert_runs: Statement,
}

/// Why writing the rows stopped.
enum Stop {
    /// A row was refused on the fast try: do it again carefully.
    Rows,
    Failed(SinkError),
}

impl From<SinkError> for Stop {
    fn from(e: SinkError) -> Self {
        Stop::Failed(e)
    }
}

/// A step that failed as a whole (see `SinkError::whole_step`).
pub fn step_err(what: &str, f: &Fail) -> SinkError {
    SinkError::whole_step(what, f.class, f.describe())
}

/// One batch's transaction on `client`: `enc` holds the request's rows,
/// encoded before it begins so that it stays short.
pub struct Tx<'a> {
    pub client: &'a mut Client,
    pub stmts: &'a LedgerStmts,
    pub plan: &'a Plan,
    pub enc: &'a Encoded,
    pub pid: u32,
}

/// One ledger row as `ledger::range_from_row` takes it.
pub fn read_range(r: &postgres::Row) -> Result<LedgerRange, String> {
    let ints = [r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)];
    let rejects: &str = r.get(5);
    ledger::range_from_row(ints, rejects)
}

impl Tx<'_> {
    fn exec(&mut self, sql: &str) -> Result<(), SinkError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| step_err(sql, &Fail::from_pg(&e)))
    }
}

impl Steps for Tx<'_> {
    fn begin(&mut self) -> Result<(), SinkError> {
        // Deferrable constraints are checked per statement, where a bad row
        // can still be isolated, instead of at COMMIT, where it cannot.
        self.client
            .batch_execute("BEGIN; SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(|e| step_err("BEGIN", &Fail::from_pg(&e)))
    }

    fn overlapping(&mut self, key: &Key<'_>) -> Result<Vec<LedgerRange>, SinkError> {
        let params: [&(dyn ToSql + Sync); 5] =
            [&key.job, &key.target, &key.source, &key.start, &key.end];
        let rows = self
            .client
            .query(&self.stmts.overlapping, &params)
            .map_err(|e| step_err("reading the ledger", &Fail::from_pg(&e)))?;
        rows.iter()
            .map(|r| read_range(r).map_err(SinkError::bad_request))
            .collect()
    }

    /// The fast try sends everything in one go, with no savepoint
    /// (savepoints cost a subtransaction per batch); the careful one
    /// isolates the bad rows (`isolate.rs`).
    fn write_rows(&mut self, req: &WriteRequest<'_>, care: Care) -> Result<Written, SinkError> {
        let (plan, enc, careful) = (self.plan, self.enc, care == Care::Careful);
        let refused = match &plan.key {
            None => copy_rows(
                self.client,
                &copy_sql(&plan.qualified, &plan.column_list()),
                enc,
                careful,
            ),
            Some(key) => upsert_rows(self.client, plan, key, enc, careful),
        };
        let refused = match refused {
            Ok(refused) => refused,
            Err(Stop::Rows) => return Ok(Written::Redo),
            Err(Stop::Failed(e)) => return Err(e),
        };
        let mut rejects: Vec<RejectNote> = enc.rejects.clone();
        for (tuple, fail) in &refused {
            rejects.push(reject_note(req, enc.rows[*tuple], fail));
        }
        rejects.sort_by_key(|n| n.offset);
        let loaded = (enc.len() - refused.len()) as u64;
        Ok(Written::Rows { loaded, rejects })
    }

    fn insert_ledger(&mut self, row: &LedgerRow<'_>) -> Result<LedgerInsert, SinkError> {
        let k = row.key;
        let pid = i64::from(self.pid);
        let params: [&(dyn ToSql + Sync); 10] = [
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
        ];
        match self.client.execute(&self.stmts.insert, &params) {
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

    fn commit(&mut self) -> Result<(), SinkError> {
        self.exec("COMMIT")
    }

    fn rollback(&mut self) -> Result<(), SinkError> {
        self.exec("ROLLBACK")
    }
}

fn copy_sql(target: &str, columns: &str) -> String {
    format!("COPY {target} {columns} FROM STDIN (FORMAT binary)")
}

/// COPYs every tuple (fast) or isolates the bad ones (careful); returns the
/// refused tuples.
fn copy_rows(
    client: &mut Client,
    sql: &str,
    enc: &Encoded,
    careful: bool,
) -> Result<Vec<(usize, Fail)>, Stop> {
    let n = enc.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    if !careful {
        return match copy(client, sql, enc, 0, n) {
            Ok(()) => Ok(Vec::new()),
            Err(f) if f.class == ErrorClass::Data => Err(Stop::Rows),
            Err(f) => Err(step_err("COPY", &f).into()),
        };
    }
    isolate(client, n, |c, a, b| copy(c, sql, enc, a, b)).map_err(|f| step_err("COPY", &f).into())
}

/// One binary COPY of tuples `[a, b)`.
fn copy(client: &mut Client, sql: &str, enc: &Encoded, a: usize, b: usize) -> Result<(), Fail> {
    let mut w = client.copy_in(sql).map_err(|e| Fail::from_pg(&e))?;
    w.write_all(HEADER).map_err(|e| Fail::from_io(&e))?;
    w.write_all(enc.tuples(a, b))
        .map_err(|e| Fail::from_io(&e))?;
    w.write_all(TRAILER).map_err(|e| Fail::from_io(&e))?;
    let n = w.finish().map_err(|e| Fail::from_pg(&e))?;
    if n != (b - a) as u64 {
        // A BEFORE trigger returning NULL drops rows by design: the table's
        // owner decided that; the rows count as loaded (they were accepted).
        tracing::warn!(
            "COPY stored {n} of {} rows: a trigger on the table skipped the others",
            b - a
        );
    }
    Ok(())
}

/// The ordinal column added to the staging table.
const ORD: &str = "ingestd_row";

/// Upsert: COPY into a per-session staging table (its column types taken
/// from the target, no constraints), then merge into the target; duplicate
/// keys within the batch keep their last row.
fn upsert_rows(
    client: &mut Client,
    plan: &Plan,
    key: &[String],
    enc: &Encoded,
    careful: bool,
) -> Result<Vec<(usize, Fail)>, Stop> {
    let n = enc.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let stage = stage_name(plan);
    let cols = plan.column_list();
    let select: Vec<String> = plan.names.iter().map(|c| quote_ident(c)).collect();
    // ON COMMIT DELETE ROWS empties it at each commit; created in the
    // transaction, so a rollback takes it away and the next try makes it again.
    let create = format!(
        "CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {}, 0::integer AS {ORD} \
         FROM {} WITH NO DATA",
        select.join(", "),
        plan.qualified
    );
    client
        .batch_execute(&create)
        .map_err(|e| step_err("creating the staging table", &Fail::from_pg(&e)))?;
    let mut stage_cols = cols.clone();
    stage_cols.insert_str(stage_cols.len() - 1, &format!(", {ORD}"));
    let mut refused = copy_rows(client, &copy_sql(&stage, &stage_cols), enc, careful)?;
    let merge = merge_sql(plan, key, &stage, &select);
    let stmt = client
        .prepare(&merge)
        .map_err(|e| step_err("preparing the upsert", &Fail::from_pg(&e)))?;
    let run = |c: &mut Client, a: usize, b: usize| {
        c.execute(&stmt, &[&(a as i32), &(b as i32)])
            .map(|_| ())
            .map_err(|e| Fail::from_pg(&e))
    };
    if !careful {
        return match run(client, 0, n) {
            Ok(()) => Ok(refused),
            Err(f) if f.class == ErrorClass::Data => Err(Stop::Rows),
            Err(f) => Err(step_err("upserting", &f).into()),
        };
    }
    let mut merged = isolate(client, n, run).map_err(|f| step_err("upserting", &f))?;
    refused.append(&mut merged);
    refused.sort_by_key(|(t, _)| *t);
    Ok(refused)
}

/// `pg_temp."ingestd_stage_<hash>"`: one per table and column set.
fn stage_name(plan: &Plan) -> String {
    let mut h = blake3::Hasher::new();
    h.update(plan.qualified.as_bytes());
    for n in &plan.names {
        h.update(b"\0");
        h.update(n.as_bytes());
    }
    let hex = h.finalize().to_hex();
    format!("pg_temp.\"ingestd_stage_{}\"", &hex[..12])
}

/// The merge of staged rows `[$1, $2)` into the target. DISTINCT ON keeps the
/// last row of each key; a row with a NULL key conflicts with nothing, so it
/// is kept whole (its ordinal joins its key).
fn merge_sql(plan: &Plan, key: &[String], stage: &str, select: &[String]) -> String {
    let keys: Vec<String> = key.iter().map(|k| quote_ident(k)).collect();
    let any_null = keys
        .iter()
        .map(|k| format!("{k} IS NULL"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let distinct = format!("{}, (CASE WHEN {any_null} THEN {ORD} END)", keys.join(", "));
    let updates: Vec<String> = plan
        .names
        .iter()
        .filter(|n| !key.contains(n))
        .map(|n| {
            let q = quote_ident(n);
            format!("{q} = EXCLUDED.{q}")
        })
        .collect();
    let action = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    let mut target = plan.qualified.clone();
    target.push(' ');
    target.push_str(&plan.column_list());
    let cols = select.join(", ");
    let mut conflict = String::from("(");
    push_ident_list(&mut conflict, key, "");
    conflict.push(')');
    format!(
        "INSERT INTO {target} SELECT {cols} FROM (SELECT DISTINCT ON ({distinct}) * FROM {stage} \
         WHERE {ORD} >= $1 AND {ORD} < $2 ORDER BY {distinct}, {ORD} DESC) AS staged \
         ON CONFLICT {conflict} {action}"
    )
}

/// The note for a row the server refused.
fn reject_note(req: &WriteRequest<'_>, row: usize, f: &Fail) -> RejectNote {
    let o = req.rows.origins[row];
    RejectNote {
        offset: o.offset,
        len: u64::from(o.len),
        line: o.line,
        records: 1,
        column: f.named_column().map(|c| job_spelling(&c, req.columns)),
        code: f.code.clone(),
        reason: f.describe(),
    }
}

/// The job's spelling of a column the server named (`Key (a, b)` names two).
fn job_spelling(named: &str, columns: &[ColumnSpec]) -> String {
    named
        .split(", ")
        .map(|n| {
            columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(n))
                .map_or(n, |c| c.name.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
