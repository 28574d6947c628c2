//! SQL text shared by the sinks: identifier quoting (one name or a list) and
//! the INSERT statement.
//!
//! Owns text building only: it never runs SQL, never sees a connection and
//! knows no database beyond the placeholder style each one uses.

use crate::format::ColumnSpec;

/// How a database numbers its bind parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// `?1` (SQLite).
    Question,
    /// `$1` (PostgreSQL).
    Dollar,
    /// `:1` (Oracle).
    Colon,
}

impl Placeholder {
    /// Appends the placeholder for the 1-based parameter `n`.
    pub fn push(self, out: &mut String, n: usize) {
        out.push(match self {
            Placeholder::Question => '?',
            Placeholder::Dollar => '$',
            Placeholder::Colon => ':',
        });
        out.push_str(&n.to_string());
    }
}

/// Appends `name` as one quoted identifier, exactly as configured: double
/// quotes around it, embedded double quotes doubled. Quoting always (rather
/// than when "needed") keeps case and reserved words as the operator wrote them.
pub fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends `names` as quoted identifiers separated by `, `, each after
/// `prefix` (a table alias such as `s.`, or nothing).
pub fn push_ident_list<S: AsRef<str>>(
    out: &mut String,
    names: impl IntoIterator<Item = S>,
    prefix: &str,
) {
    for (i, name) in names.into_iter().enumerate() {
        out.push_str(if i > 0 { ", " } else { "" });
        out.push_str(prefix);
        push_ident(out, name.as_ref());
    }
}

/// `name` as one quoted identifier (see `push_ident`).
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_ident(&mut out, name);
    out
}

/// `INSERT INTO "table" ("a", "b") VALUES (?1, ?2)`: one parameter per column,
/// in the order of `columns` (the order of a row's cells).
pub fn insert_sql(table: &str, columns: &[ColumnSpec], ph: Placeholder) -> String {
    let mut sql = String::from("INSERT INTO ");
    push_ident(&mut sql, table);
    sql.push_str(" (");
    push_ident_list(&mut sql, columns.iter().map(|c| &c.name), "");
    sql.push_str(") VALUES (");
    for i in 1..=columns.len() {
        if i > 1 {
            sql.push_str(", ");
        }
        ph.push(&mut sql, i);
    }
    sql.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_exactly_as_configured() {
        assert_eq!(quote_ident("orders"), r#""orders""#);
        assert_eq!(quote_ident("Order Lines"), r#""Order Lines""#);
        assert_eq!(quote_ident(r#"a"b""c"#), r#""a""b""""c""#);
        assert_eq!(quote_ident("select"), r#""select""#);
        assert_eq!(quote_ident(""), r#""""#);
        let mut list = String::new();
        push_ident_list(&mut list, ["a", r#"b"c"#], "s.");
        assert_eq!(list, r#"s."a", s."b""c""#);
    }

    #[test]
    fn insert_text_per_placeholder_style() {
        let cols = [ColumnSpec::text("id"), ColumnSpec::text(r#"x"y"#)];
        assert_eq!(
            insert_sql("t", &cols, Placeholder::Question),
            r#"INSERT INTO "t" ("id", "x""y") VALUES (?1, ?2)"#
        );
        assert_eq!(
            insert_sql("t", &cols, Placeholder::Dollar),
            r#"INSERT INTO "t" ("id", "x""y") VALUES ($1, $2)"#
        );
        assert_eq!(
            insert_sql("t", &cols, Placeholder::Colon),
            r#"INSERT INTO "t" ("id", "x""y") VALUES (:1, :2)"#
        );
    }
}
