//! Rejects on a real Oracle database (when `INGESTD_TEST_ORACLE_CONNECT`,
//! `_USER` and `_PASSWORD` are set; ignored, with the reason, otherwise), with
//! the real binary. Mirrors `rejects.rs`, plus records that only the database
//! refuses, through array DML batch errors: a duplicate key (ORA-00001), a
//! CHECK (ORA-02290), a NOT NULL (ORA-01400), and a text longer than its
//! VARCHAR2 column (refused before sending). Each is in `<file>.bad.jsonl`
//! with its physical line and code; every other record is loaded once.

use crate::support::oracle::OracleDb;
use crate::support::rejects::assert_rejected;
use crate::support::*;

trials![bad_records_and_refused_rows_are_rejected_with_their_lines_on_oracle[Oracle]];

fn bad_records_and_refused_rows_are_rejected_with_their_lines_on_oracle() {
    let db = OracleDb::get();
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
    // One worker: which of two equal keys loads first is then the file's order.
    let s = db.setup(&job, "workers = 1\nbatch_rows = 100\n");

    let path = s.path("orders.csv");
    let mut f = OrdersFile::create(&path, 3);
    let bad_at = [
        (137, "field_count"),
        (250, "ORA-00001"),
        (402, "bad_decimal"),
        (500, "ORA-02290"),
        (600, "ORA-01400"),
        (650, "too_long"),
        (777, "bad_timestamp"),
    ];
    f.orders_with_bad(1000, &bad_at, |code, i| match code {
        // Record 10's key again.
        "ORA-00001" => "10,5,Same Key,1.00,USD,2025-01-01T00:00:00,paid,\n".to_string(),
        "ORA-02290" => format!("{i},5,Negative,-99.00,USD,2025-01-01T00:00:00,paid,\n"),
        "ORA-01400" => format!("{i},,No Customer,1.00,USD,2025-01-01T00:00:00,paid,\n"),
        "too_long" => {
            format!("{i},5,Long Status,1.00,USD,2025-01-01T00:00:00,much_too_long,\n")
        }
        parser => unparseable(parser, i),
    });
    f.bad("unterminated_quote", UNTERMINATED);
    let (good, bad) = f.finish();

    let stdout = cli::load(&s.config, &job, &[&path]).expect(3).stdout;
    assert!(
        stdout.contains("993 rows loaded, 8 rejected"),
        "summary: {stdout}"
    );

    assert_eq!(db.sum(&job), good, "every good record, once");
    let jsonl = assert_rejected(&s.rejects, "orders.csv", &bad);
    assert!(jsonl.contains("ORA-01400: cannot insert NULL"), "{jsonl}");
    assert!(jsonl.contains("\"column\":\"customer_id\""), "{jsonl}");
    db.clean(&job, &job);
}
