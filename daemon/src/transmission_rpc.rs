//! Transmission's RPC at `/transmission/rpc`, on the daemon's API port (and its
//! extra addresses), so the tools that drive Transmission (the *arr apps,
//! transmission-remote, Flood, the PyPI `transmission-rpc`) drive ccbt.
//!
//! It follows Transmission 4.x's `docs/rpc-spec.md`: the classic envelope and JSON-RPC
//! 2.0 on one endpoint, the 409 session-id handshake, HTTP Basic when credentials
//! are configured (`[api.transmission]`) and loopback clients only when not. Each
//! method becomes [`ControlRequest`]s to the core, like the native API's routes;
//! nothing here touches the session.

mod access_guard;
mod envelope;
mod key_names;
mod recent_activity;
mod rpc_args;
mod rpc_error;
mod session_methods;
mod torrent_actions;
mod torrent_add;
mod torrent_fields;
mod torrent_get;
mod torrent_ids;
mod torrent_set;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{Map, Value};
use tokio::sync::watch;

pub use access_guard::{RPC_VERSION_HEADER, SESSION_ID_HEADER};
pub use session_methods::{RPC_VERSION, RPC_VERSION_SEMVER};

use crate::api_server::compat_auth::CompatCredentials;
use crate::api_server::ClientAddr;
use crate::api_types::QueueMove;
use crate::control::{ControlHandle, TorrentAction};
use envelope::{Call, Incoming, Shape};
use rpc_error::{RpcCode, RpcError};

/// The endpoint's path, as Transmission's.
pub const RPC_PATH: &str = "/transmission/rpc";
/// Largest request body: a `torrent-add` carries a `.torrent` of up to 16 MiB in
/// base64 (a third more), plus the rest of the request.
pub const MAX_RPC_BODY_BYTES: usize = crate::api_server::MAX_TORRENT_BODY_BYTES / 3 * 4 + 64 * 1024;

/// What every RPC request shares: the way to the core, the credentials, this run's
/// CSRF session id and the recent-activity log.
pub struct RpcService {
    handle: ControlHandle,
    credentials: Option<CompatCredentials>,
    session_id: String,
    recent: Arc<Mutex<recent_activity::RecentActivity>>,
}

/// The routes of `/transmission/rpc`, to merge beside the native API (outside its
/// bearer-token layer: this API has its own auth). Starts following the event bus
/// for `recently-active` until `stopping` turns true; call it inside the runtime.
pub fn routes(
    handle: ControlHandle,
    credentials: Option<CompatCredentials>,
    stopping: watch::Receiver<bool>,
) -> Router {
    let recent = Arc::new(Mutex::new(recent_activity::RecentActivity::default()));
    tokio::spawn(recent_activity::follow(recent.clone(), handle.subscribe(), stopping));
    let service = Arc::new(RpcService {
        handle,
        credentials,
        session_id: access_guard::new_session_id(),
        recent,
    });
    // transmission-remote 3.00 posts to `/transmission/rpc/`.
    Router::new()
        .route(RPC_PATH, any(rpc))
        .route(&format!("{RPC_PATH}/"), any(rpc))
        .with_state(service)
}

fn with_rpc_headers(mut response: Response, session_id: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(RPC_VERSION_HEADER, HeaderValue::from(RPC_VERSION));
    if let Ok(id) = HeaderValue::from_str(session_id) {
        headers.entry(SESSION_ID_HEADER).or_insert(id);
    }
    response
}

fn json_response(value: &Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

async fn rpc(
    State(svc): State<Arc<RpcService>>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(refused) = access_guard::refusal(svc.credentials.as_ref(), &svc.session_id, client, &headers) {
        return with_rpc_headers(refused, &svc.session_id);
    }
    if method != Method::POST {
        let mut response = (
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a JSON request to /transmission/rpc",
        )
            .into_response();
        response.headers_mut().insert("Allow", HeaderValue::from_static("POST"));
        return with_rpc_headers(response, &svc.session_id);
    }
    let bytes = match crate::api_server::read_limited(&headers, body, MAX_RPC_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let response = (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::PAYLOAD_TOO_LARGE),
                e.message,
            )
                .into_response();
            return with_rpc_headers(response, &svc.session_id);
        }
    };
    let response = match envelope::parse(&bytes) {
        Incoming::One(call) => match answer(&svc, call).await {
            Some(value) => json_response(&value),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        Incoming::Batch(calls) => {
            let mut answers = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(value) = answer(&svc, call).await {
                    answers.push(value);
                }
            }
            if answers.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                json_response(&Value::Array(answers))
            }
        }
    };
    with_rpc_headers(response, &svc.session_id)
}

/// Runs one call and shapes its answer (none for a notification).
async fn answer(svc: &RpcService, call: Result<Call, (Shape, RpcError)>) -> Option<Value> {
    match call {
        Ok(call) => {
            let result = dispatch(svc, &call).await;
            if let Err(e) = &result {
                tracing::debug!(method = %call.method, error = %e, "transmission rpc call failed");
            }
            match result {
                Ok(arguments) => envelope::success(&call.shape, arguments),
                Err(e) => envelope::failure(&call.shape, &e),
            }
        }
        Err((shape, e)) => envelope::failure(&shape, &e),
    }
}

/// The method names we answer (snake_case, as both spellings normalize to).
async fn dispatch(svc: &RpcService, call: &Call) -> Result<Map<String, Value>, RpcError> {
    let args = &call.args;
    match call.method.as_str() {
        "session_get" => session_methods::session_get(svc, args).await,
        "session_set" => session_methods::session_set(svc, args).await,
        "session_stats" => session_methods::session_stats(svc).await,
        "free_space" => session_methods::free_space(args).await,
        "torrent_get" => {
            let snake_header = matches!(call.shape, Shape::JsonRpc { .. });
            torrent_get::torrent_get(svc, args, snake_header).await
        }
        "torrent_add" => torrent_add::torrent_add(svc, args).await,
        "torrent_set" => torrent_set::torrent_set(svc, args).await,
        "torrent_start" => torrent_actions::action(svc, args, TorrentAction::Resume).await,
        "torrent_start_now" => torrent_actions::action(svc, args, TorrentAction::ForceStart).await,
        "torrent_stop" => torrent_actions::action(svc, args, TorrentAction::Pause).await,
        "torrent_verify" => torrent_actions::action(svc, args, TorrentAction::Verify).await,
        "torrent_reannounce" => torrent_actions::action(svc, args, TorrentAction::Reannounce).await,
        "torrent_remove" => torrent_actions::remove(svc, args).await,
        "torrent_set_location" => torrent_actions::set_location(svc, args).await,
        "queue_move_top" => torrent_actions::queue_move(svc, args, QueueMove::Top).await,
        "queue_move_up" => torrent_actions::queue_move(svc, args, QueueMove::Up).await,
        "queue_move_down" => torrent_actions::queue_move(svc, args, QueueMove::Down).await,
        "queue_move_bottom" => torrent_actions::queue_move(svc, args, QueueMove::Bottom).await,
        other => Err(RpcError::new(
            RpcCode::MethodNotFound,
            format!("method name not recognized: {other}"),
        )),
    }
}
