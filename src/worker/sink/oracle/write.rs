//! Writing one batch's rows with array DML: `conn.batch(sql, n)` with batch
//! errors and row counts, an explicit `execute()` every `n` rows (with batch
//! errors the crate does not flush by itself), each row's failure turned
//! into a reject note with its ORA code. Each chunk starts at a savepoint:
//! a data error that no batch error pins on a row (a deferrable constraint
//! checked at the end of the statement) undoes the chunk, whose rows are
//! then sent one per `execute()`, as PostgreSQL's are isolated. The
//! statement (INSERT, or MERGE on
//! the key) follows the bind plan: a MERGE casts LOB-bound texts back into
//! their character columns. Must not commit or roll back: the caller owns
//! the transaction, which also holds the ledger row.

use oracle::{Batch, Connection, DbError};
use tracing::warn;

use super::bind::{self, Conv, LIMITS, Plan};
use super::classify::{classify_ora, fail, is_internal, ora_name};
use super::sql;
use super::target::TargetColumn;
use crate::config::WriteMode;
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, RejectNote};
use crate::worker::sink::sql::{self as common_sql, Placeholder};
use crate::worker::sink::{SinkError, WriteRequest};

/// ORA-00001: unique constraint violated.
pub const ORA_UNIQUE: i32 = 1;

pub fn step_err(step: &str, e: &oracle::Error) -> SinkError {
    fail(e, |class, detail| SinkError::Write {
        class,
        detail: format!("{step}: {detail}"),
    })
}

/// The statement of one row for `plan`: the INSERT, or the MERGE on the
/// upsert's key, naming each column (and key column) as the table does
/// (`targets`; the job's name where unknown).
pub fn statement(req: &WriteRequest<'_>, targets: &[Option<TargetColumn>], plan: &Plan) -> String {
    let named = |i: usize| match targets.get(i).and_then(Option::as_ref) {
        Some(t) => t.name.clone(),
        None => req.columns[i].name.clone(),
    };
    let columns: Vec<ColumnSpec> = (0..req.columns.len())
        .map(|i| ColumnSpec {
            name: named(i),
            ..req.columns[i].clone()
        })
        .collect();
    match req.mode {
        WriteMode::Insert => common_sql::insert_sql(req.table, &columns, Placeholder::Colon),
        WriteMode::Upsert { key } => {
            let key: Vec<String> = key
                .iter()
                .map(|k| match req.columns.iter().position(|c| &c.name == k) {
                    Some(i) => named(i),
                    None => k.clone(),
                })
                .collect();
            sql::merge_sql(req.table, &columns, &key, &plan.casts)
        }
    }
}

/// The indices of the upsert key's columns among the request's.
fn key_columns(req: &WriteRequest<'_>) -> Vec<usize> {
    match req.mode {
        WriteMode::Insert => Vec::new(),
        WriteMode::Upsert { key } => key
            .iter()
            .filter_map(|k| req.columns.iter().position(|c| &c.name == k))
            .collect(),
    }
}

/// Inserts (or merges) the request's rows; returns the rows loaded and the
/// rows refused, in source order. Rows refused for their values are
/// rejects; any other failure ends the batch (the caller rolls back).
pub fn write_rows(
    conn: &Connection,
    req: &WriteRequest<'_>,
    targets: &[Option<TargetColumn>],
) -> Result<(u64, Vec<RejectNote>), SinkError> {
    let plan = bind::plan(req.columns, targets, req.rows, LIMITS, &key_columns(req));
    tracing::trace!(
        rows = plan.send.len(),
        chunk_rows = plan.chunk_rows,
        row_bytes = plan.row_bytes,
        "array DML plan"
    );
    let sql = statement(req, targets, &plan);
    let Plan {
        types,
        convs,
        chunk_rows,
        send,
        mut rejects,
        ..
    } = plan;
    if send.is_empty() {
        return Ok((0, rejects));
    }
    let prepare =
        |e: &oracle::Error| step_err(&format!("preparing the write into {:?}", req.table), e);
    let mut batch = conn
        .batch(&sql, chunk_rows)
        .with_batch_errors()
        .with_row_counts()
        .build()
        .map_err(|e| prepare(&e))?;
    // Types freeze at the first row: set them all, from the plan, first.
    for (j, ty) in types.iter().enumerate() {
        batch.set_type(j + 1, ty).map_err(|e| prepare(&e))?;
    }
    // A MERGE that lost a race with another worker's insert of the same
    // key fails with ORA-00001 once the other commits; run again, it updates.
    let upsert = matches!(req.mode, crate::config::WriteMode::Upsert { .. });
    let mut again = Vec::new();
    let mut run = Run {
        conn,
        batch: &mut batch,
        req,
        convs: &convs,
        rejects: &mut rejects,
    };
    let mut loaded = run.chunks(&send, chunk_rows, upsert.then_some(&mut again))?;
    if !again.is_empty() {
        loaded += run.chunks(&again, chunk_rows, None)?;
    }
    rejects.sort_by_key(|r| r.offset);
    Ok((loaded, rejects))
}

struct Run<'b, 'c, 'r> {
    conn: &'c Connection,
    batch: &'b mut Batch<'c>,
    req: &'b WriteRequest<'r>,
    convs: &'b [Conv],
    rejects: &'b mut Vec<RejectNote>,
}

/// What one `execute()` of some rows met.
enum Sent {
    /// The rows stored (the others were rejected by their batch errors).
    Rows(u64),
    /// A data error that batch errors did not pin on a row: a deferrable
    /// constraint checked at the end of the statement, say. Nothing of the
    /// execute is kept.
    Unpinned(oracle::Error),
}

/// Where each chunk starts, so that a chunk whose failure no row carries
/// can be undone and its rows sent one by one.
const SAVEPOINT: &str = "SAVEPOINT ingestd_chunk";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT ingestd_chunk";

impl Run<'_, '_, '_> {
    /// Sends rows `send` (indices into the request's rows), `chunk_rows` per
    /// `execute()`. ORA-00001 rows go to `again` when given. A chunk that
    /// fails on data without naming a row is rolled back to its savepoint
    /// and sent again one row per `execute()`, so that only the row at
    /// fault is rejected.
    fn chunks(
        &mut self,
        send: &[usize],
        chunk_rows: usize,
        mut again: Option<&mut Vec<usize>>,
    ) -> Result<u64, SinkError> {
        let mut loaded = 0u64;
        for chunk in send.chunks(chunk_rows) {
            self.run_sql(SAVEPOINT)?;
            match self.send(chunk, again.as_deref_mut())? {
                Sent::Rows(n) => loaded += n,
                Sent::Unpinned(e) => {
                    self.run_sql(ROLLBACK_TO_SAVEPOINT)?;
                    if chunk.len() == 1 {
                        self.reject_unpinned(chunk[0], &e);
                        continue;
                    }
                    for &i in chunk {
                        match self.send(&[i], again.as_deref_mut())? {
                            Sent::Rows(n) => loaded += n,
                            Sent::Unpinned(e) => self.reject_unpinned(i, &e),
                        }
                    }
                }
            }
        }
        Ok(loaded)
    }

    fn run_sql(&self, sql: &str) -> Result<(), SinkError> {
        self.conn
            .execute(sql, &[])
            .map(drop)
            .map_err(|e| step_err(sql, &e))
    }

    /// The reject of row `i`, which failed alone with `e`.
    fn reject_unpinned(&mut self, i: usize, e: &oracle::Error) {
        let origin = self.req.rows.origins[i];
        let db = e
            .db_error()
            .cloned()
            .unwrap_or_else(|| DbError::new(0, 0, e.to_string(), "", ""));
        self.rejects.push(row_note(&db, origin, self.req.columns));
    }

    /// One `execute()` of rows `chunk`.
    fn send(&mut self, chunk: &[usize], again: Option<&mut Vec<usize>>) -> Result<Sent, SinkError> {
        let (rows, table) = (self.req.rows, self.req.table);
        for &i in chunk {
            for (j, cell) in rows.row(i).iter().enumerate() {
                let name = &self.req.columns[j].name;
                // Checked by the plan: a failure here is a bug, not data.
                let v =
                    bind::value(cell, rows, self.convs[j], name).map_err(|b| SinkError::Write {
                        class: ErrorClass::Config,
                        detail: format!("line {}: {}", rows.origins[i].line, b.reason),
                    })?;
                self.set(j, &v, i)?;
            }
            // The values are set: this only moves to the next array row.
            self.batch
                .append_row(&[])
                .map_err(|e| step_err("adding a row to the batch", &e))?;
        }
        let errors = match self.batch.execute() {
            Ok(()) => Vec::new(),
            Err(e) => match e.batch_errors() {
                Some(errs) => errs.clone(),
                None => {
                    let failed = step_err(&format!("writing into {table:?}"), &e);
                    return match failed.class() {
                        ErrorClass::Data if !failed.needs_new_process() => Ok(Sent::Unpinned(e)),
                        _ => Err(failed),
                    };
                }
            },
        };
        let failed = match self.row_errors(chunk, errors, again)? {
            Ok(failed) => failed,
            Err(e) => return Ok(Sent::Unpinned(e)),
        };
        let counts = self
            .batch
            .row_counts()
            .ok()
            .filter(|c| c.len() == chunk.len());
        let ok = failed.iter().filter(|f| !**f).count() as u64;
        Ok(Sent::Rows(match counts {
            Some(c) => {
                let n = c
                    .iter()
                    .zip(&failed)
                    .filter(|(n, f)| **n > 0 && !**f)
                    .count() as u64;
                if n != ok {
                    warn!(
                        rows = ok,
                        counted = n,
                        "row counts differ from the rows without errors"
                    );
                }
                n
            }
            None => ok,
        }))
    }

    fn set(&mut self, j: usize, v: &bind::Value<'_>, i: usize) -> Result<(), SinkError> {
        self.batch.set(j + 1, v).map_err(|e| {
            let line = self.req.rows.origins[i].line;
            step_err(
                &format!("binding line {line}, column {:?}", self.req.columns[j].name),
                &e,
            )
        })
    }

    /// Turns batch errors (offset = row index within this `execute()`, in
    /// any order) into reject notes; returns which rows failed, or a data
    /// error that names no row of the chunk. A row error that is not about
    /// the row's values fails the whole batch.
    fn row_errors(
        &mut self,
        chunk: &[usize],
        errors: Vec<DbError>,
        mut again: Option<&mut Vec<usize>>,
    ) -> Result<Result<Vec<bool>, oracle::Error>, SinkError> {
        let mut failed = vec![false; chunk.len()];
        if let Some(err) = errors
            .iter()
            .find(|e| chunk.get(e.offset() as usize).is_none())
        {
            // Cannot be pinned on a row: nothing of these is noted yet.
            #[allow(deprecated)] // the crate's only way to hold a DbError
            return Ok(Err(oracle::Error::OciError(err.clone())));
        }
        for err in errors {
            let at = err.offset() as usize;
            let i = chunk[at]; // in the chunk: checked above
            let origin = self.req.rows.origins[i];
            let class = classify_ora(err.code());
            if is_internal(err.code()) {
                return Err(SinkError::Internal {
                    detail: format!("line {}: {}", origin.line, err.message()),
                });
            }
            if class != ErrorClass::Data {
                return Err(SinkError::Write {
                    class,
                    detail: format!("line {}: {}", origin.line, err.message()),
                });
            }
            failed[at] = true;
            match again.as_deref_mut() {
                Some(list) if err.code() == ORA_UNIQUE => list.push(i),
                _ => self.rejects.push(row_note(&err, origin, self.req.columns)),
            }
        }
        if let Some(list) = again {
            list.sort_unstable();
        }
        Ok(Ok(failed))
    }
}

/// The reject note for a row Oracle refused.
fn row_note(
    err: &DbError,
    origin: crate::format::types::RowOrigin,
    columns: &[ColumnSpec],
) -> RejectNote {
    let message = err.message().trim_end().to_string();
    bind::note(
        origin,
        column_in_message(&message, columns),
        &ora_name(err.code()),
        message,
    )
}

/// The configured column Oracle's message names. Its messages name columns
/// as a chain of quoted names, `"SCHEMA"."TABLE"."COLUMN"` (ORA-01400,
/// ORA-12899, ORA-01407): the chain's last name, if it is one of ours.
pub fn column_in_message(msg: &str, columns: &[ColumnSpec]) -> Option<String> {
    let mut names = Vec::new();
    let mut rest = msg;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        names.push(&after[..close]);
        let tail = &after[close + 1..];
        if !tail.starts_with(".\"") {
            if names.len() >= 2 {
                break;
            }
            names.clear();
        }
        rest = tail;
    }
    let last = names.last().filter(|_| names.len() >= 2)?;
    columns
        .iter()
        .find(|c| c.name == *last)
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_named_in_messages() {
        let cols = [
            ColumnSpec::text("id"),
            ColumnSpec::text("NOTE"),
            ColumnSpec::text("Amount"),
        ];
        let col = |m: &str| column_in_message(m, &cols);
        assert_eq!(
            col("ORA-01400: cannot insert NULL into (\"LOADER\".\"ORDERS\".\"NOTE\")").as_deref(),
            Some("NOTE")
        );
        assert_eq!(
            col("ORA-12899: value too large for column \"LOADER\".\"orders\".\"Amount\" (actual: 5, maximum: 3)")
                .as_deref(),
            Some("Amount")
        );
        // Case matters: a quoted "id" is not ID.
        assert_eq!(
            col("ORA-01400: cannot insert NULL into (\"L\".\"T\".\"ID\")"),
            None
        );
        assert_eq!(
            col("ORA-01438: value larger than specified precision"),
            None
        );
        assert_eq!(
            col("ORA-02290: check constraint (LOADER.SYS_C008) violated"),
            None
        );
        assert_eq!(
            col("ORA-00001: unique constraint (\"L\".\"PK\") violated"),
            None
        );
        assert_eq!(col("ORA-00000: \"unterminated"), None);
    }

    #[test]
    fn statements_name_columns_and_key_as_the_table_does() {
        use crate::config::WriteMode;
        use crate::format::Rows;
        let columns = [ColumnSpec::text("id"), ColumnSpec::text("v")];
        let rows = Rows::new(2);
        let mode = WriteMode::Upsert {
            key: vec!["id".into()],
        };
        let req = WriteRequest {
            job: "j",
            table: "T",
            mode: &mode,
            columns: &columns,
            rows: &rows,
            source: "s",
            start: 0,
            end: 0,
            first_line: 1,
            rejects: &[],
        };
        let target = |name: &str| {
            Some(TargetColumn {
                name: name.into(),
                data_type: "VARCHAR2".into(),
                data_length: 40,
                char_length: 10,
                char_semantics: Some(true),
                nullable: true,
            })
        };
        let plan = super::bind::plan(&columns, &[None, None], &rows, LIMITS, &[0]);
        let m = statement(&req, &[target("ID"), None], &plan);
        assert!(
            m.starts_with("MERGE INTO \"T\" d USING (SELECT :1 \"ID\", :2 \"v\" FROM dual) s ON (d.\"ID\" = s.\"ID\")"),
            "{m}"
        );
        let insert = WriteRequest {
            mode: &WriteMode::Insert,
            ..req
        };
        assert_eq!(
            statement(&insert, &[target("ID"), target("V")], &plan),
            "INSERT INTO \"T\" (\"ID\", \"V\") VALUES (:1, :2)"
        );
    }

    #[test]
    fn a_chunk_failing_on_data_without_naming_a_row_is_undone_to_its_savepoint() {
        assert_eq!(SAVEPOINT, "SAVEPOINT ingestd_chunk");
        assert_eq!(ROLLBACK_TO_SAVEPOINT, "ROLLBACK TO SAVEPOINT ingestd_chunk");
    }

    #[test]
    fn row_notes_carry_the_ora_code_and_message() {
        let err = DbError::new(
            1400,
            3,
            "ORA-01400: cannot insert NULL into (\"L\".\"T\".\"id\")\n",
            "",
            "",
        );
        let origin = crate::format::types::RowOrigin {
            offset: 120,
            len: 40,
            line: 7,
        };
        let n = row_note(&err, origin, &[ColumnSpec::text("id")]);
        assert_eq!(n.code, "ORA-01400");
        assert_eq!(
            n.reason,
            "ORA-01400: cannot insert NULL into (\"L\".\"T\".\"id\")"
        );
        assert_eq!((n.offset, n.len, n.line, n.records), (120, 40, 7, 1));
        assert_eq!(n.column.as_deref(), Some("id"));
    }
}
