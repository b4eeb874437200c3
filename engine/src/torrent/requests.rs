//! What we ask peers for: keeping each pipeline full, interest, timeouts.

use std::time::Instant;

use super::*;

impl Torrent {
    pub(super) fn refill_all(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.fill_requests(key, now);
        }
    }

    /// Tops up the peer's request pipeline; drops interest when it has nothing for us.
    pub(super) fn fill_requests(&mut self, key: PeerKey, now: Instant) {
        let Torrent {
            peers,
            picker,
            actions,
            scratch,
            deadlines,
            config,
            ..
        } = self;
        let Some(peer) = peers.get_mut(&key) else {
            return;
        };
        if !peer.am_interested {
            return;
        }
        let allowed_only = if peer.peer_choking {
            if peer.allowed_fast_from_them.is_empty() {
                return;
            }
            Some(peer.allowed_fast_from_them.as_slice())
        } else {
            None
        };
        let depth = peer.pipeline.depth();
        if peer.pending.len() >= depth {
            return;
        }
        scratch.clear();
        let pending = &peer.pending;
        picker.pick_blocks(
            &peer.has,
            depth - pending.len(),
            &|b| pending.contains_key(&b),
            allowed_only,
            scratch,
        );
        if !scratch.is_empty() {
            Torrent::request_sent(deadlines, config.request_timeout, now);
        }
        for block in scratch.drain(..) {
            peer.pending.insert(block, now);
            actions.push_back(Action::Send {
                peer: key,
                message: Message::Request(block),
            });
        }
        if peer.pending.is_empty() && allowed_only.is_none() && !picker.is_interesting(&peer.has) {
            peer.am_interested = false;
            actions.push_back(Action::Send {
                peer: key,
                message: Message::NotInterested,
            });
        }
    }

    /// Sends INTERESTED when the peer has something we want.
    pub(super) fn update_interest(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.am_interested || self.picker.is_wanted_complete() {
            return;
        }
        if self.picker.is_interesting(&peer.has) {
            peer.am_interested = true;
            self.actions.push_back(Action::Send {
                peer: key,
                message: Message::Interested,
            });
            self.fill_requests(key, now);
        }
    }
}
