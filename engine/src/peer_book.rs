//! Addresses a torrent has learned (from the user, trackers, incoming peers) and
//! when each is worth dialing.
//!
//! A peer the user named (`--peer`) is *pinned*: it is redialed for as long as the
//! torrent runs, with a back-off capped at [`MAX_PINNED_REDIAL_DELAY`], because the
//! user knows it exists and a seeder that is down for a while comes back. Addresses
//! learned elsewhere are forgotten after [`MAX_DIAL_FAILURES`] failures in a row.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::peer_source::PeerSource;

/// Most addresses remembered per torrent; new ones beyond it are dropped.
pub const MAX_KNOWN_PEERS: usize = 2000;
/// Wait after the first failed or ended connection before redialing.
pub const BASE_REDIAL_DELAY: Duration = Duration::from_secs(3);
/// Longest wait between redials of a peer that keeps failing.
pub const MAX_REDIAL_DELAY: Duration = Duration::from_secs(300);
/// Longest wait between redials of a pinned peer (one the user named).
pub const MAX_PINNED_REDIAL_DELAY: Duration = Duration::from_secs(60);
/// A peer that failed this many times in a row is forgotten (unless pinned).
pub const MAX_DIAL_FAILURES: u32 = 8;

/// How long to wait before redialing; [`Default`] is the constants above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedialPolicy {
    /// Wait after the first failure; it doubles with each failure in a row.
    pub base: Duration,
    /// Ceiling of the wait for learned addresses.
    pub max: Duration,
    /// Ceiling of the wait for pinned addresses.
    pub pinned_max: Duration,
}

impl Default for RedialPolicy {
    fn default() -> Self {
        RedialPolicy {
            base: BASE_REDIAL_DELAY,
            max: MAX_REDIAL_DELAY,
            pinned_max: MAX_PINNED_REDIAL_DELAY,
        }
    }
}

impl RedialPolicy {
    fn delay(&self, failures: u32, pinned: bool) -> Duration {
        let cap = if pinned { self.pinned_max } else { self.max };
        self.base.saturating_mul(1 << failures.min(16)).min(cap)
    }
}

#[derive(Clone, Debug, Default)]
struct Entry {
    last_attempt: Option<Instant>,
    failures: u32,
    connected: bool,
    is_seed: bool,
    pinned: bool,
    source: PeerSource,
}

/// Whether a torrent can reach any peer, for its status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reachability {
    /// Addresses known.
    pub known: usize,
    /// Addresses with a connection up.
    pub connected: usize,
    /// Addresses whose last dial failed.
    pub failing: usize,
}

impl Reachability {
    /// No connection is up and every known address (if any) failed its last dial.
    pub fn none_reachable(&self) -> bool {
        self.connected == 0 && self.failing == self.known
    }
}

/// Known peer addresses and their dial state.
#[derive(Clone, Debug, Default)]
pub struct PeerBook {
    entries: HashMap<SocketAddr, Entry>,
    policy: RedialPolicy,
}

impl PeerBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty book that redials on `policy`'s schedule.
    pub fn with_policy(policy: RedialPolicy) -> Self {
        PeerBook {
            entries: HashMap::new(),
            policy,
        }
    }

    /// Remembers an address a tracker gave; returns whether it was new.
    pub fn add(&mut self, addr: SocketAddr) -> bool {
        self.add_from(addr, PeerSource::Tracker)
    }

    /// Remembers an address learned from `source`; returns whether it was new. An
    /// address already known keeps the source it was first learned from.
    pub fn add_from(&mut self, addr: SocketAddr, source: PeerSource) -> bool {
        if self.entries.contains_key(&addr) || self.entries.len() >= MAX_KNOWN_PEERS {
            return false;
        }
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return false;
        }
        self.entries.insert(
            addr,
            Entry {
                source,
                ..Entry::default()
            },
        );
        true
    }

    /// Where `addr` was first learned from, if it is known.
    pub fn source_of(&self, addr: SocketAddr) -> Option<PeerSource> {
        self.entries.get(&addr).map(|e| e.source)
    }

    /// Remembers an address the user named: it is redialed for as long as the
    /// torrent runs and never forgotten for failing (see the module docs). Returns
    /// whether it was new; an address already known becomes pinned.
    pub fn add_pinned(&mut self, addr: SocketAddr) -> bool {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.pinned = true;
            return false;
        }
        let added = self.add_from(addr, PeerSource::Manual);
        if let Some(e) = self.entries.get_mut(&addr) {
            e.pinned = true;
        }
        added
    }

    /// How many known addresses are connected or failing.
    pub fn reachability(&self) -> Reachability {
        let mut r = Reachability {
            known: self.entries.len(),
            ..Reachability::default()
        };
        for e in self.entries.values() {
            if e.connected {
                r.connected += 1;
            } else if e.failures > 0 {
                r.failing += 1;
            }
        }
        r
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Addresses to dial now (marked as attempted), at most `max`.
    /// A seed is not dialed while we are a seed too.
    pub fn due(&mut self, now: Instant, we_are_seed: bool, max: usize) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for (addr, e) in self.entries.iter_mut() {
            if out.len() >= max {
                break;
            }
            if e.connected || (we_are_seed && e.is_seed) {
                continue;
            }
            if let Some(last) = e.last_attempt {
                let delay = self.policy.delay(e.failures, e.pinned);
                if now.saturating_duration_since(last) < delay {
                    continue;
                }
            }
            e.last_attempt = Some(now);
            out.push(*addr);
        }
        out
    }

    /// A connection to the address completed its handshake.
    pub fn connected(&mut self, addr: SocketAddr) {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.connected = true;
            e.failures = 0;
        }
    }

    /// A connection attempt or a connection ended; `failed` when it never got going.
    pub fn ended(&mut self, addr: SocketAddr, failed: bool) {
        let forget = match self.entries.get_mut(&addr) {
            Some(e) => {
                e.connected = false;
                if failed {
                    e.failures = e.failures.saturating_add(1);
                }
                !e.pinned && e.failures >= MAX_DIAL_FAILURES
            }
            None => false,
        };
        if forget {
            self.entries.remove(&addr);
        }
    }

    /// The peer has every piece: no use dialing it once we have them too.
    pub fn mark_seed(&mut self, addr: SocketAddr) {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.is_seed = true;
        }
    }

    /// Drops an address for good (banned, or it is ourselves).
    pub fn remove(&mut self, addr: SocketAddr) {
        self.entries.remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn redial_backs_off_and_forgets() {
        let t0 = Instant::now();
        let mut book = PeerBook::new();
        assert!(book.add(addr(1)));
        assert!(!book.add(addr(1)));
        assert!(!book.add(addr(0)));
        assert_eq!(book.due(t0, false, 10), vec![addr(1)]);
        assert!(book.due(t0, false, 10).is_empty(), "attempt in flight counts");
        book.ended(addr(1), true);
        assert!(
            book.due(t0 + Duration::from_secs(5), false, 10).is_empty(),
            "6 s after one failure"
        );
        assert_eq!(book.due(t0 + Duration::from_secs(7), false, 10), vec![addr(1)]);
        let mut now = t0 + Duration::from_secs(7);
        for _ in 1..MAX_DIAL_FAILURES {
            book.ended(addr(1), true);
            now += MAX_REDIAL_DELAY;
            book.due(now, false, 10);
        }
        assert!(book.is_empty(), "forgotten after repeated failures");
    }

    #[test]
    fn a_pinned_peer_is_redialed_for_ever_with_a_capped_back_off() {
        let t0 = Instant::now();
        let mut book = PeerBook::new();
        assert!(book.add_pinned(addr(3)));
        let mut now = t0;
        for round in 0..(MAX_DIAL_FAILURES * 4) {
            assert_eq!(book.due(now, false, 10), vec![addr(3)], "dial {round}");
            book.ended(addr(3), true);
            assert!(book.reachability().none_reachable());
            now += MAX_PINNED_REDIAL_DELAY;
        }
        assert_eq!(book.len(), 1, "never forgotten");
        assert!(
            book.due(now - Duration::from_secs(1), false, 10).is_empty(),
            "waits out the capped back-off"
        );
        // Back online: one connection resets the back-off.
        assert_eq!(book.due(now, false, 10), vec![addr(3)]);
        book.connected(addr(3));
        assert!(!book.reachability().none_reachable());
        book.ended(addr(3), false);
        assert_eq!(book.due(now + BASE_REDIAL_DELAY, false, 10), vec![addr(3)]);
    }

    #[test]
    fn a_learned_address_named_by_the_user_becomes_pinned() {
        let mut book = PeerBook::with_policy(RedialPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
            pinned_max: Duration::from_millis(20),
        });
        assert!(book.add(addr(4)));
        assert!(!book.add_pinned(addr(4)));
        let mut now = Instant::now();
        for _ in 0..(MAX_DIAL_FAILURES + 2) {
            assert_eq!(book.due(now, false, 10), vec![addr(4)]);
            book.ended(addr(4), true);
            now += Duration::from_millis(20);
        }
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn reachability_counts_connected_and_failing() {
        let t0 = Instant::now();
        let mut book = PeerBook::new();
        assert!(book.reachability().none_reachable(), "nothing known, nothing reachable");
        book.add(addr(5));
        book.add(addr(6));
        assert!(!book.reachability().none_reachable(), "not dialed yet");
        book.due(t0, false, 10);
        book.ended(addr(5), true);
        book.ended(addr(6), true);
        assert_eq!(
            book.reachability(),
            Reachability {
                known: 2,
                connected: 0,
                failing: 2
            }
        );
        assert!(book.reachability().none_reachable());
    }

    #[test]
    fn seeds_are_not_dialed_by_seeds() {
        let t0 = Instant::now();
        let mut book = PeerBook::new();
        book.add(addr(2));
        book.due(t0, false, 10);
        book.connected(addr(2));
        assert!(
            book.due(t0 + MAX_REDIAL_DELAY, false, 10).is_empty(),
            "connected peers are not dialed"
        );
        book.mark_seed(addr(2));
        book.ended(addr(2), false);
        let later = t0 + MAX_REDIAL_DELAY;
        assert!(book.due(later, true, 10).is_empty());
        assert_eq!(book.due(later, false, 10), vec![addr(2)]);
    }

    #[test]
    fn bounded() {
        let mut book = PeerBook::new();
        for p in 1..=(MAX_KNOWN_PEERS as u16 + 10) {
            book.add(addr(p));
        }
        assert_eq!(book.len(), MAX_KNOWN_PEERS);
        assert_eq!(book.due(Instant::now(), false, 5).len(), 5);
    }
}
