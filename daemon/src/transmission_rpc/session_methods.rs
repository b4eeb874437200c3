//! `session-get`, `session-set`, `session-stats` and `free-space`.
//!
//! Speeds are in Transmission's kB/s (1000 bytes). A limit that is off has no value
//! of its own in our session, so it reads as Transmission's default (100) with
//! `…-enabled: false`, and a value sent without turning its limit on is dropped.

use serde_json::{json, Map, Value};

use super::rpc_args::Args;
use super::rpc_error::{RpcCode, RpcError};
use super::torrent_fields::SPEED_UNIT;
use super::RpcService;
use crate::api_types::{LimitKeyword, LimitSetting, SessionInfo, SessionPatch, SessionStats};
use crate::control::ControlRequest;
use crate::queue_policy::UNLIMITED;

/// The Transmission release whose RPC we follow, and ours.
pub fn version_string() -> String {
    format!("4.0.6 (ccbt {})", env!("CARGO_PKG_VERSION"))
}
pub const RPC_VERSION: u32 = 17;
pub const RPC_VERSION_MINIMUM: u32 = 14;
pub const RPC_VERSION_SEMVER: &str = "5.3.0";
/// What a limit that is off reads as (Transmission's defaults).
const DEFAULT_SPEED_KB: u64 = 100;
const DEFAULT_RATIO: f64 = 2.0;
const DEFAULT_IDLE_MINUTES: u64 = 30;
const DEFAULT_QUEUE_SIZE: u32 = 5;

fn kb(limit: Option<u64>) -> u64 {
    limit.map_or(DEFAULT_SPEED_KB, |b| b / SPEED_UNIT)
}

fn queue_size(n: u32) -> (u32, bool) {
    if n == UNLIMITED {
        (DEFAULT_QUEUE_SIZE, false)
    } else {
        (n, true)
    }
}

/// Minutes after midnight of `HH:MM`.
fn minutes(hhmm: &str) -> u32 {
    let mut parts = hhmm.split(':').map(|p| p.parse::<u32>().unwrap_or(0));
    let h = parts.next().unwrap_or(0);
    let m = parts.next().unwrap_or(0);
    h * 60 + m
}

/// Transmission's day bits: Sunday 1, Monday 2, … Saturday 64; every day 127.
fn day_bits(days: &[String]) -> u32 {
    if days.is_empty() {
        return 127;
    }
    days.iter()
        .map(|d| match d.as_str() {
            "sun" => 1,
            "mon" => 2,
            "tue" => 4,
            "wed" => 8,
            "thu" => 16,
            "fri" => 32,
            "sat" => 64,
            _ => 0,
        })
        .sum()
}

/// Every `session-get` key, from our session's view. `dht-enabled`, `pex-enabled`
/// and `lpd-enabled` are left out: the session does not say whether they are on.
pub fn session_arguments(info: &SessionInfo, session_id: &str) -> Map<String, Value> {
    let s = &info.settings;
    let peer_port = info
        .listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.port())
        .unwrap_or(0);
    let (download_queue, download_queue_on) = queue_size(s.max_active_downloads);
    let (seed_queue, seed_queue_on) = queue_size(s.max_active_seeds);
    let schedule = s.alt_speed_schedule.as_ref();
    let limits = ccbt_engine::connection_policy::ConnectionLimits::default();
    let units = json!({
        "memory-bytes": 1024,
        "memory-units": ["KiB", "MiB", "GiB", "TiB"],
        "size-bytes": 1000,
        "size-units": ["kB", "MB", "GB", "TB"],
        "speed-bytes": SPEED_UNIT,
        "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"],
    });
    let pairs: Vec<(&str, Value)> = vec![
        ("alt-speed-down", json!(kb(s.alt_download_limit))),
        ("alt-speed-enabled", json!(s.alt_speed_enabled)),
        (
            "alt-speed-time-begin",
            json!(schedule.map_or(540, |w| minutes(&w.begin))),
        ),
        ("alt-speed-time-day", json!(schedule.map_or(127, |w| day_bits(&w.days)))),
        ("alt-speed-time-enabled", json!(schedule.is_some())),
        ("alt-speed-time-end", json!(schedule.map_or(1020, |w| minutes(&w.end)))),
        ("alt-speed-up", json!(kb(s.alt_upload_limit))),
        ("blocklist-enabled", json!(false)),
        ("blocklist-size", json!(0)),
        ("blocklist-url", json!("")),
        (
            "cache-size-mb",
            json!(ccbt_shards::DEFAULT_READ_CACHE_BYTES / (1024 * 1024)),
        ),
        ("config-dir", json!(info.state_dir)),
        ("default-trackers", json!("")),
        ("download-dir", json!(info.download_dir)),
        ("download-queue-enabled", json!(download_queue_on)),
        ("download-queue-size", json!(download_queue)),
        ("encryption", json!("tolerated")),
        (
            "idle-seeding-limit",
            json!(s.idle_limit_secs.map_or(DEFAULT_IDLE_MINUTES, |secs| secs / 60)),
        ),
        ("idle-seeding-limit-enabled", json!(s.idle_limit_secs.is_some())),
        ("incomplete-dir", json!(info.download_dir)),
        ("incomplete-dir-enabled", json!(false)),
        ("peer-limit-global", json!(limits.global)),
        ("peer-limit-per-torrent", json!(limits.per_torrent)),
        ("peer-port", json!(peer_port)),
        ("peer-port-random-on-start", json!(false)),
        ("port-forwarding-enabled", json!(false)),
        ("queue-stalled-enabled", json!(false)),
        ("queue-stalled-minutes", json!(30)),
        ("rename-partial-files", json!(false)),
        ("rpc-version", json!(RPC_VERSION)),
        ("rpc-version-minimum", json!(RPC_VERSION_MINIMUM)),
        ("rpc-version-semver", json!(RPC_VERSION_SEMVER)),
        ("script-torrent-added-enabled", json!(false)),
        ("script-torrent-added-filename", json!("")),
        ("script-torrent-done-enabled", json!(false)),
        ("script-torrent-done-filename", json!("")),
        ("script-torrent-done-seeding-enabled", json!(false)),
        ("script-torrent-done-seeding-filename", json!("")),
        ("seed-queue-enabled", json!(seed_queue_on)),
        ("seed-queue-size", json!(seed_queue)),
        ("seedRatioLimit", json!(s.ratio_limit.unwrap_or(DEFAULT_RATIO))),
        ("seedRatioLimited", json!(s.ratio_limit.is_some())),
        ("session-id", json!(session_id)),
        ("speed-limit-down", json!(kb(s.download_limit))),
        ("speed-limit-down-enabled", json!(s.download_limit.is_some())),
        ("speed-limit-up", json!(kb(s.upload_limit))),
        ("speed-limit-up-enabled", json!(s.upload_limit.is_some())),
        ("start-added-torrents", json!(true)),
        ("trash-original-torrent-files", json!(false)),
        ("units", units),
        ("utp-enabled", json!(false)),
        ("version", json!(version_string())),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// `session-get`, honouring `fields` (in either spelling).
pub async fn session_get(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let info = svc.handle.call(ControlRequest::GetSession).await?;
    let mut all = session_arguments(&info, &svc.session_id);
    if let Some(fields) = args.strings("fields")? {
        let wanted: Vec<String> = fields.iter().map(|f| super::key_names::snake_case(f)).collect();
        all.retain(|key, _| wanted.contains(&super::key_names::snake_case(key)));
    }
    Ok(all)
}

/// A limit from a value in kB/s and its `…-enabled` switch: turning it off clears
/// it; a value counts only while it is (or is being turned) on.
fn speed_patch(
    args: &Args,
    value_key: &str,
    enabled_key: &str,
    current: Option<u64>,
) -> Result<Option<LimitSetting<u64>>, RpcError> {
    let value = args.u64(value_key)?;
    let enabled = args.bool(enabled_key)?;
    Ok(match (enabled, value) {
        (Some(false), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(true), Some(kb)) => Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT)),
        (Some(true), None) if current.is_none() => Some(LimitSetting::Value(DEFAULT_SPEED_KB * SPEED_UNIT)),
        (None, Some(kb)) if current.is_some() => Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT)),
        _ => None,
    })
}

fn queue_patch(args: &Args, size_key: &str, enabled_key: &str, current: u32) -> Result<Option<u32>, RpcError> {
    let size = args
        .u64(size_key)?
        .map(|n| n.min(u64::from(crate::daemon_config::MAX_ACTIVE_LIMIT)) as u32);
    let enabled = args.bool(enabled_key)?;
    Ok(match (enabled, size) {
        (Some(false), _) => Some(UNLIMITED),
        (Some(true), Some(n)) => Some(n),
        (Some(true), None) if current == UNLIMITED => Some(DEFAULT_QUEUE_SIZE),
        (None, Some(n)) if current != UNLIMITED => Some(n),
        _ => None,
    })
}

/// `session-set`: the subset we have; other keys are ignored, as Transmission
/// ignores keys it does not know.
pub async fn session_set(svc: &RpcService, args: &Args) -> Result<Map<String, Value>, RpcError> {
    let info = svc.handle.call(ControlRequest::GetSession).await?;
    let s = &info.settings;
    let mut patch = SessionPatch {
        download_limit: speed_patch(args, "speed_limit_down", "speed_limit_down_enabled", s.download_limit)?,
        upload_limit: speed_patch(args, "speed_limit_up", "speed_limit_up_enabled", s.upload_limit)?,
        alt_speed_enabled: args.bool("alt_speed_enabled")?,
        max_active_downloads: queue_patch(
            args,
            "download_queue_size",
            "download_queue_enabled",
            s.max_active_downloads,
        )?,
        max_active_seeds: queue_patch(args, "seed_queue_size", "seed_queue_enabled", s.max_active_seeds)?,
        ..SessionPatch::default()
    };
    // The alternative limits have no switch of their own besides alt-speed-enabled.
    if let Some(kb) = args.u64("alt_speed_down")? {
        patch.alt_download_limit = Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT));
    }
    if let Some(kb) = args.u64("alt_speed_up")? {
        patch.alt_upload_limit = Some(LimitSetting::Value(kb.max(1) * SPEED_UNIT));
    }
    let ratio = args.f64("seed_ratio_limit")?;
    if let Some(r) = ratio {
        if r < 0.0 {
            return Err(RpcError::invalid_params(format!(
                "argument `seedRatioLimit`: {r} is not a ratio >= 0"
            )));
        }
    }
    patch.ratio_limit = match (args.bool("seed_ratio_limited")?, ratio) {
        (Some(false), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(true), Some(r)) => Some(LimitSetting::Value(r)),
        (Some(true), None) => Some(LimitSetting::Value(s.ratio_limit.unwrap_or(DEFAULT_RATIO))),
        (None, Some(r)) if s.ratio_limit.is_some() => Some(LimitSetting::Value(r)),
        _ => None,
    };
    let idle = args.u64("idle_seeding_limit")?;
    patch.idle_limit_secs = match (args.bool("idle_seeding_limit_enabled")?, idle) {
        (Some(false), _) => Some(LimitSetting::Keyword(LimitKeyword::None)),
        (Some(true), Some(m)) => Some(LimitSetting::Value(m.max(1) * 60)),
        (Some(true), None) => Some(LimitSetting::Value(
            s.idle_limit_secs.unwrap_or(DEFAULT_IDLE_MINUTES * 60),
        )),
        (None, Some(m)) if s.idle_limit_secs.is_some() => Some(LimitSetting::Value(m.max(1) * 60)),
        _ => None,
    };
    if let Some(dir) = args.str("download_dir")? {
        if !std::path::Path::new(dir).is_absolute() {
            return Err(RpcError::new(
                RpcCode::PathNotAbsolute,
                format!("argument `download-dir`: {dir:?} is not an absolute path"),
            ));
        }
        patch.download_dir = Some(dir.to_string());
    }
    if patch != SessionPatch::default() {
        svc.handle
            .call(|reply| ControlRequest::PatchSession { patch, reply })
            .await?;
    }
    Ok(Map::new())
}

fn stats_object(uploaded: u64, downloaded: u64, files_added: u32, seconds: u64) -> Value {
    json!({
        "uploadedBytes": uploaded,
        "downloadedBytes": downloaded,
        "filesAdded": files_added,
        "sessionCount": 1,
        "secondsActive": seconds,
    })
}

/// The `session-stats` answer from our stats.
pub fn stats_arguments(stats: &SessionStats) -> Map<String, Value> {
    let count = |state: &str| stats.by_state.get(state).copied().unwrap_or(0);
    let paused = count("paused") + count("finished") + count("error");
    let value = json!({
        "activeTorrentCount": stats.torrents.saturating_sub(paused),
        "downloadSpeed": stats.download_rate,
        "pausedTorrentCount": paused,
        "torrentCount": stats.torrents,
        "uploadSpeed": stats.upload_rate,
        "cumulative-stats": stats_object(stats.total_uploaded, stats.total_downloaded, stats.torrents, stats.uptime_secs),
        "current-stats": stats_object(stats.session_uploaded, stats.session_downloaded, 0, stats.uptime_secs),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub async fn session_stats(svc: &RpcService) -> Result<Map<String, Value>, RpcError> {
    let stats = svc.handle.call(ControlRequest::Stats).await?;
    Ok(stats_arguments(&stats))
}

/// `free-space`: the space left to unprivileged users and the size of the file
/// system holding `path`.
pub async fn free_space(args: &Args) -> Result<Map<String, Value>, RpcError> {
    let Some(path) = args.str("path")?.map(str::to_string) else {
        return Err(RpcError::invalid_params("argument `path` is required"));
    };
    if !std::path::Path::new(&path).is_absolute() {
        return Err(RpcError::new(
            RpcCode::PathNotAbsolute,
            format!("argument `path`: {path:?} is not an absolute path"),
        ));
    }
    let queried = path.clone();
    // statvfs may wait on a slow or hung mount: off the control thread.
    let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(queried.as_str()))
        .await
        .map_err(|e| RpcError::new(RpcCode::SystemError, format!("free-space {path}: {e}")))?
        .map_err(|e| RpcError::new(RpcCode::SystemError, format!("free-space {path}: {e}")))?;
    let mut out = Map::new();
    out.insert("path".into(), json!(path));
    out.insert("size-bytes".into(), json!(stat.f_bavail.saturating_mul(stat.f_frsize)));
    out.insert("total_size".into(), json!(stat.f_blocks.saturating_mul(stat.f_frsize)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_minutes_and_days() {
        assert_eq!(minutes("22:30"), 1350);
        assert_eq!(day_bits(&[]), 127);
        assert_eq!(day_bits(&["sun".into(), "sat".into()]), 65);
    }

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn speed_limits_follow_their_switch() {
        let on = args(json!({"speed-limit-down": 250, "speed-limit-down-enabled": true}));
        assert_eq!(
            speed_patch(&on, "speed_limit_down", "speed_limit_down_enabled", None).unwrap(),
            Some(LimitSetting::Value(250_000))
        );
        let off = args(json!({"speed-limit-down": 250, "speed-limit-down-enabled": false}));
        assert_eq!(
            speed_patch(&off, "speed_limit_down", "speed_limit_down_enabled", Some(5)).unwrap(),
            Some(LimitSetting::Keyword(LimitKeyword::None))
        );
        let value_only = args(json!({"speed-limit-down": 7}));
        assert_eq!(
            speed_patch(&value_only, "speed_limit_down", "speed_limit_down_enabled", None).unwrap(),
            None,
            "a value without its switch does not turn a limit on"
        );
        assert_eq!(
            speed_patch(&value_only, "speed_limit_down", "speed_limit_down_enabled", Some(1000)).unwrap(),
            Some(LimitSetting::Value(7000))
        );
    }
}
