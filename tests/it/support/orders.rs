//! The orders data of the tests: a deterministic generator of orders CSV
//! records (names with quotes, commas and line breaks, negative amounts,
//! optional fractions of seconds, NULL notes), each record's canonical form,
//! and `Sum`, an order-independent count and checksum that a file and a
//! table are compared by. The table side for SQLite is here; PostgreSQL's
//! and Oracle's are beside their helpers.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Count and order-independent checksum of a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sum {
    pub rows: u64,
    pub hash: u64,
}

impl Sum {
    pub fn add(&mut self, canonical: &str) {
        self.rows += 1;
        // FNV-1a per row, summed: independent of row order.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in canonical.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        self.hash = self.hash.wrapping_add(h);
    }
}

const NAMES: &[&str] = &[
    "James",
    "Mary",
    "Zoë",
    "Łukasz",
    "Søren",
    "Мария",
    "翔太",
    "O'Brien",
    "D'Angelo",
];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "JPY", "CHF"];

/// One generated record as CSV text (with its line terminator), and its
/// canonical form.
pub fn order(rng: &mut fastrand::Rng, id: u64) -> (String, String) {
    let customer = rng.u32(1..1_000_000);
    let mut name = format!(
        "{} {}",
        NAMES[rng.usize(..NAMES.len())],
        NAMES[rng.usize(..NAMES.len())]
    );
    match rng.u32(..100) {
        0 => name.push_str("\nsecond line"),
        1..=3 => name.push_str(", Inc."),
        4 => name.push_str(" \"The Rock\""),
        _ => {}
    }
    let cents = rng.i64(-5_000..2_000_000);
    let amount = format!(
        "{}{}.{:02}",
        if cents < 0 { "-" } else { "" },
        cents.abs() / 100,
        cents.abs() % 100
    );
    let currency = CURRENCIES[rng.usize(..CURRENCIES.len())];
    let ts = format!(
        "2025-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        rng.u32(1..13),
        rng.u32(1..29),
        rng.u32(..24),
        rng.u32(..60),
        rng.u32(..60),
        if rng.u32(..20) == 0 {
            format!(".{:03}", rng.u32(..1000))
        } else {
            String::new()
        }
    );
    let status = STATUSES[rng.usize(..STATUSES.len())];
    let note = if rng.bool() {
        None
    } else {
        Some(format!("note {}", rng.u32(..1000)))
    };
    let line = format!(
        "{id},{customer},{},{amount},{currency},{ts},{status},{}\n",
        quote(&name),
        note.as_deref().map(quote).unwrap_or_default()
    );
    (
        line,
        canonical(
            id as i64,
            customer as i64,
            &name,
            cents,
            currency,
            &ts,
            status,
            note.as_deref(),
        ),
    )
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[allow(clippy::too_many_arguments)]
pub fn canonical(
    id: i64,
    customer: i64,
    name: &str,
    cents: i64,
    currency: &str,
    ts: &str,
    status: &str,
    note: Option<&str>,
) -> String {
    format!(
        "{id}|{customer}|{name}|{cents}|{currency}|{}|{status}|{}",
        norm_ts(ts),
        note.unwrap_or("\\N")
    )
}

fn norm_ts(ts: &str) -> String {
    let t = ts.replacen(' ', "T", 1);
    chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
        .unwrap_or_else(|_| panic!("bad timestamp in test data: {ts}"))
}

pub const HEADER: &str = "id,customer_id,customer_name,amount,currency,created_at,status,note\n";

/// Writes `n` orders (ids from `first_id`) to `path`; returns their sum.
pub fn write_orders(path: &Path, n: u64, first_id: u64, seed: u64) -> Sum {
    let mut f = OrdersFile::create(path, seed);
    for id in first_id..first_id + n {
        f.good(id);
    }
    f.finish().0
}

/// An orders file being written: the header, then generated records and
/// records a test wrote itself to be rejected, each of those noted with the
/// physical line it starts on.
pub struct OrdersFile {
    out: std::io::BufWriter<fs::File>,
    rng: fastrand::Rng,
    line: u64,
    good: Sum,
    bad: Vec<BadRecord>,
}

/// A record written to be rejected, and where.
#[derive(Clone, Debug)]
pub struct BadRecord {
    pub line: u64,
    pub code: &'static str,
    pub text: String,
}

impl OrdersFile {
    /// A new file at `path`; its records are generated from `seed`.
    pub fn create(path: &Path, seed: u64) -> OrdersFile {
        let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
        out.write_all(HEADER.as_bytes()).unwrap();
        OrdersFile {
            out,
            rng: fastrand::Rng::with_seed(seed),
            line: 2,
            good: Sum::default(),
            bad: Vec::new(),
        }
    }

    /// A generated order with `id`, counted in the good sum.
    pub fn good(&mut self, id: u64) {
        let (text, canon) = order(&mut self.rng, id);
        self.good.add(&canon);
        self.write(&text);
    }

    /// `text` (whole records), expected to be rejected with `code`.
    pub fn bad(&mut self, code: &'static str, text: &str) {
        self.bad.push(BadRecord {
            line: self.line,
            code,
            text: text.to_string(),
        });
        self.write(text);
    }

    /// Orders 1 to `n`, except where `bad_at` holds `(id, code)`: there the
    /// record is `bad(code, id)`, expected to be rejected with `code`.
    pub fn orders_with_bad(
        &mut self,
        n: u64,
        bad_at: &[(u64, &'static str)],
        bad: impl Fn(&str, u64) -> String,
    ) {
        for id in 1..=n {
            match bad_at.iter().find(|(at, _)| *at == id) {
                Some((_, code)) => self.bad(code, &bad(code, id)),
                None => self.good(id),
            }
        }
    }

    fn write(&mut self, text: &str) {
        self.out.write_all(text.as_bytes()).unwrap();
        self.line += text.matches('\n').count() as u64;
    }

    /// The sum of the good records and the bad ones, in file order.
    pub fn finish(mut self) -> (Sum, Vec<BadRecord>) {
        self.out.flush().unwrap();
        (self.good, self.bad)
    }
}

/// Writes `n` orders under a hidden name in `dir`, then renames the file to
/// `name` (how producers should hand files to a landing directory).
pub fn drop_orders(dir: &Path, name: &str, n: u64, first_id: u64, seed: u64) -> Sum {
    let staged = dir.join(format!(".{name}.tmp"));
    let sum = write_orders(&staged, n, first_id, seed);
    fs::rename(&staged, dir.join(name)).unwrap();
    sum
}

impl Sum {
    pub fn plus(self, other: Sum) -> Sum {
        Sum {
            rows: self.rows + other.rows,
            hash: self.hash.wrapping_add(other.hash),
        }
    }
}

/// The sum of the orders table in an SQLite file.
pub fn sqlite_sum(db: &Path, table: &str) -> Sum {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, customer_id, customer_name, amount, currency, created_at, status, note FROM \"{table}\""
        ))
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut sum = Sum::default();
    while let Some(r) = rows.next().unwrap() {
        use rusqlite::types::ValueRef;
        let cents = match r.get_ref(3).unwrap() {
            ValueRef::Integer(i) => i * 100,
            ValueRef::Real(f) => (f * 100.0).round() as i64,
            ValueRef::Text(t) => {
                let s = std::str::from_utf8(t).unwrap();
                (s.parse::<f64>().unwrap() * 100.0).round() as i64
            }
            other => panic!("amount stored as {other:?}"),
        };
        let note: Option<String> = r.get(7).unwrap();
        sum.add(&canonical(
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            &r.get::<_, String>(2).unwrap(),
            cents,
            &r.get::<_, String>(4).unwrap(),
            &r.get::<_, String>(5).unwrap(),
            &r.get::<_, String>(6).unwrap(),
            note.as_deref(),
        ));
    }
    sum
}

pub fn sqlite_count(db: &Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Rows in an SQLite table now; 0 before the file or the table exists.
pub fn sqlite_rows(db: &Path, table: &str) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .unwrap_or(0) as u64
}

/// A record of order `id` that the worker's own parser refuses with `code`:
/// `field_count` (two fields short), `bad_decimal` (amount `N/A`) or
/// `bad_timestamp` (February 30th).
pub fn unparseable(code: &str, id: u64) -> String {
    match code {
        "field_count" => format!("{id},5,Short Record,1.00,USD,2025-01-01T00:00:00\n"),
        "bad_decimal" => format!("{id},5,Bad Amount,N/A,USD,2025-01-01T00:00:00,paid,\n"),
        "bad_timestamp" => format!("{id},5,Bad Date,3.50,USD,2025-02-30T10:00:00,paid,\n"),
        other => panic!("no unparseable record for {other}"),
    }
}

/// A last record (order 1001) that opens a quote it never closes: rejected
/// as `unterminated_quote`, with the line after it.
pub const UNTERMINATED: &str =
    "1001,5,\"Never closed,1.00,USD,2025-01-01T00:00:00,paid,\nmore text\n";
