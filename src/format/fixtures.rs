//! Test fixtures shared by the tests of the format and of every sink:
//! columns (the benchmark's `orders` among them) and cells built from plain
//! values. Test code only: compiled under `cfg(test)`, never in the daemon.

use chrono::{NaiveDate, NaiveDateTime};

use super::{Cell, ColumnSpec, ColumnType, RowOrigin, Rows};

pub fn col(name: &str, ty: ColumnType, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        ty,
        nullable,
        ..ColumnSpec::text(name)
    }
}

/// The benchmark's `orders` columns (../shared/bench/gen.py), for the tests
/// and measurements of the parser and the sinks.
pub fn orders_columns() -> Vec<ColumnSpec> {
    let text = ColumnType::Text { max_chars: None };
    vec![
        col("id", ColumnType::BigInt, false),
        col("customer_id", ColumnType::Int, false),
        col("customer_name", text, false),
        col(
            "amount",
            ColumnType::Decimal {
                precision: 12,
                scale: 2,
            },
            false,
        ),
        col("currency", ColumnType::Text { max_chars: Some(3) }, false),
        col("created_at", ColumnType::Timestamp, false),
        col("status", text, false),
        col("note", text, true),
    ]
}

/// `s` appended to the text arena of `rows`, as the cell that addresses it.
pub fn text_cell(rows: &mut Rows, s: &str) -> Cell {
    let start = rows.text.len() as u32;
    rows.text.push_str(s);
    Cell::Text {
        start,
        len: s.len() as u32,
    }
}

/// A test value, short to write in tables of rows.
#[derive(Clone, Copy, Debug)]
pub enum V<'a> {
    N,
    I(i64),
    F(f64),
    D(i128, u8),
    T(&'a str),
    B(bool),
    Day(NaiveDate),
    Ts(NaiveDateTime),
}

impl V<'_> {
    /// The cell of this value in `rows` (text is copied into its arena).
    pub fn cell(self, rows: &mut Rows) -> Cell {
        match self {
            V::N => Cell::Null,
            V::I(x) => Cell::Int(x),
            V::F(x) => Cell::Float(x),
            V::D(mantissa, scale) => Cell::Decimal { mantissa, scale },
            V::T(s) => text_cell(rows, s),
            V::B(b) => Cell::Bool(b),
            V::Day(d) => Cell::Date(d),
            V::Ts(t) => Cell::Timestamp(t),
        }
    }
}

/// Rows of `values` as the parser would give them for records of `rec`
/// bytes, one line each, the first at byte `start` (line `start / rec + 1`).
pub fn rows_of(values: &[Vec<V<'_>>], start: u64, rec: u64) -> Rows {
    let mut rows = Rows::new(values.first().map_or(0, Vec::len));
    for (i, row) in values.iter().enumerate() {
        for v in row {
            let cell = v.cell(&mut rows);
            rows.cells.push(cell);
        }
        rows.origins.push(RowOrigin {
            offset: start + i as u64 * rec,
            len: rec as u32,
            line: start / rec + 1 + i as u64,
        });
    }
    rows
}
