//! The text (and REAL) forms of values SQLite has no native type for:
//! decimals, dates, timestamps. Owns these encodings only; binding them is
//! `bind`'s job.
//!
//! Hot path: every form is written into one stack buffer that SQLite copies
//! at bind time, with no heap allocation and no `fmt` machinery for the
//! common cases (the benchmark's timestamps cost ~10% of an insert through
//! chrono's `Display`).

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::format::{DECIMAL_TEXT_BUF, decimal_text};

/// Room for any chrono date or timestamp text (years beyond 9999 included).
const BUF: usize = 64;

/// Decimals with fewer significant digits than this are exact in an f64's
/// 53 bits and survive SQLite's text-to-REAL conversion unchanged: see
/// `decimal_as_real`.
const REAL_MANTISSA_LIMIT: u128 = 1_000_000_000_000_000; // 10^15

/// 10^0 ..= 10^22: the powers of ten an f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `mantissa * 10^-scale` as the f64 nearest to it, when that is the very
/// value SQLite stores for the decimal's text in a column of INTEGER,
/// NUMERIC or REAL affinity; `None` otherwise (bind the text then).
///
/// Why it is the same value: with |mantissa| < 10^15 and scale <= 22 both
/// operands are exact f64s, so the IEEE quotient is the correctly rounded
/// decimal; SQLite's text conversion of at most 15 significant digits is
/// correctly rounded too (`tests/real.rs` checks this against SQLite itself).
/// An integral result becomes INTEGER under those affinities either way.
pub fn decimal_as_real(mantissa: i128, scale: u8) -> Option<f64> {
    let pow = *POW10.get(usize::from(scale))?;
    if mantissa.unsigned_abs() >= REAL_MANTISSA_LIMIT {
        return None;
    }
    Some(mantissa as f64 / pow)
}

/// A stack buffer for the text of one value at a time.
pub struct Scratch {
    buf: [u8; BUF],
    len: usize,
    decimal: [u8; DECIMAL_TEXT_BUF],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            buf: [0; BUF],
            len: 0,
            decimal: [0; DECIMAL_TEXT_BUF],
        }
    }
}

impl std::fmt::Write for Scratch {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `v` as exactly `N` decimal digits (zero-padded) at `out[..N]`.
fn digits<const N: usize>(out: &mut [u8], mut v: u32) {
    for slot in out[..N].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

impl Scratch {
    /// `value`'s `Display` text.
    pub fn display(&mut self, value: &dyn std::fmt::Display) -> rusqlite::Result<&str> {
        self.len = 0;
        write!(self, "{value}")
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.written()
    }

    fn written(&self) -> rusqlite::Result<&str> {
        std::str::from_utf8(&self.buf[..self.len])
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }

    /// chrono's `Display` of a date (`2024-02-29`), written directly for
    /// years 0..=9999; chrono writes the others (`+12345-06-07`).
    pub fn date(&mut self, d: &NaiveDate) -> rusqlite::Result<&str> {
        if !(0..=9999).contains(&d.year()) {
            return self.display(d);
        }
        self.put_date(d);
        self.len = 10;
        self.written()
    }

    fn put_date(&mut self, d: &NaiveDate) {
        let b = &mut self.buf;
        digits::<4>(b, d.year() as u32);
        b[4] = b'-';
        digits::<2>(&mut b[5..], d.month());
        b[7] = b'-';
        digits::<2>(&mut b[8..], d.day());
    }

    /// chrono's `Display` of a timestamp (`2024-02-29 10:11:12.345`: the
    /// fraction only when non-zero, in 3, 6 or 9 digits), written directly
    /// except for years outside 0..=9999 and leap seconds.
    pub fn timestamp(&mut self, t: &NaiveDateTime) -> rusqlite::Result<&str> {
        let nano = t.nanosecond();
        if !(0..=9999).contains(&t.year()) || nano >= 1_000_000_000 {
            return self.display(t);
        }
        self.put_date(&t.date());
        let b = &mut self.buf;
        b[10] = b' ';
        digits::<2>(&mut b[11..], t.hour());
        b[13] = b':';
        digits::<2>(&mut b[14..], t.minute());
        b[16] = b':';
        digits::<2>(&mut b[17..], t.second());
        self.len = 19;
        if nano != 0 {
            b[19] = b'.';
            self.len = if nano.is_multiple_of(1_000_000) {
                digits::<3>(&mut b[20..], nano / 1_000_000);
                23
            } else if nano.is_multiple_of(1_000) {
                digits::<6>(&mut b[20..], nano / 1_000);
                26
            } else {
                digits::<9>(&mut b[20..], nano);
                29
            };
        }
        self.written()
    }

    /// An instant as its UTC timestamp with `+00:00`, which SQLite's date
    /// functions read as UTC.
    pub fn instant(&mut self, t: &NaiveDateTime) -> rusqlite::Result<&str> {
        let len = self.timestamp(t)?.len();
        match self.buf.get_mut(len..len + 6) {
            Some(tail) => {
                tail.copy_from_slice(b"+00:00");
                self.len = len + 6;
                self.written()
            }
            None => self.display(&format_args!("{t}+00:00")),
        }
    }

    /// `mantissa * 10^-scale` as exact canonical text: `-12.50`, `0.005`,
    /// `146`. Bound as text so the column's affinity decides the storage
    /// (NUMERIC keeps `146.00` as integer 146, `12.50` as real 12.5) and a
    /// TEXT column keeps every digit.
    pub fn decimal(&mut self, mantissa: i128, scale: u8) -> &str {
        decimal_text(&mut self.decimal, mantissa, scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_as_real_only_within_15_digits_and_exact_powers() {
        assert_eq!(decimal_as_real(-1250, 2), Some(-12.5));
        assert_eq!(decimal_as_real(14600, 2), Some(146.0));
        assert_eq!(
            decimal_as_real(999_999_999_999_999, 2),
            Some(9999999999999.99)
        );
        assert_eq!(decimal_as_real(1_000_000_000_000_000, 2), None);
        assert_eq!(decimal_as_real(-1_000_000_000_000_000, 0), None);
        assert_eq!(decimal_as_real(1, 22), Some(1e-22));
        assert_eq!(decimal_as_real(1, 23), None);
    }

    /// The fast paths write exactly what chrono's `Display` writes.
    #[test]
    fn dates_and_timestamps_as_chrono_writes_them() {
        let mut s = Scratch::default();
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
        assert_eq!(s.date(&d).expect("fmt"), "2024-02-29");
        let t = d.and_hms_milli_opt(10, 11, 12, 345).expect("ts");
        assert_eq!(s.timestamp(&t).expect("fmt"), "2024-02-29 10:11:12.345");
        let t = d.and_hms_opt(0, 0, 1).expect("ts");
        assert_eq!(s.timestamp(&t).expect("fmt"), "2024-02-29 00:00:01");
        let t = d.and_hms_micro_opt(0, 0, 1, 5).expect("ts");
        assert_eq!(s.timestamp(&t).expect("fmt"), "2024-02-29 00:00:01.000005");

        let mut odd: Vec<NaiveDateTime> = Vec::new();
        for (y, nano) in [
            (0, 1),
            (9999, 999_999_999),
            (10_000, 0),
            (-1, 5_000_000),
            (-44, 0),
            (262_142, 1_000),
        ] {
            let day = NaiveDate::from_ymd_opt(y, 12, 31).expect("date");
            odd.push(day.and_hms_nano_opt(23, 59, 59, nano).expect("ts"));
        }
        let leap = d.and_hms_milli_opt(23, 59, 59, 1_500).expect("leap second");
        odd.push(leap);
        let mut seed = 7u64;
        let epoch = NaiveDate::from_ymd_opt(1, 1, 1).expect("epoch");
        let cases = (0..20_000).map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let secs = (seed >> 20) % (10_000 * 366 * 86_400);
            let nano = match seed % 4 {
                0 => 0,
                1 => (seed >> 8) as u32 % 1_000 * 1_000_000,
                2 => (seed >> 8) as u32 % 1_000_000 * 1_000,
                _ => (seed >> 8) as u32 % 1_000_000_000,
            };
            let t = epoch.and_hms_opt(0, 0, 0).expect("midnight")
                + chrono::Duration::seconds(secs as i64)
                + chrono::Duration::nanoseconds(i64::from(nano));
            t.min(
                NaiveDate::from_ymd_opt(9999, 12, 31)
                    .expect("max")
                    .and_hms_opt(0, 0, 0)
                    .expect("t"),
            )
        });
        for t in odd.into_iter().chain(cases) {
            assert_eq!(s.timestamp(&t).expect("fmt"), t.to_string(), "{t:?}");
            assert_eq!(s.date(&t.date()).expect("fmt"), t.date().to_string());
        }
    }
}
