//! Changing the log filter while the daemon runs.
//!
//! The binary that sets up logging (`ccbt-cli`) installs a handle to its
//! subscriber's reload layer once, with the filter to fall back on; a config
//! reload then calls [`apply_config_level`]. The subscriber is process-wide, so its
//! handle is too.

use std::sync::OnceLock;

/// Applies a new `RUST_LOG`-style filter to the running subscriber.
pub type LogFilterSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The installed setter and what the process's filter falls back on.
struct LogFilterControl {
    setter: LogFilterSetter,
    /// `RUST_LOG` as the process started with it: it wins over `[logging] level`.
    env_filter: Option<String>,
    /// The binary's own default, used when neither says a filter.
    default_filter: String,
}

static CONTROL: OnceLock<LogFilterControl> = OnceLock::new();

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogLevelError {
    #[error("the log filter cannot change in this process (no reloadable logger)")]
    NotReloadable,
    #[error("{0}")]
    Invalid(String),
}

/// What a config level change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LevelChange {
    /// The filter now in force.
    Applied(String),
    /// `RUST_LOG` is set and keeps winning.
    KeptRustLog(String),
}

/// Installs the setter; called once by whoever set up logging. A second call is
/// ignored (the first subscriber stays the process's).
pub fn install_log_filter_setter(setter: LogFilterSetter, env_filter: Option<String>, default_filter: &str) {
    let _ = CONTROL.set(LogFilterControl {
        setter,
        env_filter,
        default_filter: default_filter.to_string(),
    });
}

/// Replaces the log filter (e.g. `"debug"`, `"warn,ccbt_io=trace"`).
pub fn set_log_filter(filter: &str) -> Result<(), LogLevelError> {
    crate::daemon_config::check_log_filter(filter).map_err(LogLevelError::Invalid)?;
    let control = CONTROL.get().ok_or(LogLevelError::NotReloadable)?;
    (control.setter)(filter).map_err(LogLevelError::Invalid)?;
    tracing::info!(filter, "log filter changed");
    Ok(())
}

/// A new `[logging] level` (None: unset). `RUST_LOG` still wins, as at start; an
/// unset level goes back to the binary's default.
pub fn apply_config_level(level: Option<&str>) -> Result<LevelChange, LogLevelError> {
    let control = CONTROL.get().ok_or(LogLevelError::NotReloadable)?;
    if let Some(env) = &control.env_filter {
        return Ok(LevelChange::KeptRustLog(env.clone()));
    }
    let filter = level.unwrap_or(&control.default_filter).to_string();
    set_log_filter(&filter)?;
    Ok(LevelChange::Applied(filter))
}
