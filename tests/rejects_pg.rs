//! Bad records in the middle of batches, loaded into PostgreSQL by the real
//! binary (`ingestd load`): unique-key violations (against a row already in
//! the table and within the file), NOT NULL violations, too-long varchars
//! and numbers too big for the column (all found by the server, with their
//! SQLSTATE), and values the worker refuses itself (with the parser's code).
//! Exactly those records are rejected, with their lines; every other record
//! is committed once.

mod common;

use std::io::Write;
use std::process::Command;

use common::pg::{PgSetup, Schema};
use common::*;

#[test]
fn bad_records_are_rejected_with_sqlstate_and_line_and_the_rest_commits() {
    let Some(mut db) = Schema::new("rejects") else {
        return;
    };
    // The table is stricter than the job's columns, so the server finds
    // what the parser lets through.
    db.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, customer_name text NOT NULL, \
         amount numeric(12,2), currency varchar(3), created_at timestamp, status text, note text); \
         INSERT INTO orders (id, customer_name) VALUES (999999, 'already here')",
    );
    let job_columns = |ty_currency: &str| {
        common::ORDER_COLUMNS
            .replace(
                "type = \"varchar(3)\"",
                &format!("type = \"{ty_currency}\""),
            )
            .replace("type = \"decimal(12,2)\"", "type = \"decimal(20,2)\"")
    };
    let s = PgSetup::new(
        "orders",
        &db.sink_toml(),
        "workers = 2\nbatch_rows = 100\n",
        "",
    );
    // Job columns: currency as text and amount as decimal(20,2), so the
    // server's varchar(3) and numeric(12,2) do the refusing.
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text = text.replace(common::ORDER_COLUMNS, &job_columns("text"));
    std::fs::write(&s.config, text).unwrap();

    let path = s.path("orders.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    out.write_all(HEADER.as_bytes()).unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut good = Sum::default();
    let mut bad: Vec<(u64, &str)> = Vec::new();
    let mut line = 2u64;
    let bad_at: [(u64, &str); 9] = [
        (37, "23505"),        // id 999999 is already in the table
        (150, "23502"),       // empty customer_name: NULL into NOT NULL
        (151, "22001"),       // currency "EURO" into varchar(3)
        (262, "22003"),       // 1e13 into numeric(12,2)
        (263, "bad_decimal"), // the worker's own parser refuses "N/A"
        (400, "23505"),       // the id of record 399, again
        (401, "23502"),
        (555, "bad_timestamp"),
        (799, "22001"),
    ];
    for i in 1..=800u64 {
        let found = bad_at.iter().find(|(at, _)| *at == i);
        let record = match found.map(|(_, code)| *code) {
            Some("23505") if i == 37 => {
                "999999,5,Dup Key,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string()
            }
            Some("23505") => "399,5,Dup In File,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string(),
            Some("23502") => format!("{i},5,,1.00,USD,2025-01-01T00:00:00,paid,\n"),
            Some("22001") => format!("{i},5,Long Currency,1.00,EURO,2025-01-01T00:00:00,paid,\n"),
            Some("22003") => {
                format!("{i},5,Too Rich,10000000000000.00,USD,2025-01-01T00:00:00,paid,\n")
            }
            Some("bad_decimal") => format!("{i},5,Bad Amount,N/A,USD,2025-01-01T00:00:00,paid,\n"),
            Some(_) => format!("{i},5,Bad Date,3.50,USD,2025-02-30T10:00:00,paid,\n"),
            None => {
                let (text, canon) = order(&mut rng, i);
                good.add(&canon);
                text
            }
        };
        if let Some((_, code)) = found {
            bad.push((line, code));
        }
        out.write_all(record.as_bytes()).unwrap();
        line += record.matches('\n').count() as u64;
    }
    drop(out);

    let o = Command::new(bin())
        .args([
            "load",
            "--config",
            s.config.to_str().unwrap(),
            "--job",
            "orders",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "exit code for rejects:\n{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("791 rows loaded, 9 rejected"),
        "summary: {stdout}\n{stderr}"
    );

    assert_eq!(
        db.sum("orders", "id <> 999999"),
        good,
        "every good record, once"
    );
    assert_eq!(db.int("SELECT count(*) FROM orders"), 792);
    let jsonl = std::fs::read_to_string(s.rejects.join("orders.csv.bad.jsonl")).unwrap();
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
    let want: Vec<(u64, String)> = bad.iter().map(|(l, c)| (*l, c.to_string())).collect();
    assert_eq!(got, want, "reject notes:\n{jsonl}");
    for (needle, column) in [
        ("Key (id)=(999999) already exists", "id"),
        ("character varying(3)", "currency"),
        ("customer_name", "customer_name"),
    ] {
        let note = jsonl
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no note mentions {needle:?}:\n{jsonl}"));
        let v: serde_json::Value = serde_json::from_str(note).unwrap();
        assert_eq!(v["column"].as_str(), Some(column), "{note}");
    }
    assert_eq!(
        db.int("SELECT sum(rows_rejected)::bigint FROM ingestd_ledger"),
        9
    );
    assert_eq!(
        db.int("SELECT sum(rows_loaded)::bigint FROM ingestd_ledger"),
        791
    );
}
