//! Malformed records at known lines, loaded with the real binary: each one is
//! in `<file>.bad` / `<file>.bad.jsonl` with its physical line number and
//! reason; every other record is loaded; the exit code says some were rejected.

use crate::support::rejects::assert_rejected;
use crate::support::*;

trials![malformed_records_are_rejected_with_their_lines_and_the_rest_loads];

fn malformed_records_are_rejected_with_their_lines_and_the_rest_loads() {
    let s = Setup::new("workers = 2\nbatch_rows = 100\n", "", "");
    let path = s.path("orders.csv");
    let mut f = OrdersFile::create(&path, 3);
    let bad_at = [
        (137, "field_count"),
        (402, "bad_decimal"),
        (777, "bad_timestamp"),
    ];
    f.orders_with_bad(1000, &bad_at, unparseable);
    // The last record opens a quote it never closes.
    f.bad("unterminated_quote", UNTERMINATED);
    let (good, bad) = f.finish();

    let stdout = cli::load(&s.config, "orders", &[&path]).expect(3).stdout;
    assert!(
        stdout.contains("997 rows loaded, 4 rejected"),
        "summary: {stdout}"
    );

    assert_eq!(sqlite_sum(&s.db, "orders"), good, "every good record, once");
    // The .bad file is the header plus the rejected records' own bytes, so it
    // can be fixed and dropped back in.
    assert_rejected(&s.rejects, "orders.csv", &bad);
}
