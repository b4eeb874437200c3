//! Peers that announced themselves to us (`announce_peer`), served to `get_peers`.
//! Bounded per info-hash and in total; each entry expires [`PEER_TTL`] after its
//! last announce.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;

use crate::InfoHash;

/// How long an announce is kept.
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
/// Peers kept per info-hash.
pub const MAX_PEERS_PER_HASH: usize = 200;
/// Info-hashes kept.
pub const MAX_HASHES: usize = 2000;
/// Peers kept over all info-hashes.
pub const MAX_PEERS_TOTAL: usize = 20_000;
/// Peers in one `get_peers` answer: 50 compact IPv4 peers are 400 bytes, which
/// leaves room for nodes in one datagram.
pub const MAX_VALUES_PER_REPLY: usize = 50;

/// What the store holds.
#[derive(Debug, Default)]
pub struct PeerStore {
    swarms: HashMap<InfoHash, Vec<(SocketAddr, Instant)>>,
    total: usize,
}

impl PeerStore {
    /// Records an announce; refused (false) when a bound is reached.
    pub fn announce(&mut self, info_hash: InfoHash, peer: SocketAddr, now: Instant) -> bool {
        let expires = now + PEER_TTL;
        if !self.swarms.contains_key(&info_hash) && self.swarms.len() >= MAX_HASHES {
            return false;
        }
        let swarm = self.swarms.entry(info_hash).or_default();
        if let Some(e) = swarm.iter_mut().find(|(a, _)| *a == peer) {
            e.1 = expires;
            return true;
        }
        if swarm.len() >= MAX_PEERS_PER_HASH || self.total >= MAX_PEERS_TOTAL {
            if swarm.is_empty() {
                self.swarms.remove(&info_hash);
            }
            return false;
        }
        swarm.push((peer, expires));
        self.total += 1;
        true
    }

    /// Up to [`MAX_VALUES_PER_REPLY`] live peers of one family (IPv6 or not), chosen at random.
    pub fn peers<R: Rng>(&self, info_hash: &InfoHash, v6: bool, now: Instant, rng: &mut R) -> Vec<SocketAddr> {
        let Some(swarm) = self.swarms.get(info_hash) else {
            return Vec::new();
        };
        let live: Vec<SocketAddr> = swarm
            .iter()
            .filter(|(a, exp)| *exp > now && a.is_ipv6() == v6)
            .map(|(a, _)| *a)
            .collect();
        live.choose_multiple(rng, MAX_VALUES_PER_REPLY).copied().collect()
    }

    /// Up to `max` stored info-hashes, at random (BEP 51 samples).
    pub fn sample<R: Rng>(&self, max: usize, rng: &mut R) -> Vec<InfoHash> {
        let all: Vec<InfoHash> = self.swarms.keys().copied().collect();
        all.choose_multiple(rng, max).copied().collect()
    }

    /// Drops expired entries.
    pub fn expire(&mut self, now: Instant) {
        let mut total = 0;
        self.swarms.retain(|_, swarm| {
            swarm.retain(|(_, exp)| *exp > now);
            total += swarm.len();
            !swarm.is_empty()
        });
        self.total = total;
    }

    /// Info-hashes held.
    pub fn hash_count(&self) -> usize {
        self.swarms.len()
    }

    /// Peers held over all info-hashes.
    pub fn peer_count(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn bounded_per_hash_and_expiring() {
        let mut rng = SmallRng::seed_from_u64(2);
        let now = Instant::now();
        let mut s = PeerStore::default();
        let h = InfoHash([1; 20]);
        for p in 0..(MAX_PEERS_PER_HASH as u16 + 10) {
            s.announce(h, SocketAddr::from(([10, 0, 0, 1], 1000 + p)), now);
        }
        assert_eq!(s.peer_count(), MAX_PEERS_PER_HASH);
        assert_eq!(s.peers(&h, false, now, &mut rng).len(), MAX_VALUES_PER_REPLY);
        assert!(s.peers(&h, true, now, &mut rng).is_empty());
        // A re-announce refreshes without adding.
        assert!(s.announce(h, SocketAddr::from(([10, 0, 0, 1], 1000)), now + PEER_TTL / 2));
        s.expire(now + PEER_TTL);
        assert_eq!(s.peer_count(), 1);
        assert_eq!(s.peers(&h, false, now + PEER_TTL, &mut rng).len(), 1);
        s.expire(now + PEER_TTL * 2);
        assert_eq!(s.hash_count(), 0);
    }

    #[test]
    fn bounded_in_hashes() {
        let now = Instant::now();
        let mut s = PeerStore::default();
        let peer: SocketAddr = "10.0.0.1:1".parse().unwrap();
        for i in 0..(MAX_HASHES as u32 + 5) {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            s.announce(InfoHash(h), peer, now);
        }
        assert_eq!(s.hash_count(), MAX_HASHES);
    }
}
