//! Malformed records at known lines, loaded with the real binary: each one is
//! in `<file>.bad` / `<file>.bad.jsonl` with its physical line number and
//! reason; every other record is loaded; the exit code says some were rejected.

mod common;

use std::io::Write;
use std::process::Command;

use common::*;

struct Bad {
    line: u64,
    code: &'static str,
    text: String,
}

#[test]
fn malformed_records_are_rejected_with_their_lines_and_the_rest_loads() {
    let s = Setup::new("workers = 2\nbatch_rows = 100\n", "", "");
    let path = s.path("orders.csv");
    let mut out = std::fs::File::create(&path).unwrap();
    out.write_all(HEADER.as_bytes()).unwrap();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut good = Sum::default();
    let mut bad = Vec::new();
    let mut line = 2u64;
    let bad_at = [
        (137, "field_count"),
        (402, "bad_decimal"),
        (777, "bad_timestamp"),
    ];
    for i in 1..=1000u64 {
        if let Some((_, code)) = bad_at.iter().find(|(at, _)| *at == i) {
            let text = match *code {
                "field_count" => format!("{i},5,Short Record,1.00,USD,2025-01-01T00:00:00\n"),
                "bad_decimal" => format!("{i},5,Bad Amount,N/A,USD,2025-01-01T00:00:00,paid,\n"),
                _ => format!("{i},5,Bad Date,3.50,USD,2025-02-30T10:00:00,paid,\n"),
            };
            out.write_all(text.as_bytes()).unwrap();
            bad.push(Bad { line, code, text });
            line += 1;
            continue;
        }
        let (text, canon) = order(&mut rng, i);
        out.write_all(text.as_bytes()).unwrap();
        good.add(&canon);
        line += text.matches('\n').count() as u64;
    }
    // The last record opens a quote it never closes.
    let tail = "1001,5,\"Never closed,1.00,USD,2025-01-01T00:00:00,paid,\nmore text\n".to_string();
    out.write_all(tail.as_bytes()).unwrap();
    bad.push(Bad {
        line,
        code: "unterminated_quote",
        text: tail,
    });
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
        stdout.contains("997 rows loaded, 4 rejected"),
        "summary: {stdout}"
    );

    assert_eq!(sqlite_sum(&s.db, "orders"), good, "every good record, once");
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
    let want: Vec<(u64, String)> = bad.iter().map(|b| (b.line, b.code.to_string())).collect();
    assert_eq!(got, want, "reject notes:\n{jsonl}");
    // The .bad file is the header plus the rejected records' own bytes, so it
    // can be fixed and dropped back in.
    let bad_file = std::fs::read_to_string(s.rejects.join("orders.csv.bad")).unwrap();
    let mut expected = HEADER.to_string();
    for b in &bad {
        expected.push_str(&b.text);
    }
    let mut got_lines: Vec<&str> = bad_file.split_inclusive('\n').collect();
    let mut want_lines: Vec<&str> = expected.split_inclusive('\n').collect();
    got_lines.sort();
    want_lines.sort();
    assert_eq!(got_lines, want_lines);
    assert!(bad_file.starts_with(HEADER));
}
