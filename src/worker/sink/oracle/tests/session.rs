//! Session tags and DRCP detection.

use super::session::{NLS, Tags, is_drcp, setup_sql};
use crate::worker::sink::Session;

#[test]
fn tags_name_job_worker_and_pid_within_oracles_limits() {
    let s = Session {
        job: "orders".into(),
        worker: 3,
        pid: 4242,
    };
    let t = Tags::new(&s, "db:1521/FREEPDB1", None);
    assert_eq!(t.client_identifier, "ingestd:orders:3:4242");
    assert_eq!(t.module, "ingestd orders");
    assert_eq!(t.action, "worker 3 pid 4242");
    assert!(!t.drcp);
    let long = Session {
        job: "ü".repeat(40),
        worker: 64,
        pid: 4_194_304,
    };
    let t = Tags::new(&long, "x", None);
    assert!(t.client_identifier.len() <= 64 && t.module.len() <= 48 && t.action.len() <= 32);
    assert!(t.module.starts_with("ingestd üü"));
    assert_eq!(t.action, "worker 64 pid 4194304");
}

#[test]
fn drcp_connect_strings() {
    assert!(is_drcp("db:1521/FREEPDB1:pooled"));
    assert!(is_drcp(
        "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=x)(SERVER = POOLED)))"
    ));
    assert!(!is_drcp("db:1521/FREEPDB1"));
    assert!(!is_drcp("SALES"));
}

#[test]
fn every_session_sets_iso_nls_formats_and_binary_comparison() {
    let sql = setup_sql(None);
    assert_eq!(sql, format!("ALTER SESSION SET {NLS}"));
    for part in [
        "NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS'",
        "NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9'",
        "NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM'",
        "NLS_NUMERIC_CHARACTERS = '.,'",
        "NLS_COMP = BINARY",
        "NLS_SORT = BINARY",
    ] {
        assert!(sql.contains(part), "no {part:?} in {sql}");
    }
    assert!(!sql.contains("CURRENT_SCHEMA"), "{sql}");
}

#[test]
fn a_configured_schema_becomes_the_sessions_current_schema_quoted_as_written() {
    let sql = setup_sql(Some("SALES"));
    assert!(
        sql.starts_with("ALTER SESSION SET NLS_DATE_FORMAT"),
        "{sql}"
    );
    assert!(sql.ends_with(" CURRENT_SCHEMA = \"SALES\""), "{sql}");
    let s = Session {
        job: "j".into(),
        worker: 1,
        pid: 2,
    };
    assert_eq!(
        Tags::new(&s, "db/x", Some("Mixed")).setup,
        setup_sql(Some("Mixed"))
    );
    assert!(setup_sql(Some("Mixed")).ends_with("CURRENT_SCHEMA = \"Mixed\""));
}
