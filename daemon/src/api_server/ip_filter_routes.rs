//! The IP filter's routes: its status, a reload, and whether it blocks an address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Path, State};
use axum::Json;

use super::ApiState;
use crate::api_types::{IpFilterCheck, IpFilterStatus};
use crate::control::{ApiError, ControlRequest, IpFilterRequest};

/// `GET /api/v1/ipfilter`.
pub(crate) async fn status(State(state): State<ApiState>) -> Result<Json<IpFilterStatus>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::IpFilter(IpFilterRequest::Status(reply)))
        .await
        .map(Json)
}

/// `POST /api/v1/ipfilter/reload`: reads the lists again now; a 409 when the
/// reload was refused (the filter in force stays).
pub(crate) async fn reload(State(state): State<ApiState>) -> Result<Json<IpFilterStatus>, ApiError> {
    state
        .handle
        .call(|reply| ControlRequest::IpFilter(IpFilterRequest::Reload(reply)))
        .await
        .map(Json)
}

/// `GET /api/v1/ipfilter/check/{addr}`: an IP address (an `IP:PORT` is taken
/// for its IP).
pub(crate) async fn check(
    State(state): State<ApiState>,
    Path(text): Path<String>,
) -> Result<Json<IpFilterCheck>, ApiError> {
    let address: IpAddr = match text.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => text.parse::<SocketAddr>().map(|a| a.ip()).map_err(|_| {
            ApiError::bad_request(format!(
                "'{text}' is not an IP address (such as 1.2.3.4 or 2001:db8::1)"
            ))
        })?,
    };
    state
        .handle
        .call(|reply| ControlRequest::IpFilter(IpFilterRequest::Check { address, reply }))
        .await
        .map(Json)
}
