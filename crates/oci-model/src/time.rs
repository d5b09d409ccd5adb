//! Time stamps as container images and Docker write them: RFC 3339 in UTC, parsed and
//! formatted here once (no time-zone database needed; local-time rendering for people stays
//! in the CLI).

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (UTC, no fraction); the date is the inverse of
/// [`days_from_civil`].
pub fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → Unix seconds (fraction dropped).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    parse_rfc3339_nanos(s).map(|(secs, _)| secs)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → Unix seconds and the nanoseconds of the fraction
/// (digits past the ninth dropped, as Go's parser does).
pub fn parse_rfc3339_nanos(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset;
    Some((secs, nanos))
}

/// Unix seconds and nanoseconds → `YYYY-MM-DDTHH:MM:SS[.frac]Z`, the fraction without trailing
/// zeros (Go's `time.RFC3339Nano`).
pub fn rfc3339_nanos_utc(secs: u64, nanos: u32) -> String {
    let base = rfc3339_utc(secs);
    if nanos == 0 {
        return base;
    }
    let frac = format!("{nanos:09}");
    format!(
        "{}.{}Z",
        &base[..base.len() - 1],
        frac.trim_end_matches('0')
    )
}

/// Now, as [`rfc3339_nanos_utc`].
pub fn now_rfc3339() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_nanos_utc(d.as_secs(), d.subsec_nanos())
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_formats_and_round_trips() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        for secs in [0, 951_825_600, 1_706_315_456, 4_107_542_399] {
            assert_eq!(parse_rfc3339(&rfc3339_utc(secs)), Some(secs as i64));
        }
    }

    #[test]
    fn created_times() {
        let at = |s: &str| parse_rfc3339(s);
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(at("2024-01-27T00:30:56.150969528Z"), Some(1_706_315_456));
        assert_eq!(at("2024-01-27T02:30:56+02:00"), Some(1_706_315_456));
        assert_eq!(at("2024-01-26T23:30:56-01:00"), Some(1_706_315_456));
        assert_eq!(at("2000-02-29T12:00:00Z"), Some(951_825_600));
        assert_eq!(at("0001-01-01T00:00:00Z"), Some(-62_135_596_800));
        for bad in [
            "",
            "2024-01-27",
            "2024-13-01T00:00:00Z",
            "2024-01-27T00:30:56",
            "2024-01-27T00:30:56.Z",
            "2024-01-27T00:30:56Zjunk",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn fractions_round_trip() {
        assert_eq!(
            parse_rfc3339_nanos("2024-01-27T00:30:56.150969528Z"),
            Some((1_706_315_456, 150_969_528))
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-01-27T00:30:56.15Z"),
            Some((1_706_315_456, 150_000_000))
        );
        assert_eq!(
            parse_rfc3339_nanos("2024-01-27T00:30:56.1234567891Z"),
            Some((1_706_315_456, 123_456_789))
        );
        assert_eq!(
            rfc3339_nanos_utc(1_706_315_456, 150_000_000),
            "2024-01-27T00:30:56.15Z"
        );
        assert_eq!(rfc3339_nanos_utc(0, 0), "1970-01-01T00:00:00Z");
        let now = now_rfc3339();
        assert!(
            parse_rfc3339(&now).is_some_and(|s| (s - now_unix()).abs() <= 1),
            "{now}"
        );
    }
}
