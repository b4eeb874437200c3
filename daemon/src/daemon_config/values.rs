//! One config value each: what a key's TOML value may be, its units, its range.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::DeValue;

use super::error::ConfigError;
use super::table_reader::Field;
use super::MAX_ACTIVE_LIMIT;
use crate::queue_policy::UNLIMITED;
use ccbt_engine::config_model::{parse_duration, parse_rate};

fn is_unlimited_keyword(f: &Field<'_, '_>) -> bool {
    matches!(f.value(), DeValue::String(s) if s == "unlimited" || s == "none")
}

pub(super) fn socket_addr(f: &Field<'_, '_>) -> Result<SocketAddr, ConfigError> {
    let text = f.string()?;
    text.trim()
        .parse()
        .map_err(|_| f.bad_value(format!("'{text}' is not an address (IP:PORT, e.g. 127.0.0.1:6881)")))
}

/// A path; a leading `~/` is the home directory.
pub(super) fn path_value(f: &Field<'_, '_>) -> Result<PathBuf, ConfigError> {
    let text = f.string()?;
    if text.trim().is_empty() {
        return Err(f.bad_value("an empty path"));
    }
    match text.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => Ok(PathBuf::from(home).join(rest)),
            None => Err(f.bad_value(format!("'{text}' starts with ~ but HOME is not set"))),
        },
        None => Ok(PathBuf::from(text)),
    }
}

pub(super) fn bounded_integer(f: &Field<'_, '_>, min: i128, max: i128) -> Result<i128, ConfigError> {
    let n = f.integer()?;
    if n < min || n > max {
        return Err(f.out_of_range(format!("{min} to {max}")));
    }
    Ok(n)
}

/// `max_active_*`: an integer or "unlimited".
pub(super) fn active_limit(f: &Field<'_, '_>) -> Result<u32, ConfigError> {
    if is_unlimited_keyword(f) {
        return Ok(UNLIMITED);
    }
    match f.value() {
        DeValue::Integer(_) => Ok(bounded_integer(f, 0, i128::from(MAX_ACTIVE_LIMIT))? as u32),
        _ => Err(f.wrong_type("an integer or \"unlimited\"")),
    }
}

/// A rate: an integer of bytes/s or a string with a unit; 0 or "unlimited" = none.
pub(super) fn rate(f: &Field<'_, '_>) -> Result<Option<u64>, ConfigError> {
    if is_unlimited_keyword(f) {
        return Ok(None);
    }
    let bytes = match f.value() {
        DeValue::Integer(_) => u64::try_from(f.integer()?).map_err(|_| f.out_of_range(format!("0 to {}", u64::MAX)))?,
        DeValue::String(s) => parse_rate(s).map_err(|e| f.bad_value(e))?,
        _ => return Err(f.wrong_type("a rate (an integer of bytes/s, or a string such as \"10M\")")),
    };
    Ok((bytes > 0).then_some(bytes))
}

/// A duration: an integer of seconds or a string with units.
pub(super) fn duration(f: &Field<'_, '_>) -> Result<Duration, ConfigError> {
    match f.value() {
        DeValue::Integer(_) => {
            let secs = u64::try_from(f.integer()?).map_err(|_| f.out_of_range("0 seconds or more"))?;
            Ok(Duration::from_secs(secs))
        }
        DeValue::String(s) => parse_duration(s).map_err(|e| f.bad_value(e)),
        _ => Err(f.wrong_type("a duration (an integer of seconds, or a string such as \"48h\")")),
    }
}

pub(super) fn optional_duration(f: &Field<'_, '_>) -> Result<Option<Duration>, ConfigError> {
    if is_unlimited_keyword(f) {
        return Ok(None);
    }
    duration(f).map(Some)
}

/// A ratio limit: a number from 0, or "unlimited".
pub(super) fn ratio(f: &Field<'_, '_>) -> Result<Option<f64>, ConfigError> {
    if is_unlimited_keyword(f) {
        return Ok(None);
    }
    if !matches!(f.value(), DeValue::Integer(_) | DeValue::Float(_)) {
        return Err(f.wrong_type("a number or \"unlimited\""));
    }
    let r = f.number()?;
    if !r.is_finite() || r < 0.0 {
        return Err(f.out_of_range("0 or more"));
    }
    Ok(Some(r))
}
