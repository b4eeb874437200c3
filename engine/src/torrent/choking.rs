//! Who we upload to: running the choker and telling peers its decision.

use std::time::Instant;

use super::*;

impl Torrent {
    /// Recomputes who we unchoke.
    pub(super) fn run_choker(&mut self, now: Instant) {
        self.choker_ran(now);
        let seeding = self.picker.is_wanted_complete();
        let candidates: Vec<ChokeCandidate> = self
            .peers
            .iter()
            .map(|(k, p)| ChokeCandidate {
                peer: *k,
                interested: p.peer_interested,
                download_rate: p.download.rate(now),
                upload_rate: p.upload.rate(now),
                choked: p.am_choking,
                connected_at: p.connected_at,
            })
            .collect();
        let unchoke: HashSet<PeerKey> = self
            .choker
            .run(now, seeding, &candidates, &mut self.rng)
            .into_iter()
            .collect();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let want_unchoked = unchoke.contains(&key);
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if want_unchoked && peer.am_choking {
                peer.am_choking = false;
                self.actions.push_back(Action::Send {
                    peer: key,
                    message: Message::Unchoke,
                });
            } else if !want_unchoked && !peer.am_choking {
                peer.am_choking = true;
                self.actions.push_back(Action::Send {
                    peer: key,
                    message: Message::Choke,
                });
                let dropped: Vec<BlockRef> = peer
                    .serving
                    .iter()
                    .filter(|b| !peer.allowed_fast_for_them.contains(&b.piece))
                    .copied()
                    .collect();
                for b in dropped {
                    peer.serving.remove(&b);
                    if peer.fast {
                        self.actions.push_back(Action::Send {
                            peer: key,
                            message: Message::Reject(b),
                        });
                    }
                }
            }
        }
    }

    /// Unchoked slots in use versus the configured number.
    pub(super) fn has_free_unchoke_slot(&self) -> bool {
        let slots = self.config.unchoke_slots;
        slots == 0 || self.peers.values().filter(|p| !p.am_choking).count() < slots
    }
}
