//! Ports of the go-units functions whose output Docker users see: `HumanSizeWithPrecision`,
//! `HumanSize` and `HumanDuration`, including Go's `%g` formatting quirks (`1e+03kB`).

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Go's `fmt.Sprintf("%.*g", precision, v)` for finite, non-negative values.
pub fn go_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    if v == 0.0 {
        return "0".into();
    }
    // Round to p significant digits first; the exponent of the rounded value decides the form.
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `units.HumanSizeWithPrecision`: decimal units, lowercase `kB`, no space.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < DECIMAL_UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), DECIMAL_UNITS[i])
}

/// `units.HumanSize` (4 significant digits).
pub fn human_size(size: u64) -> String {
    human_size_with_precision(size as f64, 4)
}

const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// `units.BytesSize`: binary units (`KiB`, `MiB`, …), `%.4g`, no space (`docker info`'s Total Memory).
pub fn bytes_size(size: f64) -> String {
    let mut size = size;
    let mut i = 0;
    while size >= 1024.0 && i < BINARY_UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 4), BINARY_UNITS[i])
}

/// `units.HumanDuration`.
pub fn human_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sizes_like_go_units() {
        for (n, want) in [
            (0u64, "0B"),
            (7, "7B"),
            (1_090_000, "1.09MB"),
            (124_000_000, "124MB"),
            (77_900_000, "77.9MB"),
            (1_210_000_000, "1.21GB"),
            (999_500, "1e+03kB"),
            (1000, "1kB"),
            (5_242_880, "5.24MB"),
        ] {
            assert_eq!(human_size_with_precision(n as f64, 3), want, "{n}");
        }
        assert_eq!(human_size(3_146_000), "3.146MB");
        assert_eq!(human_size(29_130_000), "29.13MB");
        assert_eq!(go_g(0.0001234, 3), "0.000123");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn binary_sizes_like_go_units() {
        for (n, want) in [
            (0u64, "0B"),
            (1023, "1023B"),
            (1024, "1KiB"),
            (1536, "1.5KiB"),
            (1_048_576, "1MiB"),
            (24_681_236 * 1024, "23.54GiB"),
            (5 * 1024 * 1024 * 1024 * 1024, "5TiB"),
            // %.4g rounds 1023.99... KiB to four digits: 1024KiB, not 1MiB.
            (1_048_575, "1024KiB"),
        ] {
            assert_eq!(bytes_size(n as f64), want, "{n}");
        }
    }

    #[test]
    fn durations_like_go_units() {
        let h = 3600;
        for (s, want) in [
            (0u64, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (59 * 60, "59 minutes"),
            (h, "About an hour"),
            (h + 29 * 60, "About an hour"),
            (h + 31 * 60, "2 hours"),
            (47 * h, "47 hours"),
            (48 * h, "2 days"),
            (20 * 24 * h, "2 weeks"),
            (45 * 24 * h, "6 weeks"),
            (70 * 24 * h, "2 months"),
            (800 * 24 * h, "2 years"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(s)), want, "{s}");
        }
    }
}
