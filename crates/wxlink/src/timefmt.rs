//! Time in and out: the clock in ms, parsing `--since`/`--until` (ISO 8601 or unix ms), ISO
//! 8601 for JSON output, and "3 min ago" for people.

use chrono::{DateTime, Datelike, Local, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Parses a point in time: unix milliseconds (all digits), or ISO 8601 — a date, a date and
/// time, with or without an offset (without one it is local time).
pub fn parse_time(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("{t:?} is too large for unix milliseconds"));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return local_ms(naive, t);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(naive) = date.and_hms_opt(0, 0, 0) {
            return local_ms(naive, t);
        }
    }
    Err(format!(
        "cannot read {t:?} as a time: use ISO 8601 (2026-11-22, 2026-11-22T09:30, 2026-11-22T09:30:00+08:00) or unix milliseconds"
    ))
}

fn local_ms(naive: NaiveDateTime, original: &str) -> Result<i64, String> {
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.timestamp_millis())
        .ok_or_else(|| format!("{original:?} does not exist in the local time zone"))
}

/// ISO 8601 in UTC with milliseconds, e.g. `2026-11-22T12:00:00.000Z`.
pub fn iso(ms: i64) -> String {
    let Some(dt) = Utc.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    if !(0..=9999).contains(&dt.year()) {
        return dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Every message in every list goes through here: digits written straight into the string,
    // not strftime (which parses its pattern on each call) nor `format!` (a formatter call
    // per field: a twentieth of a history page's CPU time).
    let mut out = String::with_capacity(24);
    let mut digits = |n: u32, width: u32, then: char| {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(p) % 10) as u8));
        }
        out.push(then);
    };
    digits(dt.year() as u32, 4, '-');
    digits(dt.month(), 2, '-');
    digits(dt.day(), 2, 'T');
    digits(dt.hour(), 2, ':');
    digits(dt.minute(), 2, ':');
    digits(dt.second(), 2, '.');
    digits(dt.timestamp_subsec_millis().min(999), 3, 'Z');
    out
}

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago", or a date for older times.
pub fn relative(ms: i64, now: i64) -> String {
    let secs = (now - ms) / 1000;
    match secs {
        s if s < 5 => "just now".into(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s if s < 7 * 86_400 => format!("{} d ago", s / 86_400),
        _ => Local
            .timestamp_millis_opt(ms)
            .single()
            .map(|dt| dt.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unix_ms_and_iso_8601() {
        assert_eq!(parse_time("1779198804723"), Ok(1779198804723));
        assert_eq!(parse_time("2026-01-02T03:04:05Z"), Ok(1767323045000));
        assert_eq!(parse_time("2026-01-02T11:04:05+08:00"), Ok(1767323045000));
        assert!(parse_time("2026-01-02").is_ok());
        assert!(parse_time("2026-01-02 03:04").is_ok());
        let err = parse_time("yesterday").unwrap_err();
        assert!(err.contains("ISO 8601"), "{err}");
        assert!(parse_time("99999999999999999999").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(iso(1767323045000), "2026-01-02T03:04:05.000Z");
        assert_eq!(iso(1767323045987), "2026-01-02T03:04:05.987Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        // Outside four-digit years: what strftime writes.
        assert_eq!(iso(253_402_300_800_000), "+10000-01-01T00:00:00.000Z");
        assert_eq!(iso(i64::MAX), "");
        // Across the four-digit years, the digits written by hand are strftime's.
        let mut ms: i64 = -62_167_219_200_000; // year 0
        while ms < 253_402_300_800_000 {
            let dt = Utc.timestamp_millis_opt(ms).single().unwrap();
            assert_eq!(iso(ms), dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            ms += 7_777_777_777_123;
        }
        let now = 1_000_000_000;
        assert_eq!(relative(now - 1000, now), "just now");
        assert_eq!(relative(now - 42_000, now), "42 s ago");
        assert_eq!(relative(now - 300_000, now), "5 min ago");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3 h ago");
    }
}
