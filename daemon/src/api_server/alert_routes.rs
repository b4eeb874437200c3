//! `/api/v1/alerts`: what fires, the rules, and a test alert.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;

use super::request_body::{parse_json, read_limited};
use super::session_routes::Done;
use super::{ApiState, MAX_JSON_BODY_BYTES};
use crate::alerts::AlertRequest;
use crate::api_types::{AlertList, AlertRuleView, AlertView, NewAlertRule};
use crate::control::{ApiError, ControlRequest};

pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<AlertList>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Alerts(AlertRequest::List(reply)))
        .await
        .map(Json)
}

pub(crate) async fn rules(State(state): State<ApiState>) -> Result<Json<Vec<AlertRuleView>>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Alerts(AlertRequest::Rules(reply)))
        .await
        .map(Json)
}

pub(crate) async fn add_rule(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AlertRuleView>, ApiError> {
    let bytes = read_limited(&headers, body, MAX_JSON_BODY_BYTES).await?;
    let rule: NewAlertRule = parse_json(&bytes, "alert rule")?;
    state
        .handle
        .call(|reply| ControlRequest::Alerts(AlertRequest::AddRule { rule, reply }))
        .await
        .map(Json)
}

pub(crate) async fn remove_rule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Done>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Alerts(AlertRequest::RemoveRule { name, reply }))
        .await?;
    Ok(Json(Done { ok: true }))
}

pub(crate) async fn test(State(state): State<ApiState>) -> Result<Json<AlertView>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::Alerts(AlertRequest::Test(reply)))
        .await
        .map(Json)
}
