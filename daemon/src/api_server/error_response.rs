//! Every error leaves as `{"error":{"code","message"}}` with its status: the core's
//! [`ApiError`]s, and what axum itself would have answered in plain text (unknown
//! route, wrong method, a path it could not decode).

use axum::extract::rejection::PathRejection;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::control::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match StatusCode::from_u16(self.status) {
            Ok(status) if status.is_client_error() || status.is_server_error() => status,
            _ => {
                tracing::error!(
                    status = self.status,
                    code = self.code,
                    "an API error carries a status that is not an error"
                );
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "control API request failed");
        } else {
            tracing::debug!(status = status.as_u16(), code = self.code, message = %self.message, "control API request refused");
        }
        let mut response = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A path under no route.
pub(crate) async fn no_such_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}: the routes are listed in docs/api.md",
        uri.path()
    ))
}

/// A known path with a method it does not take (axum adds the `Allow` header).
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        405,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}

/// A path segment axum could not decode (bad percent-encoding, not UTF-8).
pub(crate) fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(format!("the torrent id in the path: {}", rejection.body_text()))
}
