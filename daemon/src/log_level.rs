//! Changing the log filter while the daemon runs.
//!
//! The binary that sets up logging (`ccbt-cli`) installs a handle to its
//! subscriber's reload layer once; a config reload (or anything else in the
//! daemon) then calls [`set_log_filter`]. The subscriber is process-wide, so its
//! handle is too.

use std::sync::OnceLock;

/// Applies a new `RUST_LOG`-style filter to the running subscriber.
pub type LogFilterSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

static SETTER: OnceLock<LogFilterSetter> = OnceLock::new();

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogLevelError {
    #[error("the log filter cannot change in this process (no reloadable logger)")]
    NotReloadable,
    #[error("{0}")]
    Invalid(String),
}

/// Installs the setter; called once by whoever set up logging. A second call is
/// ignored (the first subscriber stays the process's).
pub fn install_log_filter_setter(setter: LogFilterSetter) {
    let _ = SETTER.set(setter);
}

/// Replaces the log filter (e.g. `"debug"`, `"warn,ccbt_io=trace"`).
pub fn set_log_filter(filter: &str) -> Result<(), LogLevelError> {
    crate::daemon_config::check_log_filter(filter).map_err(LogLevelError::Invalid)?;
    let setter = SETTER.get().ok_or(LogLevelError::NotReloadable)?;
    setter(filter).map_err(LogLevelError::Invalid)?;
    tracing::info!(filter, "log filter changed");
    Ok(())
}
