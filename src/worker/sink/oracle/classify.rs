//! Oracle error classification: every `oracle::Error` gets its `ErrorClass`
//! here, once, by its ORA (or DPI) code, and a stable name (`ORA-00001`) for
//! reject notes and logs. Owns no connection and changes nothing.
//!
//! The seed set is python-oracledb's (`errors.py`), grown with codes whose
//! meaning is the same kind of thing: a value, a lost session, a full
//! tablespace, a wrong name or privilege.

use crate::protocol::ErrorClass;

/// The class of an ORA error code:
///
/// | codes | class | why |
/// | --- | --- | --- |
/// | 1, 1400, 1401, 1407, 1438, 1455, 1722, 1830-1866, 2290-2292, 12899, 22835 | data | one row's values: unique key, NOT NULL, too large, bad number or date, check, foreign key |
/// | 22, 28, 31, 45, 378, 600-609, 1012, 1041, 1043, 1089, 1092, 2396, 3113, 3114, 3122, 3135, 12153, 12537, 12547, 12570, 12583 | transient | the session was lost: reconnect and retry |
/// | 51, 54, 60, 376, 1013, 1033, 1034, 1090, 1115, 8177, 12170, 12514, 12528, 12541, 12543, 12545, 12571, 12757, 16456, 25402, 25408 | transient | the database is starting, stopping, busy, or failing over; or a deadlock/serialization victim |
/// | 18, 20, 1536, 1652, 1653, 1654, 1658, 1688, 4031, 12516, 12519, 12520, 30036 | capacity | a tablespace, quota, undo, memory, session or process limit: pause, retry slowly |
/// | 942, 904, 1031, 1017, 12154, 28000, 28001, everything else | config | a name, privilege, password or connect string an operator must fix |
pub fn classify_ora(code: i32) -> ErrorClass {
    match code {
        1 | 1400 | 1401 | 1407 | 1438 | 1455 | 1722 | 1830..=1866 | 2290..=2292 | 12899 | 22835 => {
            ErrorClass::Data
        }
        22
        | 28
        | 31
        | 45
        | 378
        | 600..=609
        | 1012
        | 1041
        | 1043
        | 1089
        | 1092
        | 2396
        | 3113
        | 3114
        | 3122
        | 3135
        | 12153
        | 12537
        | 12547
        | 12570
        | 12583 => ErrorClass::Transient,
        51 | 54 | 60 | 376 | 1013 | 1033 | 1034 | 1090 | 1115 | 8177 | 12170 | 12514 | 12528
        | 12541 | 12543 | 12545 | 12571 | 12757 | 16456 | 25402 | 25408 => ErrorClass::Transient,
        18 | 20 | 1536 | 1652..=1654 | 1658 | 1688 | 4031 | 12516 | 12519 | 12520 | 30036 => {
            ErrorClass::Capacity
        }
        _ => ErrorClass::Config,
    }
}

/// ODPI-C's own errors (DPI-nnnn) that mean the session is gone or a call
/// timed out: retry on a new session. Every other DPI error is config (a
/// client library problem, or a bug that retrying cannot fix).
fn classify_dpi(code: i32) -> ErrorClass {
    match code {
        // not connected; call timeout exceeded; connection closed by ORA-nnnnn
        1010 | 1067 | 1080 => ErrorClass::Transient,
        _ => ErrorClass::Config,
    }
}

/// The class of any error the `oracle` crate returns. Batch errors are
/// classified row by row by the caller (`classify_ora` on each code).
pub fn classify(e: &oracle::Error) -> ErrorClass {
    if e.db_error().is_some_and(|d| d.is_recoverable()) {
        // OCI itself says the same call may succeed on a new session.
        return ErrorClass::Transient;
    }
    if let Some(code) = e.oci_code() {
        return classify_ora(code);
    }
    if let Some(code) = e.dpi_code() {
        return classify_dpi(code);
    }
    ErrorClass::Config
}

/// `ORA-00001`: the name of an ORA code, for reject notes.
pub fn ora_name(code: i32) -> String {
    format!("ORA-{code:05}")
}

/// The error for a log line or an operator: the crate's text, which already
/// holds the ORA/DPI code and Oracle's message.
pub fn describe(e: &oracle::Error) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle::{DbError, Error};

    // The crate has no other public way to build an error holding a DbError.
    #[allow(deprecated)]
    fn ora(code: i32) -> Error {
        let msg = format!("ORA-{code:05}: test");
        Error::OciError(DbError::new(code, 0, msg, "dpiStmt_execute", "execute"))
    }

    #[allow(deprecated)]
    fn dpi(code: i32) -> Error {
        let msg = format!("DPI-{code:04}: test");
        Error::DpiError(DbError::new(0, 0, msg, "dpiConn_create", "create"))
    }

    #[test]
    fn each_class_by_ora_code() {
        use ErrorClass::*;
        let table = [
            (1, Data),
            (1400, Data),
            (1438, Data),
            (1722, Data),
            (1840, Data),
            (1847, Data),
            (1861, Data),
            (2290, Data),
            (2291, Data),
            (2292, Data),
            (12899, Data),
            (3113, Transient),
            (3114, Transient),
            (3135, Transient),
            (28, Transient),
            (600, Transient),
            (1012, Transient),
            (1033, Transient),
            (1034, Transient),
            (60, Transient),
            (12514, Transient),
            (12541, Transient),
            (12757, Transient),
            (1653, Capacity),
            (1654, Capacity),
            (1688, Capacity),
            (30036, Capacity),
            (1536, Capacity),
            (20, Capacity),
            (942, Config),
            (904, Config),
            (1031, Config),
            (1017, Config),
            (12154, Config),
            (28000, Config),
            (955, Config),
            (99999, Config),
        ];
        for (code, want) in table {
            assert_eq!(classify_ora(code), want, "ORA-{code:05}");
            assert_eq!(classify(&ora(code)), want, "error ORA-{code:05}");
        }
    }

    #[test]
    fn dpi_codes_and_other_errors() {
        assert_eq!(classify(&dpi(1080)), ErrorClass::Transient);
        assert_eq!(classify(&dpi(1010)), ErrorClass::Transient);
        assert_eq!(classify(&dpi(1067)), ErrorClass::Transient);
        assert_eq!(classify(&dpi(1047)), ErrorClass::Config);
        assert_eq!(classify(&dpi(1015)), ErrorClass::Config);
        let other = Error::new(oracle::ErrorKind::OutOfRange, "too large batch size");
        assert_eq!(classify(&other), ErrorClass::Config);
        assert_eq!(dpi(1047).dpi_code(), Some(1047));
    }

    #[test]
    fn names() {
        assert_eq!(ora_name(1), "ORA-00001");
        assert_eq!(ora_name(12899), "ORA-12899");
        assert!(describe(&ora(942)).contains("ORA-00942"));
    }
}
