//! Tit-for-tat choking (BEP 3): which interested peers we upload to.
//!
//! Regular slots go to the peers that give us the most (download rate) while we
//! leech, or that take the most (upload rate) while we seed. One extra optimistic
//! slot rotates every [`OPTIMISTIC_INTERVAL`] among choked interested peers so new
//! peers get a chance to prove themselves; peers connected for less than
//! [`NEW_PEER_AGE`] are [`NEW_PEER_WEIGHT`] times as likely to get it, since they have
//! nothing to offer us yet. Uninterested peers are never unchoked.

use crate::types::PeerKey;
use rand::seq::SliceRandom;
use std::time::{Duration, Instant};

/// How often the caller re-runs the choker.
pub const CHOKE_INTERVAL: Duration = Duration::from_secs(10);

/// How long an optimistic unchoke lasts before it rotates.
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// Peers connected for less than this count as new for the optimistic draw.
pub const NEW_PEER_AGE: Duration = Duration::from_secs(60);

/// A new peer's weight in the optimistic draw, relative to 1 for others.
pub const NEW_PEER_WEIGHT: u32 = 3;

/// Regular slots of [`Choker::default`].
pub const DEFAULT_UNCHOKE_SLOTS: usize = 4;

/// What the choker needs to know about one connected peer.
#[derive(Clone, Copy, Debug)]
pub struct ChokeCandidate {
    pub peer: PeerKey,
    /// The peer wants data from us.
    pub interested: bool,
    /// Bytes per second we receive from the peer.
    pub download_rate: u64,
    /// Bytes per second we send to the peer.
    pub upload_rate: u64,
    /// We currently choke the peer.
    pub choked: bool,
    pub connected_at: Instant,
}

/// Chooses the unchoked set every [`CHOKE_INTERVAL`]; remembers the optimistic peer.
#[derive(Clone, Debug)]
pub struct Choker {
    slots: usize,
    optimistic: Option<(PeerKey, Instant)>,
}

impl Default for Choker {
    fn default() -> Self {
        Self::new(DEFAULT_UNCHOKE_SLOTS)
    }
}

impl Choker {
    /// `unchoke_slots` regular slots plus one optimistic slot. `0` disables choking:
    /// every interested peer is unchoked (a seedbox, or loopback benchmarks where
    /// upload capacity is not the constraint).
    pub fn new(unchoke_slots: usize) -> Self {
        Choker {
            slots: unchoke_slots,
            optimistic: None,
        }
    }

    /// The peer holding the optimistic slot, if any.
    pub fn optimistic(&self) -> Option<PeerKey> {
        self.optimistic.map(|(peer, _)| peer)
    }

    /// The peers to unchoke now; every other candidate should be choked.
    ///
    /// Call every [`CHOKE_INTERVAL`], or early when a peer becomes interested while
    /// a slot is free; the optimistic slot only rotates once [`OPTIMISTIC_INTERVAL`]
    /// has passed, however often this runs.
    pub fn run(
        &mut self,
        now: Instant,
        seeding: bool,
        candidates: &[ChokeCandidate],
        rng: &mut impl rand::Rng,
    ) -> Vec<PeerKey> {
        let mut interested: Vec<&ChokeCandidate> = candidates.iter().filter(|c| c.interested).collect();
        if self.slots == 0 {
            self.optimistic = None;
            return interested.iter().map(|c| c.peer).collect();
        }

        // Shuffle first so equal rates tie-break randomly; the stable sort then keeps
        // currently unchoked peers ahead on ties, which avoids pointless churn.
        interested.shuffle(rng);
        let rate = |c: &ChokeCandidate| {
            if seeding {
                c.upload_rate
            } else {
                c.download_rate
            }
        };
        interested.sort_by(|a, b| rate(b).cmp(&rate(a)).then(a.choked.cmp(&b.choked)));
        let regular_count = self.slots.min(interested.len());
        let (regular, rest) = interested.split_at(regular_count);

        let mut unchoked: Vec<PeerKey> = regular.iter().map(|c| c.peer).collect();
        if let Some(peer) = self.pick_optimistic(now, rest, rng) {
            unchoked.push(peer);
        }
        debug_assert!(unchoked.len() <= self.slots + 1);
        unchoked
    }

    /// Keeps the current optimistic peer while its interval lasts and it is still an
    /// interested peer outside the regular slots; otherwise draws a new one.
    fn pick_optimistic(&mut self, now: Instant, rest: &[&ChokeCandidate], rng: &mut impl rand::Rng) -> Option<PeerKey> {
        let current = self.optimistic.filter(|(peer, since)| {
            now.saturating_duration_since(*since) < OPTIMISTIC_INTERVAL && rest.iter().any(|c| c.peer == *peer)
        });
        if let Some((peer, _)) = current {
            return Some(peer);
        }

        let previous = self.optimistic();
        let choked: Vec<&ChokeCandidate> = rest
            .iter()
            .copied()
            .filter(|c| c.choked && Some(c.peer) != previous)
            .collect();
        // With no other choked peer, the slot stays with whoever is left.
        let pool: &[&ChokeCandidate] = if choked.is_empty() { rest } else { &choked };
        let chosen = weighted_pick(now, pool, rng);
        self.optimistic = chosen.map(|peer| (peer, now));
        chosen
    }
}

fn weighted_pick(now: Instant, pool: &[&ChokeCandidate], rng: &mut impl rand::Rng) -> Option<PeerKey> {
    let weight = |c: &ChokeCandidate| {
        if now.saturating_duration_since(c.connected_at) < NEW_PEER_AGE {
            u64::from(NEW_PEER_WEIGHT)
        } else {
            1
        }
    };
    let total: u64 = pool.iter().map(|c| weight(c)).sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.gen_range(0..total);
    for c in pool {
        let w = weight(c);
        if ticket < w {
            return Some(c.peer);
        }
        ticket -= w;
    }
    debug_assert!(false, "ticket beyond total weight");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn cand(id: u64, t0: Instant, down: u64, up: u64) -> ChokeCandidate {
        ChokeCandidate {
            peer: PeerKey(id),
            interested: true,
            download_rate: down,
            upload_rate: up,
            choked: true,
            connected_at: t0,
        }
    }

    fn set(v: &[PeerKey]) -> HashSet<u64> {
        v.iter().map(|p| p.0).collect()
    }

    #[test]
    fn leeching_ranks_by_download_seeding_by_upload() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(600);
        let peers: Vec<_> = (0..8).map(|i| cand(i, t0, i * 100, 1000 - i * 100)).collect();
        let mut rng = SmallRng::seed_from_u64(1);

        let mut choker = Choker::default();
        let out = choker.run(now, false, &peers, &mut rng);
        assert_eq!(out.len(), 5);
        assert_eq!(&out[..4], &[PeerKey(7), PeerKey(6), PeerKey(5), PeerKey(4)]);
        assert!(out[4].0 < 4, "optimistic comes from the rest");

        let mut choker = Choker::default();
        let out = choker.run(now, true, &peers, &mut rng);
        assert_eq!(&out[..4], &[PeerKey(0), PeerKey(1), PeerKey(2), PeerKey(3)]);
        assert!(out[4].0 >= 4);
    }

    #[test]
    fn uninterested_peers_stay_choked() {
        let t0 = Instant::now();
        let mut peers: Vec<_> = (0..6).map(|i| cand(i, t0, 1_000_000 * i, 0)).collect();
        for p in &mut peers[3..] {
            p.interested = false;
        }
        let mut rng = SmallRng::seed_from_u64(2);
        for slots in [0, 2, 4] {
            let out = Choker::new(slots).run(t0, false, &peers, &mut rng);
            assert_eq!(set(&out), HashSet::from([0, 1, 2]), "slots {slots}");
        }
        let out = Choker::new(1).run(t0, false, &peers, &mut rng);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], PeerKey(2));
        assert!(out[1].0 < 2);
        assert!(Choker::default().run(t0, false, &[], &mut rng).is_empty());
    }

    #[test]
    fn zero_slots_unchokes_every_interested_peer() {
        let t0 = Instant::now();
        let peers: Vec<_> = (0..40).map(|i| cand(i, t0, i, 0)).collect();
        let mut rng = SmallRng::seed_from_u64(3);
        let mut choker = Choker::new(0);
        assert_eq!(choker.run(t0, false, &peers, &mut rng).len(), 40);
        assert_eq!(choker.optimistic(), None);
    }

    #[test]
    fn ties_keep_currently_unchoked_peers() {
        let t0 = Instant::now();
        let mut peers: Vec<_> = (0..10).map(|i| cand(i, t0, 500, 0)).collect();
        for p in &mut peers[6..] {
            p.choked = false;
        }
        let mut rng = SmallRng::seed_from_u64(4);
        for _ in 0..20 {
            let out = Choker::new(4).run(t0, false, &peers, &mut rng);
            assert_eq!(set(&out[..4]), HashSet::from([6, 7, 8, 9]));
        }
    }

    #[test]
    fn optimistic_rotates_every_interval() {
        let t0 = Instant::now();
        let old = t0 - Duration::from_secs(3600);
        let peers: Vec<_> = (0..12).map(|i| cand(i, old, 1000 - i, 0)).collect();
        let mut rng = SmallRng::seed_from_u64(5);
        let mut choker = Choker::new(2);

        let first = choker.run(t0, false, &peers, &mut rng);
        let opt = choker.optimistic().unwrap();
        assert_eq!(first.len(), 3);
        assert_eq!(first[2], opt);
        assert!(opt.0 >= 2);

        let mut seen = HashSet::new();
        let mut now = t0;
        for _ in 0..2 {
            now += CHOKE_INTERVAL;
            choker.run(now, false, &peers, &mut rng);
            assert_eq!(choker.optimistic(), Some(opt), "kept within the interval");
        }
        for round in 0..30 {
            now += OPTIMISTIC_INTERVAL;
            let before = choker.optimistic();
            // The caller applied our last answer: only the current optimistic is unchoked.
            let mut applied = peers.clone();
            for p in &mut applied {
                p.choked = !(p.peer.0 < 2 || Some(p.peer) == before);
            }
            choker.run(now, false, &applied, &mut rng);
            let after = choker.optimistic().unwrap();
            assert_ne!(Some(after), before, "round {round}: rotated to a choked peer");
            assert!(after.0 >= 2);
            seen.insert(after.0);
        }
        assert!(seen.len() >= 6, "rotation visits many peers: {seen:?}");
    }

    #[test]
    fn optimistic_promoted_to_regular_is_replaced() {
        let t0 = Instant::now();
        let mut peers: Vec<_> = (0..5).map(|i| cand(i, t0, 100 - i, 0)).collect();
        let mut rng = SmallRng::seed_from_u64(6);
        let mut choker = Choker::new(1);
        choker.run(t0, false, &peers, &mut rng);
        let opt = choker.optimistic().unwrap();
        peers[opt.0 as usize].download_rate = 10_000;
        let out = choker.run(t0 + CHOKE_INTERVAL, false, &peers, &mut rng);
        assert_eq!(out[0], opt);
        assert_ne!(choker.optimistic(), Some(opt));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn new_peers_are_three_times_as_likely() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(3600);
        let mut rng = SmallRng::seed_from_u64(7);
        // Peer 0 takes the only regular slot; 1 is new, 2 is old.
        let peers = [
            cand(0, t0, 1_000, 0),
            cand(1, now - Duration::from_secs(5), 0, 0),
            cand(2, t0, 0, 0),
        ];
        let trials = 4000;
        let mut new_wins = 0;
        for _ in 0..trials {
            let mut choker = Choker::new(1);
            choker.run(now, false, &peers, &mut rng);
            if choker.optimistic() == Some(PeerKey(1)) {
                new_wins += 1;
            }
        }
        // Expected 3/4.
        assert!((2800..3200).contains(&new_wins), "{new_wins}");
    }
}
