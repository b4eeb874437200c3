//! The session-wide routes: settings, totals, the queue, shutdown, health.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::request_body::{parse_json, read_limited};
use super::{ApiState, MAX_JSON_BODY_BYTES};
use crate::api_types::{BanView, SessionInfo, SessionPatch, SessionStats, TorrentSummary};
use crate::control::{ApiError, ControlRequest};

/// The answer of a route with nothing else to say (`DELETE` of a torrent,
/// `POST /shutdown`, `GET /health`): `{"ok":true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
}

/// `GET /api/v1/health`, without the token: answers as soon as the server runs (what
/// `btbt daemon start` polls for); says nothing about the session.
pub(crate) async fn health() -> Json<Done> {
    Json(Done { ok: true })
}

pub(crate) async fn session(State(state): State<ApiState>) -> Result<Json<SessionInfo>, ApiError> {
    state.handle.call(ControlRequest::GetSession).await.map(Json)
}

pub(crate) async fn patch_session(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SessionInfo>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let patch: SessionPatch = parse_json(&bytes, "session patch")?;
    state
        .handle
        .call(|reply| ControlRequest::PatchSession { patch, reply })
        .await
        .map(Json)
}

pub(crate) async fn stats(State(state): State<ApiState>) -> Result<Json<SessionStats>, ApiError> {
    state.handle.call(ControlRequest::Stats).await.map(Json)
}

/// `GET /api/v1/bans`: the session's ban list.
pub(crate) async fn bans(State(state): State<ApiState>) -> Result<Json<Vec<BanView>>, ApiError> {
    state.handle.call(ControlRequest::ListBans).await.map(Json)
}

/// `DELETE /api/v1/bans/{addr}`: lifts a ban; answers the entry lifted.
pub(crate) async fn unban(
    State(state): State<ApiState>,
    axum::extract::Path(addr): axum::extract::Path<String>,
) -> Result<Json<BanView>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Unban { addr, reply })
        .await
        .map(Json)
}

pub(crate) async fn queue(State(state): State<ApiState>) -> Result<Json<Vec<TorrentSummary>>, ApiError> {
    state.handle.call(ControlRequest::Queue).await.map(Json)
}

pub(crate) async fn shutdown(State(state): State<ApiState>) -> Result<Json<Done>, ApiError> {
    state.handle.call(ControlRequest::Shutdown).await?;
    Ok(Json(Done { ok: true }))
}
