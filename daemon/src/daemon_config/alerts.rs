//! `[alerts]`: the built-in rules' thresholds, where alerts are delivered, and the
//! config's own rules (`[[alerts.rules]]`).
//!
//! ```toml
//! [alerts]
//! stall_after = "10m"              # torrent_stalled; "off" turns it off
//! tracker_fail_after = "30m"       # tracker_failing
//! disk_free_min = "1G"             # disk_free_low
//! hash_failures_per_min = 20       # hash_failures
//! disk_errors = true               # disk_error
//! # webhook = "http://127.0.0.1:9000/alerts"   # POSTs each alert as JSON
//! webhook_timeout = "5s"
//! webhook_retries = 3
//! # command = "logger -t ccbt \"$CCBT_ALERT_MESSAGE\""  # run like a hook
//!
//! [[alerts.rules]]
//! name = "slow_download"
//! condition = "torrent.downloading == 1 and torrent.download_rate < 10K"
//! for = "15m"
//! severity = "info"                # info, warning (default), critical
//! ```

use std::time::Duration;

use toml::de::DeValue;

use super::error::ConfigError;
use super::table_reader::{Field, TableReader};
use super::values::{bounded_integer, duration, rate};
use crate::alerts::{check_rule_name, Condition, MAX_HOLD, MAX_RULES};
use crate::api_types::AlertSeverity;

/// Longest wait for a webhook's answer a config may ask for.
pub const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Most retries of a webhook a config may ask for.
pub const MAX_WEBHOOK_RETRIES: u32 = 10;

/// One `[[alerts.rules]]` table, checked (its condition parses).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRuleConfig {
    pub name: String,
    pub condition: String,
    /// `for`: how long the condition must hold.
    pub hold: Duration,
    pub severity: AlertSeverity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AlertsConfig {
    /// `torrent_stalled` after this long without data while downloading; none = off.
    pub stall_after: Option<Duration>,
    /// `tracker_failing` after every tracker failed this long; none = off.
    pub tracker_fail_after: Option<Duration>,
    /// `disk_free_low` below this many bytes; none = off.
    pub disk_free_min: Option<u64>,
    /// `hash_failures` above this many failed pieces in a minute; none = off.
    pub hash_failures_per_min: Option<u64>,
    /// `disk_error` when a torrent stops on a disk or file error.
    pub disk_errors: bool,
    /// An `http://` URL each alert is POSTed to as JSON.
    pub webhook: Option<String>,
    pub webhook_timeout: Duration,
    pub webhook_retries: u32,
    /// A command run with `sh -c` for each alert, as the hooks are.
    pub command: Option<String>,
    pub rules: Vec<AlertRuleConfig>,
}

impl Default for AlertsConfig {
    fn default() -> AlertsConfig {
        AlertsConfig {
            stall_after: Some(Duration::from_secs(600)),
            tracker_fail_after: Some(Duration::from_secs(1800)),
            disk_free_min: Some(1 << 30),
            hash_failures_per_min: Some(20),
            disk_errors: true,
            webhook: None,
            webhook_timeout: Duration::from_secs(5),
            webhook_retries: 3,
            command: None,
            rules: Vec::new(),
        }
    }
}

fn is_off(f: &Field<'_, '_>) -> bool {
    matches!(f.value(), DeValue::String(s) if s == "off") || matches!(f.value(), DeValue::Boolean(false))
}

/// A duration, or "off".
fn duration_or_off(f: &Field<'_, '_>) -> Result<Option<Duration>, ConfigError> {
    if is_off(f) {
        return Ok(None);
    }
    let d = duration(f)?;
    if d > MAX_HOLD {
        return Err(f.out_of_range(format!("at most {} days, or \"off\"", MAX_HOLD.as_secs() / 86_400)));
    }
    Ok(Some(d))
}

fn severity(f: &Field<'_, '_>) -> Result<AlertSeverity, ConfigError> {
    match f.string()? {
        "info" => Ok(AlertSeverity::Info),
        "warning" => Ok(AlertSeverity::Warning),
        "critical" => Ok(AlertSeverity::Critical),
        other => Err(f.bad_value(format!("{other:?} is not info, warning or critical"))),
    }
}

/// Reads `[alerts]` into `alerts`.
pub(super) fn read_alerts(t: &TableReader<'_, '_>, alerts: &mut AlertsConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("stall_after") {
        alerts.stall_after = duration_or_off(&f)?;
    }
    if let Some(f) = t.field("tracker_fail_after") {
        alerts.tracker_fail_after = duration_or_off(&f)?;
    }
    if let Some(f) = t.field("disk_free_min") {
        alerts.disk_free_min = if is_off(&f) { None } else { rate(&f)? };
    }
    if let Some(f) = t.field("hash_failures_per_min") {
        alerts.hash_failures_per_min = if is_off(&f) {
            None
        } else {
            Some(bounded_integer(&f, 0, 1_000_000)? as u64)
        };
    }
    if let Some(f) = t.field("disk_errors") {
        alerts.disk_errors = f.boolean()?;
    }
    if let Some(f) = t.field("webhook") {
        let url = f.string()?.trim();
        if !url.starts_with("http://") || url.len() <= "http://".len() {
            return Err(f.bad_value(format!(
                "{url:?} is not an http:// URL (the webhook is plain HTTP; put a local relay before an https endpoint)"
            )));
        }
        alerts.webhook = Some(url.to_string());
    }
    if let Some(f) = t.field("webhook_timeout") {
        let d = duration(&f)?;
        if d.is_zero() || d > MAX_WEBHOOK_TIMEOUT {
            return Err(f.out_of_range(format!("1s to {}s", MAX_WEBHOOK_TIMEOUT.as_secs())));
        }
        alerts.webhook_timeout = d;
    }
    if let Some(f) = t.field("webhook_retries") {
        alerts.webhook_retries = bounded_integer(&f, 0, i128::from(MAX_WEBHOOK_RETRIES))? as u32;
    }
    if let Some(f) = t.field("command") {
        let command = f.string()?;
        if command.trim().is_empty() {
            return Err(f.bad_value("an empty command; leave the key out to run nothing"));
        }
        alerts.command = Some(command.to_string());
    }
    let tables = t.tables("rules", "alerts.rules")?;
    if tables.len() > MAX_RULES {
        return Err(t.required("rules")?.out_of_range(format!("at most {MAX_RULES} rules")));
    }
    for rule in tables {
        alerts.rules.push(read_rule(&rule, &alerts.rules)?);
    }
    Ok(())
}

fn read_rule(t: &TableReader<'_, '_>, earlier: &[AlertRuleConfig]) -> Result<AlertRuleConfig, ConfigError> {
    let name_field = t.required("name")?;
    let name = name_field.string()?;
    check_rule_name(name).map_err(|e| name_field.bad_value(e.to_string()))?;
    if earlier.iter().any(|r| r.name == name) || crate::alerts::is_builtin_rule(name) {
        return Err(name_field.bad_value(format!("a rule named {name:?} exists already")));
    }
    let condition_field = t.required("condition")?;
    let condition = condition_field.string()?;
    Condition::parse(condition).map_err(|e| condition_field.bad_value(format!("{condition:?}: {e}")))?;
    let hold = match t.field("for") {
        Some(f) => {
            let d = duration(&f)?;
            if d > MAX_HOLD {
                return Err(f.out_of_range(format!("at most {} days", MAX_HOLD.as_secs() / 86_400)));
            }
            d
        }
        None => Duration::ZERO,
    };
    let severity = match t.field("severity") {
        Some(f) => severity(&f)?,
        None => AlertSeverity::Warning,
    };
    Ok(AlertRuleConfig {
        name: name.to_string(),
        condition: condition.trim().to_string(),
        hold,
        severity,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::daemon_config::DaemonConfig;

    fn read(text: &str) -> Result<AlertsConfig, ConfigError> {
        DaemonConfig::from_toml(text, Path::new("/etc/ccbt.toml")).map(|c| c.alerts)
    }

    #[test]
    fn built_in_thresholds_and_rules() {
        let a = read(
            r#"
[alerts]
stall_after = "2m"
tracker_fail_after = "off"
disk_free_min = "5G"
hash_failures_per_min = 3
disk_errors = false
webhook = "http://127.0.0.1:9000/hook"
webhook_timeout = "2s"
webhook_retries = 1
command = "logger alert"

[[alerts.rules]]
name = "slow"
condition = "torrent.downloading == 1 and torrent.download_rate < 10K"
for = "15m"
severity = "info"

[[alerts.rules]]
name = "no_peers"
condition = "session.peers == 0"
"#,
        )
        .unwrap();
        assert_eq!(a.stall_after, Some(Duration::from_secs(120)));
        assert_eq!(a.tracker_fail_after, None);
        assert_eq!(a.disk_free_min, Some(5 << 30));
        assert_eq!(a.hash_failures_per_min, Some(3));
        assert!(!a.disk_errors);
        assert_eq!(a.webhook.as_deref(), Some("http://127.0.0.1:9000/hook"));
        assert_eq!(a.webhook_timeout, Duration::from_secs(2));
        assert_eq!(a.webhook_retries, 1);
        assert_eq!(a.command.as_deref(), Some("logger alert"));
        assert_eq!(
            a.rules,
            vec![
                AlertRuleConfig {
                    name: "slow".into(),
                    condition: "torrent.downloading == 1 and torrent.download_rate < 10K".into(),
                    hold: Duration::from_secs(900),
                    severity: AlertSeverity::Info,
                },
                AlertRuleConfig {
                    name: "no_peers".into(),
                    condition: "session.peers == 0".into(),
                    hold: Duration::ZERO,
                    severity: AlertSeverity::Warning,
                },
            ]
        );
        assert_eq!(read("").unwrap(), AlertsConfig::default());
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let cases = [
            ("[alerts]\nstall_after = \"soon\"\n", 2, "alerts.stall_after"),
            ("[alerts]\nwebhook = \"https://example.org/x\"\n", 2, "alerts.webhook"),
            ("[alerts]\nwebhook_retries = 99\n", 2, "alerts.webhook_retries"),
            ("[alerts]\nstal_after = \"1m\"\n", 2, "alerts.stal_after"),
            (
                "[[alerts.rules]]\nname = \"x\"\ncondition = \"torrent.sped < 1\"\n",
                3,
                "alerts.rules.condition",
            ),
            ("[[alerts.rules]]\nname = \"x\"\n", 1, "alerts.rules.condition"),
            (
                "[[alerts.rules]]\nname = \"torrent_stalled\"\ncondition = \"session.peers == 0\"\n",
                2,
                "alerts.rules.name",
            ),
            (
                "[[alerts.rules]]\nname = \"x\"\ncondition = \"session.peers == 0\"\nseverity = \"loud\"\n",
                4,
                "alerts.rules.severity",
            ),
            (
                "[[alerts.rules]]\nname = \"x\"\ncondition = \"session.peers == 0\"\nfor = 5\nlevel = 1\n",
                5,
                "alerts.rules.level",
            ),
        ];
        for (text, line, key) in cases {
            let e = read(text).unwrap_err();
            assert_eq!((e.line(), e.key()), (Some(line), Some(key)), "{text}: {e}");
            assert!(e.to_string().starts_with("/etc/ccbt.toml:"), "{e}");
        }
        let e = read("[[alerts.rules]]\nname = \"x\"\ncondition = \"torrent.sped < 1\"\n").unwrap_err();
        assert!(e.to_string().contains("column 1: unknown figure `torrent.sped`"), "{e}");
    }
}
