//! PostgreSQL error classification: every failure gets its `ErrorClass`
//! here, once, by SQLSTATE when the server sent one and by the driver's
//! error kind when it did not (connection refused, TLS, connection lost).
//!
//! Owns `Fail`, a plain copy of what the sink needs from a
//! `postgres::Error` (code, message, detail, context line): the driver's
//! error cannot be cloned and is sometimes wrapped in an `io::Error`.
//! Changes nothing and holds no connection.

use std::error::Error as _;

use crate::protocol::ErrorClass;

/// The class of a SQLSTATE:
///
/// | code | class | why |
/// | --- | --- | --- |
/// | 08xxx | transient | connection exception: lost, refused, protocol |
/// | 57P01, 57P02, 57P03, 57P05, 57014 | transient | server shutting down, crashed, starting up; idle timeout; query cancelled |
/// | 40001, 40P01, 40003 | transient | serialization failure, deadlock, completion unknown: retry the transaction |
/// | 53300 | transient | too many connections: others will leave |
/// | 55P03, 55006 | transient | lock not available, object in use |
/// | 25006 | transient | read-only transaction: a standby, as during a failover |
/// | 58000, 58030, XX000 | transient | system/I/O/internal error: may pass; a job stopped on it would need an operator for nothing |
/// | 53100, 53200, 53000, 54000 (out of memory class) | capacity | disk full, out of memory: pause, retry slowly |
/// | 22xxx, 23xxx, 27000, 44000, P0001, 09000 | data | one row's values: bad value, too long, NOT NULL, unique, check, a trigger's refusal |
/// | 22P03, 22P04 | config | binary COPY format: the table's types changed under the job |
/// | 28xxx, 3D000, 3F000, 42xxx, 0A000, 55000, 57P04, 2BP01, 53400, XX001, XX002 | config | password, role, database, schema, table, column, privilege, unsupported, corrupt: an operator must act |
/// | anything else | config | unknown: stop the job and show the message rather than retry blindly |
pub fn class_of_sqlstate(code: &str) -> ErrorClass {
    use ErrorClass::*;
    match code {
        "22P03" | "22P04" => Config,
        "57P01" | "57P02" | "57P03" | "57P05" | "57014" => Transient,
        "40001" | "40P01" | "40003" => Transient,
        "53300" | "55P03" | "55006" | "25006" => Transient,
        "58000" | "58030" | "XX000" => Transient,
        "53000" | "53100" | "53200" => Capacity,
        "27000" | "44000" | "P0001" | "09000" => Data,
        "54000" => Data, // e.g. "index row size exceeds maximum": one row too big
        _ if code.starts_with("08") => Transient,
        _ if code.starts_with("22") || code.starts_with("23") => Data,
        _ => Config,
    }
}

/// What the sink keeps of one failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    pub class: ErrorClass,
    /// SQLSTATE; empty when the server sent none.
    pub code: String,
    pub message: String,
    /// The server's other fields (boxed: a `Fail` travels in `Result`s).
    pub more: Box<More>,
}

/// The optional fields of a server error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct More {
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The server's context lines (`COPY t, line 3, column c`).
    pub context: Option<String>,
    pub column: Option<String>,
    pub table: Option<String>,
}

impl Fail {
    pub fn from_pg(e: &postgres::Error) -> Fail {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code().to_string();
            return Fail {
                class: class_of_sqlstate(&code),
                code,
                message: db.message().to_string(),
                more: Box::new(More {
                    detail: db.detail().map(str::to_string),
                    hint: db.hint().map(str::to_string),
                    context: db.where_().map(str::to_string),
                    column: db.column().map(str::to_string),
                    table: db.table().map(str::to_string),
                }),
            };
        }
        Fail::plain(class_of_driver_error(e), chain(e))
    }

    /// A COPY write that failed: the driver's error, when the `io::Error`
    /// wraps one, else a lost connection.
    pub fn from_io(e: &std::io::Error) -> Fail {
        match e
            .get_ref()
            .and_then(|i| i.downcast_ref::<postgres::Error>())
        {
            Some(pg) => Fail::from_pg(pg),
            None => Fail::plain(ErrorClass::Transient, format!("sending COPY data: {e}")),
        }
    }

    pub fn plain(class: ErrorClass, message: String) -> Fail {
        Fail {
            class,
            code: String::new(),
            message,
            more: Box::default(),
        }
    }

    /// `message (detail) [hint] (SQLSTATE)`, for logs and reject reasons.
    pub fn describe(&self) -> String {
        let mut s = self.message.clone();
        if let Some(d) = &self.more.detail {
            s.push_str(": ");
            s.push_str(d);
        }
        if let Some(h) = &self.more.hint {
            s.push_str(" (hint: ");
            s.push_str(h);
            s.push(')');
        }
        if !self.code.is_empty() {
            s.push_str(" (SQLSTATE ");
            s.push_str(&self.code);
            s.push(')');
        }
        s
    }

    /// The tuple number (1-based, within one COPY) that the server was
    /// reading when it failed: `COPY t, line 3[, column c]` in its context.
    /// `None` for errors raised after the rows (deferred checks, triggers at
    /// statement end), which name no line.
    pub fn copy_line(&self) -> Option<usize> {
        self.more.context.as_deref()?.lines().find_map(|l| {
            let rest = l.strip_prefix("COPY ")?;
            let at = rest.rfind(", line ")?;
            let digits: String = rest[at + 7..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    }

    /// The column the server names: its own field, the COPY context
    /// (`..., column c`), or a unique key's `Key (a, b)=` detail.
    pub fn named_column(&self) -> Option<String> {
        if let Some(c) = &self.more.column {
            return Some(c.clone());
        }
        let from_context = self.more.context.as_deref().and_then(|ctx| {
            ctx.lines().find_map(|l| {
                let rest = l.strip_prefix("COPY ")?;
                let at = rest.rfind(", column ")?;
                let col = &rest[at + 9..];
                Some(col.split(':').next().unwrap_or(col).to_string())
            })
        });
        from_context.or_else(|| {
            let d = self.more.detail.as_deref()?;
            let inner = d.strip_prefix("Key (")?;
            let end = inner.find(")=")?;
            Some(inner[..end].to_string())
        })
    }
}

/// Errors without a SQLSTATE. The driver does not expose its error kind,
/// only its text and cause: an I/O cause means the network (transient), a
/// TLS certificate or protocol refusal means the configuration.
fn class_of_driver_error(e: &postgres::Error) -> ErrorClass {
    if e.is_closed() {
        return ErrorClass::Transient;
    }
    let text = e.to_string();
    let has_tls = source_chain(e).any(|s| s.is::<rustls::Error>())
        || source_chain(e).any(|s| {
            s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<rustls::Error>())
        });
    if text.starts_with("error performing TLS handshake") {
        // Only a network failure during the handshake may pass by itself; a
        // refused certificate, or a server without TLS under sslmode =
        // require ("server does not support TLS"), needs an operator.
        let network = source_chain(e).any(|s| s.is::<std::io::Error>());
        return if network && !has_tls {
            ErrorClass::Transient
        } else {
            ErrorClass::Config
        };
    }
    const CONFIG: [&str; 8] = [
        "authentication error",
        "invalid configuration",
        "invalid connection string",
        "error serializing parameter",
        "error deserializing column",
        "invalid column",
        "expected ",
        "query returned an unexpected number",
    ];
    if CONFIG.iter().any(|p| text.starts_with(p)) {
        return ErrorClass::Config;
    }
    if has_tls {
        return ErrorClass::Config;
    }
    // I/O, timeouts, unexpected or unparsable messages: the connection is
    // unusable; a new one may work.
    ErrorClass::Transient
}

fn source_chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |s: &&'a (dyn std::error::Error + 'static)| {
        (*s).source()
    })
}

/// `error connecting to server: Connection refused (os error 111)`.
fn chain(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_table() {
        use ErrorClass::*;
        let table = [
            ("08000", Transient),
            ("08006", Transient),
            ("08001", Transient),
            ("08P01", Transient),
            ("57P01", Transient),
            ("57P02", Transient),
            ("57P03", Transient),
            ("57014", Transient),
            ("40001", Transient),
            ("40P01", Transient),
            ("53300", Transient),
            ("55P03", Transient),
            ("25006", Transient),
            ("XX000", Transient),
            ("53100", Capacity),
            ("53200", Capacity),
            ("53000", Capacity),
            ("23505", Data),
            ("23502", Data),
            ("23503", Data),
            ("23514", Data),
            ("22001", Data),
            ("22003", Data),
            ("22P02", Data),
            ("22007", Data),
            ("22008", Data),
            ("22021", Data),
            ("P0001", Data),
            ("44000", Data),
            ("22P03", Config),
            ("22P04", Config),
            ("42P01", Config),
            ("42703", Config),
            ("42501", Config),
            ("42P10", Config),
            ("28P01", Config),
            ("28000", Config),
            ("3D000", Config),
            ("3F000", Config),
            ("0A000", Config),
            ("57P04", Config),
            ("XX001", Config),
            ("99999", Config),
        ];
        for (code, want) in table {
            assert_eq!(class_of_sqlstate(code), want, "{code}");
        }
    }

    fn fail(context: Option<&str>, detail: Option<&str>) -> Fail {
        Fail {
            more: Box::new(More {
                context: context.map(str::to_string),
                detail: detail.map(str::to_string),
                ..More::default()
            }),
            ..Fail::plain(ErrorClass::Data, "x".into())
        }
    }

    #[test]
    fn lines_and_columns_from_the_context() {
        let f = fail(Some("COPY orders, line 17, column amount"), None);
        assert_eq!(f.copy_line(), Some(17));
        assert_eq!(f.named_column().as_deref(), Some("amount"));
        let f = fail(
            Some("PL/pgSQL function f() line 3 at RAISE\nCOPY \"a, line 2\", line 5"),
            None,
        );
        assert_eq!(f.copy_line(), Some(5));
        assert_eq!(fail(Some("SQL statement \"x\""), None).copy_line(), None);
        assert_eq!(fail(None, None).copy_line(), None);
        let f = fail(None, Some("Key (id, code)=(5, x) already exists."));
        assert_eq!(f.named_column().as_deref(), Some("id, code"));
    }

    #[test]
    fn descriptions() {
        let mut f = fail(None, Some("Key (id)=(5) already exists."));
        f.code = "23505".into();
        f.message = "duplicate key value violates unique constraint \"t_pkey\"".into();
        assert_eq!(
            f.describe(),
            "duplicate key value violates unique constraint \"t_pkey\": Key (id)=(5) already exists. (SQLSTATE 23505)"
        );
    }
}
