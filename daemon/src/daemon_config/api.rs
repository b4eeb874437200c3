//! `[api]`, `[api.transmission]` and `[api.qbittorrent]`: where the control API
//! listens, its token, extra addresses, CORS origins and the compatibility APIs'
//! logins.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::socket_addr;
use crate::api_server::compat_auth::CompatCredentials;
use crate::api_types::DEFAULT_API_PORT;

/// Shortest API token accepted: a short one on a reachable address is guessable.
pub const MIN_TOKEN_LEN: usize = 16;
/// Most addresses in `[api] extra_listen`.
pub const MAX_EXTRA_LISTEN: usize = 8;
/// Most `[api] cors_origins`.
pub const MAX_CORS_ORIGINS: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct ApiConfig {
    /// The control API; a non-loopback address requires `token`.
    pub listen: SocketAddr,
    /// When set, the API's bearer token (else the daemon makes one and keeps it
    /// in the state dir).
    pub token: Option<String>,
    /// More addresses serving the same routes (every API), such as 127.0.0.1:9091
    /// for tools that assume Transmission's port.
    pub extra_listen: Vec<SocketAddr>,
    /// `[api.transmission]`: HTTP Basic credentials for `/transmission/rpc`; none =
    /// loopback clients only.
    pub transmission: Option<CompatCredentials>,
    /// `[api.qbittorrent]`: the qBittorrent Web API's login; none = only loopback
    /// clients are served (qBittorrent's "bypass authentication for localhost").
    pub qbittorrent: Option<CompatCredentials>,
    /// Origins whose browser pages may call the API (CORS); empty = no CORS headers.
    pub cors_origins: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_API_PORT),
            token: None,
            extra_listen: Vec::new(),
            transmission: None,
            qbittorrent: None,
            cors_origins: Vec::new(),
        }
    }
}

pub(super) fn read_api(t: &TableReader<'_, '_>, api: &mut ApiConfig) -> Result<(), ConfigError> {
    if let Some(q) = t.table("qbittorrent", "api.qbittorrent")? {
        api.qbittorrent = compat_credentials(&q, &[])?;
    }
    if let Some(f) = t.field("token") {
        let token = f.string()?;
        if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(f.bad_value(format!("a token has at least {MIN_TOKEN_LEN} characters and no spaces")));
        }
        api.token = Some(token.to_string());
    }
    if let Some(f) = t.field("listen") {
        api.listen = socket_addr(&f)?;
        if !api.listen.ip().is_loopback() && api.token.is_none() {
            return Err(f.bad_value(format!(
                "{} is not a loopback address: set `api.token` to serve the API there",
                api.listen
            )));
        }
    }
    if let Some(f) = t.field("cors_origins") {
        let items = f.strings()?;
        if items.len() > MAX_CORS_ORIGINS {
            return Err(f.out_of_range(format!("at most {MAX_CORS_ORIGINS} origins")));
        }
        for item in items {
            let scheme_ok = item.starts_with("http://") || item.starts_with("https://");
            if !scheme_ok || item.ends_with('/') || item.chars().any(|c| c.is_whitespace()) {
                return Err(f.bad_value(format!(
                    "{item:?} is not an origin: SCHEME://HOST[:PORT] as a browser sends it, e.g. https://dash.example.org"
                )));
            }
            api.cors_origins.push(item.to_string());
        }
    }
    if let Some(f) = t.field("extra_listen") {
        let items = f.strings()?;
        if items.len() > MAX_EXTRA_LISTEN {
            return Err(f.out_of_range(format!("at most {MAX_EXTRA_LISTEN} addresses")));
        }
        for item in items {
            let addr: SocketAddr = item
                .parse()
                .map_err(|_| f.bad_value(format!("{item:?} is not an IP ADDRESS:PORT such as 127.0.0.1:9091")))?;
            if !addr.ip().is_loopback() && api.token.is_none() {
                return Err(f.bad_value(format!(
                    "{addr} is not a loopback address: set `api.token` to serve the API there"
                )));
            }
            if addr == api.listen || api.extra_listen.contains(&addr) {
                return Err(f.bad_value(format!("{addr} is listed twice")));
            }
            api.extra_listen.push(addr);
        }
    }
    if let Some(s) = t.table("transmission", "api.transmission")? {
        // HTTP Basic puts `user:password` in one string: a ':' in the user would split it.
        api.transmission = compat_credentials(&s, &[':'])?;
    }
    Ok(())
}

/// A compatibility API's `username` and `password`: both or neither (one alone is
/// a mistake, named by the key that is missing), neither empty, the username
/// without control characters nor any of `forbidden`.
fn compat_credentials(t: &TableReader<'_, '_>, forbidden: &[char]) -> Result<Option<CompatCredentials>, ConfigError> {
    if t.field("username").is_none() && t.field("password").is_none() {
        return Ok(None);
    }
    let (u, p) = (t.required("username")?, t.required("password")?);
    let username = u.string()?;
    if username.is_empty() || username.chars().any(|c| c.is_control() || forbidden.contains(&c)) {
        let also: String = forbidden.iter().map(|c| format!(" nor '{c}'")).collect();
        return Err(u.bad_value(format!("a username is not empty and has no control characters{also}")));
    }
    let password = p.string()?;
    if password.is_empty() {
        return Err(p.bad_value("an empty password; leave both keys out to serve loopback clients only"));
    }
    Ok(Some(CompatCredentials {
        username: username.to_string(),
        password: password.to_string(),
    }))
}
