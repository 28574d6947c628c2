//! `ingestd ledger` on Oracle: the job's ledger rows listed (read as they
//! come) and one source's rows deleted in one transaction. Streams never
//! load into Oracle, so `runs` is not read (ledgers upgraded from before
//! it lack the column). Must not touch any other table.

use oracle::Connection;
use oracle::sql_type::ToSql;

use super::classify::fail;
use super::{KEY_BIND, TARGET_BIND};
use crate::protocol::{ErrorClass, Forgot};
use crate::worker::sink::SinkError;
use crate::worker::sink::ledger::list::{self, ListedRow};
use crate::worker::sink::sql::Placeholder;

/// `committed_at` (a UTC TIMESTAMP(3)) as ISO 8601 text, as SQLite stores it.
pub const COMMITTED_TEXT: &str = "TO_CHAR(committed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF3\"Z\"')";

/// `Sink::list_ledger`.
pub fn list(
    conn: &Connection,
    job: &str,
    source: Option<&str>,
    each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
) -> Result<(), SinkError> {
    let err = list::list_err(job);
    let db_err = |e: oracle::Error| fail(&e, &err);
    let sql = list::list_sql(Placeholder::Colon, COMMITTED_TEXT, "NULL", source.is_some());
    let by_job = (&job, &KEY_BIND);
    let by_source = source.as_ref().map(|s| (s, &KEY_BIND));
    let mut params: Vec<&dyn ToSql> = vec![&by_job];
    if let Some(s) = &by_source {
        params.push(s);
    }
    let rows = conn.query(&sql, &params).map_err(db_err)?;
    for row in rows {
        let r = row.map_err(db_err)?;
        let row = ListedRow {
            target: r.get(0).map_err(db_err)?,
            source: r.get(1).map_err(db_err)?,
            start: r.get(2).map_err(db_err)?,
            end: r.get(3).map_err(db_err)?,
            loaded: r.get(4).map_err(db_err)?,
            rejected: r.get(5).map_err(db_err)?,
            runs: r.get(6).map_err(db_err)?,
            committed_at: r.get(7).map_err(db_err)?,
        };
        each(row).map_err(|m| err(ErrorClass::Config, m))?;
    }
    Ok(())
}

/// `Sink::forget`: the DELETE and its COMMIT, or a ROLLBACK when the rows
/// deleted are not the `expected` ones.
pub fn forget(
    conn: &Connection,
    job: &str,
    target: &str,
    source: &str,
    expected: u64,
) -> Result<Forgot, SinkError> {
    let err = list::forget_err(job, source);
    let db_err = |e: oracle::Error| fail(&e, &err);
    let params: [&dyn ToSql; 3] = [
        &(&job, &KEY_BIND),
        &(&target, &TARGET_BIND),
        &(&source, &KEY_BIND),
    ];
    let done = conn
        .execute(&list::forget_sql(Placeholder::Colon), &params)
        .map_err(db_err)?;
    let found = done.row_count().map_err(db_err)?;
    if found != expected {
        conn.rollback().map_err(db_err)?;
        return Ok(Forgot::Changed { expected, found });
    }
    conn.commit().map_err(db_err)?;
    Ok(Forgot::Deleted { rows: found })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_reads_no_runs_and_commit_times_as_utc_text() {
        let s = list::list_sql(Placeholder::Colon, COMMITTED_TEXT, "NULL", true);
        assert!(s.contains("rows_rejected, NULL, TO_CHAR(committed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF3\"Z\"') FROM ingestd_ledger"), "{s}");
        assert!(s.contains("WHERE job = :1 AND source = :2 ORDER BY"), "{s}");
    }
}
