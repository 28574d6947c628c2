//! Tests of Oracle's error classes, one per rule: which codes reject the
//! row, which are retried, which pause, which stop the job, and how the
//! moment (connecting or loading) and internal errors change that.

use super::*;
use ErrorClass::*;
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

fn check(codes: &[i32], want: ErrorClass) {
    for &code in codes {
        assert_eq!(classify_ora(code), want, "ORA-{code:05}");
        assert_eq!(classify(&ora(code)), want, "error ORA-{code:05}");
    }
}

#[test]
fn a_rows_values_reject_the_row() {
    check(
        &[
            1, 1400, 1401, 1407, 1438, 1455, 1722, 1830, 1840, 1847, 1861, 1866, 2290, 2291, 2292,
            12899, 22835,
        ],
        Data,
    );
}

#[test]
fn partitions_triggers_overflows_and_dst_gaps_reject_the_row_not_the_job() {
    // No partition for the key; a trigger's RAISE_APPLICATION_ERROR (and the
    // trigger failure that wraps it); numeric overflow; a value too long to
    // bind; a concatenation too long; a local time in a DST gap; PL/SQL's
    // value error and division by zero in a trigger.
    check(
        &[
            14400, 14401, 20000, 20001, 20999, 4088, 1426, 1461, 1489, 1878, 6502, 1476,
        ],
        Data,
    );
    // Just outside the application error range: not data.
    assert_ne!(classify_ora(19999), Data);
    assert_ne!(classify_ora(21000), Data);
}

#[test]
fn a_deferred_constraint_failing_at_commit_is_about_data() {
    // ORA-02091 (transaction rolled back) carries the deferred check's
    // ORA-02291 or ORA-02290; `SinkError::whole_step` still stops the job
    // when it comes at COMMIT (no row to pin it on): see steps.rs.
    check(&[2091], Data);
}

#[test]
fn lost_sessions_and_restarts_are_retried() {
    check(
        &[
            3113, 3114, 3135, 28, 1012, 1033, 1034, 1089, 1092, 60, 8177, 12514, 12541, 12757,
            12170, 12545, 2049, 4068, 4061, 30006, 12592, 12637, 2399,
        ],
        Transient,
    );
}

#[test]
fn snapshot_too_old_is_retried_not_configuration() {
    check(&[1555], Transient);
}

#[test]
fn full_space_archiver_and_memory_pause_the_job() {
    check(
        &[
            257, 1691, 1692, 4030, 4031, 1653, 1654, 1688, 30036, 1536, 20, 18, 1628, 1631, 1632,
            1650, 1655, 1683, 19809, 16038, 1114,
        ],
        Capacity,
    );
}

#[test]
fn names_privileges_and_passwords_stop_the_job() {
    check(
        &[942, 904, 1031, 1017, 12154, 28000, 28001, 955, 932, 99999],
        Config,
    );
}

#[test]
fn a_wrong_service_port_or_host_is_configuration_at_connect_and_transient_later() {
    for code in [12514, 12541, 12505, 12545, 12543, 12170, 12535] {
        assert_eq!(classify_at_connect(&ora(code)), Config, "ORA-{code:05}");
        assert_eq!(classify(&ora(code)), Transient, "ORA-{code:05}");
    }
    // A database that is starting is waited for, even at connect; a full
    // listener or process table pauses; a bad password stops.
    assert_eq!(classify_at_connect(&ora(1033)), Transient);
    assert_eq!(classify_at_connect(&ora(1034)), Transient);
    assert_eq!(classify_at_connect(&ora(12519)), Capacity);
    assert_eq!(classify_at_connect(&ora(257)), Capacity);
    assert_eq!(classify_at_connect(&ora(1017)), Config);
    assert_eq!(classify_at_connect(&dpi(1080)), Transient);
}

#[test]
fn internal_errors_need_a_new_worker_process_so_quarantine_applies() {
    for code in [600, 603, 609, 7445] {
        assert!(is_internal(code), "ORA-{code:05}");
        let e = fail(&ora(code), |class, detail| SinkError::Write {
            class,
            detail,
        });
        assert!(
            matches!(&e, SinkError::Internal { detail } if detail.contains(&ora_name(code))),
            "{e:?}"
        );
        assert!(e.needs_new_process(), "{e:?}");
        assert!(e.why_new_process().contains("quarantined"), "{e:?}");
        // Never retried in place by the worker's loop.
        assert!(!matches!(e.class(), Transient | Capacity), "{e:?}");
    }
    assert!(!is_internal(610) && !is_internal(599) && !is_internal(1));
    let e = fail(&ora(1), |class, detail| SinkError::Write { class, detail });
    assert_eq!(e.class(), Data);
    assert!(!e.needs_new_process());
}

#[test]
fn dpi_codes_and_other_errors() {
    assert_eq!(classify(&dpi(1080)), Transient);
    assert_eq!(classify(&dpi(1010)), Transient);
    assert_eq!(classify(&dpi(1067)), Transient);
    assert_eq!(classify(&dpi(1047)), Config);
    assert_eq!(classify(&dpi(1015)), Config);
    let other = Error::new(oracle::ErrorKind::OutOfRange, "too large batch size");
    assert_eq!(classify(&other), Config);
    assert_eq!(dpi(1047).dpi_code(), Some(1047));
}

#[test]
fn names() {
    assert_eq!(ora_name(1), "ORA-00001");
    assert_eq!(ora_name(12899), "ORA-12899");
    assert!(describe(&ora(942)).contains("ORA-00942"));
}
