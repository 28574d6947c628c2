//! How a job's columns meet a target table, the same for every sink: the
//! names one table of a database can hold (`Limits`; each sink gives its
//! own), and which column of the table each job column is
//! (`format::names`' rule; the sink then writes the table's own spelling).
//!
//! Owns those checks and their messages, every one a
//! `SinkError::Columns`, which for a job whose columns come from a header
//! sets that file aside instead of stopping the job. Must not run SQL.

use crate::format::ColumnSpec;
use crate::format::names::{self, Mismatch};
use crate::worker::sink::SinkError;

/// What names one table of a database can have.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The database, for messages.
    pub database: &'static str,
    /// Columns one table can have.
    pub max_columns: usize,
    /// The longest name, in bytes (UTF-8); `None`: no limit that matters.
    pub max_name_bytes: Option<usize>,
    /// Names that differ only in ASCII case are one name (SQLite), so such
    /// two cannot both be columns of one table.
    pub ascii_case_blind: bool,
    /// Characters no name can hold (even quoted).
    pub forbidden: &'static [char],
}

impl Limits {
    /// `name` as the database tells names apart: ASCII lower case where
    /// case does not count (SQLite), cut at `max_name_bytes` on a character
    /// boundary, as PostgreSQL cuts it (Oracle refuses a longer name, so
    /// nothing is ever written under one). Two spellings of one table have
    /// one identity, so its ledger rows are found under either.
    pub fn identity(&self, name: &str) -> String {
        let mut s = match self.ascii_case_blind {
            true => name.to_ascii_lowercase(),
            false => name.to_string(),
        };
        if let Some(max) = self.max_name_bytes
            && s.len() > max
        {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    }
}

/// Names shown in one message at most; the rest are counted.
const SHOWN: usize = 20;

fn refused(table: &str, detail: String) -> SinkError {
    SinkError::Columns {
        table: table.to_string(),
        detail,
    }
}

/// Refuses `columns` when `limits` say they cannot all be columns of one
/// table: too many, a name too long or holding a forbidden character, two
/// names the database takes for one. Checked before a table is created
/// (the database would refuse it, or cut a long name silently) and before
/// columns are matched, so the message says what is wrong.
pub fn check_names(limits: &Limits, table: &str, columns: &[ColumnSpec]) -> Result<(), SinkError> {
    let db = limits.database;
    if columns.len() > limits.max_columns {
        return Err(refused(
            table,
            format!(
                "{} columns, more than the {} {db} allows in one table (from {:?} on)",
                columns.len(),
                limits.max_columns,
                columns[limits.max_columns].name,
            ),
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        let name = c.name.as_str();
        if let Some(max) = limits.max_name_bytes.filter(|&m| name.len() > m) {
            return Err(refused(
                table,
                format!(
                    "{name:?} is {} bytes long; {db} names are at most {max} bytes",
                    name.len()
                ),
            ));
        }
        if let Some(ch) = name.chars().find(|ch| limits.forbidden.contains(ch)) {
            return Err(refused(
                table,
                format!("{name:?} holds {ch:?}, which {db} names cannot hold"),
            ));
        }
        if limits.ascii_case_blind
            && let Some(first) = columns[..i]
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
        {
            return Err(refused(
                table,
                format!(
                    "{:?} and {name:?} are one name in {db}, which ignores case in names: \
                     they cannot be two columns",
                    first.name
                ),
            ));
        }
    }
    Ok(())
}

/// For each of `columns`, the index of its column among the table's
/// `have` (`format::names::resolve`).
pub fn map<S: AsRef<str>>(
    table: &str,
    columns: &[ColumnSpec],
    have: &[S],
) -> Result<Vec<usize>, SinkError> {
    let wanted: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    names::resolve(&wanted, have).map_err(|m| {
        let col = |i: usize| have[i].as_ref();
        let detail = match m {
            Mismatch::Missing(missing) => format!(
                "missing column(s) {} (the table has {})",
                list(missing.iter().map(|&i| wanted[i])),
                list(have.iter().map(AsRef::as_ref))
            ),
            Mismatch::Ambiguous {
                wanted: w,
                have: at,
            } => format!(
                "{:?} matches several columns ignoring case ({}) and none exactly: which one \
                 is meant cannot be told",
                wanted[w],
                list(at.iter().map(|&i| format!("{:?}", col(i))))
            ),
            Mismatch::Shared {
                first,
                second,
                have: h,
            } => {
                let how = match wanted[first] == col(h) {
                    true => "exactly",
                    false => "ignoring case",
                };
                format!(
                    "{:?} and {:?} both name column {:?} ({:?} {how}): one column cannot \
                     take two values",
                    wanted[first],
                    wanted[second],
                    col(h),
                    wanted[first]
                )
            }
        };
        refused(table, detail)
    })
}

/// `a, b, c` with at most `SHOWN` names, then `... (N more)`.
fn list<S: AsRef<str>>(names: impl ExactSizeIterator<Item = S>) -> String {
    let n = names.len();
    let mut s: Vec<String> = names.take(SHOWN).map(|x| x.as_ref().to_string()).collect();
    if n > SHOWN {
        s.push(format!("... ({} more)", n - SHOWN));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LITE: Limits = Limits {
        database: "SQLite",
        max_columns: 3,
        max_name_bytes: None,
        ascii_case_blind: true,
        forbidden: &['\0'],
    };
    const PG: Limits = Limits {
        database: "PostgreSQL",
        max_columns: 1600,
        max_name_bytes: Some(63),
        ascii_case_blind: false,
        forbidden: &['\0'],
    };

    fn cols(names: &[&str]) -> Vec<ColumnSpec> {
        names.iter().map(|n| ColumnSpec::text(n)).collect()
    }

    fn detail(e: SinkError) -> String {
        match e {
            SinkError::Columns { table, detail } => {
                assert_eq!(table, "t");
                detail
            }
            other => panic!("not a Columns error: {other}"),
        }
    }

    #[test]
    fn names_a_table_cannot_hold() {
        assert!(check_names(&LITE, "t", &cols(&["a", "b", "c"])).is_ok());
        assert_eq!(
            detail(check_names(&LITE, "t", &cols(&["a", "b", "c", "d", "e"])).unwrap_err()),
            "5 columns, more than the 3 SQLite allows in one table (from \"d\" on)"
        );
        assert_eq!(
            detail(check_names(&LITE, "t", &cols(&["x", "a", "A"])).unwrap_err()),
            "\"a\" and \"A\" are one name in SQLite, which ignores case in names: they cannot \
             be two columns"
        );
        // Only ASCII case: SQLite tells "é" and "É" apart.
        assert!(check_names(&LITE, "t", &cols(&["é", "É"])).is_ok());
        assert!(check_names(&PG, "t", &cols(&["a", "A"])).is_ok());
        let long = "n".repeat(64);
        assert_eq!(
            detail(check_names(&PG, "t", &cols(&["a", &long])).unwrap_err()),
            format!("{long:?} is 64 bytes long; PostgreSQL names are at most 63 bytes")
        );
        assert!(check_names(&PG, "t", &cols(&[&"n".repeat(63)])).is_ok());
        assert!(check_names(&LITE, "t", &cols(&[&long])).is_ok());
        assert_eq!(
            detail(check_names(&PG, "t", &cols(&["a\0b"])).unwrap_err()),
            "\"a\\0b\" holds '\\0', which PostgreSQL names cannot hold"
        );
    }

    #[test]
    fn columns_onto_the_table_by_the_one_rule() {
        assert_eq!(map("t", &cols(&["B", "a"]), &["a", "b"]).unwrap(), [1, 0]);
        assert_eq!(
            detail(map("t", &cols(&["a", "c", "b"]), &["a", "b"]).unwrap_err()),
            "missing column(s) c (the table has a, b)"
        );
        assert_eq!(
            detail(map("t", &cols(&["b", "A", "a"]), &["a", "b"]).unwrap_err()),
            "\"a\" and \"A\" both name column \"a\" (\"a\" exactly): one column cannot take \
             two values"
        );
        assert_eq!(
            detail(map("t", &cols(&["ID", "Id"]), &["id"]).unwrap_err()),
            "\"ID\" and \"Id\" both name column \"id\" (\"ID\" ignoring case): one column \
             cannot take two values"
        );
        assert_eq!(
            detail(map("t", &cols(&["id"]), &["ID", "Id"]).unwrap_err()),
            "\"id\" matches several columns ignoring case (\"ID\", \"Id\") and none exactly: \
             which one is meant cannot be told"
        );
    }

    #[test]
    fn identities_of_table_names() {
        assert_eq!(LITE.identity("Orders"), "orders");
        assert_eq!(LITE.identity("ÉTAT"), "État", "SQLite folds ASCII only");
        assert_eq!(PG.identity("Orders"), "Orders");
        let long = format!("{}é", "x".repeat(62));
        assert_eq!(long.len(), 64);
        assert_eq!(
            PG.identity(&long),
            "x".repeat(62),
            "cut before the split character"
        );
        assert_eq!(PG.identity(&"y".repeat(70)), "y".repeat(63));
    }

    #[test]
    fn long_lists_are_cut() {
        let have: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        let e = detail(map("t", &cols(&["x"]), &have).unwrap_err());
        assert!(e.ends_with("c18, c19, ... (10 more))"), "{e}");
    }
}
