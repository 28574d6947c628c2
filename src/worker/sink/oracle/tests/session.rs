//! Session tags and DRCP detection.

use super::session::{Tags, is_drcp};
use crate::worker::sink::Session;

#[test]
fn tags_name_job_worker_and_pid_within_oracles_limits() {
    let s = Session {
        job: "orders".into(),
        worker: 3,
        pid: 4242,
    };
    let t = Tags::new(&s, "db:1521/FREEPDB1");
    assert_eq!(t.client_identifier, "ingestd:orders:3:4242");
    assert_eq!(t.module, "ingestd orders");
    assert_eq!(t.action, "worker 3 pid 4242");
    assert!(!t.drcp);
    let long = Session {
        job: "ü".repeat(40),
        worker: 64,
        pid: 4_194_304,
    };
    let t = Tags::new(&long, "x");
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
