//! Cross-file tests of the format module: scanner vs parser vs the csv crate
//! (`oracle.rs`, on inputs from `inputs.rs`), the record limit, reject codes
//! with exact lines, conversions, and (ignored) throughput measurements.
//! Test code only.

mod agree;
mod bench;
mod convert;
pub(crate) mod inputs;
mod limit;
pub(crate) mod oracle;
mod rejects;

use super::{ColumnSpec, ColumnType, CsvFormat, Field, Layout};

/// A small deterministic PRNG (xorshift64*), so failures replay.
pub(super) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

/// The physical line (1-based) of each byte of `data` (and of its end),
/// counted here without the module's own counter: a line ends at each `\n`
/// and at each `\r` not followed by `\n`.
pub(crate) fn line_table(data: &[u8]) -> Vec<u64> {
    let mut line = 1;
    let mut table = Vec::with_capacity(data.len() + 1);
    for (i, &b) in data.iter().enumerate() {
        table.push(line);
        let ends = b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n'));
        line += u64::from(ends);
    }
    table.push(line);
    table
}

/// The dialects every agreement test runs: the fast path's and csv-core's.
pub(crate) fn dialects() -> Vec<CsvFormat> {
    let base = CsvFormat {
        header: false,
        ..CsvFormat::default()
    };
    vec![
        base.clone(),
        CsvFormat {
            double_quote: false,
            ..base.clone()
        },
        CsvFormat {
            delimiter: b';',
            quote: b'\'',
            ..base.clone()
        },
        CsvFormat {
            escape: Some(b'\\'),
            ..base.clone()
        },
        CsvFormat {
            comment: Some(b'#'),
            ..base.clone()
        },
        CsvFormat {
            escape: Some(b'\\'),
            comment: Some(b'#'),
            double_quote: false,
            ..base
        },
    ]
}

/// One column per field, `ty` for all: a layout for records of `n` fields.
pub(super) fn uniform(n: usize, ty: ColumnType) -> Layout {
    Layout {
        columns: (0..n)
            .map(|i| ColumnSpec {
                ty,
                ..ColumnSpec::text(&format!("c{i}"))
            })
            .collect(),
        fields: (0..n as u32).map(Field::At).collect(),
        field_count: n as u32,
    }
}

/// The bench file's columns (bench/gen.py): what the throughput figure is for.
pub(super) fn orders_layout() -> Layout {
    Layout {
        columns: crate::format::fixtures::orders_columns(),
        fields: (0..8).map(Field::At).collect(),
        field_count: 8,
    }
}
