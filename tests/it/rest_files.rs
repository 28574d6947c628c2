//! A file set aside after `max_errors` and its `.rest`, with the real binary
//! on SQLite: whichever of the two is loaded afterwards, and in whatever
//! order or under whatever name, every record is loaded once. A `.rest`
//! whose records were loaded from its origin is renamed `.obsolete`, and a
//! copy of it dropped in is refused.

use std::fs;

use crate::support::cli::run_once;
use crate::support::*;

trials![
    a_rest_made_obsolete_by_its_origin_is_renamed_and_refused,
    an_origin_whose_rest_was_loaded_is_already_loaded,
];

/// 1,000 orders in `orders.csv`, three of them unparseable, loaded with
/// `max_errors = 1`: set aside with a `.rest`. Returns the good records' sum.
fn set_aside_with_a_rest(s: &Setup) -> Sum {
    let mut f = OrdersFile::create(&s.landing.join("orders.csv"), 5);
    let bad = [
        (300, "bad_decimal"),
        (301, "bad_decimal"),
        (900, "bad_decimal"),
    ];
    f.orders_with_bad(1000, &bad, unparseable);
    let (good, _) = f.finish();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(out.contains("set aside"), "{out}");
    assert!(s.rejects.join("orders.rest.csv").exists(), "{out}");
    assert!(
        s.rejects.join("orders.csv").exists(),
        "the origin, set aside"
    );
    s.edit(|t| t.replace("max_errors = 1\n", "max_errors = 100\n"));
    good
}

fn setup() -> Setup {
    Setup::new(
        "batch_rows = 100\nworkers = 1\nmax_errors = 1\n",
        "",
        "on_done = \"delete\"",
    )
}

fn a_rest_made_obsolete_by_its_origin_is_renamed_and_refused() {
    let s = setup();
    let good = set_aside_with_a_rest(&s);
    // The origin dropped back in: the ledger fills its gaps.
    fs::rename(s.rejects.join("orders.csv"), s.landing.join("orders.csv")).unwrap();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(
        out.contains("orders.csv:") && out.contains("loaded"),
        "{out}"
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "every good record, once");
    assert!(
        !s.rejects.join("orders.rest.csv").exists(),
        "stale .rest left"
    );
    let obsolete = s.rejects.join("orders.rest.csv.obsolete");
    assert!(obsolete.exists());
    // Following the old advice anyway, under another name: refused.
    fs::copy(&obsolete, s.landing.join("fixed.csv")).unwrap();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(
        out.contains("fixed.csv: 0 rows loaded")
            && out.contains("this is the .rest file of \"orders.csv\"")
            && out.contains("obsolete"),
        "{out}"
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "nothing loaded twice");
}

fn an_origin_whose_rest_was_loaded_is_already_loaded() {
    let s = setup();
    let good = set_aside_with_a_rest(&s);
    // The README's way: the .rest dropped back in (renamed, as an operator
    // may), then, by mistake, the origin too.
    fs::rename(
        s.rejects.join("orders.rest.csv"),
        s.landing.join("again.csv"),
    )
    .unwrap();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(out.contains("again.csv:"), "{out}");
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "every good record, once");
    fs::rename(s.rejects.join("orders.csv"), s.landing.join("orders.csv")).unwrap();
    let out = run_once(&s.config).expect(0).stdout;
    assert!(
        out.contains("orders.csv: 0 rows loaded") && out.contains("already loaded"),
        "{out}"
    );
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "nothing loaded twice");
    assert!(
        !s.landing.join("orders.csv").exists(),
        "deleted: it is loaded"
    );
}
