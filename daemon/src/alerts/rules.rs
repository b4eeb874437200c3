//! Alert rules: the built-in ones (from `[alerts]` thresholds), the config's
//! `[[alerts.rules]]`, and those added through the API at run time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::condition::{Condition, ConditionError, Metric};
use crate::api_types::AlertSeverity;
use crate::daemon_config::AlertsConfig;

/// Longest rule name.
pub const MAX_RULE_NAME_LEN: usize = 64;
/// Most rules of all sources together.
pub const MAX_RULES: usize = 256;
/// Longest `for` a rule may have.
pub const MAX_HOLD: Duration = Duration::from_secs(30 * 86_400);

/// Where a rule comes from (and so how it is changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSource {
    /// Built in; its threshold is set, or it is turned off, in `[alerts]`.
    Builtin,
    /// `[[alerts.rules]]` in the config file (reloaded with it).
    Config,
    /// Added through the API; kept in the state dir.
    Runtime,
}

/// What is wrong with a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule name {0:?}: 1 to 64 letters, digits, `_`, `-` or `.`")]
    BadName(String),
    #[error("rule {name:?}: condition {condition:?}: {error}")]
    BadCondition {
        name: String,
        condition: String,
        error: ConditionError,
    },
    #[error("rule {name:?}: `for` is at most {} days", MAX_HOLD.as_secs() / 86_400)]
    HoldTooLong { name: String },
}

/// One rule, its condition parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    pub name: String,
    /// As written (for listing).
    pub condition_text: String,
    pub condition: Condition,
    /// How long the condition must hold before the alert fires.
    pub hold: Duration,
    pub severity: AlertSeverity,
    pub source: RuleSource,
    /// For built-ins: what the alert says, before the figures.
    pub summary: Option<&'static str>,
}

pub fn check_rule_name(name: &str) -> Result<(), RuleError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_RULE_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RuleError::BadName(name.to_string()))
    }
}

impl AlertRule {
    pub fn new(
        name: &str,
        condition: &str,
        hold: Duration,
        severity: AlertSeverity,
        source: RuleSource,
    ) -> Result<AlertRule, RuleError> {
        check_rule_name(name)?;
        if hold > MAX_HOLD {
            return Err(RuleError::HoldTooLong { name: name.to_string() });
        }
        let parsed = Condition::parse(condition).map_err(|error| RuleError::BadCondition {
            name: name.to_string(),
            condition: condition.to_string(),
            error,
        })?;
        Ok(AlertRule {
            name: name.to_string(),
            condition_text: condition.trim().to_string(),
            condition: parsed,
            hold,
            severity,
            source,
            summary: None,
        })
    }

    /// Whether the condition names a `disk.` figure (the core measures disk space
    /// only when some rule needs it).
    pub fn needs_disk_free(&self) -> bool {
        self.condition.tests().any(|t| t.metric == Metric::DiskFree)
    }
}

/// The names of the built-in rules.
pub const TORRENT_STALLED: &str = "torrent_stalled";
pub const TRACKER_FAILING: &str = "tracker_failing";
pub const DISK_FREE_LOW: &str = "disk_free_low";
pub const HASH_FAILURES: &str = "hash_failures";
pub const DISK_ERROR: &str = "disk_error";

/// The built-in rules `[alerts]` leaves on, with its thresholds.
pub fn builtin_rules(config: &AlertsConfig) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    let mut add = |name: &'static str, condition: String, hold: Duration, severity, summary| {
        // The conditions are ours and the thresholds numbers: they always parse.
        if let Ok(mut rule) = AlertRule::new(name, &condition, hold, severity, RuleSource::Builtin) {
            rule.summary = Some(summary);
            rules.push(rule);
        }
    };
    if let Some(after) = config.stall_after {
        add(
            TORRENT_STALLED,
            "torrent.downloading == 1 and torrent.left > 0 and torrent.download_rate == 0".into(),
            after,
            AlertSeverity::Warning,
            "downloading with bytes left, but nothing arrived",
        );
    }
    if let Some(after) = config.tracker_fail_after {
        add(
            TRACKER_FAILING,
            "torrent.all_trackers_failing == 1".into(),
            after,
            AlertSeverity::Warning,
            "every tracker of the torrent fails",
        );
    }
    if let Some(min) = config.disk_free_min {
        add(
            DISK_FREE_LOW,
            format!("disk.free < {min}"),
            Duration::ZERO,
            AlertSeverity::Critical,
            "little space left on the download directory's filesystem",
        );
    }
    if let Some(per_min) = config.hash_failures_per_min {
        add(
            HASH_FAILURES,
            format!("session.hash_failures_per_min > {per_min}"),
            Duration::ZERO,
            AlertSeverity::Warning,
            "many pieces failed their hash in the last minute",
        );
    }
    if config.disk_errors {
        add(
            DISK_ERROR,
            "torrent.error == 1".into(),
            Duration::ZERO,
            AlertSeverity::Critical,
            "stopped by a disk or file error",
        );
    }
    rules
}
