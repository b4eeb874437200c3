//! The running daemon's config: read again when its file changes (polled), and
//! changed by `btbt config set` (`PATCH /api/v1/config`). Live keys reach the core
//! at once (limits, schedule, queue, seeding rules, download dir as a
//! `PatchSession`; hooks and the watch dir as a `Reconfigure`; the IP filter,
//! `[alerts]` and the log level each to their owner); a restart key is
//! logged as "needs a restart: KEY". A config that does not read is refused,
//! logged with its file, line and key, and the running one stays.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ccbt_engine::config_model::{find_key, nearest_key, Reload};

use crate::api_types::{ConfigEntry, ConfigView, LimitKeyword, LimitSetting, SessionPatch};
use crate::control::{ApiError, ControlHandle, ControlRequest};
use crate::daemon_config::sources::{
    apply_value, changed_keys, load, overrides_text, read_overrides, ConfigInputs, LoadedConfig,
};
use crate::daemon_config::{ConfigError, DaemonConfig};

/// How often the config file's size and mtime are looked at.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The config a daemon runs with, and what it was read from.
pub struct LiveConfig {
    inputs: ConfigInputs,
    state: Mutex<LiveState>,
    /// One reload or set at a time, start to end (a file edit and a `config set`
    /// at the same moment are applied one after the other).
    applying: tokio::sync::Mutex<()>,
    handle: ControlHandle,
}

struct LiveState {
    loaded: LoadedConfig,
    needs_restart: BTreeSet<&'static str>,
}

/// What a reload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub applied: Vec<&'static str>,
    pub needs_restart: Vec<&'static str>,
}

impl LiveConfig {
    pub fn new(inputs: ConfigInputs, loaded: LoadedConfig, handle: ControlHandle) -> Arc<LiveConfig> {
        Arc::new(LiveConfig {
            inputs,
            state: Mutex::new(LiveState {
                loaded,
                needs_restart: BTreeSet::new(),
            }),
            applying: tokio::sync::Mutex::new(()),
            handle,
        })
    }

    fn loaded(&self) -> LoadedConfig {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).loaded.clone()
    }

    /// Every key, its value and its source.
    pub fn view(&self) -> ConfigView {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = &state.loaded;
        ConfigView {
            file: self.inputs.file.as_ref().map(|p| p.display().to_string()),
            entries: loaded
                .config
                .effective_values()
                .into_iter()
                .map(|(key, value)| ConfigEntry {
                    key: key.to_string(),
                    value,
                    source: loaded.provenance.source_of(key).to_string(),
                    reload: find_key(key).map_or("restart", |k| k.reload.as_str()).to_string(),
                })
                .collect(),
            needs_restart: state.needs_restart.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// At start: the session settings a source set explicitly win over the ones the
    /// state dir kept from the last run (changed through the API then). The rest
    /// (hooks, watch dir, IP filter, alerts, log level) the daemon started with.
    pub async fn apply_at_start(&self) {
        let loaded = self.loaded();
        let keys: Vec<&'static str> = ccbt_engine::config_model::all_keys()
            .filter(|k| k.reload == Reload::Live && loaded.provenance.is_set(k.path))
            .map(|k| k.path)
            .collect();
        let (patch, touched) = session_patch(&loaded.config, &keys);
        if !touched {
            return;
        }
        let sent = self
            .handle
            .call(|reply| ControlRequest::PatchSession { patch, reply })
            .await;
        if let Err(e) = sent {
            tracing::error!(error = %e.message, "config: cannot apply the configured settings");
        }
    }

    /// Reads every source again and applies what changed.
    pub async fn reload(&self) -> Result<ReloadReport, ConfigError> {
        let _one_at_a_time = self.applying.lock().await;
        let new = load(&self.inputs)?;
        self.adopt(new).await.map_err(|e| ConfigError::NotFromFile {
            origin: "the daemon".into(),
            key: String::new(),
            problem: e.message,
        })
    }

    async fn adopt(&self, new: LoadedConfig) -> Result<ReloadReport, ApiError> {
        let old = self.loaded();
        let mut report = ReloadReport::default();
        for (key, reload) in changed_keys(&old.config, &new.config) {
            match reload {
                Reload::Live => report.applied.push(key),
                Reload::Restart => report.needs_restart.push(key),
            }
        }
        self.push_live(&new.config, &report.applied).await?;
        for key in &report.applied {
            tracing::info!(key, "config: applied");
        }
        for key in &report.needs_restart {
            tracing::warn!("config: needs a restart: {key}");
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.needs_restart.extend(report.needs_restart.iter().copied());
        state.loaded = new;
        Ok(report)
    }

    /// Sends the values of `keys` (live ones) to the core.
    async fn push_live(&self, config: &DaemonConfig, keys: &[&'static str]) -> Result<(), ApiError> {
        let (patch, touched) = session_patch(config, keys);
        if touched {
            self.handle
                .call(|reply| ControlRequest::PatchSession { patch, reply })
                .await?;
        }
        let hooks_changed = keys.iter().any(|k| k.starts_with("hooks."));
        if hooks_changed || keys.contains(&"watch.dir") {
            let hooks = hooks_changed.then(|| config.hooks.clone());
            let watch_dir = config.watch.dir.clone();
            self.handle
                .call(|reply| ControlRequest::Reconfigure {
                    hooks,
                    watch_dir,
                    reply,
                })
                .await?;
        }
        if keys.contains(&"security.ip_filter") {
            let paths = config.security.ip_filter.clone();
            self.handle
                .call(|reply| ControlRequest::IpFilter(crate::control::IpFilterRequest::SetLists { paths, reply }))
                .await?;
        }
        if keys.iter().any(|k| k.starts_with("alerts.")) {
            let config = config.alerts.clone();
            self.handle
                .call(|reply| ControlRequest::Alerts(crate::alerts::AlertRequest::SetConfig { config, reply }))
                .await?;
        }
        if keys.contains(&"logging.level") {
            apply_log_level(config.logging.level.as_deref());
        }
        Ok(())
    }

    /// `btbt config set KEY VALUE` (`value` None: unset): a runtime override of a
    /// live key, checked as the file would be, kept in the state dir, applied.
    pub async fn set(&self, key: &str, value: Option<&str>) -> Result<ReloadReport, ApiError> {
        let spec = find_key(key).ok_or_else(|| {
            let hint = nearest_key(key).map_or(String::new(), |k| format!("; did you mean `{k}`?"));
            ApiError::bad_request(format!("unknown key `{key}`{hint}"))
        })?;
        if spec.in_table_list() {
            return Err(ApiError::conflict(format!(
                "`{key}` sits in a list of tables: write it as [[{}]] in the config file{}",
                spec.table(),
                if spec.table() == "alerts.rules" {
                    ", or add a rule with `btbt alerts add`"
                } else {
                    ""
                }
            )));
        }
        if spec.reload == Reload::Restart {
            return Err(ApiError::conflict(format!(
                "`{key}` needs a restart: set it in the config file, the environment ({}) or a flag, \
                 then restart the daemon",
                spec.env_var()
            )));
        }
        let _one_at_a_time = self.applying.lock().await;
        let loaded = self.loaded();
        let path = loaded.overrides_path();
        let mut overrides = read_overrides(&path).map_err(|e| ApiError::internal(e.to_string()))?;
        match value {
            Some(text) => {
                let raw = spec
                    .kind
                    .shape_text(text)
                    .map_err(|e| ApiError::bad_request(format!("`{key}`: {e}")))?;
                // Checked over the effective config before anything is kept.
                let mut check = loaded.config.clone();
                apply_value(&mut check, spec, &raw, "runtime override")
                    .map_err(|e| ApiError::bad_request(e.problem()))?;
                overrides.insert(key.to_string(), raw);
            }
            None => {
                overrides.remove(key);
            }
        }
        std::fs::create_dir_all(&loaded.state_dir).map_err(|e| ApiError::internal(e.to_string()))?;
        crate::state_dir::write_atomic(&path, overrides_text(&overrides).as_bytes())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let new = load(&self.inputs).map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.adopt(new).await
    }
}

/// The log filter follows `[logging] level`; a level the process cannot take is
/// logged, not fatal (the running filter stays).
fn apply_log_level(level: Option<&str>) {
    match crate::log_level::apply_config_level(level) {
        Ok(crate::log_level::LevelChange::Applied(_)) => {}
        Ok(crate::log_level::LevelChange::KeptRustLog(env)) => {
            tracing::warn!(rust_log = %env, "config: logging.level changed, but RUST_LOG is set and wins");
        }
        Err(e) => tracing::warn!("config: logging.level not applied: {e}"),
    }
}

fn rate_setting(limit: Option<u64>) -> LimitSetting<u64> {
    limit.map_or(LimitSetting::Keyword(LimitKeyword::None), LimitSetting::Value)
}

fn secs_setting(d: Option<Duration>) -> LimitSetting<u64> {
    d.map_or(LimitSetting::Keyword(LimitKeyword::None), |d| {
        LimitSetting::Value(d.as_secs())
    })
}

/// The session settings among `keys`, as a patch; false when none is one.
fn session_patch(config: &DaemonConfig, keys: &[&'static str]) -> (SessionPatch, bool) {
    let mut patch = SessionPatch::default();
    let mut any = false;
    for key in keys {
        any |= add_to_patch(&mut patch, config, key);
    }
    (patch, any)
}

/// Puts `key`'s value into the patch; false when it is not a session setting.
fn add_to_patch(patch: &mut SessionPatch, config: &DaemonConfig, key: &str) -> bool {
    let (limits, queue, seeding) = (&config.limits, &config.queue, &config.seeding);
    match key {
        "limits.download" => patch.download_limit = Some(rate_setting(limits.download)),
        "limits.upload" => patch.upload_limit = Some(rate_setting(limits.upload)),
        "limits.alt_download" => patch.alt_download_limit = Some(rate_setting(limits.alt_download)),
        "limits.alt_upload" => patch.alt_upload_limit = Some(rate_setting(limits.alt_upload)),
        "limits.alt_schedule.begin" | "limits.alt_schedule.end" | "limits.alt_schedule.days" => {
            patch.alt_speed_schedule = Some(limits.alt_schedule.as_ref().map(|w| w.to_schedule()));
        }
        "queue.max_active_downloads" => patch.max_active_downloads = Some(queue.max_active_downloads),
        "queue.max_active_seeds" => patch.max_active_seeds = Some(queue.max_active_seeds),
        "queue.max_active_checks" => patch.max_active_checks = Some(queue.max_active_checks),
        "seeding.ratio_limit" => {
            patch.ratio_limit = Some(
                seeding
                    .ratio_limit
                    .map_or(LimitSetting::Keyword(LimitKeyword::None), LimitSetting::Value),
            );
        }
        "seeding.seed_time_limit" => patch.seed_time_limit_secs = Some(secs_setting(seeding.seed_time_limit)),
        "seeding.idle_limit" => patch.idle_limit_secs = Some(secs_setting(seeding.idle_limit)),
        // Back to "the directory the daemon started in" is not a setting the core has.
        "storage.download_dir" => match &config.storage.download_dir {
            Some(dir) => patch.download_dir = Some(dir.display().to_string()),
            None => return false,
        },
        _ => return false,
    }
    true
}

/// The file's identity for change detection: size and mtime (None: gone).
fn file_stamp(path: &std::path::Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Polls the config file and reloads when it changes, until the task is dropped.
/// A change is read once it has settled (the same size and mtime on two polls in
/// a row), so a file caught half-written by an editor is not read; a file that
/// is gone keeps the running config (an editor's save may remove and re-create
/// it), and its return is a change.
pub async fn watch_file(live: Arc<LiveConfig>, path: PathBuf) {
    let mut applied = file_stamp(&path);
    let mut seen = applied;
    let mut every = tokio::time::interval(POLL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let now = file_stamp(&path);
        let settled = now == seen;
        seen = now;
        if now == applied || now.is_none() || !settled {
            continue;
        }
        applied = now;
        match live.reload().await {
            Ok(report) if report.applied.is_empty() && report.needs_restart.is_empty() => {
                tracing::info!(file = %path.display(), "config: re-read, nothing changed");
            }
            Ok(_) => {}
            Err(e) => tracing::error!("config: edit refused, the running config stays: {e}"),
        }
    }
}
