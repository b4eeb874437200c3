//! The qBittorrent Web API v2 (`/api/v2/…`), answered as qBittorrent 5.0 does, so
//! the tools that drive qBittorrent (Sonarr, Radarr, Lidarr, Prowlarr, autobrr,
//! cross-seed, the `qbittorrent-api` Python client) drive the daemon.
//!
//! Served on the control API's port beside the native API, outside its bearer-token
//! layer, with qBittorrent's own auth (`sessions.rs`). Every handler turns its call
//! into the core's typed requests ([`ControlRequest`](crate::control::ControlRequest));
//! nothing here touches the session. Categories are labels plus a save path, tags
//! are labels; `sync/maindata` reads the core's change log.

pub mod error;
pub mod form;
pub mod sessions;
pub mod torrent_list;
pub mod torrent_view;

mod app_routes;
mod category_routes;
mod sync_maindata;
mod torrent_actions;
mod torrent_add;
mod torrent_routes;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, MethodRouter};
use axum::Router;

use self::error::QbtError;
use self::sessions::{Admission, SessionStore};
use crate::api_server::compat_auth::CompatCredentials;
use crate::api_server::ClientAddr;
use crate::control::ControlHandle;

/// What `app/version` answers: clients pick the 5.x names from it.
pub const APP_VERSION: &str = "v5.0.0";
/// What `app/webapiVersion` answers.
pub const WEBAPI_VERSION: &str = "2.11.2";

/// What every handler of this API gets.
#[derive(Clone)]
pub(crate) struct QbtState {
    pub(crate) handle: ControlHandle,
    pub(crate) credentials: Option<Arc<CompatCredentials>>,
    /// The native API's token, also taken as `Authorization: Bearer`.
    pub(crate) native_token: Arc<str>,
    pub(crate) sessions: Arc<Mutex<SessionStore>>,
    pub(crate) server_history: Arc<Mutex<sync_maindata::ServerHistory>>,
}

impl QbtState {
    pub(crate) fn new(handle: ControlHandle, credentials: Option<CompatCredentials>, native_token: &str) -> QbtState {
        QbtState {
            handle,
            credentials: credentials.map(Arc::new),
            native_token: Arc::from(native_token),
            sessions: Arc::new(Mutex::new(SessionStore::new())),
            server_history: Arc::new(Mutex::new(sync_maindata::ServerHistory::default())),
        }
    }
}

/// Lets in what [`SessionStore::admit`] allows; 403 `Forbidden` otherwise.
async fn require_login(
    State(state): State<QbtState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    req: Request,
    next: Next,
) -> Response {
    let admission = match state.sessions.lock() {
        Ok(mut store) => store.admit(
            state.credentials.as_deref(),
            &state.native_token,
            req.headers(),
            client,
            Instant::now(),
        ),
        Err(_) => Admission::Forbidden,
    };
    match admission {
        Admission::Allowed => next.run(req).await,
        Admission::Forbidden => QbtError::forbidden().into_response(),
    }
}

/// A getter: GET or POST, as qBittorrent takes both.
fn getter<H, T>(handler: H) -> MethodRouter<QbtState>
where
    H: axum::handler::Handler<T, QbtState> + Clone,
    T: 'static,
{
    get(handler.clone()).post(handler)
}

/// The qBittorrent API's routes, ready to merge beside the native API.
pub fn routes(handle: ControlHandle, credentials: Option<CompatCredentials>, native_token: &str) -> Router {
    let state = QbtState::new(handle, credentials, native_token);
    use torrent_actions as act;
    let mut guarded = Router::new()
        .route("/api/v2/app/version", getter(app_routes::version))
        .route("/api/v2/app/webapiVersion", getter(app_routes::webapi_version))
        .route("/api/v2/app/buildInfo", getter(app_routes::build_info))
        .route("/api/v2/app/preferences", getter(app_routes::preferences))
        .route("/api/v2/app/setPreferences", post(app_routes::set_preferences))
        .route("/api/v2/app/defaultSavePath", getter(app_routes::default_save_path))
        .route("/api/v2/transfer/info", getter(app_routes::transfer_info))
        .route("/api/v2/torrents/info", getter(torrent_routes::info))
        .route("/api/v2/torrents/properties", getter(torrent_routes::properties))
        .route("/api/v2/torrents/files", getter(torrent_routes::files))
        .route("/api/v2/torrents/trackers", getter(torrent_routes::trackers))
        .route("/api/v2/torrents/add", post(torrent_add::add))
        .route("/api/v2/torrents/delete", post(act::delete))
        .route("/api/v2/torrents/setCategory", post(act::set_category))
        .route("/api/v2/torrents/addTags", post(act::add_tags))
        .route("/api/v2/torrents/removeTags", post(act::remove_tags))
        .route("/api/v2/torrents/setShareLimits", post(act::set_share_limits))
        .route("/api/v2/torrents/setForceStart", post(act::set_force_start))
        .route("/api/v2/torrents/setLocation", post(act::set_location))
        .route("/api/v2/torrents/setDownloadLimit", post(act::set_download_limit))
        .route("/api/v2/torrents/setUploadLimit", post(act::set_upload_limit))
        .route(
            "/api/v2/torrents/toggleSequentialDownload",
            post(act::toggle_sequential),
        )
        .route("/api/v2/torrents/filePrio", post(act::file_prio))
        .route("/api/v2/torrents/categories", getter(category_routes::categories))
        .route(
            "/api/v2/torrents/createCategory",
            post(category_routes::create_category),
        )
        .route("/api/v2/torrents/editCategory", post(category_routes::edit_category))
        .route(
            "/api/v2/torrents/removeCategories",
            post(category_routes::remove_categories),
        )
        .route("/api/v2/torrents/tags", getter(category_routes::tags))
        .route("/api/v2/torrents/createTags", post(category_routes::create_tags))
        .route("/api/v2/torrents/deleteTags", post(category_routes::delete_tags))
        .route("/api/v2/sync/maindata", getter(sync_maindata::maindata));
    for (name, action) in act::SIMPLE_ACTIONS {
        guarded = guarded.route(
            &format!("/api/v2/torrents/{name}"),
            post(move |state, form| act::simple(state, form, action)),
        );
    }
    for (name, to) in act::QUEUE_MOVES {
        guarded = guarded.route(
            &format!("/api/v2/torrents/{name}"),
            post(move |state, form| act::queue_move(state, form, to)),
        );
    }
    let guarded = guarded
        .route("/api/v2/{*rest}", any(not_found))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_login));
    Router::new()
        .route("/api/v2/auth/login", post(app_routes::login))
        .route("/api/v2/auth/logout", post(app_routes::logout))
        .merge(guarded)
        .layer(DefaultBodyLimit::max(form::MAX_FORM_BYTES))
        .with_state(state)
}

async fn not_found() -> QbtError {
    QbtError::not_found("Not Found")
}

/// A 40-hex-digit info-hash, lower-cased; anything else names no torrent.
pub(crate) fn checked_hash(hash: &str) -> Result<String, QbtError> {
    let h = hash.trim().to_ascii_lowercase();
    if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(h)
    } else {
        Err(QbtError::not_found(format!("Torrent hash {hash:?} was not found")))
    }
}
