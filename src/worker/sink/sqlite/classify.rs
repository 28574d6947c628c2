//! SQLite error classification: every `rusqlite::Error` gets its `ErrorClass`
//! here, once, and a stable name (`SQLITE_CONSTRAINT_UNIQUE`) for reject notes
//! and logs. Owns no connection and changes nothing.

use rusqlite::ffi;

use crate::protocol::ErrorClass;

/// The class of a SQLite error, by its primary result code:
///
/// | code | class | why |
/// | --- | --- | --- |
/// | BUSY, LOCKED | transient | another worker holds the write lock past `busy_timeout` |
/// | IOERR | transient | a failed read/write/fsync; the next attempt reopens nothing but may pass (ENOSPC is FULL, not IOERR) |
/// | PROTOCOL | transient | a WAL lock race SQLite itself says to retry |
/// | INTERRUPT, ABORT | transient | the statement was stopped, not refused |
/// | SCHEMA | transient | the schema changed under a prepared statement; re-preparing fixes it |
/// | FULL | capacity | the disk (or a size limit) is full: pause, retry slowly |
/// | NOMEM | capacity | memory is a resource like disk: pausing may free it |
/// | CONSTRAINT, MISMATCH, TOOBIG | data | one row's values: NOT NULL, UNIQUE, CHECK, STRICT types, too long |
/// | READONLY, CANTOPEN, PERM, AUTH | config | file mode, path, privileges: an operator must act |
/// | NOTADB, CORRUPT | config | the path points at something that is not a sound database |
/// | ERROR ("no such table/column", syntax) | config | schema or names differ from the job's |
/// | anything else (MISUSE, RANGE, INTERNAL, NOLFS, NOTFOUND) | config | retrying cannot help; stop with the message |
///
/// Errors rusqlite raises itself (a value it cannot convert, a query that
/// returned no row) mean the database holds something the code does not
/// expect: config too.
pub fn classify(e: &rusqlite::Error) -> ErrorClass {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => classify_code(f.extended_code),
        rusqlite::Error::SqlInputError { error, .. } => classify_code(error.extended_code),
        _ => ErrorClass::Config,
    }
}

fn classify_code(code: i32) -> ErrorClass {
    match code & 0xff {
        ffi::SQLITE_BUSY
        | ffi::SQLITE_LOCKED
        | ffi::SQLITE_IOERR
        | ffi::SQLITE_PROTOCOL
        | ffi::SQLITE_INTERRUPT
        | ffi::SQLITE_ABORT
        | ffi::SQLITE_SCHEMA => ErrorClass::Transient,
        ffi::SQLITE_FULL | ffi::SQLITE_NOMEM => ErrorClass::Capacity,
        ffi::SQLITE_CONSTRAINT | ffi::SQLITE_MISMATCH | ffi::SQLITE_TOOBIG => ErrorClass::Data,
        _ => ErrorClass::Config,
    }
}

/// The extended result code of a SQLite error, if it is one.
pub fn extended_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        rusqlite::Error::SqlInputError { error, .. } => Some(error.extended_code),
        _ => None,
    }
}

/// `SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`...: the C name of a result code.
/// Constraint codes keep their extended name (which constraint matters in a
/// reject note); others are named by their primary code.
pub fn code_name(code: i32) -> &'static str {
    match code {
        ffi::SQLITE_CONSTRAINT_CHECK => "SQLITE_CONSTRAINT_CHECK",
        ffi::SQLITE_CONSTRAINT_COMMITHOOK => "SQLITE_CONSTRAINT_COMMITHOOK",
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => "SQLITE_CONSTRAINT_FOREIGNKEY",
        ffi::SQLITE_CONSTRAINT_FUNCTION => "SQLITE_CONSTRAINT_FUNCTION",
        ffi::SQLITE_CONSTRAINT_NOTNULL => "SQLITE_CONSTRAINT_NOTNULL",
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY => "SQLITE_CONSTRAINT_PRIMARYKEY",
        ffi::SQLITE_CONSTRAINT_TRIGGER => "SQLITE_CONSTRAINT_TRIGGER",
        ffi::SQLITE_CONSTRAINT_UNIQUE => "SQLITE_CONSTRAINT_UNIQUE",
        ffi::SQLITE_CONSTRAINT_VTAB => "SQLITE_CONSTRAINT_VTAB",
        ffi::SQLITE_CONSTRAINT_ROWID => "SQLITE_CONSTRAINT_ROWID",
        ffi::SQLITE_CONSTRAINT_PINNED => "SQLITE_CONSTRAINT_PINNED",
        ffi::SQLITE_CONSTRAINT_DATATYPE => "SQLITE_CONSTRAINT_DATATYPE",
        _ => match code & 0xff {
            ffi::SQLITE_ERROR => "SQLITE_ERROR",
            ffi::SQLITE_INTERNAL => "SQLITE_INTERNAL",
            ffi::SQLITE_PERM => "SQLITE_PERM",
            ffi::SQLITE_ABORT => "SQLITE_ABORT",
            ffi::SQLITE_BUSY => "SQLITE_BUSY",
            ffi::SQLITE_LOCKED => "SQLITE_LOCKED",
            ffi::SQLITE_NOMEM => "SQLITE_NOMEM",
            ffi::SQLITE_READONLY => "SQLITE_READONLY",
            ffi::SQLITE_INTERRUPT => "SQLITE_INTERRUPT",
            ffi::SQLITE_IOERR => "SQLITE_IOERR",
            ffi::SQLITE_CORRUPT => "SQLITE_CORRUPT",
            ffi::SQLITE_NOTFOUND => "SQLITE_NOTFOUND",
            ffi::SQLITE_FULL => "SQLITE_FULL",
            ffi::SQLITE_CANTOPEN => "SQLITE_CANTOPEN",
            ffi::SQLITE_PROTOCOL => "SQLITE_PROTOCOL",
            ffi::SQLITE_SCHEMA => "SQLITE_SCHEMA",
            ffi::SQLITE_TOOBIG => "SQLITE_TOOBIG",
            ffi::SQLITE_CONSTRAINT => "SQLITE_CONSTRAINT",
            ffi::SQLITE_MISMATCH => "SQLITE_MISMATCH",
            ffi::SQLITE_MISUSE => "SQLITE_MISUSE",
            ffi::SQLITE_NOLFS => "SQLITE_NOLFS",
            ffi::SQLITE_AUTH => "SQLITE_AUTH",
            ffi::SQLITE_RANGE => "SQLITE_RANGE",
            ffi::SQLITE_NOTADB => "SQLITE_NOTADB",
            _ => "SQLITE_UNKNOWN",
        },
    }
}

/// The error for a log line or an operator: SQLite's message and the code's
/// name (`database is locked (SQLITE_BUSY)`).
pub fn describe(e: &rusqlite::Error) -> String {
    match extended_code(e) {
        Some(code) => format!("{e} ({})", code_name(code)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, msg: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(msg.to_string()))
    }

    #[test]
    fn classification_table() {
        use ErrorClass::*;
        let table = [
            (ffi::SQLITE_BUSY, Transient),
            (ffi::SQLITE_BUSY_SNAPSHOT, Transient),
            (ffi::SQLITE_LOCKED, Transient),
            (ffi::SQLITE_IOERR_FSYNC, Transient),
            (ffi::SQLITE_PROTOCOL, Transient),
            (ffi::SQLITE_INTERRUPT, Transient),
            (ffi::SQLITE_ABORT, Transient),
            (ffi::SQLITE_SCHEMA, Transient),
            (ffi::SQLITE_FULL, Capacity),
            (ffi::SQLITE_NOMEM, Capacity),
            (ffi::SQLITE_CONSTRAINT_UNIQUE, Data),
            (ffi::SQLITE_CONSTRAINT_NOTNULL, Data),
            (ffi::SQLITE_CONSTRAINT_CHECK, Data),
            (ffi::SQLITE_CONSTRAINT_DATATYPE, Data),
            (ffi::SQLITE_MISMATCH, Data),
            (ffi::SQLITE_TOOBIG, Data),
            (ffi::SQLITE_READONLY, Config),
            (ffi::SQLITE_CANTOPEN, Config),
            (ffi::SQLITE_PERM, Config),
            (ffi::SQLITE_AUTH, Config),
            (ffi::SQLITE_NOTADB, Config),
            (ffi::SQLITE_CORRUPT, Config),
            (ffi::SQLITE_ERROR, Config),
            (ffi::SQLITE_MISUSE, Config),
            (ffi::SQLITE_RANGE, Config),
        ];
        for (code, want) in table {
            assert_eq!(classify(&failure(code, "x")), want, "{}", code_name(code));
        }
        assert_eq!(
            classify(&failure(ffi::SQLITE_ERROR, "no such table: t")),
            Config
        );
        assert_eq!(
            classify(&failure(ffi::SQLITE_ERROR, "no such column: c")),
            Config
        );
        assert_eq!(classify(&rusqlite::Error::QueryReturnedNoRows), Config);
    }

    #[test]
    fn real_errors_are_classified() {
        let db = rusqlite::Connection::open_in_memory().expect("open");
        let e = db
            .execute("INSERT INTO nope VALUES (1)", [])
            .expect_err("no table");
        assert_eq!(classify(&e), ErrorClass::Config, "{e:?}");
        assert!(describe(&e).contains("no such table"), "{}", describe(&e));
        db.execute_batch("CREATE TABLE t (a INTEGER NOT NULL UNIQUE)")
            .expect("create");
        let e = db
            .execute("INSERT INTO t (b) VALUES (1)", [])
            .expect_err("no column");
        assert_eq!(classify(&e), ErrorClass::Config, "{e:?}");
        let e = db
            .execute("INSERT INTO t VALUES (NULL)", [])
            .expect_err("null");
        assert_eq!(classify(&e), ErrorClass::Data);
        assert_eq!(
            extended_code(&e).map(code_name),
            Some("SQLITE_CONSTRAINT_NOTNULL")
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            code_name(ffi::SQLITE_CONSTRAINT_UNIQUE),
            "SQLITE_CONSTRAINT_UNIQUE"
        );
        assert_eq!(code_name(ffi::SQLITE_BUSY_SNAPSHOT), "SQLITE_BUSY");
        assert_eq!(code_name(ffi::SQLITE_IOERR_WRITE), "SQLITE_IOERR");
        let e = failure(ffi::SQLITE_BUSY, "database is locked");
        assert_eq!(describe(&e), "database is locked (SQLITE_BUSY)");
    }
}
