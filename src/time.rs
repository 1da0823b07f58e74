//! Timestamps and durations as users read and write them (`45s`, `30m`, `2h`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now (the unit of every timestamp in records).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The last millisecond RFC 3339 can show (9999-12-31T23:59:59Z): humantime fails to
/// format anything later, and a hand-edited record must not make `show` panic.
const LAST_RFC3339_MS: u64 = 253_402_300_799_000;

/// RFC 3339 in UTC, second precision, from milliseconds since the epoch.
pub fn rfc3339(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.min(LAST_RFC3339_MS));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// RFC 3339 in UTC with milliseconds (event timestamps), from milliseconds since the epoch.
pub fn rfc3339_millis(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.min(LAST_RFC3339_MS));
    humantime::format_rfc3339_millis(t).to_string()
}

/// The longest duration accepted anywhere (timeouts): a year. Anything longer means "no
/// limit", which is what leaving the timeout out says; and a deadline must stay a point
/// in time the clock can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parse a duration such as `45s`, `30m`, `2h` or `1h30m`. A bare number means seconds.
/// Zero and anything beyond [`MAX_DURATION`] are refused with the rule.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let too_long = || "too long: at most 365d".to_string();
    let d = if t.bytes().all(|b| b.is_ascii_digit()) {
        // Every digit string is a valid u64 unless it overflows.
        Duration::from_secs(t.parse().map_err(|_| too_long())?)
    } else {
        humantime::parse_duration(t).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_long(),
            _ => "expected a duration such as 45s, 30m, 2h".to_string(),
        })?
    };
    if d.is_zero() {
        return Err("duration must be greater than zero".into());
    }
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// The instant `d` from now, or `None` (no deadline) when the clock cannot hold it.
pub fn deadline(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// A short human duration: `850ms`, `12s`, `3m04s`, `2h05m`, `3d04h`.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return format!("{}ms", d.as_millis());
    }
    if s < 60 {
        return format!("{s}s");
    }
    if s < 3600 {
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    if s < 86400 {
        return format!("{}h{:02}m", s / 3600, (s % 3600) / 60);
    }
    format!("{}d{:02}h", s / 86400, (s % 86400) / 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_duration("365d").unwrap(), MAX_DURATION);
        for huge in [
            "366d",
            "18446744073709551615",
            "18446744073709551616",
            "18446744073709551615s",
            "99999999999999999999999h",
            "1000000000y",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("at most 365d"), "{huge}: {e}");
        }
    }

    #[test]
    fn far_times_never_panic() {
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
        assert!(deadline(Duration::MAX).is_none());
        assert!(deadline(MAX_DURATION).is_some());
    }

    #[test]
    fn short_format() {
        assert_eq!(short(Duration::from_millis(850)), "850ms");
        assert_eq!(short(Duration::from_secs(184)), "3m04s");
        assert_eq!(short(Duration::from_secs(7500)), "2h05m");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
