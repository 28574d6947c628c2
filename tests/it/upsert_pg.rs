//! `mode = "upsert"` on PostgreSQL with the real binary: the same keys loaded
//! twice with changed values leave one row per key with the newer values;
//! within a batch, the last record of a key wins.

use std::collections::BTreeMap;
use std::io::Write;

use crate::support::pg::Schema;
use crate::support::*;

trials![loading_changed_values_twice_keeps_one_row_per_key_with_the_newer_values[Pg]];

const BATCH: u64 = 300;

/// Writes orders `ids` (each once; every 50th twice in a row, the second
/// one winning) to `path`; returns what the table must hold for them.
fn write(
    path: &std::path::Path,
    ids: std::ops::RangeInclusive<u64>,
    seed: u64,
) -> (BTreeMap<u64, String>, u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(HEADER.as_bytes()).unwrap();
    let (mut last, mut records) = (BTreeMap::new(), 0u64);
    for id in ids {
        // A pair never straddles two batches: batches of BATCH records.
        let pair = id % 50 == 0 && records % BATCH != BATCH - 1;
        for _ in 0..if pair { 2 } else { 1 } {
            let (line, canon) = order(&mut rng, id);
            out.write_all(line.as_bytes()).unwrap();
            last.insert(id, canon);
            records += 1;
        }
    }
    out.flush().unwrap();
    (last, records)
}

fn loading_changed_values_twice_keeps_one_row_per_key_with_the_newer_values() {
    let mut db = Schema::new("upsert");
    let s = Setup::on(
        "pg",
        &db.sink_toml(),
        "orders",
        "orders",
        &format!(
            "workers = 2\nbatch_rows = {BATCH}\ncreate_table = true\nmode = \"upsert\"\nkey = [\"id\"]\n"
        ),
        "",
    );
    let (first, n1) = write(&s.path("first.csv"), 1..=2000, 1);
    let (second, n2) = write(&s.path("second.csv"), 1001..=3000, 2);
    let out = cli::load(&s.config, "orders", &[&s.path("first.csv")])
        .expect(0)
        .stdout;
    assert!(
        out.contains(&format!("{n1} rows loaded, 0 rejected")),
        "{out}"
    );
    let out = cli::load(&s.config, "orders", &[&s.path("second.csv")])
        .expect(0)
        .stdout;
    assert!(
        out.contains(&format!("{n2} rows loaded, 0 rejected")),
        "{out}"
    );

    let mut want = first.clone();
    want.extend(second.clone());
    let mut expected = Sum::default();
    for canon in want.values() {
        expected.add(canon);
    }
    assert_eq!(db.int("SELECT count(*) FROM orders"), 3000);
    assert_eq!(db.int("SELECT count(DISTINCT id) FROM orders"), 3000);
    assert_eq!(
        db.sum("orders", "true"),
        expected,
        "one row per key, the newer values"
    );
    // The keys both files have really changed (not a vacuous pass).
    let changed = (1001..=2000).filter(|id| first[id] != second[id]).count();
    assert!(
        changed > 900,
        "only {changed} of the reloaded keys changed values"
    );
    // create_table made the key the primary key.
    assert_eq!(
        db.int(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE c.relname = 'orders' AND i.indisprimary"
        ),
        1
    );
}
