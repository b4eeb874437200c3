//! Failed authentication, limited per client address: after
//! [`MAX_FAILURES`] wrong or missing tokens within [`FAILURE_WINDOW`], the address is
//! answered 429 for [`BLOCK_FOR`] without its token being looked at, so guessing
//! the token from one host costs days. The qBittorrent login uses the same
//! limiter with qBittorrent's own numbers ([`FailurePolicy`]). Bounded: at most [`MAX_TRACKED`] addresses
//! are remembered (when full, entries past their window go, then the oldest).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures from one address within [`FAILURE_WINDOW`] before it is blocked.
pub const MAX_FAILURES: u32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long a blocked address is answered 429.
pub const BLOCK_FOR: Duration = Duration::from_secs(300);
/// Addresses remembered at most.
const MAX_TRACKED: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Record {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// How many failures within what window block an address, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailurePolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub block_for: Duration,
}

impl Default for FailurePolicy {
    /// The native API's: [`MAX_FAILURES`] within [`FAILURE_WINDOW`] block for [`BLOCK_FOR`].
    fn default() -> Self {
        FailurePolicy {
            max_failures: MAX_FAILURES,
            window: FAILURE_WINDOW,
            block_for: BLOCK_FOR,
        }
    }
}

/// Failed authentications by address, shared by every API connection.
#[derive(Debug, Default)]
pub struct AuthFailures {
    policy: FailurePolicy,
    by_ip: Mutex<HashMap<IpAddr, Record>>,
    failures: AtomicU64,
    refused: AtomicU64,
}

impl AuthFailures {
    /// A limiter with its own numbers (the qBittorrent login keeps qBittorrent's).
    pub fn with_policy(policy: FailurePolicy) -> AuthFailures {
        AuthFailures {
            policy,
            ..AuthFailures::default()
        }
    }

    /// A success from `ip`: its failures so far are forgotten.
    pub fn succeeded(&self, ip: IpAddr) {
        if let Ok(mut map) = self.by_ip.lock() {
            if map.get(&ip).is_some_and(|r| r.blocked_until.is_none()) {
                map.remove(&ip);
            }
        }
    }

    /// When `ip` is blocked now: how long it still is.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.by_ip.lock().ok()?;
        let until = map.get(&ip)?.blocked_until?;
        let left = until.checked_duration_since(now).filter(|d| !d.is_zero())?;
        self.refused.fetch_add(1, Ordering::Relaxed);
        Some(left)
    }

    /// Counts a failed authentication from `ip`; true when it is now blocked.
    pub fn failed(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let Ok(mut map) = self.by_ip.lock() else {
            return false;
        };
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let window = self.policy.window;
            map.retain(|_, r| {
                now.saturating_duration_since(r.window_start) < window || r.blocked_until.is_some_and(|t| t > now)
            });
            if map.len() >= MAX_TRACKED {
                let oldest = map.iter().min_by_key(|(_, r)| r.window_start).map(|(ip, _)| *ip);
                if let Some(oldest) = oldest {
                    map.remove(&oldest);
                }
            }
        }
        let r = map.entry(ip).or_insert(Record {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.saturating_duration_since(r.window_start) >= self.policy.window {
            r.window_start = now;
            r.failures = 0;
        }
        r.failures += 1;
        if r.failures >= self.policy.max_failures {
            r.blocked_until = Some(now + self.policy.block_for);
            r.failures = 0;
            r.window_start = now;
            return true;
        }
        false
    }

    /// Failed authentications counted, and requests refused while blocked.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.failures.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_released_after_the_block() {
        let t0 = Instant::now();
        let f = AuthFailures::default();
        let bad: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 1..MAX_FAILURES {
            assert!(!f.failed(bad, t0), "failure {i} does not block yet");
            assert_eq!(f.blocked(bad, t0), None);
        }
        assert!(f.failed(bad, t0));
        assert_eq!(
            f.blocked(bad, t0 + Duration::from_secs(1)),
            Some(BLOCK_FOR - Duration::from_secs(1))
        );
        assert_eq!(f.blocked(other, t0), None, "other addresses are not affected");
        assert_eq!(f.blocked(bad, t0 + BLOCK_FOR), None);
        assert_eq!(f.counts(), (MAX_FAILURES as u64, 1));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_block() {
        let t0 = Instant::now();
        let f = AuthFailures::default();
        let ip: IpAddr = "::1".parse().unwrap();
        for i in 0..(5 * MAX_FAILURES) {
            let now = t0 + FAILURE_WINDOW / (MAX_FAILURES - 2) * i;
            assert!(!f.failed(ip, now), "failure {i}");
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let t0 = Instant::now();
        let f = AuthFailures::default();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            f.failed(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(f.by_ip.lock().unwrap().len() <= MAX_TRACKED);
    }
}
