//! `GET /api/v1/config` (the effective config with each value's source) and
//! `PATCH /api/v1/config` (a runtime override of one live key; `btbt config set`).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::request_body::{parse_json, read_limited};
use super::{ApiState, MAX_JSON_BODY_BYTES};
use crate::api_types::{ConfigPatch, ConfigView};
use crate::config_reload::LiveConfig;
use crate::control::ApiError;

fn live(state: &ApiState) -> Result<&LiveConfig, ApiError> {
    state
        .config
        .as_deref()
        .ok_or_else(|| ApiError::new(503, "unavailable", "this server has no config to show"))
}

pub(crate) async fn get_config(State(state): State<ApiState>) -> Result<Json<ConfigView>, ApiError> {
    Ok(Json(live(&state)?.view()))
}

pub(crate) async fn patch_config(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ConfigView>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let patch: ConfigPatch = parse_json(&bytes, "config patch")?;
    let live = live(&state)?;
    live.set(&patch.key, patch.value.as_deref()).await?;
    Ok(Json(live.view()))
}
