//! Rejects on a real Oracle database (when `INGESTD_TEST_ORACLE_CONNECT`,
//! `_USER` and `_PASSWORD` are set; skipped with a message otherwise), with
//! the real binary. Mirrors `rejects.rs`, plus records that only the database
//! refuses, through array DML batch errors: a duplicate key (ORA-00001), a
//! CHECK (ORA-02290), a NOT NULL (ORA-01400), and a text longer than its
//! VARCHAR2 column (refused before sending). Each is in `<file>.bad.jsonl`
//! with its physical line and code; every other record is loaded once.

mod common;

use std::io::Write;
use std::process::Command;

use common::oracle::{OracleDb, oracle_sink, orders_job};
use common::*;

#[test]
fn bad_records_and_refused_rows_are_rejected_with_their_lines_on_oracle() {
    let Some(db) = OracleDb::from_env("oracle_rejects") else {
        return;
    };
    let job = OracleDb::unique("ingestd_rej");
    db.clean(&job, &job);
    db.conn()
        .execute(
            &format!(
                "CREATE TABLE \"{job}\" (\"id\" NUMBER(19) PRIMARY KEY, \
                 \"customer_id\" NUMBER(10) NOT NULL, \"customer_name\" VARCHAR2(4000 CHAR), \
                 \"amount\" NUMBER(12,2) CHECK (\"amount\" >= -50), \
                 \"currency\" VARCHAR2(3 CHAR), \"created_at\" TIMESTAMP(9), \
                 \"status\" VARCHAR2(10 CHAR), \"note\" VARCHAR2(4000 CHAR))"
            ),
            &[],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    // One worker: which of two equal keys loads first is then the file's order.
    let text = format!(
        "[daemon]\nstate_dir = \"state\"\n{}{}",
        oracle_sink("ora", &db.connect, &db.user, ""),
        orders_job(&job, "ora", &job, "in", "workers = 1\nbatch_rows = 100\n"),
    );
    let config = dir.path().join("ingestd.toml");
    std::fs::write(&config, text).unwrap();

    let path = dir.path().join("orders.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    out.write_all(HEADER.as_bytes()).unwrap();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut good = Sum::default();
    let mut bad: Vec<(u64, &str, String)> = Vec::new();
    let mut line = 2u64;
    let bad_at = [
        (137, "field_count"),
        (250, "ORA-00001"),
        (402, "bad_decimal"),
        (500, "ORA-02290"),
        (600, "ORA-01400"),
        (650, "too_long"),
        (777, "bad_timestamp"),
    ];
    for i in 1..=1000u64 {
        if let Some((_, code)) = bad_at.iter().find(|(at, _)| *at == i) {
            let text = match *code {
                "field_count" => format!("{i},5,Short Record,1.00,USD,2025-01-01T00:00:00\n"),
                "bad_decimal" => format!("{i},5,Bad Amount,N/A,USD,2025-01-01T00:00:00,paid,\n"),
                "bad_timestamp" => format!("{i},5,Bad Date,3.50,USD,2025-02-30T10:00:00,paid,\n"),
                // Record 10's key again.
                "ORA-00001" => "10,5,Same Key,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string(),
                "ORA-02290" => format!("{i},5,Negative,-99.00,USD,2025-01-01T00:00:00,paid,\n"),
                "ORA-01400" => format!("{i},,No Customer,1.00,USD,2025-01-01T00:00:00,paid,\n"),
                _ => format!("{i},5,Long Status,1.00,USD,2025-01-01T00:00:00,much_too_long,\n"),
            };
            out.write_all(text.as_bytes()).unwrap();
            bad.push((line, code, text));
            line += 1;
            continue;
        }
        let (text, canon) = order(&mut rng, i);
        out.write_all(text.as_bytes()).unwrap();
        good.add(&canon);
        line += text.matches('\n').count() as u64;
    }
    let tail = "1001,5,\"Never closed,1.00,USD,2025-01-01T00:00:00,paid,\nmore text\n".to_string();
    out.write_all(tail.as_bytes()).unwrap();
    bad.push((line, "unterminated_quote", tail));
    drop(out);

    let o = Command::new(bin())
        .args(["load", "--config", config.to_str().unwrap(), "--job", &job])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(3),
        "exit code for rejects:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("993 rows loaded, 8 rejected"),
        "summary: {stdout}"
    );

    assert_eq!(db.sum(&job), good, "every good record, once");
    let jsonl = std::fs::read_to_string(
        dir.path()
            .join(format!("rejects-{job}/orders.csv.bad.jsonl")),
    )
    .unwrap();
    let mut got: Vec<(u64, String)> = jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(u64, String)> = bad.iter().map(|b| (b.0, b.1.to_string())).collect();
    assert_eq!(got, want, "reject notes:\n{jsonl}");
    assert!(jsonl.contains("ORA-01400: cannot insert NULL"), "{jsonl}");
    assert!(jsonl.contains("\"column\":\"customer_id\""), "{jsonl}");
    let bad_file =
        std::fs::read_to_string(dir.path().join(format!("rejects-{job}/orders.csv.bad"))).unwrap();
    let mut want_lines: Vec<&str> = bad.iter().map(|b| b.2.as_str()).collect();
    want_lines.push(HEADER);
    let mut got_text: Vec<&str> = bad_file.split_inclusive('\n').collect();
    let mut want_text: Vec<&str> = want_lines
        .iter()
        .flat_map(|t| t.split_inclusive('\n'))
        .collect();
    got_text.sort();
    want_text.sort();
    assert_eq!(got_text, want_text);
    db.clean(&job, &job);
}
