//! One batch, one transaction: the ledger's overlap check, the rows by binary
//! COPY (insert), or COPY into a temporary table and `INSERT ... ON CONFLICT
//! DO UPDATE` (upsert), the ledger row, COMMIT.
//!
//! The first try sends everything in one go, with no savepoint (savepoints
//! cost a subtransaction per batch). If a row's value or a constraint fails
//! it, the transaction is rolled back and done again carefully: the same
//! steps with the bad rows isolated (`isolate.rs`) and rejected, so the rest
//! commits. A duplicate ledger row (a concurrent redelivery) is checked
//! again and reported as already committed.
//!
//! Owns the statement texts of the write and the transaction's shape. Must
//! not reconnect or keep state: `mod.rs` owns the connection.

use std::io::Write as _;

use postgres::{Client, Statement};

use super::classify::Fail;
use super::encode::{Encoded, HEADER, TRAILER};
use super::isolate::isolate;
use super::table::Plan;
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, LedgerRange, RejectNote};
use crate::worker::sink::ledger;
use crate::worker::sink::sql::{push_ident_list, quote_ident};
use crate::worker::sink::{SinkError, WriteOutcome, WriteRequest};

/// The session's prepared ledger statements.
pub struct LedgerStmts {
    pub overlapping: Statement,
    pub committed: Statement,
    pub insert: Statement,
}

/// Why one try of the transaction stopped.
enum Stop {
    /// A row was refused on the fast try: do it again carefully.
    Rows,
    /// The ledger row's key is taken: someone committed this range meanwhile.
    LedgerTaken,
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

/// How `ledger::to_i64` names PostgreSQL's integers (the ledger's bigint).
const INT: &str = super::LEDGER_TYPES.int;

/// Writes `enc` (the encoded rows of `req`) and the ledger row.
pub fn write(
    client: &mut Client,
    stmts: &LedgerStmts,
    plan: &Plan,
    enc: &Encoded,
    req: &WriteRequest<'_>,
    pid: u32,
) -> Result<WriteOutcome, SinkError> {
    let mut careful = false;
    loop {
        let tried = try_once(client, stmts, plan, enc, req, pid, careful);
        if tried.is_err() {
            // Best effort: on a lost connection this fails too, and the
            // caller drops the connection.
            let _ = client.batch_execute("ROLLBACK");
        }
        match tried {
            Ok(outcome) => return Ok(outcome),
            Err(Stop::Rows) if !careful => careful = true,
            Err(Stop::Rows) => {
                return Err(SinkError::bad_request(
                    "a row was refused while the bad rows were being isolated (a bug)".into(),
                ));
            }
            Err(Stop::LedgerTaken) => return recheck(client, stmts, req),
            Err(Stop::Failed(e)) => return Err(e),
        }
    }
}

/// The ledger's ranges that may overlap the request.
fn stored(
    client: &mut Client,
    stmts: &LedgerStmts,
    req: &WriteRequest<'_>,
) -> Result<Vec<LedgerRange>, SinkError> {
    let [start, end, _] = ledger::offsets(req, INT)?;
    let rows = client
        .query(&stmts.overlapping, &[&req.job, &req.source, &start, &end])
        .map_err(|e| step_err("reading the ledger", &Fail::from_pg(&e)))?;
    rows.iter()
        .map(|r| {
            let ints = [r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)];
            let rejects: String = r.get(5);
            ledger::range_from_row(ints, &rejects).map_err(SinkError::bad_request)
        })
        .collect()
}

/// After a duplicate ledger key: the range is committed now (a redelivery
/// raced us) or something overlaps it (a conflict).
fn recheck(
    client: &mut Client,
    stmts: &LedgerStmts,
    req: &WriteRequest<'_>,
) -> Result<WriteOutcome, SinkError> {
    let held = stored(client, stmts, req)?;
    match ledger::check_overlap(req.job, req.source, req.start, req.end, held) {
        Ok(Some(range)) => Ok(WriteOutcome::AlreadyCommitted(range)),
        Ok(None) => Err(SinkError::Write {
            class: ErrorClass::Transient,
            detail:
                "the ledger refused the row as a duplicate, but holds no such range now; retrying"
                    .into(),
        }),
        Err(conflict) => Err(conflict.into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn try_once(
    client: &mut Client,
    stmts: &LedgerStmts,
    plan: &Plan,
    enc: &Encoded,
    req: &WriteRequest<'_>,
    pid: u32,
    careful: bool,
) -> Result<WriteOutcome, Stop> {
    // Deferrable constraints are checked per statement, where a bad row can
    // still be isolated, instead of at COMMIT, where it cannot.
    client
        .batch_execute("BEGIN; SET CONSTRAINTS ALL IMMEDIATE")
        .map_err(|e| step_err("BEGIN", &Fail::from_pg(&e)))?;
    let held = stored(client, stmts, req)?;
    let check = ledger::check_overlap(req.job, req.source, req.start, req.end, held);
    if let Some(range) = check.map_err(SinkError::from)? {
        client
            .batch_execute("ROLLBACK")
            .map_err(|e| step_err("ROLLBACK", &Fail::from_pg(&e)))?;
        return Ok(WriteOutcome::AlreadyCommitted(range));
    }
    let refused = match &plan.key {
        None => copy_rows(
            client,
            &copy_sql(&plan.qualified, &plan.column_list()),
            enc,
            careful,
        )?,
        Some(key) => upsert_rows(client, plan, key, enc, careful)?,
    };
    let mut db_rejects: Vec<RejectNote> = enc.rejects.clone();
    for (tuple, fail) in &refused {
        db_rejects.push(reject_note(req, enc.rows[*tuple], fail));
    }
    db_rejects.sort_by_key(|n| n.offset);
    let loaded = (enc.len() - refused.len()) as u64;
    let (json, [loaded_i, rejected_i]) = ledger::outcome(req, loaded, &db_rejects, INT)?;
    let [start, end, first_line] = ledger::offsets(req, INT)?;
    let params: [&(dyn postgres::types::ToSql + Sync); 9] = [
        &req.job,
        &req.source,
        &start,
        &end,
        &first_line,
        &loaded_i,
        &rejected_i,
        &json,
        &i64::from(pid),
    ];
    if let Err(e) = client.execute(&stmts.insert, &params) {
        let f = Fail::from_pg(&e);
        if f.code == "23505" && f.more.table.as_deref() == Some(ledger::TABLE) {
            return Err(Stop::LedgerTaken);
        }
        return Err(step_err("writing the ledger row", &f).into());
    }
    client
        .batch_execute("COMMIT")
        .map_err(|e| step_err("COMMIT", &Fail::from_pg(&e)))?;
    Ok(WriteOutcome::Committed {
        loaded,
        rejects: db_rejects,
    })
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
