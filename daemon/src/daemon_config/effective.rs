//! Every key's value in a [`DaemonConfig`], as `btbt config get/show` print it:
//! rates and durations the way a user writes them, unset values as `null`,
//! secrets never (`"<set>"` when set). A key registered in
//! `engine/src/config_model/keys.rs` needs its line here (a test says which).

use std::time::Duration;

use ccbt_engine::config_model::{all_keys, format_duration, format_rate};
use serde_json::{json, Value};

use super::DaemonConfig;
use crate::queue_policy::UNLIMITED;

/// What a secret shows as when it is set.
pub const SECRET_SET: &str = "<set>";

fn rate(limit: Option<u64>) -> Value {
    limit.map_or_else(|| json!("unlimited"), |r| json!(format_rate(r)))
}

fn limited_duration(d: Option<Duration>) -> Value {
    d.map_or_else(|| json!("unlimited"), |d| json!(format_duration(d)))
}

fn duration_or_off(d: Option<Duration>) -> Value {
    d.map_or_else(|| json!("off"), |d| json!(format_duration(d)))
}

fn active(n: u32) -> Value {
    if n == UNLIMITED {
        json!("unlimited")
    } else {
        json!(n)
    }
}

fn path(p: &Option<std::path::PathBuf>) -> Value {
    p.as_ref().map_or(Value::Null, |p| json!(p.display().to_string()))
}

fn secret(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |_| json!(SECRET_SET))
}

impl DaemonConfig {
    /// One key's value; None for a path the registry does not have.
    pub fn effective_value(&self, key: &str) -> Option<Value> {
        let schedule = self.limits.alt_schedule.as_ref();
        let value = match key {
            "network.listen" => json!(self.network.listen.to_string()),
            "api.listen" => json!(self.api.listen.to_string()),
            "api.token" => secret(self.api.token.as_deref()),
            "api.extra_listen" => json!(self.api.extra_listen.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            "api.transmission.username" => json!(self.api.transmission.as_ref().map(|c| &c.username)),
            "api.transmission.password" => secret(self.api.transmission.as_ref().map(|c| c.password.as_str())),
            "api.qbittorrent.username" => json!(self.api.qbittorrent.as_ref().map(|c| &c.username)),
            "api.qbittorrent.password" => secret(self.api.qbittorrent.as_ref().map(|c| c.password.as_str())),
            "storage.download_dir" => path(&self.storage.download_dir),
            "storage.state_dir" => path(&self.storage.state_dir),
            "limits.download" => rate(self.limits.download),
            "limits.upload" => rate(self.limits.upload),
            "limits.alt_download" => rate(self.limits.alt_download),
            "limits.alt_upload" => rate(self.limits.alt_upload),
            "limits.alt_schedule.begin" => json!(schedule.map(|s| s.begin.to_string())),
            "limits.alt_schedule.end" => json!(schedule.map(|s| s.end.to_string())),
            "limits.alt_schedule.days" => json!(schedule.map(|s| s.to_schedule().days)),
            "queue.max_active_downloads" => active(self.queue.max_active_downloads),
            "queue.max_active_seeds" => active(self.queue.max_active_seeds),
            "queue.max_active_checks" => active(self.queue.max_active_checks),
            "seeding.ratio_limit" => self
                .seeding
                .ratio_limit
                .map_or_else(|| json!("unlimited"), |r| json!(r)),
            "seeding.seed_time_limit" => limited_duration(self.seeding.seed_time_limit),
            "seeding.idle_limit" => limited_duration(self.seeding.idle_limit),
            "watch.dir" => path(&self.watch.dir),
            "hooks.on_added" => json!(self.hooks.on_added),
            "hooks.on_completed" => json!(self.hooks.on_completed),
            "hooks.on_error" => json!(self.hooks.on_error),
            "hooks.timeout" => json!(format_duration(self.hooks.timeout)),
            "hooks.max_concurrent" => json!(self.hooks.max_concurrent),
            "session.shards" => json!(self.session.shards),
            "dht.enabled" => json!(self.dht.enabled),
            "dht.port" => json!(self.dht.port),
            "dht.bootstrap" => json!(self.dht.bootstrap),
            "lsd.enabled" => json!(self.lsd.enabled),
            "pex.enabled" => json!(self.pex.enabled),
            "api.cors_origins" => json!(self.api.cors_origins),
            "alerts.stall_after" => duration_or_off(self.alerts.stall_after),
            "alerts.tracker_fail_after" => duration_or_off(self.alerts.tracker_fail_after),
            "alerts.disk_free_min" => self
                .alerts
                .disk_free_min
                .map_or_else(|| json!("off"), |b| json!(ccbt_engine::config_model::format_rate(b))),
            "alerts.hash_failures_per_min" => self
                .alerts
                .hash_failures_per_min
                .map_or_else(|| json!("off"), |n| json!(n)),
            "alerts.disk_errors" => json!(self.alerts.disk_errors),
            "alerts.webhook" => json!(self.alerts.webhook),
            "alerts.webhook_timeout" => json!(format_duration(self.alerts.webhook_timeout)),
            "alerts.webhook_retries" => json!(self.alerts.webhook_retries),
            "alerts.command" => json!(self.alerts.command),
            "alerts.rules.name" | "alerts.rules.condition" | "alerts.rules.for" | "alerts.rules.severity" => {
                if self.alerts.rules.is_empty() {
                    serde_json::Value::Null
                } else {
                    json!(self
                        .alerts
                        .rules
                        .iter()
                        .map(|r| match key {
                            "alerts.rules.name" => r.name.clone(),
                            "alerts.rules.condition" => r.condition.clone(),
                            "alerts.rules.for" => format_duration(r.hold),
                            _ => format!("{:?}", r.severity).to_lowercase(),
                        })
                        .collect::<Vec<_>>())
                }
            }
            "logging.level" => json!(self.logging.level),
            "logging.format" => json!(match self.logging.format {
                crate::daemon_config::LogFormat::Text => "text",
                crate::daemon_config::LogFormat::Json => "json",
            }),
            "peers.max_connections" => json!(self.peers.global),
            "peers.max_per_torrent" => json!(self.peers.per_torrent),
            "peers.max_half_open" => json!(self.peers.half_open),
            "peers.max_per_ip" => json!(self.peers.per_ip),
            "peers.handshakes_per_sec" => json!(self.peers.handshakes_per_sec),
            "bans.duration" => json!(format_duration(self.bans.duration)),
            "bans.max_bans" => json!(self.bans.max_bans),
            "redial.base_ms" => json!(self.redial.policy().base.as_millis() as u64),
            "redial.max_ms" => json!(self.redial.max_ms),
            "security.ip_filter" => json!(self
                .security
                .ip_filter
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()),
            "metrics.enabled" => json!(self.metrics.enabled),
            "metrics.per_torrent" => json!(self.metrics.per_torrent),
            "metrics.per_torrent_max" => json!(self.metrics.per_torrent_max),
            _ => return None,
        };
        Some(value)
    }

    /// Every registered key with its value, in the registry's order.
    pub fn effective_values(&self) -> Vec<(&'static str, Value)> {
        all_keys()
            .map(|k| (k.path, self.effective_value(k.path).unwrap_or(Value::Null)))
            .collect()
    }
}

/// A value as one line of text: strings bare, `null` as `(unset)`.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
