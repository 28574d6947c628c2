//! Oracle error classification: every `oracle::Error` gets its `ErrorClass`
//! here, once, by its ORA (or DPI) code, and a stable name (`ORA-00001`) for
//! reject notes and logs. Owns no connection and changes nothing.
//!
//! The seed set is python-oracledb's (`errors.py`), grown with codes whose
//! meaning is the same kind of thing: a value, a lost session, a full
//! tablespace, a wrong name or privilege. Two moments differ:
//!
//! * **At connect** (`classify_at_connect`: building a worker's pool and its
//!   first session) a listener that knows no such service, no listener on
//!   the port, no such host or a host that does not answer within the
//!   connect timeout is a wrong connect string: configuration, so that
//!   `check --connect` and a typo'd service fail at once with the ORA code.
//!   Later the same codes mean a restart or a fail-over: transient.
//! * **Internal errors** (ORA-00600..00609, ORA-07445) are not retried in
//!   place: the worker exits (`SinkError::Internal`), the supervisor starts a
//!   new one, and a batch that keeps causing them is quarantined.

use crate::protocol::ErrorClass;
use crate::worker::sink::SinkError;

/// The class of an ORA error code, once a worker has its pool:
///
/// | codes | class | why |
/// | --- | --- | --- |
/// | 1, 1400, 1401, 1407, 1426, 1438, 1455, 1461, 1476, 1489, 1722, 1830-1884, 2091, 2290-2292, 4088, 6502, 12899, 14400, 14401, 20000-20999, 22835 | data | one row's values: unique key, NOT NULL, too large, overflow, bad number or date (a DST gap: 1878), a deferred constraint, check, foreign key, no partition for the key, a trigger's error or RAISE_APPLICATION_ERROR |
/// | 22, 28, 31, 45, 378, 1012, 1041, 1043, 1089, 1092, 2396, 2399, 3113, 3114, 3122, 3135, 12152, 12153, 12537, 12547, 12570, 12583, 12592, 12637 | transient | the session was lost: reconnect and retry |
/// | 51, 54, 60, 376, 1013, 1033, 1034, 1090, 1115, 1555, 2049, 4021, 4061, 4068, 8177, 12170, 12505, 12514, 12526-12528, 12535, 12541, 12543, 12545, 12571, 12757, 16456, 25402, 25408, 30006 | transient | the database is starting, stopping, busy, or failing over; a deadlock, serialization or snapshot-too-old victim; package state discarded |
/// | 18, 20, 257, 1114, 1536, 1628, 1631, 1632, 1650, 1652-1655, 1658, 1683, 1688, 1691, 1692, 4030, 4031, 12516, 12519, 12520, 16038, 19809, 30036 | capacity | a tablespace, quota, undo, archive log destination, memory, session or process limit: pause, retry slowly |
/// | 600-609, 7445 | transient | internal errors: a new worker process (see `is_internal`) |
/// | 942, 904, 1031, 1017, 12154, 28000, 28001, everything else | config | a name, privilege, password or connect string an operator must fix |
pub fn classify_ora(code: i32) -> ErrorClass {
    match code {
        1
        | 1400
        | 1401
        | 1407
        | 1426
        | 1438
        | 1455
        | 1461
        | 1476
        | 1489
        | 1722
        | 1830..=1884
        | 2091
        | 2290..=2292
        | 4088
        | 6502
        | 12899
        | 14400
        | 14401
        | 20000..=20999
        | 22835 => ErrorClass::Data,
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
        | 2399
        | 3113
        | 3114
        | 3122
        | 3135
        | 7445
        | 12152
        | 12153
        | 12537
        | 12547
        | 12570
        | 12583
        | 12592
        | 12637 => ErrorClass::Transient,
        51
        | 54
        | 60
        | 376
        | 1013
        | 1033
        | 1034
        | 1090
        | 1115
        | 1555
        | 2049
        | 4021
        | 4061
        | 4068
        | 8177
        | 12170
        | 12505
        | 12514
        | 12526..=12528
        | 12535
        | 12541
        | 12543
        | 12545
        | 12571
        | 12757
        | 16456
        | 25402
        | 25408
        | 30006 => ErrorClass::Transient,
        18
        | 20
        | 257
        | 1114
        | 1536
        | 1628
        | 1631
        | 1632
        | 1650
        | 1652..=1655
        | 1658
        | 1683
        | 1688
        | 1691
        | 1692
        | 4030
        | 4031
        | 12516
        | 12519
        | 12520
        | 16038
        | 19809
        | 30036 => ErrorClass::Capacity,
        _ => ErrorClass::Config,
    }
}

/// Codes that, while a worker builds its pool and takes its first session,
/// mean the connect string is wrong: no such service (12514) or SID
/// (12505), no listener on that port (12541), no such host (12545), a host
/// that cannot be reached (12543) or does not answer within the connect
/// timeout (12170, 12535).
pub const WRONG_CONNECT_STRING: [i32; 7] = [12170, 12505, 12514, 12535, 12541, 12543, 12545];

/// ORA-00600..00609 (internal errors) and ORA-07445 (an exception in the
/// server process): the same call on the same session may fail the same way
/// for ever, so they are not retried in place.
pub fn is_internal(code: i32) -> bool {
    matches!(code, 600..=609 | 7445)
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

/// The class of an error met while building the pool or taking the first
/// session: a wrong connect string is configuration (see the module header).
pub fn classify_at_connect(e: &oracle::Error) -> ErrorClass {
    match e.oci_code() {
        Some(code) if WRONG_CONNECT_STRING.contains(&code) => ErrorClass::Config,
        _ => classify(e),
    }
}

/// The `SinkError` of a failed step: `make(class, text)` with `class` as
/// `classify` says, except for an internal error of the server, which is
/// `SinkError::Internal` whatever the step.
pub fn fail(e: &oracle::Error, make: impl FnOnce(ErrorClass, String) -> SinkError) -> SinkError {
    fail_as(e, classify(e), make)
}

/// `fail` with the class given (`classify_at_connect`'s, say).
pub fn fail_as(
    e: &oracle::Error,
    class: ErrorClass,
    make: impl FnOnce(ErrorClass, String) -> SinkError,
) -> SinkError {
    match e.oci_code() {
        Some(code) if is_internal(code) => SinkError::Internal {
            detail: describe(e),
        },
        _ => make(class, describe(e)),
    }
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
#[path = "tests/classify.rs"]
mod tests;
