//! The target table of a PostgreSQL job: reading what the catalog says about
//! it (columns, their types, unique keys, privileges), creating it from the
//! job's columns when asked, and the `Plan` a write follows (which target
//! column and type each job column goes to, and the SQL texts).
//!
//! Owns the column-type mapping to PostgreSQL types and every "this job
//! cannot write this table" message. Must not write rows or the ledger.

use postgres::Client;

use super::classify::Fail;
use super::encode::{PgType, SUPPORTED};
use crate::config::WriteMode;
use crate::format::{ColumnSpec, ColumnType};
use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;
use crate::worker::sink::columns::{self, Limits};
use crate::worker::sink::sql::{push_ident, push_ident_list, quote_ident};

/// What one PostgreSQL table can have: 1600 columns (MaxHeapAttributeNumber),
/// names of at most 63 bytes (NAMEDATALEN - 1: a longer one is cut
/// silently, so two long names could become one), compared exactly.
pub const LIMITS: Limits = Limits {
    database: "PostgreSQL",
    max_columns: 1600,
    max_name_bytes: Some(63),
    ascii_case_blind: false,
    forbidden: &['\0'],
};

/// A column of the target table.
#[derive(Clone, Debug)]
struct TableColumn {
    name: String,
    /// The base type's OID (a domain's base type).
    base: u32,
    /// As the server shows it: `character varying(3)`.
    shown: String,
    generated: bool,
}

/// How one job column set is written to one table.
#[derive(Clone, Debug)]
pub struct Plan {
    pub table: String,
    /// The job's columns (name and type), as the plan was made for them.
    pub job_columns: Vec<(String, ColumnType)>,
    /// The target column of each job column (the table's spelling).
    pub names: Vec<String>,
    pub types: Vec<PgType>,
    /// `"schema"."table"`.
    pub qualified: String,
    /// Upsert key columns, in the table's spelling.
    pub key: Option<Vec<String>>,
}

impl Plan {
    pub fn fits(&self, table: &str, columns: &[ColumnSpec]) -> bool {
        self.table == table
            && self.job_columns.len() == columns.len()
            && self
                .job_columns
                .iter()
                .zip(columns)
                .all(|((n, t), c)| *n == c.name && *t == c.ty)
    }

    /// `("a", "b")`: the target columns in job order.
    pub fn column_list(&self) -> String {
        let mut s = String::from("(");
        push_ident_list(&mut s, &self.names, "");
        s.push(')');
        s
    }
}

/// Checks (creating it when `create`) `table` in `schema` against the job's
/// columns and mode, and returns the plan. Every refusal names the table and
/// what is missing: a `Config` error, or `Columns` for what depends on the
/// job's columns (a file's header).
pub fn plan(
    client: &mut Client,
    schema: &str,
    table: &str,
    columns: &[ColumnSpec],
    create: bool,
    mode: &WriteMode,
) -> Result<Plan, SinkError> {
    let qualified = format!("{}.{}", quote_ident(schema), quote_ident(table));
    let config = |detail: String| SinkError::Table {
        class: ErrorClass::Config,
        table: qualified.clone(),
        detail,
    };
    let db_err = |what: &str, e: postgres::Error| {
        let f = Fail::from_pg(&e);
        SinkError::Table {
            class: f.class,
            table: qualified.clone(),
            detail: format!("{what}: {}", f.describe()),
        }
    };
    let mut found =
        describe(client, schema, table).map_err(|e| db_err("reading the catalog", e))?;
    if found.is_none() && !create {
        return Err(config(format!(
            "no such table in schema {schema:?}; create it, or set create_table = true to \
             create it from the job's columns"
        )));
    }
    columns::check_names(&LIMITS, &qualified, columns)?;
    if found.is_none() {
        create_table(client, &qualified, columns, mode).map_err(|e| db_err("creating it", e))?;
        found = describe(client, schema, table).map_err(|e| db_err("reading the catalog", e))?;
    }
    let Some(info) = found else {
        return Err(config("it vanished right after it was created".into()));
    };
    if !matches!(info.kind, 'r' | 'p') {
        return Err(config(format!(
            "it is not a table (pg_class.relkind {:?}); COPY needs a table",
            info.kind
        )));
    }
    let upsert = matches!(mode, WriteMode::Upsert { .. });
    if !info.can_insert || (upsert && !info.can_update) {
        let need = if upsert {
            "INSERT and UPDATE"
        } else {
            "INSERT"
        };
        return Err(config(format!(
            "permission denied: the role needs {need} on it (GRANT {need} ON {qualified} TO ...)"
        )));
    }
    // Which columns, and whether they can take these values, depends on the
    // job's columns (a file's header): `Columns`, not `Table`.
    let unfit = |detail: String| SinkError::Columns {
        table: qualified.clone(),
        detail,
    };
    let have: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
    let at = columns::map(&qualified, columns, &have)?;
    let mut names = Vec::with_capacity(columns.len());
    let mut types = Vec::with_capacity(columns.len());
    for (c, &i) in columns.iter().zip(&at) {
        let tc = &info.columns[i];
        if tc.generated {
            return Err(unfit(format!(
                "column {:?} is generated: it cannot be loaded",
                tc.name
            )));
        }
        let Some(ty) = PgType::from_oid(tc.base) else {
            return Err(unfit(format!(
                "column {:?} has type {}, which the postgres sink does not write (it writes {SUPPORTED})",
                tc.name, tc.shown
            )));
        };
        if !ty.accepts(c.ty) {
            return Err(unfit(format!(
                "column {:?} is {} in the table, but the job gives {}: no value of that type fits",
                tc.name, tc.shown, c.ty
            )));
        }
        names.push(tc.name.clone());
        types.push(ty);
    }
    let key = match mode {
        WriteMode::Insert => None,
        WriteMode::Upsert { key } => {
            let mut resolved = Vec::with_capacity(key.len());
            for k in key {
                match columns.iter().position(|c| c.name.eq_ignore_ascii_case(k)) {
                    Some(i) => resolved.push(names[i].clone()),
                    None => {
                        return Err(config(format!(
                            "key column {k:?} is not among the job's columns"
                        )));
                    }
                }
            }
            let mut want = resolved.clone();
            want.sort();
            if !info.unique.contains(&want) {
                return Err(config(format!(
                    "mode = \"upsert\" needs a primary key or unique index on exactly ({}) for ON \
                     CONFLICT; add one (ALTER TABLE {qualified} ADD PRIMARY KEY ({})), or let \
                     create_table make the table",
                    resolved.join(", "),
                    resolved
                        .iter()
                        .map(|k| quote_ident(k))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some(resolved)
        }
    };
    Ok(Plan {
        table: table.to_string(),
        job_columns: columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
        names,
        types,
        qualified,
        key,
    })
}

/// What the catalog says about a table.
struct TableInfo {
    kind: char,
    can_insert: bool,
    can_update: bool,
    columns: Vec<TableColumn>,
    /// Column sets (sorted) of the unique indexes ON CONFLICT can use:
    /// immediate, not partial, no expressions.
    unique: Vec<Vec<String>>,
}

const FIND_TABLE: &str = "SELECT c.oid, c.relkind::text, has_table_privilege(c.oid, 'INSERT'), \
     has_table_privilege(c.oid, 'UPDATE') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relname = $2";

const COLUMNS: &str = "SELECT a.attname::text, \
     (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::oid, \
     format_type(a.atttypid, a.atttypmod), a.attgenerated <> '' \
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

const UNIQUE: &str = "SELECT array_agg(a.attname::text ORDER BY a.attname::text) \
     FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
     WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate AND i.indpred IS NULL \
     AND i.indexprs IS NULL GROUP BY i.indexrelid";

fn describe(
    client: &mut Client,
    schema: &str,
    table: &str,
) -> Result<Option<TableInfo>, postgres::Error> {
    let Some(row) = client.query_opt(FIND_TABLE, &[&schema, &table])? else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let kind: String = row.get(1);
    let columns = client
        .query(COLUMNS, &[&oid])?
        .into_iter()
        .map(|r| TableColumn {
            name: r.get(0),
            base: r.get(1),
            shown: r.get(2),
            generated: r.get(3),
        })
        .collect();
    let unique = client
        .query(UNIQUE, &[&oid])?
        .into_iter()
        .map(|r| {
            // Sorted here, not by the server's collation, to compare with ours.
            let mut names: Vec<String> = r.get(0);
            names.sort();
            names
        })
        .collect();
    Ok(Some(TableInfo {
        kind: kind.chars().next().unwrap_or('?'),
        can_insert: row.get(2),
        can_update: row.get(3),
        columns,
        unique,
    }))
}

/// `CREATE TABLE IF NOT EXISTS`, under a transaction-scoped advisory lock so
/// that the job's workers, starting together, do not race on the catalog
/// (two concurrent `IF NOT EXISTS` can still fail on pg_type's unique index).
fn create_table(
    client: &mut Client,
    qualified: &str,
    columns: &[ColumnSpec],
    mode: &WriteMode,
) -> Result<(), postgres::Error> {
    let ddl = create_table_sql(qualified, columns, mode);
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&qualified])?;
    tx.batch_execute(&ddl)?;
    tx.commit()
}

/// The job's types in PostgreSQL: exact decimals as numeric(p,s), text with a
/// limit as varchar(n), timestamps without time zone (the values have none).
pub fn create_table_sql(qualified: &str, columns: &[ColumnSpec], mode: &WriteMode) -> String {
    let mut s = format!("CREATE TABLE IF NOT EXISTS {qualified} (");
    for (i, c) in columns.iter().enumerate() {
        s.push_str(if i > 0 { ", " } else { "" });
        push_ident(&mut s, &c.name);
        s.push(' ');
        s.push_str(&match c.ty {
            ColumnType::Int => "integer".to_string(),
            ColumnType::BigInt => "bigint".to_string(),
            ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
            ColumnType::Float => "double precision".to_string(),
            ColumnType::Text { max_chars: None } => "text".to_string(),
            ColumnType::Text { max_chars: Some(n) } => format!("varchar({n})"),
            ColumnType::Bool => "boolean".to_string(),
            ColumnType::Date => "date".to_string(),
            ColumnType::Timestamp => "timestamp".to_string(),
            ColumnType::TimestampTz => "timestamptz".to_string(),
        });
        if !c.nullable {
            s.push_str(" NOT NULL");
        }
    }
    if let WriteMode::Upsert { key } = mode {
        s.push_str(", PRIMARY KEY (");
        push_ident_list(&mut s, key, "");
        s.push(')');
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_table_types() {
        let col = |name: &str, ty, nullable| ColumnSpec {
            name: name.into(),
            ty,
            nullable,
            formats: Vec::new(),
            from: None,
            null_if: None,
            default: None,
            constant: None,
        };
        let cols = [
            col("id", ColumnType::BigInt, false),
            col("n", ColumnType::Int, true),
            col(
                "Amount",
                ColumnType::Decimal {
                    precision: 12,
                    scale: 2,
                },
                true,
            ),
            col("f", ColumnType::Float, true),
            col("t", ColumnType::Text { max_chars: None }, true),
            col("v", ColumnType::Text { max_chars: Some(3) }, true),
            col("b", ColumnType::Bool, true),
            col("d", ColumnType::Date, true),
            col("ts", ColumnType::Timestamp, true),
        ];
        let up = WriteMode::Upsert {
            key: vec!["id".into()],
        };
        assert_eq!(
            create_table_sql("\"s\".\"t\"", &cols, &up),
            "CREATE TABLE IF NOT EXISTS \"s\".\"t\" (\"id\" bigint NOT NULL, \"n\" integer, \
             \"Amount\" numeric(12,2), \"f\" double precision, \"t\" text, \"v\" varchar(3), \
             \"b\" boolean, \"d\" date, \"ts\" timestamp, PRIMARY KEY (\"id\"))"
        );
    }
}
