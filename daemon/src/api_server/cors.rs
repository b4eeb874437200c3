//! CORS for browser dashboards: off unless `[api] cors_origins` lists origins. Then
//! a request from a listed origin gets `Access-Control-Allow-Origin` naming it (never
//! `*`: the API carries a token), and its preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) is answered 204 before the token is asked for, as
//! browsers send preflights without credentials. Other origins get no CORS headers,
//! so their pages cannot read the answers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";
const ALLOWED_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "authorization, content-type";

pub(crate) async fn cors(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|o| {
            o.to_str()
                .is_ok_and(|o| state.auth.cors_origins.iter().any(|allowed| allowed == o))
        })
        .cloned();
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
        );
        r
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}
