//! PostgreSQL's ledger table, in the sink's schema: the schema checked,
//! the table created when missing, and upgraded in place when an older
//! version made it without `target`: `target` added with the default
//! `ledger::LEGACY_TARGET` and the primary key replaced by one with it, in
//! one transaction under the advisory lock that also serialises creation
//! (the job's workers start together; the others wait, then find it done).
//! Also the claim of the legacy rows by their job, and `ingestd ledger`'s
//! listing and forgetting. Must not touch any other table.

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use tracing::info;

use super::classify::Fail;
use super::{LEDGER_TYPES, connect};
use crate::config::PostgresSink;
use crate::protocol::{ErrorClass, Forgot};
use crate::worker::sink::SinkError;
use crate::worker::sink::ledger::list::{self, ListedRow};
use crate::worker::sink::ledger::{self, KEY, LEGACY_TARGET, TABLE};
use crate::worker::sink::sql::{Placeholder, quote_ident};

/// Whether `$1.$2` (schema, ledger) has a column `target`.
const HAS_TARGET: &str = "SELECT EXISTS (SELECT 1 FROM pg_attribute \
     WHERE attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) \
     AND attname = 'target' AND NOT attisdropped)";

/// Whether `$1.$2` (schema, ledger) has a column `runs` (a stream's
/// sequences; added in place to ledgers made before it).
const HAS_RUNS: &str = "SELECT EXISTS (SELECT 1 FROM pg_attribute \
     WHERE attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) \
     AND attname = 'runs' AND NOT attisdropped)";

/// Makes sure the schema is there and usable and the ledger, with
/// `target`, exists in it.
pub fn ensure(client: &mut Client, cfg: &PostgresSink) -> Result<(), SinkError> {
    let err = |f: Fail, what: &str| SinkError::Ledger {
        class: f.class,
        detail: format!("{}: {what}: {}", connect::shown(cfg), f.describe()),
    };
    let config = |detail: String| SinkError::Ledger {
        class: ErrorClass::Config,
        detail,
    };
    let row = client
        .query_one(
            &format!(
                "SELECT n.oid IS NOT NULL, coalesce(has_schema_privilege(n.oid, 'USAGE'), false), \
                 to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL, ({HAS_TARGET}), ({HAS_RUNS}) \
                 FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = $1"
            ),
            &[&cfg.schema, &TABLE],
        )
        .map_err(|e| err(Fail::from_pg(&e), "reading the catalog"))?;
    let (exists, usable, has_ledger, has_target, has_runs): (bool, bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if !exists {
        return Err(config(format!(
            "schema {:?} does not exist in database {:?}; create it (CREATE SCHEMA {}) or set `schema`",
            cfg.schema,
            cfg.dbname,
            quote_ident(&cfg.schema)
        )));
    }
    if !usable {
        return Err(config(format!(
            "permission denied for schema {:?}: role {:?} needs USAGE on it",
            cfg.schema, cfg.user
        )));
    }
    if has_ledger && has_target && has_runs {
        return Ok(());
    }
    let qualified = format!("{}.{TABLE}", quote_ident(&cfg.schema));
    let lock = format!("{}.{}", cfg.schema, TABLE);
    let mut upgraded = false;
    let done = client.transaction().and_then(|mut tx| {
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock])?;
        if !has_ledger {
            tx.batch_execute(&ledger::create_sql(&LEDGER_TYPES, TABLE, true))?;
        } else if !tx
            .query_one(HAS_TARGET, &[&cfg.schema, &TABLE])?
            .get::<_, bool>(0)
        {
            let pkey: Option<String> = tx
                .query_opt(
                    "SELECT conname::text FROM pg_constraint \
                     WHERE conrelid = to_regclass(format('%I.%I', $1::text, $2::text)) \
                     AND contype = 'p'",
                    &[&cfg.schema, &TABLE],
                )?
                .map(|r| r.get(0));
            let mut ddl = format!(
                "ALTER TABLE {qualified} ADD COLUMN target {} DEFAULT '{LEGACY_TARGET}' NOT NULL;",
                LEDGER_TYPES.target_text
            );
            if let Some(name) = pkey {
                ddl.push_str(&format!(
                    " ALTER TABLE {qualified} DROP CONSTRAINT {};",
                    quote_ident(&name)
                ));
            }
            ddl.push_str(&format!(" ALTER TABLE {qualified} ADD PRIMARY KEY ({KEY})"));
            tx.batch_execute(&ddl)?;
            upgraded = true;
        }
        tx.batch_execute(&format!(
            "ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS runs {}",
            LEDGER_TYPES.json
        ))?;
        tx.commit()
    });
    done.map_err(|e| {
        let what = format!("creating or upgrading {TABLE} in schema {:?}", cfg.schema);
        err(Fail::from_pg(&e), &what)
    })?;
    if upgraded {
        info!(schema = %cfg.schema, "{}", ledger::UPGRADED);
    }
    Ok(())
}

/// `ledger::claim_sql` for `job` and the target identity `target`.
pub fn claim(client: &mut Client, job: &str, target: &str) -> Result<u64, SinkError> {
    let has = ledger::has_legacy_sql(Placeholder::Dollar);
    client
        .query_one(&has, &[&job])
        .and_then(|r| match r.get::<_, i64>(0) {
            0 => Ok(0),
            _ => client.execute(&ledger::claim_sql(Placeholder::Dollar), &[&job, &target]),
        })
        .map_err(|e| {
            let f = Fail::from_pg(&e);
            ledger::claim_err(job, target)(f.class, f.describe())
        })
}

/// `committed_at` (timestamptz) as UTC ISO 8601 text, as SQLite stores it.
const COMMITTED_TEXT: &str =
    "to_char(committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// `Sink::list_ledger`, rows read as they come (a long ledger is not held
/// whole in memory).
pub fn list(
    client: &mut Client,
    job: &str,
    source: Option<&str>,
    each: &mut dyn FnMut(ListedRow) -> Result<(), String>,
) -> Result<(), SinkError> {
    let err = list::list_err(job);
    let db_err = |e: postgres::Error| {
        let f = Fail::from_pg(&e);
        err(f.class, f.describe())
    };
    let sql = list::list_sql(
        Placeholder::Dollar,
        COMMITTED_TEXT,
        "runs",
        source.is_some(),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&job];
    if let Some(s) = &source {
        params.push(s);
    }
    let mut rows = client
        .query_raw(&sql, params.iter().copied())
        .map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        let row = ListedRow {
            target: r.get(0),
            source: r.get(1),
            start: r.get(2),
            end: r.get(3),
            loaded: r.get(4),
            rejected: r.get(5),
            runs: r.get(6),
            committed_at: r.get(7),
        };
        each(row).map_err(|m| err(ErrorClass::Config, m))?;
    }
    Ok(())
}

/// `Sink::forget`: one transaction, rolled back when the rows deleted are
/// not the `expected` ones.
pub fn forget(
    client: &mut Client,
    job: &str,
    target: &str,
    source: &str,
    expected: u64,
) -> Result<Forgot, SinkError> {
    let done = client.transaction().and_then(|mut tx| {
        let found = tx.execute(
            &list::forget_sql(Placeholder::Dollar),
            &[&job, &target, &source],
        )?;
        if found != expected {
            tx.rollback()?;
            return Ok(Forgot::Changed { expected, found });
        }
        tx.commit()?;
        Ok(Forgot::Deleted { rows: found })
    });
    done.map_err(|e| {
        let f = Fail::from_pg(&e);
        list::forget_err(job, source)(f.class, f.describe())
    })
}
