//! Addresses a torrent has learned (from the user, trackers, incoming peers) and
//! when each is worth dialing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most addresses remembered per torrent; new ones beyond it are dropped.
pub const MAX_KNOWN_PEERS: usize = 2000;
/// Wait after the first failed or ended connection before redialing.
pub const BASE_REDIAL_DELAY: Duration = Duration::from_secs(3);
/// Longest wait between redials of a peer that keeps failing.
pub const MAX_REDIAL_DELAY: Duration = Duration::from_secs(300);
/// A peer that failed this many times in a row is forgotten.
pub const MAX_DIAL_FAILURES: u32 = 8;

#[derive(Clone, Debug, Default)]
struct Entry {
    last_attempt: Option<Instant>,
    failures: u32,
    connected: bool,
    is_seed: bool,
}

/// Known peer addresses and their dial state.
#[derive(Clone, Debug, Default)]
pub struct PeerBook {
    entries: HashMap<SocketAddr, Entry>,
}

impl PeerBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers an address; returns whether it was new.
    pub fn add(&mut self, addr: SocketAddr) -> bool {
        if self.entries.contains_key(&addr) || self.entries.len() >= MAX_KNOWN_PEERS {
            return false;
        }
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return false;
        }
        self.entries.insert(addr, Entry::default());
        true
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
                let delay = BASE_REDIAL_DELAY
                    .saturating_mul(1 << e.failures.min(7))
                    .min(MAX_REDIAL_DELAY);
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
                    e.failures += 1;
                }
                e.failures >= MAX_DIAL_FAILURES
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
