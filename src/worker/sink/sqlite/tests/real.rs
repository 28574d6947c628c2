//! Tests that binding a decimal as REAL stores the very value its text
//! would (in columns of INTEGER, NUMERIC and REAL affinity), that other
//! columns still get the text, and of the page size of new files.

use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::super::text::{Scratch, decimal_as_real};
use super::{batch, cfg, committed, count, int, open, peek, select, text};
use crate::format::ColumnType;
use crate::format::fixtures::{V, col};

/// Declared types with the affinities the REAL path is used for, as a
/// plain table and as a STRICT one (whose INT refuses non-integers).
const TYPED: &str = "(k INTEGER PRIMARY KEY, n NUMERIC, i INTEGER, r REAL, d DECIMAL(12,2), a ANY)";
const STRICT: &str = "(k INTEGER PRIMARY KEY, n INTEGER, i INT, r REAL, d REAL, a ANY) STRICT";

/// Decimals of 1 to 15 significant digits at scales 0 to 22, random and
/// at the edges (integral values, the largest mantissas, tiny ones).
fn decimals() -> Vec<(i128, u8)> {
    let mut out = vec![
        (0, 0),
        (0, 2),
        (1, 0),
        (-1, 2),
        (14600, 2),
        (-1250, 2),
        (5, 3),
        (999_999_999_999_999, 0),
        (-999_999_999_999_999, 2),
        (999_999_999_999_999, 15),
        (1, 22),
        (123_456_789_012_345, 22),
        (100_000_000_000_000, 14),
        (9_007_199_254_740, 0),
    ];
    let mut seed = 99u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 11
    };
    for _ in 0..30_000 {
        let digits = 1 + next() % 15;
        let m = (next() % 10u64.pow(digits as u32)) as i128;
        let scale = match next() % 8 {
            0 => (next() % 23) as u8,
            k => (k - 1) as u8, // 0..=6, the usual scales
        };
        out.push((if next() % 3 == 0 { -m } else { m }, scale));
    }
    out
}

/// Inserts each decimal as text into `text_t` and as REAL into `real_t`
/// (same declared types); returns how many rows were refused in each.
fn load_both(db: &Connection, text_t: &str, real_t: &str) -> (usize, usize) {
    let mut scratch = Scratch::default();
    let (mut text_refused, mut real_refused) = (0, 0);
    let sql = |t: &str| format!("INSERT INTO {t} VALUES (?1, ?2, ?2, ?2, ?2, ?2)");
    let mut as_text = db.prepare(&sql(text_t)).expect("prepare");
    let mut as_real = db.prepare(&sql(real_t)).expect("prepare");
    for (k, (m, scale)) in (0i64..).zip(decimals()) {
        let real = decimal_as_real(m, scale).expect("within 15 digits");
        text_refused += usize::from(
            as_text
                .execute(params![k, scratch.decimal(m, scale)])
                .is_err(),
        );
        real_refused += usize::from(as_real.execute(params![k, real]).is_err());
    }
    (text_refused, real_refused)
}

/// Rows of `a` and `b` (joined on k) whose stored values differ in type
/// or value in the columns that take REAL.
fn differences(db: &Connection, a: &str, b: &str) -> i64 {
    let mut cond = Vec::new();
    for c in ["n", "i", "r", "d"] {
        cond.push(format!(
            "typeof(a.{c}) IS NOT typeof(b.{c}) OR a.{c} IS NOT b.{c}"
        ));
    }
    let sql = format!(
        "SELECT COUNT(*) FROM {a} a FULL JOIN {b} b USING (k) WHERE {}",
        cond.join(" OR ")
    );
    count(db, &sql)
}

#[test]
fn a_decimal_bound_as_real_is_stored_as_its_text_would_be() {
    let db = Connection::open_in_memory().expect("open");
    db.execute_batch(&format!(
        "CREATE TABLE t_text {TYPED}; CREATE TABLE t_real {TYPED};
         CREATE TABLE s_text {STRICT}; CREATE TABLE s_real {STRICT};"
    ))
    .expect("tables");
    let tx = db.unchecked_transaction().expect("begin");
    assert_eq!(load_both(&tx, "t_text", "t_real"), (0, 0));
    let (text_refused, real_refused) = load_both(&tx, "s_text", "s_real");
    tx.commit().expect("commit");
    let n = decimals().len() as i64;
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t_real"), n);
    assert_eq!(differences(&db, "t_text", "t_real"), 0);
    // STRICT INT refuses the fractional ones, whichever way they come.
    assert!(text_refused > 0);
    assert_eq!(text_refused, real_refused);
    assert_eq!(differences(&db, "s_text", "s_real"), 0);
    // Both kinds happen: integral decimals become INTEGER, others REAL.
    let kinds = count(&db, "SELECT COUNT(DISTINCT typeof(n)) FROM t_real");
    assert_eq!(kinds, 2);
    // Where the affinity would not convert (ANY), the two differ: the sink
    // must keep text there, which the next test checks.
    assert!(
        count(
            &db,
            "SELECT COUNT(*) FROM s_text JOIN s_real USING (k) WHERE typeof(s_text.a) != typeof(s_real.a)"
        ) > 0
    );
}

#[test]
fn the_sink_binds_real_only_where_the_affinity_converts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let mut sink = open(&cfg);
    let db = peek(&cfg);
    let decl = "n NUMERIC, t TEXT, v VARCHAR(20), b BLOB, u, r REAL";
    db.execute_batch(&format!(
        "CREATE TABLE t ({decl}); CREATE TABLE want ({decl}); CREATE TABLE s (a ANY, i INT) STRICT"
    ))
    .expect("tables");
    let dec = ColumnType::Decimal {
        precision: 12,
        scale: 2,
    };
    let names = ["n", "t", "v", "b", "u", "r"];
    let cols: Vec<_> = names.iter().map(|n| col(n, dec, true)).collect();
    let values = [(-1250, 2), (14600, 2), (5, 3), (123_456_789_012_345, 2)];
    let rows: Vec<Vec<V<'_>>> = values
        .iter()
        .map(|&(m, s)| names.iter().map(|_| V::D(m, s)).collect())
        .collect();
    let b = batch(0, &rows, 0);
    let (loaded, _) = committed(sink.write(&b.req("t", &cols, "s")).expect("write"));
    assert_eq!(loaded, 4);
    let mut scratch = Scratch::default();
    for (m, s) in values {
        let t = scratch.decimal(m, s).to_string();
        db.execute(
            "INSERT INTO want VALUES (?1, ?1, ?1, ?1, ?1, ?1)",
            params![t],
        )
        .expect("reference");
    }
    let sql = |t: &str| {
        let c: Vec<String> = names.iter().map(|n| format!("typeof({n}), {n}")).collect();
        format!("SELECT {} FROM {t} ORDER BY rowid", c.join(", "))
    };
    assert_eq!(select(&db, &sql("t")), select(&db, &sql("want")));
    assert_eq!(
        select(&db, "SELECT t, b FROM t LIMIT 1"),
        [vec![text("-12.50"), text("-12.50")]]
    );

    // STRICT: ANY keeps the text; INT takes an integral decimal.
    let cols = [col("a", dec, true), col("i", dec, true)];
    let b = batch(100, &[vec![V::D(14600, 2), V::D(14600, 2)]], 0);
    committed(sink.write(&b.req("s", &cols, "s")).expect("write"));
    assert_eq!(
        select(&db, "SELECT a, i FROM s"),
        [vec![text("146.00"), int(146)]]
    );
    sink.close().expect("close");
}

#[test]
fn new_files_get_16k_pages_and_existing_files_keep_theirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path(), 1000);
    let sink = open(&cfg);
    let page = |db: &Connection| count(db, "PRAGMA page_size");
    assert_eq!(page(&peek(&cfg)), 16384);
    sink.close().expect("close");

    let old = tempfile::tempdir().expect("tempdir");
    let cfg = super::cfg(old.path(), 1000);
    std::fs::create_dir_all(cfg.path.parent().expect("folder")).expect("mkdir");
    let db = Connection::open(&cfg.path).expect("create");
    db.execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (id INTEGER, name TEXT)")
        .expect("old file");
    let mut sink = open(&cfg);
    let cols = [
        col("id", ColumnType::BigInt, true),
        col("name", ColumnType::Text { max_chars: None }, true),
    ];
    let rows: Vec<Vec<V<'_>>> = (0..100).map(|i| vec![V::I(i), V::T("r")]).collect();
    committed(
        sink.write(&batch(0, &rows, 0).req("t", &cols, "s"))
            .expect("write"),
    );
    sink.close().expect("close");
    assert_eq!(page(&db), 4096);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t"), 100);
    assert_eq!(
        select(&db, "PRAGMA journal_mode"),
        [vec![Value::Text("wal".into())]]
    );
}
