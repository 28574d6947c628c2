//! Bad records in the middle of batches, loaded into PostgreSQL by the real
//! binary (`ingestd load`): unique-key violations (against a row already in
//! the table and within the file), NOT NULL violations, too-long varchars
//! and numbers too big for the column (all found by the server, with their
//! SQLSTATE), and values the worker refuses itself (with the parser's code).
//! Exactly those records are rejected, with their lines; every other record
//! is committed once.

use crate::support::pg::Schema;
use crate::support::rejects::assert_rejected;
use crate::support::*;

trials![bad_records_are_rejected_with_sqlstate_and_line_and_the_rest_commits[Pg]];

fn bad_records_are_rejected_with_sqlstate_and_line_and_the_rest_commits() {
    let mut db = Schema::new("rejects");
    // The table is stricter than the job's columns, so the server finds
    // what the parser lets through.
    db.exec(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, customer_name text NOT NULL, \
         amount numeric(12,2), currency varchar(3), created_at timestamp, status text, note text); \
         INSERT INTO orders (id, customer_name) VALUES (999999, 'already here')",
    );
    let s = Setup::on(
        "pg",
        &db.sink_toml(),
        "orders",
        "orders",
        "workers = 2\nbatch_rows = 100\n",
        "",
    );
    // Job columns: currency as text and amount as decimal(20,2), so the
    // server's varchar(3) and numeric(12,2) do the refusing.
    s.edit(|t| {
        t.replace("type = \"varchar(3)\"", "type = \"text\"")
            .replace("type = \"decimal(12,2)\"", "type = \"decimal(20,2)\"")
    });

    let path = s.path("orders.csv");
    let mut f = OrdersFile::create(&path, 9);
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
    f.orders_with_bad(800, &bad_at, |code, i| match code {
        "23505" if i == 37 => "999999,5,Dup Key,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string(),
        "23505" => "399,5,Dup In File,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string(),
        "23502" => format!("{i},5,,1.00,USD,2025-01-01T00:00:00,paid,\n"),
        "22001" => format!("{i},5,Long Currency,1.00,EURO,2025-01-01T00:00:00,paid,\n"),
        "22003" => format!("{i},5,Too Rich,10000000000000.00,USD,2025-01-01T00:00:00,paid,\n"),
        parser => unparseable(parser, i),
    });
    let (good, bad) = f.finish();

    let ran = cli::load(&s.config, "orders", &[&path]).expect(3);
    let (stdout, stderr) = (&ran.stdout, &ran.stderr);
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
    let jsonl = assert_rejected(&s.rejects, "orders.csv", &bad);
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
