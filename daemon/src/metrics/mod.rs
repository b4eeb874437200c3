//! Monitoring: `GET /metrics` in the Prometheus text format and `GET
//! /api/v1/metrics` as JSON, both from one [`MetricsSnapshot`] the core builds per
//! scrape (its own figures and the shards' last published ones: a scrape never
//! waits for a shard). See `docs/metrics.md` for every family.
//!
//! Auth: both routes sit behind the native API's bearer token, as every route with
//! session data does (per-torrent series carry names and info-hashes). Prometheus
//! sends it with `authorization: { credentials_file: <state dir>/api.token }`.

pub mod exposition;
pub mod snapshot;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use snapshot::MetricsSnapshot;

use crate::api_server::ApiState;
use crate::control::{ApiError, ControlRequest};

/// `GET /metrics`.
pub(crate) async fn prometheus_text(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let snapshot = state.handle.call(ControlRequest::Metrics).await?;
    let text = exposition::encode(snapshot).map_err(|_| ApiError::internal("the metrics could not be encoded"))?;
    Ok(([(CONTENT_TYPE, exposition::CONTENT_TYPE)], text).into_response())
}

/// `GET /api/v1/metrics`.
pub(crate) async fn json(State(state): State<ApiState>) -> Result<Json<MetricsSnapshot>, ApiError> {
    state.handle.call(ControlRequest::Metrics).await.map(Json)
}

/// The answer when `[metrics] enabled = false`.
pub fn disabled() -> ApiError {
    ApiError::not_found("metrics are turned off in the config ([metrics] enabled = false)")
}
