//! Durations (`"500ms"`, `"30s"`, `"5m"`, `"1h"`) and sizes (`"512KiB"`,
//! `"4MiB"`, `"1GiB"`, `"1000"`) as written in the configuration.
//!
//! Owns the text grammar of both and nothing else: range checks belong to
//! `validate`, TOML integers to `raw`. Must not know about keys or files.

use std::time::Duration;

/// Parses a duration: a whole number followed by `ms`, `s`, `m` or `h`
/// (spaces allowed between them). A bare number is refused because its unit
/// would be a guess; TOML integers (seconds) are handled by the caller.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(s).ok_or_else(|| {
        format!("invalid duration {s:?}: expected a number and a unit, like \"30s\"")
    })?;
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: the number is too large"))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err(format!(
                "invalid duration {s:?}: add a unit (ms, s, m or h), like \"{n}s\""
            ));
        }
        _ => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {unit:?} (expected ms, s, m or h)"
            ));
        }
    };
    n.checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("invalid duration {s:?}: too large"))
}

/// Parses a size in bytes: a whole number, optionally followed by `B`, `KiB`,
/// `MiB` or `GiB` (powers of 1024; case-insensitive). `KB`/`MB`/`GB` are
/// refused rather than guessed, since people mean either 1000 or 1024.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (number, unit) = split_number(s).ok_or_else(|| {
        format!(
            "invalid size {s:?}: expected a number of bytes and an optional unit, like \"4MiB\""
        )
    })?;
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {s:?}: the number is too large"))?;
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "k" | "kb" | "m" | "mb" | "g" | "gb" => {
            return Err(format!(
                "invalid size {s:?}: ambiguous unit {unit:?} (use KiB, MiB or GiB, powers of 1024)"
            ));
        }
        _ => {
            return Err(format!(
                "invalid size {s:?}: unknown unit {unit:?} (expected B, KiB, MiB or GiB)"
            ));
        }
    };
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

/// Splits `" 30 s "` into `("30", "s")`. `None` when there are no leading digits.
fn split_number(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    Some((&s[..digits], s[digits..].trim_start()))
}

/// A duration for humans in messages: the largest unit that divides it
/// (as `parse_duration` reads it).
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_string(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

/// A size for humans in messages: the largest binary unit that divides it.
pub(crate) fn show_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(m, _)| n != 0 && n.is_multiple_of(*m))
        .map(|(m, unit)| format!("{}{unit}", n / m))
        .unwrap_or_else(|| format!("{n} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 5 m "), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "s", "30", "30x", "-1s", "1.5s", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_duration("30").unwrap_err().contains("add a unit"));
    }

    #[test]
    fn durations_are_shown_as_they_are_read() {
        for (ms, text) in [
            (0, "0s"),
            (700, "700ms"),
            (1_500, "1500ms"),
            (90_000, "90s"),
            (300_000, "5m"),
            (7_200_000, "2h"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(show_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("16B"), Ok(16));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("4 mib"), Ok(4 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        for bad in ["", "MiB", "4MB", "4k", "4 TiB", "-1", "20000000000GiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_size("4MB").unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn shown() {
        assert_eq!(show_duration(Duration::from_secs(60)), "1m");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_size(64 << 20), "64MiB");
        assert_eq!(show_size(16), "16 bytes");
    }
}
