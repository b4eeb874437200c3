//! A blocking HTTP client of the daemon's control API (minreq): one request at a
//! time, bounded by a timeout, errors mapped to exit codes.

use ccbt_daemon::api_types::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::endpoint::ApiEndpoint;
use crate::error::CliError;

/// Seconds a request may take before the daemon counts as unreachable.
pub const REQUEST_TIMEOUT_SECS: u64 = 15;
/// Seconds the health probe waits (it decides between the daemon and a foreground run).
pub const HEALTH_TIMEOUT_SECS: u64 = 2;
/// Prefix of every route.
pub const API_PREFIX: &str = "/api/v1";

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// Talks to one daemon.
#[derive(Clone, Debug)]
pub struct ApiClient {
    endpoint: ApiEndpoint,
}

impl ApiClient {
    pub fn new(endpoint: ApiEndpoint) -> ApiClient {
        ApiClient { endpoint }
    }

    pub fn endpoint(&self) -> &ApiEndpoint {
        &self.endpoint
    }

    /// `GET {route}` parsed as `T`.
    pub fn get<T: DeserializeOwned>(&self, route: &str) -> Result<T, CliError> {
        let body = self.call(Method::Get, route, &[], None)?;
        self.parse(route, &body)
    }

    /// `GET {route}` as untyped JSON, for `--json` (every field the daemon sent).
    pub fn get_json(&self, route: &str) -> Result<serde_json::Value, CliError> {
        self.get(route)
    }

    /// A request with a JSON body (or none), answered with JSON.
    pub fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        route: &str,
        body: Option<&B>,
    ) -> Result<T, CliError> {
        let body = match body {
            Some(b) => Some(Body {
                content_type: "application/json",
                bytes: serde_json::to_vec(b).map_err(|e| CliError::BadResponse {
                    url: self.url(route),
                    reason: format!("cannot encode the request: {e}"),
                })?,
            }),
            None => None,
        };
        let answer = self.call(method, route, &[], body)?;
        self.parse(route, &answer)
    }

    /// A request whose answer carries nothing we need (`DELETE`, `shutdown`).
    pub fn send_no_answer(&self, method: Method, route: &str, query: &[(&str, String)]) -> Result<(), CliError> {
        self.call(method, route, query, None).map(|_| ())
    }

    /// `POST` of raw bytes with options in the query string (a `.torrent` upload).
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &[(&str, String)],
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> Result<T, CliError> {
        let answer = self.call(Method::Post, route, query, Some(Body { content_type, bytes }))?;
        self.parse(route, &answer)
    }

    /// `GET /api/v1/health` (no token needed): whether a daemon answers at all.
    pub fn health(&self) -> Result<(), CliError> {
        let url = self.url("/health");
        minreq::get(url.clone())
            .with_timeout(HEALTH_TIMEOUT_SECS)
            .send()
            .map_err(|e| transport_error(&url, e))
            .and_then(|r| match r.status_code {
                200..=299 => Ok(()),
                code => Err(CliError::BadResponse {
                    url,
                    reason: format!("health check answered HTTP {code}"),
                }),
            })
    }

    /// `GET {route}` left open: the body is read as it comes (the event stream).
    /// The connection ends after `max_secs` at most, so a reader that waits on a
    /// daemon gone silent is freed; it opens the stream again.
    pub fn open_stream(&self, route: &str, max_secs: u64) -> Result<minreq::ResponseLazy, CliError> {
        let url = self.url(route);
        let mut request = minreq::get(url.clone())
            .with_timeout(max_secs)
            .with_follow_redirects(false);
        if let Some(token) = &self.endpoint.token {
            request = request.with_header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send_lazy().map_err(|e| transport_error(&url, e))?;
        match response.status_code {
            200..=299 => Ok(response),
            code => Err(CliError::BadResponse {
                url,
                reason: format!("the stream answered HTTP {code}"),
            }),
        }
    }

    fn url(&self, route: &str) -> String {
        format!("{}{API_PREFIX}{route}", self.endpoint.base_url)
    }

    fn call(
        &self,
        method: Method,
        route: &str,
        query: &[(&str, String)],
        body: Option<Body>,
    ) -> Result<Vec<u8>, CliError> {
        let url = self.url(route);
        let mut full = url.clone();
        for (i, (key, value)) in query.iter().enumerate() {
            full.push(if i == 0 { '?' } else { '&' });
            full.push_str(key);
            full.push('=');
            full.push_str(&query_escape(value));
        }
        let mut request = match method {
            Method::Get => minreq::get(full),
            Method::Post => minreq::post(full),
            Method::Patch => minreq::patch(full),
            Method::Delete => minreq::delete(full),
        }
        .with_timeout(REQUEST_TIMEOUT_SECS)
        .with_follow_redirects(false);
        if let Some(token) = &self.endpoint.token {
            request = request.with_header("Authorization", format!("Bearer {token}"));
        }
        request = match body {
            Some(body) => request
                .with_header("Content-Type", body.content_type)
                .with_body(body.bytes),
            // An empty POST still says its length: some servers want it.
            None if matches!(method, Method::Post | Method::Patch) => request.with_body(Vec::new()),
            None => request,
        };
        let response = request.send().map_err(|e| transport_error(&url, e))?;
        let status = response.status_code;
        let bytes = response.into_bytes();
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(self.error_from(&url, status, &bytes))
    }

    /// A non-2xx answer: the daemon's `{"error":{…}}` if it sent one.
    fn error_from(&self, url: &str, status: u16, bytes: &[u8]) -> CliError {
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(body) => {
                let mut message = body.error.message;
                if status == 401 && self.endpoint.token.is_none() {
                    message.push_str(&format!(
                        " (no token found: {} is not readable and CCBT_API_TOKEN is not set; use --state-dir DIR)",
                        self.endpoint.token_file.display()
                    ));
                }
                CliError::Api {
                    status,
                    code: body.error.code,
                    message,
                }
            }
            Err(_) => CliError::BadResponse {
                url: url.to_string(),
                reason: format!(
                    "HTTP {status} without an API error body: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ),
            },
        }
    }

    fn parse<T: DeserializeOwned>(&self, route: &str, bytes: &[u8]) -> Result<T, CliError> {
        // An empty answer reads as JSON null, so `()` and `Option` accept it.
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            &b"null"[..]
        } else {
            bytes
        };
        serde_json::from_slice(bytes).map_err(|e| CliError::BadResponse {
            url: self.url(route),
            reason: format!("unexpected answer: {e}"),
        })
    }
}

struct Body {
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// A transport failure: the daemon is not there (refused, reset, timed out) or
/// what answered does not speak HTTP.
fn transport_error(url: &str, e: minreq::Error) -> CliError {
    match e {
        minreq::Error::IoError(io) => CliError::DaemonUnreachable {
            url: url.to_string(),
            reason: io.to_string(),
        },
        other => CliError::BadResponse {
            url: url.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
        assert_eq!(query_escape("127.0.0.1:6881"), "127.0.0.1%3A6881");
        assert_eq!(query_escape("plain-name_1.~"), "plain-name_1.~");
    }

    #[test]
    fn refused_connection_is_unreachable_with_the_url() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = ApiEndpoint {
            base_url: format!("http://127.0.0.1:{port}"),
            explicit: true,
            token: None,
            token_file: "/nonexistent/api.token".into(),
        };
        let err = ApiClient::new(endpoint)
            .get::<serde_json::Value>("/torrents")
            .unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(
            text.contains(&format!("http://127.0.0.1:{port}/api/v1/torrents")),
            "{text}"
        );
        assert!(text.contains("btbt daemon start"), "{text}");
    }
}
