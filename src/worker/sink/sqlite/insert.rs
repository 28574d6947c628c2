//! Writing a batch's rows inside the caller's transaction: several rows per
//! INSERT statement, and one row at a time where a statement failed, so
//! that a refused row is rejected alone with its own offset and line.
//!
//! Why several rows per statement: the single writer's per-statement cost
//! (step, reset, opening the statement's sub-transaction) dominated a narrow
//! row; `VALUES (...), (...), ...` pays it once per chunk. Why the replay is
//! sound: a statement that fails with ABORT (SQLite's default resolution,
//! also a trigger's `RAISE(ABORT)`) undoes its own rows and leaves the
//! transaction open, so the chunk is replayed row by row to find the bad
//! rows. Where the schema could resolve a conflict with FAIL (rows kept),
//! every row goes alone (`Facts::chunks_safe`).
//!
//! Owns the INSERT / upsert text and the chunking; must not begin or end the
//! transaction, nor touch the ledger.

use rusqlite::{Connection, Statement};

use super::bind::{bind_row, reject_note};
use super::classify::classify;
use super::schema::{self, Facts};
use super::text::Scratch;
use super::write_err;
use crate::config::WriteMode;
use crate::format::ColumnSpec;
use crate::protocol::{ErrorClass, RejectNote};
use crate::worker::sink::{SinkError, WriteRequest, sql};

/// Rows per multi-row statement (measured: see `tests/bench.rs`).
const CHUNK_ROWS: usize = 16;

/// Parameters one statement may have in any SQLite build (the historical
/// SQLITE_MAX_VARIABLE_NUMBER; 32766 since 3.32, but a build may lower it).
const MAX_PARAMS: usize = 999;

/// The statements for one (table, columns, mode), and the schema facts they
/// were last checked against.
pub struct Plan {
    table: String,
    columns: Vec<ColumnSpec>,
    mode: WriteMode,
    /// One row's INSERT (or upsert).
    one: String,
    /// `chunk` rows' INSERT; empty when `chunk` is 1.
    many: String,
    chunk: usize,
    facts: Option<Facts>,
}

impl Plan {
    fn new(table: &str, columns: &[ColumnSpec], mode: &WriteMode) -> Self {
        let chunk = CHUNK_ROWS.min(MAX_PARAMS / columns.len().max(1)).max(1);
        Plan {
            table: table.to_string(),
            columns: columns.to_vec(),
            mode: mode.clone(),
            one: insert_sql(table, columns, 1, mode),
            many: if chunk > 1 {
                insert_sql(table, columns, chunk, mode)
            } else {
                String::new()
            },
            chunk,
            facts: None,
        }
    }

    /// The plan for `req`, rebuilt when its table, columns or mode changed.
    pub fn for_request<'p>(slot: &'p mut Option<Plan>, req: &WriteRequest<'_>) -> &'p mut Plan {
        let same = slot.as_ref().is_some_and(|p| {
            p.table == req.table && p.columns == req.columns && p.mode == *req.mode
        });
        if !same {
            *slot = Some(Plan::new(req.table, req.columns, req.mode));
        }
        slot.as_mut().expect("just set")
    }

    /// Re-reads the schema facts when the schema changed since they were
    /// read (another process may add a trigger between two batches). Called
    /// inside the write transaction, so they hold for the whole batch.
    fn refresh(&mut self, conn: &Connection) -> Result<(), SinkError> {
        let schema_err =
            |e: rusqlite::Error| write_err(&format!("reading the schema of {:?}", self.table), &e);
        let version = schema::version(conn).map_err(schema_err)?;
        if self.facts.as_ref().is_none_or(|f| f.version != version) {
            let facts =
                schema::facts(conn, &self.table, &self.columns, version).map_err(schema_err)?;
            self.facts = Some(facts);
        }
        Ok(())
    }
}

/// `INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?)` for `rows` rows, and
/// for an upsert `ON CONFLICT ("k") DO UPDATE SET "b" = excluded."b"`: a
/// later row with the same key updates the earlier one, so the last wins.
/// Plain `?`: SQLite numbers them left to right, row after row.
fn insert_sql(table: &str, columns: &[ColumnSpec], rows: usize, mode: &WriteMode) -> String {
    let mut s = String::from("INSERT INTO ");
    sql::push_ident(&mut s, table);
    s.push_str(" (");
    sql::push_ident_list(&mut s, columns.iter().map(|c| &c.name), "");
    s.push_str(") VALUES ");
    let mut one = String::from("(");
    for i in 0..columns.len() {
        one.push_str(if i > 0 { ", ?" } else { "?" });
    }
    one.push(')');
    for r in 0..rows {
        s.push_str(if r > 0 { ", " } else { "" });
        s.push_str(&one);
    }
    if let WriteMode::Upsert { key } = mode {
        s.push_str(" ON CONFLICT (");
        sql::push_ident_list(&mut s, key, "");
        s.push_str(") DO ");
        let mut first = true;
        for c in columns {
            if key.iter().any(|k| k.eq_ignore_ascii_case(&c.name)) {
                continue;
            }
            s.push_str(if first { "UPDATE SET " } else { ", " });
            first = false;
            sql::push_ident(&mut s, &c.name);
            s.push_str(" = excluded.");
            sql::push_ident(&mut s, &c.name);
        }
        if first {
            // Every column is in the key: a repeated key has nothing to change.
            s.push_str("NOTHING");
        }
    }
    s
}

/// Inserts every row of the request; a row SQLite refuses for its values
/// becomes a reject note and the others go on. Any other failure ends the
/// batch (the caller's transaction rolls back).
pub fn insert_rows(
    conn: &Connection,
    plan: &mut Plan,
    req: &WriteRequest<'_>,
) -> Result<(u64, Vec<RejectNote>), SinkError> {
    plan.refresh(conn)?;
    let plan = &*plan;
    let facts = plan.facts.as_ref().expect("refreshed");
    let prepare_err = |e| write_err(&format!("preparing the insert into {:?}", req.table), &e);
    let mut one = conn.prepare_cached(&plan.one).map_err(prepare_err)?;
    let rows = req.rows;
    let (width, n) = (rows.width, rows.len());
    let chunk = if facts.chunks_safe && n >= plan.chunk {
        plan.chunk
    } else {
        1
    };
    let mut many = match chunk {
        1 => None,
        _ => Some(conn.prepare_cached(&plan.many).map_err(prepare_err)?),
    };
    let mut scratch = Scratch::default();
    let mut out = Outcome::default();
    let mut i = 0;
    while i < n {
        let end = i + chunk;
        if let Some(stmt) = many.as_mut().filter(|_| end <= n) {
            let done = (i..end)
                .try_for_each(|r| {
                    let first = (r - i) * width + 1;
                    bind_row(stmt, rows, r, first, &facts.real_ok, &mut scratch)
                })
                .and_then(|()| stmt.raw_execute());
            match done {
                Ok(_) => out.loaded += chunk as u64,
                // Undone whole, transaction still open: find the bad rows.
                Err(e) if refused(conn, &e) => {
                    for r in i..end {
                        out.one_row(conn, &mut one, req, r, &facts.real_ok, &mut scratch)?;
                    }
                }
                Err(e) => {
                    let (a, b) = (rows.origins[i].line, rows.origins[end - 1].line);
                    let at = format!("inserting lines {a}..={b} into {:?}", req.table);
                    return Err(write_err(&at, &e));
                }
            }
            i = end;
        } else {
            out.one_row(conn, &mut one, req, i, &facts.real_ok, &mut scratch)?;
            i += 1;
        }
    }
    Ok((out.loaded, out.rejects))
}

/// A statement SQLite refused for the values in it (a data-class error),
/// with the transaction still open: unless a trigger's RAISE(ROLLBACK)
/// ended it, when the next rows would autocommit.
fn refused(conn: &Connection, e: &rusqlite::Error) -> bool {
    classify(e) == ErrorClass::Data && !conn.is_autocommit()
}

#[derive(Default)]
struct Outcome {
    loaded: u64,
    rejects: Vec<RejectNote>,
}

impl Outcome {
    /// Inserts row `r` alone with `one`.
    fn one_row(
        &mut self,
        conn: &Connection,
        one: &mut Statement<'_>,
        req: &WriteRequest<'_>,
        r: usize,
        real_ok: &[bool],
        scratch: &mut Scratch,
    ) -> Result<(), SinkError> {
        let origin = req.rows.origins[r];
        let done = bind_row(one, req.rows, r, 1, real_ok, scratch).and_then(|()| one.raw_execute());
        match done {
            Ok(_) => self.loaded += 1,
            Err(e) if refused(conn, &e) => self.rejects.push(reject_note(&e, origin, req.columns)),
            Err(e) => {
                let at = format!("inserting line {} into {:?}", origin.line, req.table);
                return Err(write_err(&at, &e));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_text() {
        let cols = [
            ColumnSpec::text("id"),
            ColumnSpec::text("x\"y"),
            ColumnSpec::text("z"),
        ];
        assert_eq!(
            insert_sql("t", &cols, 2, &WriteMode::Insert),
            r#"INSERT INTO "t" ("id", "x""y", "z") VALUES (?, ?, ?), (?, ?, ?)"#
        );
        let up = WriteMode::Upsert {
            key: vec!["ID".into(), "z".into()],
        };
        assert_eq!(
            insert_sql("t", &cols, 1, &up),
            r#"INSERT INTO "t" ("id", "x""y", "z") VALUES (?, ?, ?) ON CONFLICT ("ID", "z") DO UPDATE SET "x""y" = excluded."x""y""#
        );
        let all = WriteMode::Upsert {
            key: vec!["id".into()],
        };
        assert!(insert_sql("t", &cols[..1], 1, &all).ends_with(r#"ON CONFLICT ("id") DO NOTHING"#));
    }

    #[test]
    fn chunks_stay_under_the_parameter_limit() {
        let cols = |n| {
            (0..n)
                .map(|i| ColumnSpec::text(&format!("c{i}")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            Plan::new("t", &cols(8), &WriteMode::Insert).chunk,
            CHUNK_ROWS
        );
        assert_eq!(Plan::new("t", &cols(100), &WriteMode::Insert).chunk, 9);
        let wide = Plan::new("t", &cols(1000), &WriteMode::Insert);
        assert_eq!((wide.chunk, wide.many.as_str()), (1, ""));
    }
}
