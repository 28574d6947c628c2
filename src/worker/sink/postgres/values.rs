//! Single values between text and the server's binary forms: the words and layouts accepted
//! when a text cell feeds a boolean, float or timestamp column, and time
//! counted from the server's epoch (2000-01-01).
//!
//! Owns these conversions only; `encode.rs` decides when each applies.

use chrono::{NaiveDate, NaiveDateTime};

pub fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("2000-01-01 is a date")
}

/// Microseconds since 2000-01-01, rounded to the nearest as the server rounds.
pub fn micros(ts: NaiveDateTime) -> i64 {
    let d = ts.signed_duration_since(epoch());
    let secs = d.num_seconds();
    let nanos = i64::from(d.subsec_nanos());
    // subsec_nanos has the sign of the duration; round half away from zero.
    secs * 1_000_000 + (nanos + nanos.signum() * 500) / 1000
}

pub fn boolean(s: &str) -> Option<bool> {
    const WORDS: [(&str, bool); 12] = [
        ("true", true),
        ("false", false),
        ("t", true),
        ("f", false),
        ("yes", true),
        ("no", false),
        ("y", true),
        ("n", false),
        ("on", true),
        ("off", false),
        ("1", true),
        ("0", false),
    ];
    WORDS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(s))
        .map(|&(_, v)| v)
}

/// Rust's float grammar, plus the server's spellings of the infinities.
pub fn float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => Some(f64::INFINITY),
        "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

pub fn timestamp(s: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 3] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").ok())
}
