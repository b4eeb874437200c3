//! Rates and durations as people write them in the config: `512K`, `10M`, `1.5G`
//! (bytes/s, binary units as `ccbt --max-*`), `30s`, `15m`, `2h`, `1h30m`; and
//! back, for showing effective values the way a user would write them.

use std::time::Duration;

/// Parses a rate in bytes/s: a number with an optional `K`, `M`, `G` or `T`
/// (powers of 1024), optionally followed by `B`/`iB` and `/s`.
pub fn parse_rate(value: &str) -> Result<u64, String> {
    let bad = || format!("'{value}' is not a rate (examples: 65536, 512K, 10M, 1.5G)");
    let mut s = value.trim();
    s = s.strip_suffix("/s").unwrap_or(s);
    for unit in ["iB", "ib", "B", "b"] {
        if let Some(rest) = s.strip_suffix(unit) {
            s = rest;
            break;
        }
    }
    let (number, multiplier) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let power = match c.to_ascii_uppercase() {
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                _ => return Err(bad()),
            };
            (&s[..i], 1024f64.powi(power))
        }
        _ => (s, 1.0),
    };
    let number = number.trim();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    let bytes = (n * multiplier).floor();
    // 2^64 is exactly representable; anything at or above it does not fit.
    if !bytes.is_finite() || bytes >= 18_446_744_073_709_551_616.0 {
        return Err(format!("'{value}' is too large"));
    }
    Ok(bytes as u64)
}

/// Parses a duration: one or more `<integer><unit>` with units `s`, `m`, `h`, `d`
/// (`90s`, `15m`, `1h30m`, `2d`), or a bare integer of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("'{value}' is not a duration (examples: 30s, 15m, 2h, 1h30m, 7d)");
    let s = value.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(seconds)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{value}' is too long"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    Ok(Duration::from_secs(total))
}

/// A rate as the config would write it: the largest binary unit that divides it
/// (`10M`, `1536K`), else plain bytes.
pub fn format_rate(bytes: u64) -> String {
    for (unit, power) in [("T", 4), ("G", 3), ("M", 2), ("K", 1)] {
        let size = 1u64 << (10 * power);
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// A duration as the config would write it: `2h`, `1h30m`, `45s`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_with_units() {
        assert_eq!(parse_rate("65536"), Ok(65536));
        assert_eq!(parse_rate("512K"), Ok(512 * 1024));
        assert_eq!(parse_rate("10M"), Ok(10 << 20));
        assert_eq!(parse_rate("1g"), Ok(1 << 30));
        assert_eq!(parse_rate("1.5M"), Ok(3 << 19));
        assert_eq!(parse_rate("10MiB/s"), Ok(10 << 20));
        assert_eq!(parse_rate("2 KB"), Ok(2048));
        assert_eq!(parse_rate("100B/s"), Ok(100));
        for bad in ["", "M", "ten", "10X", "-5M", "1e3", "10 M M", "1.2.3K"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_rate("10Q"),
            Err("'10Q' is not a rate (examples: 65536, 512K, 10M, 1.5G)".into())
        );
        assert_eq!(parse_rate("99999999999T"), Err("'99999999999T' is too large".into()));
    }

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        for bad in ["", "h", "10x", "1.5h", "-1s", "10 s", "1h30"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err("'99999999999999999999d' is not a duration (examples: 30s, 15m, 2h, 1h30m, 7d)".into())
        );
        assert_eq!(
            parse_duration("999999999999999999d"),
            Err("'999999999999999999d' is too long".into())
        );
    }

    #[test]
    fn formatting_reads_back_the_same() {
        for bytes in [0, 1, 1000, 1024, 1536, 10 << 20, 3 << 30, (1 << 40) + 1] {
            assert_eq!(parse_rate(&format_rate(bytes)), Ok(bytes), "{bytes}");
        }
        assert_eq!(format_rate(10 << 20), "10M");
        for secs in [0, 1, 59, 60, 5400, 86_400, 90_061] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{secs}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
