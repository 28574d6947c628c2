//! gzip and zstd files in a landing folder, with the real binary on SQLite:
//! read decompressed, with the same rows, rejects and line numbers as the
//! plain file; a truncated archive is set aside with what was loaded before
//! the damage kept; a compressed file set aside after `max_errors` gets a
//! `.rest` compressed the same way, which loads the rest exactly once.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::support::cli::run_once;
use crate::support::rejects::assert_rejected;
use crate::support::*;

trials![
    gzip_and_zstd_files_load_as_their_plain_content,
    a_truncated_archive_is_set_aside_keeping_what_was_loaded,
    a_compressed_rest_loads_the_rest_once,
];

fn setup(job_extra: &str) -> Setup {
    let s = Setup::new(job_extra, "", "on_done = \"delete\"");
    s.edit(|t| t.replace("pattern = \"*.csv\"", "pattern = \"*.csv*\""));
    s
}

/// `n` orders with unparseable ones at `bad_at`, written plain to `plain`.
fn orders(plain: &Path, n: u64, bad_at: &[(u64, &'static str)]) -> (Sum, Vec<BadRecord>) {
    let mut f = OrdersFile::create(plain, 11);
    f.orders_with_bad(n, bad_at, unparseable);
    f.finish()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

/// Writes `bytes` under a hidden name in `dir`, then renames it to `name`.
fn drop_in(dir: &Path, name: &str, bytes: &[u8]) {
    let staged = dir.join(format!(".{name}"));
    fs::write(&staged, bytes).unwrap();
    fs::rename(staged, dir.join(name)).unwrap();
}

fn gzip_and_zstd_files_load_as_their_plain_content() {
    let s = setup("batch_rows = 500\n");
    let plain = s.path("orders.csv");
    let bad = [
        (7, "bad_decimal"),
        (2500, "bad_timestamp"),
        (9999, "field_count"),
    ];
    let (good, rejected) = orders(&plain, 10_000, &bad);
    let bytes = fs::read(&plain).unwrap();
    drop_in(&s.landing, "a.csv.gz", &gzip(&bytes));
    drop_in(&s.landing, "b.csv.zst", &zstd(&bytes));
    let out = run_once(&s.config).expect(3).stdout;
    for f in ["a.csv.gz", "b.csv.zst"] {
        assert!(
            out.contains(&format!("{f}: 9997 rows loaded, 3 rejected")),
            "{out}"
        );
        // The rejected records' own (decompressed) bytes and lines.
        assert_rejected(&s.rejects, f, &rejected);
    }
    assert_eq!(sqlite_sum(&s.db, "orders"), good.plus(good));
}

fn a_truncated_archive_is_set_aside_keeping_what_was_loaded() {
    let s = setup("batch_rows = 100\nworkers = 1\n");
    let plain = s.path("orders.csv");
    let (good, _) = orders(&plain, 20_000, &[]);
    let gz = gzip(&fs::read(&plain).unwrap());
    drop_in(&s.landing, "cut.csv.gz", &gz[..gz.len() / 2]);
    let out = run_once(&s.config).expect(3).stdout;
    assert!(
        out.contains("cut.csv.gz:")
            && out.contains("set aside: the gzip data is corrupt or truncated"),
        "{out}"
    );
    assert!(
        s.rejects.join("cut.csv.gz").exists(),
        "moved to the reject folder"
    );
    let loaded = sqlite_rows(&s.db, "orders");
    assert!(
        loaded > 0 && loaded < good.rows,
        "loaded before the damage: {loaded}"
    );
    // What was loaded is exactly the file's first records, once each.
    let ids = sqlite_count(&s.db, "SELECT count(DISTINCT id) FROM orders");
    let max = sqlite_count(&s.db, "SELECT max(id) FROM orders");
    assert_eq!((ids as u64, max as u64), (loaded, loaded));
}

fn a_compressed_rest_loads_the_rest_once() {
    let s = setup("batch_rows = 100\nworkers = 1\nmax_errors = 1\n");
    let plain = s.path("orders.csv");
    let bad = [
        (100, "bad_decimal"),
        (101, "bad_decimal"),
        (4000, "bad_decimal"),
    ];
    let (good, _) = orders(&plain, 5000, &bad);
    drop_in(&s.landing, "o.csv.gz", &gzip(&fs::read(&plain).unwrap()));
    let out = run_once(&s.config).expect(3).stdout;
    assert!(out.contains("set aside"), "{out}");
    // Named so that the job's pattern (`*.csv*`) takes it.
    let rest = s.rejects.join("o.csv.rest.gz");
    let head = fs::read(&rest).unwrap();
    assert_eq!(&head[..2], &[0x1f, 0x8b], "the .rest is gzip too");
    s.edit(|t| t.replace("max_errors = 1\n", "max_errors = 100\n"));
    fs::rename(&rest, s.landing.join("o.csv.rest.gz")).unwrap();
    let out = run_once(&s.config).expect(3).stdout;
    assert!(out.contains("o.csv.rest.gz:"), "{out}");
    assert_eq!(sqlite_sum(&s.db, "orders"), good, "every good record, once");
}
