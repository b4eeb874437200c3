//! Talking to trackers over the network: a minimal HTTP(S) GET client, a UDP (BEP 15)
//! client, and [`TrackerTask`], the per-torrent announce loop.
//!
//! Every protocol rule (URLs, response parsing, BEP 15 timers, BEP 12 tiers) is in
//! `ccbt_engine::tracker`; this module only moves bytes and enforces time and size
//! bounds, so a dead or hostile tracker costs at most one timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ccbt_engine::tracker::TrackerError;

pub mod http_client;
mod tracker_task;
pub mod udp_client;

pub use tracker_task::{
    AnnounceProgress, TrackerConfig, TrackerOptions, TrackerStatus, TrackerTask, HTTP_REQUEST_TIMEOUT, STOP_TIMEOUT,
    UDP_REQUEST_TIMEOUT,
};

/// Checks that `url` is a tracker URL we can announce to (`http://`, `https://`
/// with a host, or `udp://` with a host and port), without resolving it; the error
/// names the URL and what is wrong with it.
pub fn check_tracker_url(url: &str) -> Result<(), TrackerIoError> {
    let scheme_is = |s: &str| url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s));
    if scheme_is("udp://") {
        udp_client::parse_udp_url(url).map(|_| ())
    } else if scheme_is("http://") || scheme_is("https://") {
        http_client::HttpUrl::parse(url).map(|_| ())
    } else {
        Err(TrackerIoError::BadUrl {
            url: display_url(url),
            reason: "not an http://, https:// or udp:// URL",
        })
    }
}

/// Longest time a DNS lookup may take.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(10);
/// Most addresses tried for one host name.
pub const MAX_RESOLVED_ADDRS: usize = 4;
/// Longest host name accepted (the DNS limit).
pub const MAX_HOST_LEN: usize = 253;

/// Why a tracker request failed; every variant names the tracker URL (without its
/// query, which holds our per-request parameters).
#[derive(Debug, thiserror::Error)]
pub enum TrackerIoError {
    /// The URL cannot be used.
    #[error("tracker {url}: bad URL: {reason}")]
    BadUrl {
        /// The tracker.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host name did not resolve.
    #[error("tracker {url}: cannot resolve {host}: {reason}")]
    Resolve {
        /// The tracker.
        url: String,
        /// The host name.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// No address of the host accepted a connection.
    #[error("tracker {url}: cannot connect to {addr}: {reason}")]
    Connect {
        /// The tracker.
        url: String,
        /// The last address tried.
        addr: SocketAddr,
        /// The OS error.
        reason: String,
    },
    /// A step did not finish in time.
    #[error("tracker {url}: timed out after {after:?} while {during}")]
    Timeout {
        /// The tracker.
        url: String,
        /// What was going on.
        during: &'static str,
        /// The bound that ran out.
        after: Duration,
    },
    /// A socket operation failed.
    #[error("tracker {url}: I/O error while {during}: {source}")]
    Io {
        /// The tracker.
        url: String,
        /// What was going on.
        during: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS failed (certificate, handshake, alert).
    #[error("tracker {url}: TLS: {source}")]
    Tls {
        /// The tracker.
        url: String,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// The HTTP status was not 2xx.
    #[error("tracker {url}: HTTP status {status} {reason}")]
    Status {
        /// The tracker.
        url: String,
        /// The status code.
        status: u16,
        /// The reason phrase, bounded.
        reason: String,
    },
    /// The HTTP framing is broken.
    #[error("tracker {url}: malformed HTTP response: {reason}")]
    Http {
        /// The tracker.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The response is larger than allowed.
    #[error("tracker {url}: response exceeds {max} bytes")]
    TooLarge {
        /// The tracker.
        url: String,
        /// The bound.
        max: usize,
    },
    /// The tracker answered, but with an error or something unparsable.
    #[error("tracker {url}: {source}")]
    Protocol {
        /// The tracker.
        url: String,
        /// The engine's reason.
        source: TrackerError,
    },
}

/// `url` without query and fragment, for error messages and logs.
pub(crate) fn display_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_string()
}

/// Splits `host[:port]` or `[v6]:port` (no scheme, no path).
pub(crate) fn split_host_port(authority: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u16>().ok()?,
        Some(_) => return None,
        None => default_port?,
    };
    let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':');
    if host.is_empty() || host.len() > MAX_HOST_LEN || !host.bytes().all(valid) || port == 0 {
        return None;
    }
    Some((host.to_string(), port))
}

/// Resolves `host` to at most [`MAX_RESOLVED_ADDRS`] addresses. IP literals need no
/// lookup; names go through the system resolver (`ToSocketAddrs`), which blocks, so it
/// runs on glommio's blocking thread pool rather than stalling the executor, bounded
/// by [`DNS_TIMEOUT`] (a lookup that outlives it finishes unobserved on that thread).
pub(crate) async fn resolve(url: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, TrackerIoError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    let lookup = glommio::executor().spawn_blocking(move || {
        use std::net::ToSocketAddrs;
        (name.as_str(), port)
            .to_socket_addrs()
            .map(|it| it.take(MAX_RESOLVED_ADDRS).collect::<Vec<_>>())
    });
    let result = futures_lite::future::or(async { Some(lookup.await) }, async {
        glommio::timer::sleep(DNS_TIMEOUT).await;
        None
    })
    .await;
    let fail = |reason: String| TrackerIoError::Resolve {
        url: display_url(url),
        host: host.to_string(),
        reason,
    };
    match result {
        None => Err(TrackerIoError::Timeout {
            url: display_url(url),
            during: "resolving the host name",
            after: DNS_TIMEOUT,
        }),
        Some(Err(e)) => Err(fail(e.to_string())),
        Some(Ok(addrs)) if addrs.is_empty() => Err(fail("no addresses".into())),
        Some(Ok(addrs)) => Ok(addrs),
    }
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
