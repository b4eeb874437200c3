//! Settings a running torrent takes at once: piece priorities (from the user's file
//! priorities) and sequential order.

use std::time::Instant;

use super::*;

impl Torrent {
    /// Sets the priority of every piece (index = piece; missing entries are left as
    /// they are, extra ones ignored), then acts on what changed: pieces wanted again
    /// reopen a complete torrent (interest goes to the peers that have them, and
    /// [`Action::Completed`] comes again when they are verified); a torrent left
    /// with nothing wanted missing completes now.
    pub fn set_piece_priorities(&mut self, priorities: &[PiecePriority], now: Instant) {
        for (p, priority) in priorities.iter().enumerate().take(self.params.num_pieces as usize) {
            self.picker.set_piece_priority(PieceIndex(p as u32), *priority);
        }
        self.after_wanted_changed(now);
    }

    /// Sequential mode requests the lowest missing piece first instead of the rarest.
    pub fn set_sequential(&mut self, on: bool) {
        self.picker.set_sequential(on);
    }

    /// Bytes of wanted pieces not yet verified.
    pub fn bytes_left_wanted(&self) -> u64 {
        self.picker.bytes_left_wanted()
    }

    fn after_wanted_changed(&mut self, now: Instant) {
        if self.picker.is_wanted_complete() {
            if !self.completed_emitted {
                self.on_complete();
            }
            return;
        }
        self.completed_emitted = false;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let interested = self.peers.get(&key).is_some_and(|p| p.am_interested);
            if interested {
                self.fill_requests(key, now);
            } else {
                self.update_interest(key, now);
            }
        }
    }
}
