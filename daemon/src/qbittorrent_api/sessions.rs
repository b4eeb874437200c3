//! Who may use the qBittorrent API: login sessions (the `SID` cookie), HTTP Basic,
//! a Bearer token, and, with no credentials configured, loopback clients as
//! qBittorrent's "bypass authentication for localhost" lets in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use rand::RngCore;

use crate::api_server::auth_failures::{AuthFailures, FailurePolicy};
use crate::api_server::compat_auth::{basic_credentials, open_without_credentials, CompatCredentials};

/// The cookie qBittorrent names its session.
pub const SID_COOKIE: &str = "SID";
/// A session unused this long is gone (qBittorrent's default session timeout).
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// Live sessions at most; a new login past it ends the least recently used.
pub const MAX_SESSIONS: usize = 1024;
/// Failed logins from one address before it is refused for [`BAN_DURATION`]
/// (qBittorrent's defaults).
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const BAN_DURATION: Duration = Duration::from_secs(3600);

/// What the auth check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// 403 `Forbidden`, as qBittorrent answers an unauthenticated request.
    Forbidden,
}

/// The answer to a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// `Ok.` with this new session id in a cookie.
    Ok(String),
    /// `Fails.`
    Fails,
    /// 403: too many failed logins from this address.
    Banned,
}

/// The login sessions and failed-login counts.
pub struct SessionStore {
    sessions: HashMap<String, Instant>,
    failures: AuthFailures,
}

impl Default for SessionStore {
    fn default() -> Self {
        SessionStore::new()
    }
}

impl SessionStore {
    pub fn new() -> SessionStore {
        SessionStore {
            sessions: HashMap::new(),
            failures: AuthFailures::with_policy(FailurePolicy {
                max_failures: MAX_FAILED_LOGINS,
                window: BAN_DURATION,
                block_for: BAN_DURATION,
            }),
        }
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// A login attempt. With no credentials configured, a loopback client logs in
    /// with any name (and any other client is refused by the auth check anyway).
    pub fn login(
        &mut self,
        credentials: Option<&CompatCredentials>,
        client: SocketAddr,
        username: &str,
        password: &str,
        now: Instant,
    ) -> LoginOutcome {
        let ip = client.ip();
        if self.failures.blocked(ip, now).is_some() {
            return LoginOutcome::Banned;
        }
        let ok = match credentials {
            Some(c) => c.matches(username, password),
            None => open_without_credentials(client),
        };
        if !ok {
            self.failures.failed(ip, now);
            return LoginOutcome::Fails;
        }
        self.failures.succeeded(ip);
        self.expire(now);
        if self.sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = self.sessions.iter().min_by_key(|(_, t)| **t).map(|(s, _)| s.clone()) {
                self.sessions.remove(&oldest);
            }
        }
        let sid = new_session_id();
        self.sessions.insert(sid.clone(), now);
        LoginOutcome::Ok(sid)
    }

    pub fn logout(&mut self, sid: &str) {
        self.sessions.remove(sid);
    }

    /// Whether `sid` is a live session; using it keeps it alive.
    pub fn check(&mut self, sid: &str, now: Instant) -> bool {
        match self.sessions.get_mut(sid) {
            Some(last) if now.saturating_duration_since(*last) < SESSION_IDLE_TIMEOUT => {
                *last = now;
                true
            }
            Some(_) => {
                self.sessions.remove(sid);
                false
            }
            None => false,
        }
    }

    fn expire(&mut self, now: Instant) {
        self.sessions
            .retain(|_, last| now.saturating_duration_since(*last) < SESSION_IDLE_TIMEOUT);
    }

    /// Decides whether a request gets in: a live `SID` cookie, Basic with the
    /// configured credentials, `Bearer` with a live session id or the native API's
    /// token; with no credentials configured, any loopback client.
    pub fn admit(
        &mut self,
        credentials: Option<&CompatCredentials>,
        native_token: &str,
        headers: &HeaderMap,
        client: SocketAddr,
        now: Instant,
    ) -> Admission {
        let Some(credentials) = credentials else {
            return if open_without_credentials(client) {
                Admission::Allowed
            } else {
                Admission::Forbidden
            };
        };
        if let Some(sid) = cookie(headers, SID_COOKIE) {
            if self.check(&sid, now) {
                return Admission::Allowed;
            }
        }
        if let Some((user, pass)) = basic_credentials(headers) {
            if credentials.matches(&user, &pass) {
                return Admission::Allowed;
            }
        }
        if let Some(token) = bearer(headers) {
            let native = !native_token.is_empty()
                && constant_time_eq::constant_time_eq(token.as_bytes(), native_token.as_bytes());
            if native || self.check(&token, now) {
                return Admission::Allowed;
            }
        }
        Admission::Forbidden
    }
}

/// 32 random bytes as hex, from the OS.
fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    ccbt_engine::types::to_hex(&bytes)
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn creds() -> CompatCredentials {
        CompatCredentials {
            username: "admin".into(),
            password: "secret".into(),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn headers(name: axum::http::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn without_credentials_only_loopback_gets_in() {
        let mut store = SessionStore::new();
        let now = Instant::now();
        let none = HeaderMap::new();
        assert_eq!(
            store.admit(None, "", &none, addr("127.0.0.1:9"), now),
            Admission::Allowed
        );
        assert_eq!(store.admit(None, "", &none, addr("[::1]:9"), now), Admission::Allowed);
        assert_eq!(
            store.admit(None, "", &none, addr("10.1.2.3:9"), now),
            Admission::Forbidden
        );
        // Not even with a cookie or a password: nothing was configured to check them against.
        let mut with_sid = headers(COOKIE, "SID=abc");
        with_sid.insert(AUTHORIZATION, HeaderValue::from_static("Basic YWRtaW46c2VjcmV0"));
        assert_eq!(
            store.admit(None, "", &with_sid, addr("10.1.2.3:9"), now),
            Admission::Forbidden
        );
    }

    #[test]
    fn with_credentials_a_login_cookie_basic_or_bearer_gets_in() {
        let mut store = SessionStore::new();
        let now = Instant::now();
        let c = creds();
        let remote = addr("10.1.2.3:9");
        // Loopback is not enough once credentials are set.
        assert_eq!(
            store.admit(Some(&c), "tok", &HeaderMap::new(), addr("127.0.0.1:1"), now),
            Admission::Forbidden
        );
        assert_eq!(
            store.login(Some(&c), remote, "admin", "wrong", now),
            LoginOutcome::Fails
        );
        let LoginOutcome::Ok(sid) = store.login(Some(&c), remote, "admin", "secret", now) else {
            panic!("login with the right password failed");
        };
        assert_eq!(sid.len(), 64);
        let cookie_headers = headers(COOKIE, &format!("other=1; SID={sid}"));
        assert_eq!(
            store.admit(Some(&c), "tok", &cookie_headers, remote, now),
            Admission::Allowed
        );
        let wrong_cookie = headers(COOKIE, "SID=0000");
        assert_eq!(
            store.admit(Some(&c), "tok", &wrong_cookie, remote, now),
            Admission::Forbidden
        );
        // "admin:secret"
        let basic = headers(AUTHORIZATION, "Basic YWRtaW46c2VjcmV0");
        assert_eq!(store.admit(Some(&c), "tok", &basic, remote, now), Admission::Allowed);
        let bearer_native = headers(AUTHORIZATION, "Bearer tok");
        assert_eq!(
            store.admit(Some(&c), "tok", &bearer_native, remote, now),
            Admission::Allowed
        );
        let bearer_sid = headers(AUTHORIZATION, &format!("Bearer {sid}"));
        assert_eq!(
            store.admit(Some(&c), "tok", &bearer_sid, remote, now),
            Admission::Allowed
        );
        let bearer_wrong = headers(AUTHORIZATION, "Bearer nope");
        assert_eq!(
            store.admit(Some(&c), "tok", &bearer_wrong, remote, now),
            Admission::Forbidden
        );
        // Logged out, the cookie is dead.
        store.logout(&sid);
        assert_eq!(
            store.admit(Some(&c), "tok", &cookie_headers, remote, now),
            Admission::Forbidden
        );
    }

    #[test]
    fn sessions_expire_when_idle_and_are_bounded() {
        let mut store = SessionStore::new();
        let c = creds();
        let t0 = Instant::now();
        let LoginOutcome::Ok(sid) = store.login(Some(&c), addr("10.0.0.1:1"), "admin", "secret", t0) else {
            panic!()
        };
        assert!(store.check(&sid, t0 + Duration::from_secs(60)));
        assert!(!store.check(&sid, t0 + Duration::from_secs(60) + SESSION_IDLE_TIMEOUT));
        for _ in 0..MAX_SESSIONS + 10 {
            store.login(Some(&c), addr("10.0.0.1:1"), "admin", "secret", t0);
        }
        assert_eq!(store.len(), MAX_SESSIONS);
    }

    #[test]
    fn repeated_failures_ban_the_address_for_a_while() {
        let mut store = SessionStore::new();
        let c = creds();
        let t0 = Instant::now();
        let client = addr("10.0.0.7:1");
        for _ in 0..MAX_FAILED_LOGINS {
            assert_eq!(store.login(Some(&c), client, "admin", "x", t0), LoginOutcome::Fails);
        }
        assert_eq!(
            store.login(Some(&c), client, "admin", "secret", t0),
            LoginOutcome::Banned
        );
        // Another address is not affected.
        assert!(matches!(
            store.login(Some(&c), addr("10.0.0.8:1"), "admin", "secret", t0),
            LoginOutcome::Ok(_)
        ));
        assert!(matches!(
            store.login(Some(&c), client, "admin", "secret", t0 + BAN_DURATION),
            LoginOutcome::Ok(_)
        ));
    }

    #[test]
    fn a_good_login_forgets_the_failures_before_it() {
        let mut store = SessionStore::new();
        let c = creds();
        let t0 = Instant::now();
        let client = addr("10.0.0.9:1");
        for round in 0..3 {
            for _ in 1..MAX_FAILED_LOGINS {
                assert_eq!(
                    store.login(Some(&c), client, "admin", "x", t0),
                    LoginOutcome::Fails,
                    "round {round}"
                );
            }
            assert!(matches!(
                store.login(Some(&c), client, "admin", "secret", t0),
                LoginOutcome::Ok(_)
            ));
        }
    }
}
