//! The bearer token every route but `/api/v1/health` requires.

use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiState, ClientAddr};
use crate::control::ApiError;

/// Lets the request through when it carries `Authorization: Bearer <token>`;
/// answers 401 `unauthorized` otherwise, and 429 `too_many_failures` to an address
/// that failed too often lately (see [`super::auth_failures`]).
pub(crate) async fn require_token(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|c| c.0 .0.ip());
    let now = Instant::now();
    if let Some(left) = client.and_then(|ip| state.auth_failures.blocked(ip, now)) {
        return too_many_failures(left);
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    let refusal = match presented {
        Some(token) if token_matches(&state.auth.token, token) => return next.run(request).await,
        Some(_) => unauthorized("the API token in the Authorization header is wrong"),
        None => unauthorized(
            "this route needs the API token: send `Authorization: Bearer <token>` (the token is in \
             the daemon's state dir, file api.token)",
        ),
    };
    if let Some(ip) = client {
        if state.auth_failures.failed(ip, now) {
            tracing::warn!(%ip, "control API: too many failed authentications, refusing this address for {:?}", super::auth_failures::BLOCK_FOR);
        }
    }
    refusal.into_response()
}

fn too_many_failures(left: std::time::Duration) -> Response {
    let mut response = ApiError::new(
        429,
        "too_many_failures",
        format!(
            "too many failed authentications from this address; try again in {} s",
            left.as_secs().max(1)
        ),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&left.as_secs().max(1).to_string()) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    response
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(401, "unauthorized", message)
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is
/// case-insensitive, as RFC 7235 says).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares in constant time, so the answer's timing never tells how much of a guess
/// was right. An empty configured token matches nothing.
fn token_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && constant_time_eq::constant_time_eq(expected.as_bytes(), presented.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, token_matches};

    #[test]
    fn bearer_scheme_is_case_insensitive_and_trimmed() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn empty_configured_token_matches_nothing() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
        assert!(!token_matches("", ""));
    }
}
