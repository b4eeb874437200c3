//! Values of `torrent set` and `limits`: rates with units, ratios, durations, each
//! also `none` (no limit) and, per torrent, `global` (the session's default).

use ccbt_daemon::api_types::{LimitKeyword, LimitSetting, QueueMove};

use crate::size::parse_size;

/// A rate: `0`/`none`/`unlimited` = no limit, `global` = the session's default,
/// else bytes/s with an optional binary unit and `/s`: `500K`, `10M`, `10MiB/s`, `1G`.
pub fn parse_rate(arg: &str) -> Result<LimitSetting<u64>, String> {
    if let Some(keyword) = keyword(arg) {
        return Ok(keyword);
    }
    let lower = arg.trim().to_ascii_lowercase();
    let s = lower.strip_suffix("/s").unwrap_or(&lower);
    let s = s.strip_suffix("ib").or_else(|| s.strip_suffix('b')).unwrap_or(s);
    let bytes = parse_size(s).map_err(|_| format!("'{arg}' is not a rate (examples: 500K, 10M, 10MiB/s, none)"))?;
    Ok(if bytes == 0 {
        LimitSetting::Keyword(LimitKeyword::None)
    } else {
        LimitSetting::Value(bytes)
    })
}

/// A rate for the session's own limits, where `global` means nothing.
pub fn parse_session_rate(arg: &str) -> Result<LimitSetting<u64>, String> {
    match parse_rate(arg)? {
        LimitSetting::Keyword(LimitKeyword::Global) => {
            Err("'global' is a torrent's setting; the session's limits take a rate or none".into())
        }
        other => Ok(other),
    }
}

/// A share ratio: a number >= 0, `none` or `global`.
pub fn parse_ratio(arg: &str) -> Result<LimitSetting<f64>, String> {
    if let Some(keyword) = keyword(arg) {
        return Ok(keyword);
    }
    match arg.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(LimitSetting::Value(r)),
        _ => Err(format!(
            "'{arg}' is not a ratio (a number such as 2 or 1.5, none, or global)"
        )),
    }
}

/// A duration in seconds: `3600`, `90m`, `2h`, `1d12h`, `1w`, `none` or `global`.
pub fn parse_duration_secs(arg: &str) -> Result<LimitSetting<u64>, String> {
    if let Some(keyword) = keyword(arg) {
        return Ok(keyword);
    }
    let bad = || format!("'{arg}' is not a duration (examples: 3600, 90m, 2h, 1d12h, none)");
    let s = arg.trim().to_ascii_lowercase();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(LimitSetting::Value(secs));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
    }
    if !digits.is_empty() {
        // A bare number after a unit ("1h30") is ambiguous.
        return Err(bad());
    }
    Ok(LimitSetting::Value(total))
}

/// `top`, `up`, `down`, `bottom`, or a position counted from 1 as `queue list` shows.
pub fn parse_queue_move(arg: &str) -> Result<QueueMove, String> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "top" => Ok(QueueMove::Top),
        "up" => Ok(QueueMove::Up),
        "down" => Ok(QueueMove::Down),
        "bottom" => Ok(QueueMove::Bottom),
        other => match other.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(QueueMove::Position(n - 1)),
            _ => Err(format!(
                "'{arg}' is not a queue move (top, up, down, bottom, or a position from 1)"
            )),
        },
    }
}

/// `on`/`off` (also yes/no, true/false, 1/0).
pub fn parse_on_off(arg: &str) -> Result<bool, String> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("'{arg}' is neither on nor off")),
    }
}

fn keyword<T>(arg: &str) -> Option<LimitSetting<T>> {
    match arg.trim().to_ascii_lowercase().as_str() {
        "none" | "unlimited" | "off" => Some(LimitSetting::Keyword(LimitKeyword::None)),
        "global" | "default" => Some(LimitSetting::Keyword(LimitKeyword::Global)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: LimitSetting<u64> = LimitSetting::Keyword(LimitKeyword::None);

    #[test]
    fn rates_take_units_and_keywords() {
        assert_eq!(parse_rate("1048576"), Ok(LimitSetting::Value(1 << 20)));
        assert_eq!(parse_rate("500K"), Ok(LimitSetting::Value(500 * 1024)));
        assert_eq!(parse_rate("10M"), Ok(LimitSetting::Value(10 << 20)));
        assert_eq!(parse_rate("10MB"), Ok(LimitSetting::Value(10 << 20)));
        assert_eq!(parse_rate("10MiB/s"), Ok(LimitSetting::Value(10 << 20)));
        assert_eq!(parse_rate("1g/s"), Ok(LimitSetting::Value(1 << 30)));
        assert_eq!(parse_rate("0"), Ok(NONE));
        assert_eq!(parse_rate("none"), Ok(NONE));
        assert_eq!(parse_rate("Global"), Ok(LimitSetting::Keyword(LimitKeyword::Global)));
        for bad in ["fast", "10X", "-5", "", "M"] {
            assert!(parse_rate(bad).unwrap_err().contains(&format!("'{bad}'")), "{bad}");
        }
        assert!(parse_session_rate("global").is_err());
        assert_eq!(parse_session_rate("2M"), Ok(LimitSetting::Value(2 << 20)));
    }

    #[test]
    fn ratios_and_durations() {
        assert_eq!(parse_ratio("1.5"), Ok(LimitSetting::Value(1.5)));
        assert_eq!(parse_ratio("none"), Ok(LimitSetting::Keyword(LimitKeyword::None)));
        assert!(parse_ratio("-1").is_err());
        assert!(parse_ratio("NaN").is_err());
        assert_eq!(parse_duration_secs("3600"), Ok(LimitSetting::Value(3600)));
        assert_eq!(parse_duration_secs("90m"), Ok(LimitSetting::Value(5400)));
        assert_eq!(parse_duration_secs("1d12h"), Ok(LimitSetting::Value(129_600)));
        assert_eq!(parse_duration_secs("1w"), Ok(LimitSetting::Value(604_800)));
        for bad in ["1h30", "h", "2y", "", "99999999999999999999w"] {
            assert!(parse_duration_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queue_moves_count_positions_from_one() {
        assert_eq!(parse_queue_move("top"), Ok(QueueMove::Top));
        assert_eq!(parse_queue_move("Down"), Ok(QueueMove::Down));
        assert_eq!(parse_queue_move("1"), Ok(QueueMove::Position(0)));
        assert_eq!(parse_queue_move("5"), Ok(QueueMove::Position(4)));
        assert!(parse_queue_move("0").is_err());
        assert!(parse_queue_move("sideways").is_err());
        assert_eq!(parse_on_off("ON"), Ok(true));
        assert!(parse_on_off("maybe").is_err());
    }
}
