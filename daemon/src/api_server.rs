//! The control API's HTTP server: `/api/v1/…` over HTTP/1.1 + JSON, served by axum
//! on the control thread's current-thread tokio runtime.
//!
//! Every handler turns its request into a [`ControlRequest`](crate::control::ControlRequest),
//! awaits the core's reply through the [`ControlHandle`] and serializes it; nothing
//! here touches the session. Every error, ours or axum's, leaves as
//! `{"error":{"code","message"}}` (see `docs/api.md`).

mod alert_routes;
mod auth;
pub mod auth_failures;
mod changes_route;
pub mod compat_auth;
mod config_routes;
mod connection_limit;
mod cors;
mod error_response;
mod event_stream;
mod ip_filter_routes;
mod query_options;
mod request_body;
mod session_routes;
mod torrent_routes;

#[cfg(test)]
mod tests;

pub use connection_limit::ClientAddr;
pub use event_stream::EVENTS_DROPPED_KIND;
pub(crate) use request_body::read_limited;
pub use session_routes::Done;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::control::{ControlHandle, TorrentAction};

/// Largest body of `POST /api/v1/torrents` (a raw `.torrent`, or JSON carrying one in
/// base64).
pub const MAX_TORRENT_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest body of every other request (JSON patches and moves).
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;
/// Open API connections at most (event streams included); more wait in the listen
/// backlog.
pub const MAX_API_CONNECTIONS: usize = 256;
/// A connection on which nothing moves either way for this long is closed.
pub const API_IDLE_TIMEOUT_SECS: u64 = 60;
/// Seconds between the keep-alive comments of `/api/v1/events` (well inside the idle
/// timeout, so an open stream stays open).
pub const EVENT_KEEP_ALIVE_SECS: u64 = 15;

/// What a request must show: `Authorization: Bearer <token>` for the native API;
/// the compatibility APIs check their own credentials (none = loopback only).
#[derive(Clone)]
pub struct ApiAuth {
    pub token: String,
    /// `[api.qbittorrent]` credentials for the qBittorrent Web API; none = loopback
    /// clients only.
    pub qbittorrent: Option<compat_auth::CompatCredentials>,
    /// `[api.transmission]` username and password: HTTP Basic on `/transmission/rpc`.
    pub transmission: Option<compat_auth::CompatCredentials>,
    /// `[api] cors_origins`: browser origins allowed to call the API (empty = no CORS headers).
    pub cors_origins: Vec<String>,
}

impl std::fmt::Debug for ApiAuth {
    // The token stays out of logs (the credentials redact their own password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAuth")
            .field("token", &"<redacted>")
            .field("transmission", &self.transmission)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiBindError {
    #[error(
        "refusing to serve the control API on {addr}: it is not a loopback address and no API token \
         is set in the config; set a token in the config file, or use a loopback address such as \
         127.0.0.1:{default_port}",
        default_port = crate::api_types::DEFAULT_API_PORT
    )]
    NonLoopbackWithoutToken { addr: SocketAddr },
}

/// Refuses an API address other hosts can reach unless the config set a token: a
/// generated token sits in the state dir, readable by anyone who can read that file,
/// which is only safe when the API is local.
pub fn check_bind_allowed(addr: SocketAddr, token_configured: bool) -> Result<(), ApiBindError> {
    if addr.ip().is_loopback() || token_configured {
        Ok(())
    } else {
        Err(ApiBindError::NonLoopbackWithoutToken { addr })
    }
}

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) handle: ControlHandle,
    pub(crate) auth: Arc<ApiAuth>,
    /// Turns true when the server stops, which ends the open event streams (a
    /// graceful shutdown waits for every response to end).
    pub(crate) stopping: watch::Receiver<bool>,
    /// Failed authentications by client address (the native API's token).
    pub(crate) auth_failures: Arc<auth_failures::AuthFailures>,
    /// The running config (`/api/v1/config`); None where there is none.
    pub(crate) config: Option<Arc<crate::config_reload::LiveConfig>>,
}

/// Serves the API on every listener (the API address and `[api] extra_listen`, the
/// same routes on each) until `shutdown` completes, then lets the requests in flight
/// finish and ends the event streams.
pub async fn serve(
    listeners: Vec<tokio::net::TcpListener>,
    handle: ControlHandle,
    auth: ApiAuth,
    config: Option<Arc<crate::config_reload::LiveConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stopping) = watch::channel(false);
    let app = router(ApiState {
        handle,
        auth: Arc::new(auth),
        stopping: stopping.clone(),
        auth_failures: Arc::default(),
        config,
    });
    let servers = listeners.into_iter().map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "control API listening");
        }
        let mut stop = stopping.clone();
        let app = app.clone();
        let listener = connection_limit::BoundedListener::new(
            listener,
            MAX_API_CONNECTIONS,
            std::time::Duration::from_secs(API_IDLE_TIMEOUT_SECS),
        );
        async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<ClientAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopping| *stopping).await;
                })
                .await
        }
    });
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (results, ()) = tokio::join!(futures_util::future::join_all(servers), signal);
    results.into_iter().collect()
}

/// The whole API: the routes behind the token, the health check before it, and JSON
/// answers for unknown paths and methods.
pub(crate) fn router(state: ApiState) -> Router {
    let mut api = Router::new()
        .route("/api/v1/torrents", get(torrent_routes::list).post(torrent_routes::add))
        .route("/api/v1/torrents/changes", get(changes_route::changes))
        .route(
            "/api/v1/torrents/{id}",
            get(torrent_routes::detail)
                .patch(torrent_routes::patch)
                .delete(torrent_routes::remove),
        )
        .route(
            "/api/v1/torrents/{id}/files",
            get(torrent_routes::files).patch(torrent_routes::patch_files),
        )
        .route("/api/v1/torrents/{id}/peers", get(torrent_routes::peers))
        .route("/api/v1/torrents/{id}/trackers", get(torrent_routes::trackers))
        .route("/api/v1/torrents/{id}/pieces", get(torrent_routes::pieces))
        .route("/api/v1/torrents/{id}/queue", post(torrent_routes::move_in_queue))
        .route("/api/v1/queue", get(session_routes::queue))
        .route(
            "/api/v1/session",
            get(session_routes::session).patch(session_routes::patch_session),
        )
        .route("/api/v1/stats", get(session_routes::stats))
        .route("/api/v1/bans", get(session_routes::bans))
        .route("/api/v1/bans/{addr}", axum::routing::delete(session_routes::unban))
        .route(
            "/api/v1/config",
            get(config_routes::get_config).patch(config_routes::patch_config),
        )
        .route("/api/v1/metrics", get(crate::metrics::json))
        .route("/metrics", get(crate::metrics::prometheus_text))
        .route("/api/v1/shutdown", post(session_routes::shutdown))
        .route("/api/v1/events", get(event_stream::events))
        .route("/api/v1/ipfilter", get(ip_filter_routes::status))
        .route("/api/v1/ipfilter/reload", post(ip_filter_routes::reload))
        .route("/api/v1/ipfilter/check/{addr}", get(ip_filter_routes::check))
        .route("/api/v1/alerts", get(alert_routes::list))
        .route(
            "/api/v1/alerts/rules",
            get(alert_routes::rules).post(alert_routes::add_rule),
        )
        .route(
            "/api/v1/alerts/rules/{name}",
            axum::routing::delete(alert_routes::remove_rule),
        )
        .route("/api/v1/alerts/test", post(alert_routes::test));
    for name in ["pause", "resume", "force-start", "verify", "reannounce"] {
        if let Some(action) = TorrentAction::from_path(name) {
            api = api.route(
                &format!("/api/v1/torrents/{{id}}/{name}"),
                post(move |state, id| torrent_routes::action(state, id, action)),
            );
        }
    }
    let transmission = crate::transmission_rpc::routes(
        state.handle.clone(),
        state.auth.transmission.clone(),
        state.stopping.clone(),
    );
    api.route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        .route("/api/v1/health", get(session_routes::health))
        .method_not_allowed_fallback(error_response::method_not_allowed)
        .fallback(error_response::no_such_route)
        .with_state(state.clone())
        .merge(crate::qbittorrent_api::routes(
            state.handle.clone(),
            state.auth.qbittorrent.clone(),
            &state.auth.token,
        ))
        .merge(transmission)
        .layer(axum::middleware::from_fn_with_state(state, cors::cors))
}
