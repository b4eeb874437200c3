//! A full recount of what the torrent's state must satisfy, for tests and the
//! simulation (run after every step).

use std::collections::HashMap;

use super::bans::MAX_BANNED_ADDRS;
use super::peer::MAX_RECENTLY_CANCELLED;
use super::timers::Timer;
use super::*;
use crate::types::BLOCK_SIZE;

impl Torrent {
    /// Panics, naming the rule, if the torrent's state is inconsistent: the picker's
    /// counts, requests per block against the peers' pending sets, pieces assembling
    /// / being written / failed against what is had, the byte counters, choking
    /// against what we serve, and that no deadline was forgotten.
    pub fn check_invariants(&self) {
        self.picker.check_invariants();
        let have = self.picker.have();

        // Requests: the picker's count per block is the number of peers waiting for it.
        let mut pending: HashMap<BlockRef, u32> = HashMap::new();
        for (key, p) in &self.peers {
            for b in p.pending.keys() {
                *pending.entry(*b).or_default() += 1;
                assert!(!have.get(b.piece.0), "{key:?} waits for block {b:?} of a piece we have");
            }
            assert!(p.recently_cancelled.len() <= MAX_RECENTLY_CANCELLED);
            if p.am_choking {
                for b in &p.serving {
                    assert!(
                        p.allowed_fast_for_them.contains(&b.piece),
                        "{key:?} is choked but served {b:?}"
                    );
                }
            }
        }
        let mut counted = 0;
        for (piece, requests) in self.picker.requests_in_flight() {
            for (i, r) in requests.iter().enumerate() {
                let offset = i as u32 * BLOCK_SIZE;
                let length = (self.picker.piece_size(piece) - offset).min(BLOCK_SIZE);
                let block = BlockRef { piece, offset, length };
                let waiting = pending.get(&block).copied().unwrap_or(0);
                assert_eq!(u32::from(*r), waiting, "requests of {block:?}");
                counted += waiting;
            }
        }
        assert_eq!(
            counted,
            pending.values().sum::<u32>(),
            "a peer waits for a block of a piece not in progress"
        );

        // Pieces: each is in at most one stage, never one we have.
        for p in self.assembling.keys() {
            assert!(!have.get(p.0), "assembling had piece {p}");
            assert!(!self.writing.contains(p), "piece {p} assembling and being written");
        }
        for p in &self.writing {
            assert!(!have.get(p.0), "writing had piece {p}");
        }
        assert!(self.smart_ban.len() <= super::smart_ban::MAX_REMEMBERED_FAILED_PIECES);
        assert!(self.bans.len() <= MAX_BANNED_ADDRS);

        // Counters.
        let verified: u64 = have
            .iter_ones()
            .map(|p| self.picker.piece_size(PieceIndex(p)) as u64)
            .sum();
        assert_eq!(verified, self.verified_bytes, "verified bytes");
        assert!(
            self.wasted <= self.downloaded,
            "wasted {} > downloaded {}",
            self.wasted,
            self.downloaded
        );
        if self.completed_emitted {
            assert!(self.picker.is_wanted_complete());
        }

        // Deadlines: never later than what they stand for.
        let timeout = self.config.request_timeout;
        if let Some(oldest) = self.peers.values().flat_map(|p| p.pending.values()).min() {
            let at = self
                .deadlines
                .get(Timer::Requests)
                .expect("requests pending but no timeout armed");
            assert!(at <= *oldest + timeout, "request deadline too late");
        }
        if let Some(quietest) = self.peers.values().map(|p| p.last_message).min() {
            let at = self.deadlines.get(Timer::Idle).expect("peers but no idle deadline");
            assert!(at <= quietest + self.config.peer_idle_timeout, "idle deadline too late");
            assert!(
                self.deadlines.get(Timer::KeepAlive).is_some(),
                "peers but no keep-alive round"
            );
        }
    }
}
