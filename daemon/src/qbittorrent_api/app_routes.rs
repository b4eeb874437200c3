//! `auth/*`, `app/*` and `transfer/info`.

use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::{text, QbtError};
use super::form::QbtForm;
use super::sessions::{cookie, LoginOutcome, SID_COOKIE};
use super::{QbtState, APP_VERSION, WEBAPI_VERSION};
use crate::api_server::ClientAddr;
use crate::api_types::{LimitKeyword, LimitSetting, SessionInfo, SessionPatch, SessionStats};
use crate::control::ControlRequest;

pub(super) async fn login(
    State(state): State<QbtState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    form: QbtForm,
) -> Response {
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let outcome = match state.sessions.lock() {
        Ok(mut store) => store.login(state.credentials.as_deref(), client, username, password, Instant::now()),
        Err(_) => LoginOutcome::Fails,
    };
    match outcome {
        LoginOutcome::Ok(sid) => (
            [(
                SET_COOKIE,
                format!("{SID_COOKIE}={sid}; HttpOnly; SameSite=Strict; path=/"),
            )],
            text("Ok."),
        )
            .into_response(),
        LoginOutcome::Fails => text("Fails."),
        LoginOutcome::Banned => QbtError::new(
            403,
            "Your IP address has been banned after too many failed authentication attempts.",
        )
        .into_response(),
    }
}

pub(super) async fn logout(State(state): State<QbtState>, headers: HeaderMap) -> Response {
    if let (Some(sid), Ok(mut store)) = (cookie(&headers, SID_COOKIE), state.sessions.lock()) {
        store.logout(&sid);
    }
    text("")
}

pub(super) async fn version() -> Response {
    text(APP_VERSION)
}

pub(super) async fn webapi_version() -> Response {
    text(WEBAPI_VERSION)
}

pub(super) async fn build_info() -> Json<Value> {
    Json(json!({
        "qt": "",
        "libtorrent": format!("ccbt {}", env!("CARGO_PKG_VERSION")),
        "boost": "",
        "openssl": "",
        "zlib": "",
        "bitness": usize::BITS,
        "platform": std::env::consts::OS,
    }))
}

fn limit_or_zero(v: Option<u64>) -> u64 {
    v.unwrap_or(0)
}

/// The preferences the *arr apps and the PyPI client read.
pub(super) fn preferences_of(s: &SessionInfo) -> Value {
    let settings = &s.settings;
    let listen_port = s
        .listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(0);
    let active = |n: u32| {
        if n == u32::MAX || n >= crate::daemon_config::MAX_ACTIVE_LIMIT {
            -1
        } else {
            i64::from(n)
        }
    };
    json!({
        "save_path": s.download_dir,
        "temp_path_enabled": false,
        "temp_path": "",
        "auto_tmm_enabled": false,
        "torrent_content_layout": "Original",
        "add_stopped_enabled": false,
        "start_paused_enabled": false,
        "max_ratio_enabled": settings.ratio_limit.is_some(),
        "max_ratio": settings.ratio_limit.unwrap_or(-1.0),
        "max_seeding_time_enabled": settings.seed_time_limit_secs.is_some(),
        "max_seeding_time": settings.seed_time_limit_secs.map_or(-1, |v| i64::try_from(v / 60).unwrap_or(i64::MAX)),
        "max_inactive_seeding_time_enabled": settings.idle_limit_secs.is_some(),
        "max_inactive_seeding_time": settings.idle_limit_secs.map_or(-1, |v| i64::try_from(v / 60).unwrap_or(i64::MAX)),
        // 0 = stop the torrent, what the daemon does at a limit.
        "max_ratio_act": 0,
        "queueing_enabled": true,
        "max_active_downloads": active(settings.max_active_downloads),
        "max_active_uploads": active(settings.max_active_seeds),
        "max_active_torrents": active(settings.max_active_downloads.saturating_add(settings.max_active_seeds)),
        "max_active_checking_torrents": active(settings.max_active_checks),
        "dl_limit": limit_or_zero(settings.download_limit),
        "up_limit": limit_or_zero(settings.upload_limit),
        "alt_dl_limit": limit_or_zero(settings.alt_download_limit),
        "alt_up_limit": limit_or_zero(settings.alt_upload_limit),
        "scheduler_enabled": settings.alt_speed_schedule.is_some(),
        "listen_port": listen_port,
        "dht": false,
        "pex": false,
        "lsd": false,
        "encryption": 0,
        "anonymous_mode": false,
        "upnp": false,
        "web_ui_port": s.api_url.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(0),
        "bypass_local_auth": true,
        "locale": "en",
        "create_subfolder_enabled": true,
        "incomplete_files_ext": false,
        "preallocate_all": false,
    })
}

pub(super) async fn preferences(State(state): State<QbtState>) -> Result<Json<Value>, QbtError> {
    let info = state.handle.call(ControlRequest::GetSession).await?;
    Ok(Json(preferences_of(&info)))
}

/// The session patch for a `setPreferences` `json` object (the subset above; other
/// keys are accepted and ignored, as qBittorrent ignores unknown ones).
pub(super) fn preferences_patch(prefs: &serde_json::Map<String, Value>) -> Result<SessionPatch, QbtError> {
    let mut patch = SessionPatch::default();
    let number = |key: &str| -> Result<Option<f64>, QbtError> {
        match prefs.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| QbtError::bad_request(format!("{key}: not a number"))),
        }
    };
    let flag = |key: &str| prefs.get(key).and_then(Value::as_bool);
    if let Some(dir) = prefs.get("save_path") {
        let dir = dir
            .as_str()
            .ok_or_else(|| QbtError::bad_request("save_path: not a string"))?;
        patch.download_dir = Some(dir.to_string());
    }
    let ratio = number("max_ratio")?;
    match (flag("max_ratio_enabled"), ratio) {
        (Some(false), _) => patch.ratio_limit = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(r)) if r < 0.0 => patch.ratio_limit = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(r)) => patch.ratio_limit = Some(LimitSetting::Value(r)),
        _ => {}
    }
    let minutes = number("max_seeding_time")?;
    match (flag("max_seeding_time_enabled"), minutes) {
        (Some(false), _) => patch.seed_time_limit_secs = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(m)) if m < 0.0 => patch.seed_time_limit_secs = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(m)) => patch.seed_time_limit_secs = Some(LimitSetting::Value((m as u64).saturating_mul(60))),
        _ => {}
    }
    let idle = number("max_inactive_seeding_time")?;
    match (flag("max_inactive_seeding_time_enabled"), idle) {
        (Some(false), _) => patch.idle_limit_secs = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(m)) if m < 0.0 => patch.idle_limit_secs = Some(LimitSetting::Keyword(LimitKeyword::None)),
        (_, Some(m)) => patch.idle_limit_secs = Some(LimitSetting::Value((m as u64).saturating_mul(60))),
        _ => {}
    }
    let rate = |v: f64| {
        if v <= 0.0 {
            LimitSetting::Keyword(LimitKeyword::None)
        } else {
            LimitSetting::Value(v as u64)
        }
    };
    patch.download_limit = number("dl_limit")?.map(rate);
    patch.upload_limit = number("up_limit")?.map(rate);
    patch.alt_download_limit = number("alt_dl_limit")?.map(rate);
    patch.alt_upload_limit = number("alt_up_limit")?.map(rate);
    let active = |v: f64| {
        if v < 0.0 {
            u32::MAX
        } else {
            v.min(f64::from(u32::MAX)) as u32
        }
    };
    patch.max_active_downloads = number("max_active_downloads")?.map(active);
    patch.max_active_seeds = number("max_active_uploads")?.map(active);
    patch.max_active_checks = number("max_active_checking_torrents")?.map(active);
    Ok(patch)
}

pub(super) async fn set_preferences(State(state): State<QbtState>, form: QbtForm) -> Result<Response, QbtError> {
    let raw = form.required("json")?;
    let prefs: serde_json::Map<String, Value> =
        serde_json::from_str(raw).map_err(|e| QbtError::bad_request(format!("json: {e}")))?;
    let patch = preferences_patch(&prefs)?;
    state
        .handle
        .call(|reply| ControlRequest::PatchSession { patch, reply })
        .await?;
    Ok(text(""))
}

pub(super) async fn default_save_path(State(state): State<QbtState>) -> Result<Response, QbtError> {
    let info = state.handle.call(ControlRequest::GetSession).await?;
    Ok(text(info.download_dir))
}

fn transfer_of(stats: &SessionStats, info: &SessionInfo) -> Value {
    let s = &info.settings;
    let (down, up) = if s.alt_speed_active {
        (s.alt_download_limit, s.alt_upload_limit)
    } else {
        (s.download_limit, s.upload_limit)
    };
    json!({
        "dl_info_speed": stats.download_rate,
        "dl_info_data": stats.session_downloaded,
        "up_info_speed": stats.upload_rate,
        "up_info_data": stats.session_uploaded,
        "dl_rate_limit": limit_or_zero(down),
        "up_rate_limit": limit_or_zero(up),
        "dht_nodes": 0,
        "connection_status": "connected",
    })
}

pub(super) async fn transfer_info(State(state): State<QbtState>) -> Result<Json<Value>, QbtError> {
    let stats = state.handle.call(ControlRequest::Stats).await?;
    let info = state.handle.call(ControlRequest::GetSession).await?;
    Ok(Json(transfer_of(&stats, &info)))
}
