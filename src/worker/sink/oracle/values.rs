//! Text made into Oracle values in the worker, so that no load depends on
//! the session's NLS settings: an exact decimal for a NUMBER column (as the
//! canonical text ODPI-C itself turns into an Oracle number, never through
//! a float or the server's TO_NUMBER), a float for BINARY_DOUBLE, ISO dates
//! and timestamps for DATE and TIMESTAMP, and any cell as text for a
//! character column. Each refusal is a reject code and reason in the
//! parser's style (`amount: "12,50" is not a number`).
//!
//! Owns these conversions only; `bind.rs` decides which applies to a column.

use chrono::{NaiveDateTime, Timelike};

use crate::format::{iso_date, iso_timestamp, show};

/// A refused value: reject code and reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Bad {
    pub code: &'static str,
    pub reason: String,
}

fn bad(code: &'static str, column: &str, text: &str, what: &str) -> Bad {
    Bad {
        code,
        reason: format!("{column}: {} {what}", show(text.as_bytes())),
    }
}

/// Significant digits ODPI-C takes into a NUMBER (`DPI_NUMBER_MAX_DIGITS`);
/// Oracle keeps 38 of them.
pub const NUMBER_MAX_DIGITS: usize = 40;

/// An exact decimal as `[-]DIGITS[eEXP]` (`-1250e-2` is -12.50): what
/// ODPI-C's own parser reads, whatever the session's decimal character.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NumText {
    buf: [u8; 48],
    len: u8,
}

impl NumText {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).expect("ASCII only")
    }
}

impl std::fmt::Debug for NumText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[+-]digits[.digits][e[+-]digits]` (either digit run may be empty, not
/// both) as an exact decimal for a NUMBER column. Refused: anything else
/// (`12,50`, ` 12`, `1.2.3`, `NaN`), more than 40 significant digits, and
/// magnitudes NUMBER cannot hold (1e126 and up, below 1e-130).
pub fn number(column: &str, text: &str) -> Result<NumText, Bad> {
    let syntax = || bad("bad_decimal", column, text, "is not a number");
    let range = |what: &str| bad("out_of_range", column, text, what);
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(k) => {
            let e = &body[k + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            let exp = match e.parse::<i32>() {
                Ok(v) if v.abs() <= 1000 => v,
                _ => return Err(range("is out of range for NUMBER")),
            };
            (&body[..k], exp)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return Err(syntax());
    }
    // value = 0.DIGITS * 10^point, DIGITS without leading or trailing zeros.
    let all = int.bytes().chain(frac.bytes());
    let lead = all.clone().take_while(|&d| d == b'0').count();
    let mut digits: Vec<u8> = all.skip(lead).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let mut out = NumText {
        buf: [0; 48],
        len: 0,
    };
    if digits.is_empty() {
        out.buf[0] = b'0';
        out.len = 1;
        return Ok(out);
    }
    if digits.len() > NUMBER_MAX_DIGITS {
        return Err(range(&format!(
            "has {} significant digits; NUMBER holds at most {NUMBER_MAX_DIGITS}",
            digits.len()
        )));
    }
    let point = int.len() as i32 - lead as i32 + exp;
    if !(-129..=126).contains(&point) {
        return Err(range("is out of range for NUMBER (1e-130 to 1e126)"));
    }
    let exp = point - digits.len() as i32;
    let mut s = String::with_capacity(48);
    if neg {
        s.push('-');
    }
    s.push_str(std::str::from_utf8(&digits).expect("digits"));
    if exp != 0 {
        s.push('e');
        s.push_str(&exp.to_string());
    }
    out.buf[..s.len()].copy_from_slice(s.as_bytes());
    out.len = s.len() as u8;
    Ok(out)
}

/// Rust's float grammar (with `inf`, `infinity` and `NaN`, which
/// BINARY_DOUBLE holds), for a BINARY_FLOAT or BINARY_DOUBLE column.
pub fn float(column: &str, text: &str) -> Result<f64, Bad> {
    text.parse()
        .map_err(|_| bad("bad_float", column, text, "is not a float"))
}

/// `YYYY-MM-DD` or `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]` (the parser's ISO
/// forms), for a DATE (`whole_seconds`: a DATE has no fraction, which is
/// refused rather than dropped) or TIMESTAMP column.
pub fn time(column: &str, text: &str, whole_seconds: bool) -> Result<NaiveDateTime, Bad> {
    let raw = text.as_bytes();
    let (code, what) = match whole_seconds {
        true => ("bad_date", "a DATE"),
        false => ("bad_timestamp", "a TIMESTAMP"),
    };
    let t = match iso_date(raw) {
        Ok(d) => d.and_time(chrono::NaiveTime::MIN),
        // Date-sized: the date's own reason (`is not a valid date`).
        Err(why) if raw.len() <= 10 => return Err(bad(code, column, text, why)),
        Err(_) => iso_timestamp(raw).map_err(|why| {
            let why = why.replace("is not a timestamp", &format!("is not {what}"));
            bad(code, column, text, &why)
        })?,
    };
    if whole_seconds && t.nanosecond() != 0 {
        return Err(bad(
            code,
            column,
            text,
            "has a fraction of a second; an Oracle DATE holds whole seconds (use a TIMESTAMP column)",
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> String {
        number("n", s)
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|b| b.code.into())
    }

    #[test]
    fn decimals_are_exact_and_independent_of_the_decimal_character() {
        assert_eq!(num("12.50"), "125e-1");
        assert_eq!(num("-12.50"), "-125e-1");
        assert_eq!(num("+0012"), "12");
        assert_eq!(num("1200"), "12e2");
        assert_eq!(num("0.005"), "5e-3");
        assert_eq!(num(".5"), "5e-1");
        assert_eq!(num("5."), "5");
        assert_eq!(num("0"), "0");
        assert_eq!(num("-0.00"), "0");
        assert_eq!(num("1.5E+3"), "15e2");
        assert_eq!(num("2e-3"), "2e-3");
        let big = "12345678901234567890123456789012345678.9";
        assert_eq!(num(big), "123456789012345678901234567890123456789e-1");
        // What the crate checks before handing it to ODPI-C.
        for s in ["125e-1", "-125e-1", "12", "0"] {
            assert!(
                s.bytes().all(|b| b.is_ascii_digit() || b"-e".contains(&b)),
                "{s}"
            );
        }
    }

    #[test]
    fn text_that_is_not_a_plain_decimal_is_refused_not_converted_by_nls() {
        for s in [
            "12,50", " 12", "12 ", "1.2.3", "", "-", ".", "e5", "1e", "NaN", "1,000", "0x10",
        ] {
            assert_eq!(num(s), "bad_decimal", "{s:?}");
        }
        let e = number("amount", "12,50").unwrap_err();
        assert_eq!(e.reason, "amount: \"12,50\" is not a number");
        assert_eq!(num(&"9".repeat(41)), "out_of_range");
        assert_eq!(num("1e126"), "out_of_range");
        assert_eq!(num("9.99e125"), "999e123");
        assert_eq!(num("1e-130"), "1e-130");
        assert_eq!(num("1e-131"), "out_of_range");
        assert_eq!(num("1e99999"), "out_of_range");
    }

    #[test]
    fn floats() {
        assert_eq!(float("f", "1.5"), Ok(1.5));
        assert_eq!(float("f", "-inf"), Ok(f64::NEG_INFINITY));
        assert!(float("f", "NaN").unwrap().is_nan());
        assert_eq!(float("f", "1,5").unwrap_err().code, "bad_float");
    }

    #[test]
    fn iso_dates_and_timestamps_whatever_nls_date_format_says() {
        let t = |s: &str, whole| time("d", s, whole);
        let at = |y, m, d, h, mi, s, ns| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_nano_opt(h, mi, s, ns)
                .unwrap()
        };
        assert_eq!(t("2024-02-29", true), Ok(at(2024, 2, 29, 0, 0, 0, 0)));
        assert_eq!(
            t("2024-02-29 10:11:12", true),
            Ok(at(2024, 2, 29, 10, 11, 12, 0))
        );
        assert_eq!(
            t("2024-02-29T10:11", false),
            Ok(at(2024, 2, 29, 10, 11, 0, 0))
        );
        assert_eq!(
            t("2024-02-29 10:11:12.345", false),
            Ok(at(2024, 2, 29, 10, 11, 12, 345_000_000))
        );
        let e = t("2024-02-29 10:11:12.5", true).unwrap_err();
        assert_eq!(e.code, "bad_date");
        assert!(e.reason.contains("holds whole seconds"), "{e:?}");
        let e = t("29-FEB-24", true).unwrap_err();
        assert_eq!(e.code, "bad_date");
        assert!(
            e.reason.starts_with("d: \"29-FEB-24\" is not a date"),
            "{e:?}"
        );
        let e = t("29-FEB-2024 10:00", true).unwrap_err();
        assert!(
            e.reason
                .starts_with("d: \"29-FEB-2024 10:00\" is not a DATE"),
            "{e:?}"
        );
        assert_eq!(t("2024-02-30", false).unwrap_err().code, "bad_timestamp");
        assert_eq!(
            t("2024-02-29 10:11+01:00", false).unwrap_err().code,
            "bad_timestamp"
        );
    }
}
