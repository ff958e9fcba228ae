//! Small helpers for virtual time: microsecond conversions and short human formatting.

use synack::{Duration, Instant};

/// A duration in whole microseconds (saturating).
pub fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

/// `90s`, `1.5s`, `200ms`, `40us`: the shortest exact-looking form for ladder notes.
pub fn short(d: Duration) -> String {
    let us = micros(d);
    if us == 0 {
        "0s".to_string()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000_000 && us.is_multiple_of(1_000) {
        format!("{}s", trim(format!("{:.3}", us as f64 / 1e6)))
    } else if us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}us")
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Seconds since zero with millisecond precision, like `Instant`'s Display (`63.000s`).
pub fn stamp(t: Instant) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(short(Duration::from_secs(90)), "90s");
        assert_eq!(short(Duration::from_millis(1500)), "1.5s");
        assert_eq!(short(Duration::from_millis(200)), "200ms");
        assert_eq!(short(Duration::from_micros(40)), "40us");
        assert_eq!(short(Duration::ZERO), "0s");
        assert_eq!(stamp(Instant::from_millis(63_010)), "63.010s");
    }
}
