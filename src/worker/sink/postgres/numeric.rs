//! PostgreSQL's binary `numeric`, built exactly from decimal digits (never
//! through a float), and the decimal text grammar the sink accepts when it
//! must turn text into a number itself.
//!
//! Owns the wire layout only: `ndigits, weight, sign, dscale` (all 16-bit,
//! big-endian) followed by base-10000 digits. Knows no rows, cells or
//! connections.

/// Sign words of the binary format.
const POS: u16 = 0x0000;
const NEG: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PINF: u16 = 0xD000;
const NINF: u16 = 0xF000;

/// Largest display scale the server keeps (`NUMERIC_DSCALE_MAX`).
pub const MAX_SCALE: usize = 0x3FFF;

/// A decimal number as sign, ASCII digits and scale: `-12.50` is
/// `(true, b"1250", 2)`. Digits may carry leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decimal<'a> {
    Finite {
        neg: bool,
        digits: &'a [u8],
        scale: usize,
    },
    NaN,
    Infinity {
        neg: bool,
    },
}

/// Appends the payload (no length word) of `value` as binary numeric.
/// `groups` is scratch space, reused between calls.
pub fn push(out: &mut Vec<u8>, value: &Decimal<'_>, groups: &mut Vec<u16>) {
    let (neg, digits, scale) = match *value {
        Decimal::Finite { neg, digits, scale } => (neg, digits, scale),
        Decimal::NaN => return header(out, 0, 0, NAN, 0),
        Decimal::Infinity { neg } => return header(out, 0, 0, if neg { NINF } else { PINF }, 0),
    };
    groups.clear();
    let int_len = digits.len() as isize - scale as isize;
    // Pad on the left so the integer part is whole groups of 4 digits, and
    // (below) on the right so the fraction is too; then group by 4.
    let lead = if int_len > 0 {
        (4 - int_len % 4) % 4
    } else {
        // A pure fraction: the digits start -int_len places after the point.
        -int_len
    } as usize;
    let int_groups = if int_len > 0 {
        (int_len as usize + lead) / 4
    } else {
        0
    };
    let total = lead + digits.len();
    let padded = total.div_ceil(4) * 4;
    let digit_at = |i: usize| -> u16 {
        if i < lead || i >= total {
            0
        } else {
            u16::from(digits[i - lead] - b'0')
        }
    };
    for g in 0..padded / 4 {
        let i = g * 4;
        groups.push(
            digit_at(i) * 1000 + digit_at(i + 1) * 100 + digit_at(i + 2) * 10 + digit_at(i + 3),
        );
    }
    // weight: power of 10000 of the first group.
    let mut weight = int_groups as isize - 1;
    let first = groups.iter().position(|&g| g != 0);
    let Some(first) = first else {
        // Zero: no digits, positive, the given scale.
        return header(out, 0, 0, POS, scale as u16);
    };
    let last = groups.iter().rposition(|&g| g != 0).unwrap_or(first);
    weight -= first as isize;
    let kept = &groups[first..=last];
    header(
        out,
        kept.len() as u16,
        weight as i16,
        if neg { NEG } else { POS },
        scale as u16,
    );
    for g in kept {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

fn header(out: &mut Vec<u8>, ndigits: u16, weight: i16, sign: u16, dscale: u16) {
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
}

/// The ASCII digits of `|m|` written at the end of `buf`; returns them.
pub fn mantissa_digits(m: i128, buf: &mut [u8; 40]) -> &[u8] {
    let mut v = m.unsigned_abs();
    let mut pos = buf.len();
    // u64 division is several times cheaper than u128's: switch once it fits.
    while v > u128::from(u64::MAX) {
        pos -= 1;
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut small = v as u64;
    loop {
        pos -= 1;
        buf[pos] = b'0' + (small % 10) as u8;
        small /= 10;
        if small == 0 {
            break;
        }
    }
    &buf[pos..]
}

/// Why decimal text was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TextErr {
    Syntax,
    /// An exponent or scale beyond what numeric holds.
    Range,
}

/// Parses `[+-]digits[.digits][e[+-]digits]` (either digit run may be
/// empty, not both), `NaN`, `Infinity`/`inf` with a sign, as the server's
/// `numeric_in` does. Digits are copied into `buf` (the exponent can move
/// the point past them, adding zeros).
pub fn parse<'b>(text: &str, buf: &'b mut Vec<u8>) -> Result<Decimal<'b>, TextErr> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.eq_ignore_ascii_case("nan") {
        return if body.len() == text.len() {
            Ok(Decimal::NaN)
        } else {
            Err(TextErr::Syntax)
        };
    }
    if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
        return Ok(Decimal::Infinity { neg });
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(k) => {
            let e = &body[k + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TextErr::Syntax);
            }
            // The server refuses exponents beyond +-1000 too.
            let e: i64 = e.parse().map_err(|_| TextErr::Range)?;
            if e.abs() > 1000 {
                return Err(TextErr::Range);
            }
            (&body[..k], e)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !all_digits(int) || !all_digits(frac) {
        return Err(TextErr::Syntax);
    }
    buf.clear();
    buf.extend_from_slice(int.as_bytes());
    buf.extend_from_slice(frac.as_bytes());
    let mut scale = frac.len() as i64 - exp;
    if scale < 0 {
        buf.extend(std::iter::repeat_n(b'0', (-scale) as usize));
        scale = 0;
    }
    if scale as usize > MAX_SCALE {
        return Err(TextErr::Range);
    }
    Ok(Decimal::Finite {
        neg,
        digits: buf,
        scale: scale as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (ndigits, weight, sign, dscale, digits) of an encoded numeric.
    fn decode(b: &[u8]) -> (u16, i16, u16, u16, Vec<u16>) {
        let w = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let n = w(0);
        let digits = (0..n as usize).map(|k| w(8 + 2 * k)).collect();
        assert_eq!(b.len(), 8 + 2 * n as usize);
        (n, w(2) as i16, w(4), w(6), digits)
    }

    fn enc(text: &str) -> (u16, i16, u16, u16, Vec<u16>) {
        let mut buf = Vec::new();
        let d = parse(text, &mut buf).expect(text);
        let mut out = Vec::new();
        push(&mut out, &d, &mut Vec::new());
        decode(&out)
    }

    #[test]
    fn layout_matches_the_servers() {
        // Values and layouts as numeric_send produces them.
        assert_eq!(enc("12.50"), (2, 0, POS, 2, vec![12, 5000]));
        assert_eq!(enc("-12.50"), (2, 0, NEG, 2, vec![12, 5000]));
        assert_eq!(enc("146.00"), (1, 0, POS, 2, vec![146]));
        assert_eq!(enc("0.005"), (1, -1, POS, 3, vec![50]));
        assert_eq!(enc("0"), (0, 0, POS, 0, vec![]));
        assert_eq!(enc("-0.00"), (0, 0, POS, 2, vec![]));
        assert_eq!(enc("10000"), (1, 1, POS, 0, vec![1]));
        assert_eq!(
            enc("123456789.0123"),
            (4, 2, POS, 4, vec![1, 2345, 6789, 123])
        );
        assert_eq!(enc("0.00001"), (1, -2, POS, 5, vec![1000]));
        assert_eq!(enc("1e5"), (1, 1, POS, 0, vec![10]));
        assert_eq!(enc("1.5E-3"), (1, -1, POS, 4, vec![15]));
        assert_eq!(enc(".5"), (1, -1, POS, 1, vec![5000]));
        assert_eq!(enc("5."), (1, 0, POS, 0, vec![5]));
        assert_eq!(enc("007"), (1, 0, POS, 0, vec![7]));
        assert_eq!(enc("NaN").2, NAN);
        assert_eq!(enc("-Infinity").2, NINF);
        assert_eq!(enc("inf").2, PINF);
    }

    #[test]
    fn mantissas_of_any_size() {
        let mut buf = [0u8; 40];
        assert_eq!(mantissa_digits(0, &mut buf), b"0");
        assert_eq!(mantissa_digits(-1250, &mut buf), b"1250");
        let min = mantissa_digits(i128::MIN, &mut buf).to_vec();
        assert_eq!(min, b"170141183460469231731687303715884105728");
        let mut out = Vec::new();
        let d = Decimal::Finite {
            neg: true,
            digits: &min,
            scale: 38,
        };
        push(&mut out, &d, &mut Vec::new());
        let (n, weight, sign, dscale, digits) = decode(&out);
        assert_eq!((n, weight, sign, dscale), (11, 0, NEG, 38));
        assert_eq!(digits[0], 1);
        assert_eq!(digits[1], 7014);
        assert_eq!(digits[10], 2800);
    }

    #[test]
    fn bad_text() {
        let mut buf = Vec::new();
        for t in [
            "", "-", ".", "1.2.3", "1e", "e5", "1,5", "N/A", "--1", "1e+", "0x10", "+nan",
        ] {
            assert_eq!(parse(t, &mut buf), Err(TextErr::Syntax), "{t:?}");
        }
        assert_eq!(parse("1e1001", &mut buf), Err(TextErr::Range));
        assert_eq!(parse("1e-20000", &mut buf), Err(TextErr::Range));
    }
}
