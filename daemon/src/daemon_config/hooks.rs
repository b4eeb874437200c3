//! `[hooks]`: commands run when a torrent is added, completes or fails.

use std::time::Duration;

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::{bounded_integer, duration};

/// Most hooks running at once a config may ask for.
pub const MAX_HOOKS_CONCURRENT: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct HooksConfig {
    /// Command lines, run with `sh -c`.
    pub on_added: Option<String>,
    pub on_completed: Option<String>,
    pub on_error: Option<String>,
    /// A hook still running after this is killed (its whole process group).
    pub timeout: Duration,
    pub max_concurrent: usize,
}

impl Default for HooksConfig {
    fn default() -> HooksConfig {
        HooksConfig {
            on_added: None,
            on_completed: None,
            on_error: None,
            timeout: Duration::from_secs(60),
            max_concurrent: 4,
        }
    }
}

pub(super) fn read_hooks(t: &TableReader<'_, '_>, hooks: &mut HooksConfig) -> Result<(), ConfigError> {
    for (key, slot) in [
        ("on_added", &mut hooks.on_added),
        ("on_completed", &mut hooks.on_completed),
        ("on_error", &mut hooks.on_error),
    ] {
        if let Some(f) = t.field(key) {
            let command = f.string()?;
            if command.trim().is_empty() {
                return Err(f.bad_value("an empty command; leave the key out to run nothing"));
            }
            *slot = Some(command.to_string());
        }
    }
    if let Some(f) = t.field("timeout") {
        let timeout = duration(&f)?;
        if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(24 * 3600) {
            return Err(f.out_of_range("1s to 24h"));
        }
        hooks.timeout = timeout;
    }
    if let Some(f) = t.field("max_concurrent") {
        hooks.max_concurrent = bounded_integer(&f, 1, MAX_HOOKS_CONCURRENT as i128)? as usize;
    }
    Ok(())
}
