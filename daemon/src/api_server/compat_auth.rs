//! Who may use the compatibility APIs (Transmission RPC, qBittorrent Web API). Each
//! checks its own credentials from the config; with none configured, only clients on
//! loopback get in, as Transmission's whitelist and qBittorrent's "bypass
//! authentication for localhost" do by default.

use std::net::SocketAddr;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use base64::Engine as _;

/// A username and password from the config.
#[derive(Clone, PartialEq, Eq)]
pub struct CompatCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for CompatCredentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompatCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl CompatCredentials {
    /// Whether `username`/`password` are these, compared in constant time (the
    /// username too: its length and prefix are also a secret worth keeping).
    pub fn matches(&self, username: &str, password: &str) -> bool {
        let user_ok = constant_time_eq::constant_time_eq(self.username.as_bytes(), username.as_bytes());
        let pass_ok = constant_time_eq::constant_time_eq(self.password.as_bytes(), password.as_bytes());
        user_ok & pass_ok
    }
}

/// The username and password of an `Authorization: Basic …` header (RFC 7617); the
/// scheme is case-insensitive, the password may contain `:`.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// With no credentials configured a compatibility API serves loopback clients only.
pub fn open_without_credentials(peer: SocketAddr) -> bool {
    let ip = peer.ip();
    // An IPv4 client on a dual-stack socket shows up as ::ffff:127.0.0.1.
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    ip.is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_header_gives_user_and_password() {
        // "admin:pa:ss" in base64.
        let h = with_auth("basic YWRtaW46cGE6c3M=");
        assert_eq!(basic_credentials(&h), Some(("admin".into(), "pa:ss".into())));
        assert_eq!(basic_credentials(&with_auth("Bearer YWRtaW46cGE6c3M=")), None);
        assert_eq!(basic_credentials(&with_auth("Basic !!!")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn credentials_match_only_exactly() {
        let c = CompatCredentials {
            username: "admin".into(),
            password: "secret".into(),
        };
        assert!(c.matches("admin", "secret"));
        assert!(!c.matches("admin", "secre"));
        assert!(!c.matches("Admin", "secret"));
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn only_loopback_is_open_without_credentials() {
        assert!(open_without_credentials("127.0.0.1:5000".parse().unwrap()));
        assert!(open_without_credentials("[::1]:5000".parse().unwrap()));
        assert!(open_without_credentials("[::ffff:127.0.0.1]:5000".parse().unwrap()));
        assert!(!open_without_credentials("192.168.1.2:5000".parse().unwrap()));
        assert!(!open_without_credentials("[::ffff:10.0.0.1]:5000".parse().unwrap()));
    }
}
