//! Who may call `/transmission/rpc`, checked in Transmission's order: the client's
//! address or credentials (HTTP Basic when a username and password are configured,
//! loopback only when not), then the CSRF session id, which a client learns from
//! the 409 answer to its first request.

use std::net::SocketAddr;

use axum::http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::RngCore;

use crate::api_server::compat_auth::{basic_credentials, open_without_credentials, CompatCredentials};

pub const SESSION_ID_HEADER: &str = "X-Transmission-Session-Id";
pub const RPC_VERSION_HEADER: &str = "X-Transmission-Rpc-Version";

/// A fresh CSRF session id: 48 random characters, new each daemon run.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 36];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"));
    response
}

/// Why the request may not go through (401, 403 or 409), or none when it may.
pub fn refusal(
    credentials: Option<&CompatCredentials>,
    session_id: &str,
    client: SocketAddr,
    headers: &HeaderMap,
) -> Option<Response> {
    match credentials {
        Some(expected) => {
            let ok = basic_credentials(headers).is_some_and(|(user, pass)| expected.matches(&user, &pass));
            if !ok {
                let mut response = html(
                    StatusCode::UNAUTHORIZED,
                    "<h1>401: Unauthorized</h1>Unauthorized User".to_string(),
                );
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"Transmission\""),
                );
                return Some(response);
            }
        }
        None => {
            if !open_without_credentials(client) {
                return Some(html(
                    StatusCode::FORBIDDEN,
                    format!(
                        "<h1>403: Forbidden</h1><p>Unauthorized IP Address.</p><p>{} is not on loopback and no \
                         username and password are configured: set [api.transmission] username and password \
                         in the daemon's config to serve other hosts.</p>",
                        client.ip()
                    ),
                ));
            }
        }
    }
    let presented = headers.get(SESSION_ID_HEADER).and_then(|v| v.to_str().ok());
    if presented != Some(session_id) {
        let mut response = html(
            StatusCode::CONFLICT,
            format!(
                "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p><p>To fix this, \
                 follow these steps:<ol><li> When reading a response, get its {SESSION_ID_HEADER} header and \
                 remember it<li> Add the updated header to your outgoing requests<li> When you get this 409 \
                 error message, resend your request with the updated header</ol></p><p><code>{SESSION_ID_HEADER}: \
                 {session_id}</code></p>"
            ),
        );
        if let Ok(value) = HeaderValue::from_str(session_id) {
            response.headers_mut().insert(SESSION_ID_HEADER, value);
        }
        response.headers_mut().insert(
            "Access-Control-Expose-Headers",
            HeaderValue::from_static(SESSION_ID_HEADER),
        );
        return Some(response);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "session-abc";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn loopback() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    #[test]
    fn first_request_gets_409_with_the_session_id() {
        let refused = refusal(None, ID, loopback(), &HeaderMap::new()).unwrap();
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        assert_eq!(refused.headers()[SESSION_ID_HEADER], ID);
        assert!(refusal(None, ID, loopback(), &headers(&[(SESSION_ID_HEADER, ID)])).is_none());
        let stale = refusal(None, ID, loopback(), &headers(&[(SESSION_ID_HEADER, "old")])).unwrap();
        assert_eq!(stale.status(), StatusCode::CONFLICT);
    }

    #[test]
    fn without_credentials_only_loopback_is_served() {
        let remote: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let refused = refusal(None, ID, remote, &headers(&[(SESSION_ID_HEADER, ID)])).unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn with_credentials_basic_auth_comes_before_the_session_id() {
        let creds = CompatCredentials {
            username: "admin".into(),
            password: "secret".into(),
        };
        let remote: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        let refused = refusal(Some(&creds), ID, remote, &HeaderMap::new()).unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.headers()[WWW_AUTHENTICATE], "Basic realm=\"Transmission\"");
        // "admin:wrong"
        let wrong = headers(&[("authorization", "Basic YWRtaW46d3Jvbmc="), (SESSION_ID_HEADER, ID)]);
        assert_eq!(
            refusal(Some(&creds), ID, loopback(), &wrong).unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        // "admin:secret", from anywhere
        let right = [("authorization", "Basic YWRtaW46c2VjcmV0")];
        assert_eq!(
            refusal(Some(&creds), ID, remote, &headers(&right)).unwrap().status(),
            StatusCode::CONFLICT
        );
        let with_id = headers(&[right[0], (SESSION_ID_HEADER, ID)]);
        assert!(refusal(Some(&creds), ID, remote, &with_id).is_none());
    }
}
