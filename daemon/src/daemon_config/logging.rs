//! `[logging]`: the log filter and the line format.
//!
//! ```toml
//! [logging]
//! level = "info"                   # a RUST_LOG filter: "debug", "warn,ccbt_io=debug", ...
//! format = "text"                  # or "json": one JSON object per line, for log shippers
//! ```
//!
//! `RUST_LOG` wins over `level`, and `--log-format` over `format`. The level can
//! change while the daemon runs (see [`crate::log_level`]); the format cannot.

use super::error::ConfigError;
use super::table_reader::TableReader;

/// Longest filter accepted.
pub const MAX_LOG_FILTER_LEN: usize = 1024;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human lines (colour only on a terminal).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, `span`, `spans`.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggingConfig {
    /// A `RUST_LOG`-style filter; none = the binary's default.
    pub level: Option<String>,
    pub format: LogFormat,
}

/// Checks a filter as `RUST_LOG` would take it.
pub fn check_log_filter(filter: &str) -> Result<(), String> {
    if filter.len() > MAX_LOG_FILTER_LEN {
        return Err(format!("longer than {MAX_LOG_FILTER_LEN} bytes"));
    }
    if filter.trim().is_empty() {
        return Err("an empty filter; leave the key out for the default".into());
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|e| format!("{filter:?} is not a log filter (examples: info, warn,ccbt_io=debug): {e}"))
}

pub(super) fn read_logging(t: &TableReader<'_, '_>, logging: &mut LoggingConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("level") {
        let level = f.string()?;
        check_log_filter(level).map_err(|e| f.bad_value(e))?;
        logging.level = Some(level.to_string());
    }
    if let Some(f) = t.field("format") {
        let s = f.string()?;
        logging.format =
            LogFormat::parse(s).ok_or_else(|| f.bad_value(format!("{s:?} is not \"text\" or \"json\"")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::daemon_config::DaemonConfig;

    #[test]
    fn level_and_format() {
        let c = DaemonConfig::from_toml(
            "[logging]\nlevel = \"warn,ccbt_io=debug\"\nformat = \"json\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(c.logging.level.as_deref(), Some("warn,ccbt_io=debug"));
        assert_eq!(c.logging.format, LogFormat::Json);
        for (text, key) in [
            ("[logging]\nformat = \"xml\"\n", "logging.format"),
            ("[logging]\nlevel = \"\"\n", "logging.level"),
            ("[logging]\nlevel = \"ccbt=loud\"\n", "logging.level"),
        ] {
            let e = DaemonConfig::from_toml(text, Path::new("c.toml")).unwrap_err();
            assert_eq!((e.line(), e.key()), (Some(2), Some(key)), "{text}: {e}");
        }
    }
}
