//! qBittorrent's error answers: a status code and a line of plain text (400 bad
//! parameters, 403 not logged in, 404 unknown hash, 409 a conflict, 415 a bad
//! torrent file), never JSON.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::control::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QbtError {
    pub status: u16,
    pub body: String,
}

impl QbtError {
    pub fn new(status: u16, body: impl Into<String>) -> QbtError {
        QbtError {
            status,
            body: body.into(),
        }
    }
    pub fn bad_request(body: impl Into<String>) -> QbtError {
        QbtError::new(400, body)
    }
    pub fn forbidden() -> QbtError {
        QbtError::new(403, "Forbidden")
    }
    pub fn not_found(body: impl Into<String>) -> QbtError {
        QbtError::new(404, body)
    }
    pub fn conflict(body: impl Into<String>) -> QbtError {
        QbtError::new(409, body)
    }
}

impl From<ApiError> for QbtError {
    fn from(e: ApiError) -> QbtError {
        // The core's codes map onto qBittorrent's statuses; the message stays.
        let status = match e.code {
            "invalid_torrent" => 415,
            "duplicate" => 409,
            _ => e.status,
        };
        QbtError::new(status, e.message)
    }
}

impl IntoResponse for QbtError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], self.body).into_response()
    }
}

/// A plain-text answer with status 200 (`Ok.`, `Fails.`, a version).
pub fn text(body: impl Into<String>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body.into(),
    )
        .into_response()
}
