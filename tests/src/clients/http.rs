//! Requests to the clients' loopback web APIs, over `minreq` (blocking, std-only),
//! and the two encodings those APIs take that it leaves to its user.

use std::net::SocketAddr;
use std::time::Duration;

/// A response: status code, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("bad JSON ({e}): {}", self.text()))
    }

    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    }
}

/// Sends one request to `http://{addr}{path}` and reads the whole response; the
/// connection and the whole exchange are bounded by `timeout` (whole seconds,
/// at least one: minreq's unit).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let url = format!("http://{addr}{path}");
    let method_kind = match method {
        "GET" => minreq::Method::Get,
        "POST" => minreq::Method::Post,
        other => minreq::Method::Custom(other.to_string()),
    };
    let mut req = minreq::Request::new(method_kind, url.as_str())
        .with_timeout(timeout.as_secs().max(1))
        .with_follow_redirects(false);
    for (k, v) in headers {
        req = req.with_header(*k, *v);
    }
    if !body.is_empty() || method != "GET" {
        req = req.with_body(body.to_vec());
    }
    let resp = req.send().map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status_code;
    let headers = resp.headers.clone();
    Ok(Response {
        status,
        headers,
        body: resp.into_bytes(),
    })
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn urlencode(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `multipart/form-data` body: (name, filename, bytes) parts; returns the
/// content type (with boundary) and the body.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----ccbt-interop-boundary-7d1f0c2a";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
