//! The pick strategies: in-progress, rarest-first, sequential, allowed-fast, end-game.

use super::*;

impl PiecePicker {
    /// A wanted piece of `class` that the peer has.
    pub(super) fn eligible(&self, p: u32, class: usize, peer_has: &Bitfield) -> bool {
        self.want.get(p) && self.priority[p as usize].class() == Some(class) && peer_has.get(p)
    }

    /// Requests fresh blocks of wanted piece `p` until `out` reaches `target`,
    /// starting a download of `p` if the in-flight limit allows.
    pub(super) fn take_blocks(&mut self, p: u32, target: usize, out: &mut Vec<BlockRef>) {
        debug_assert!(self.want.get(p));
        let mut slot = self.partial_slot[p as usize];
        if slot == NO_PARTIAL {
            if !self.may_start_piece() {
                return;
            }
            slot = self.partials.len() as u32;
            self.partials.push(Partial::new(p, self.blocks_of(p)));
            self.partial_slot[p as usize] = slot;
            self.wanted_partials += 1;
        }
        let size = self.size_of(p);
        let room = target.saturating_sub(out.len());
        let taken = self.partials[slot as usize].request_fresh(room, |index| out.push(block_at(p, size, index)));
        self.take_unrequested(taken);
    }

    pub(super) fn has_fresh_blocks(&self, p: u32) -> bool {
        self.unrequested_in(p) > 0
    }

    /// Pieces in flight first: finishing them bounds memory and pieces in flight.
    pub(super) fn pick_in_progress(
        &mut self,
        class: usize,
        peer_has: &Bitfield,
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        let mut slot = 0;
        // take_blocks on an existing partial never reorders `partials`.
        while slot < self.partials.len() && out.len() < target {
            let partial = &self.partials[slot];
            let p = partial.piece;
            if partial.unrequested() > 0 && self.eligible(p, class, peer_has) {
                self.take_blocks(p, target, out);
            }
            slot += 1;
        }
    }

    /// New pieces, rarest first. Availability 0 is skipped: no registered peer has
    /// those pieces, and scanning them on every pick would cost O(pieces).
    pub(super) fn pick_rarest(&mut self, class: usize, peer_has: &Bitfield, target: usize, out: &mut Vec<BlockRef>) {
        // Starting a piece leaves it in its bucket, so (bucket, i) stays valid.
        for bucket in 1..self.order.num_buckets(class) {
            let mut i = 0;
            while i < self.order.bucket(class, bucket).len() {
                if out.len() >= target || !self.may_start_piece() {
                    return;
                }
                let p = self.order.bucket(class, bucket)[i];
                i += 1;
                if self.partial_slot[p as usize] == NO_PARTIAL && peer_has.get(p) {
                    self.take_blocks(p, target, out);
                }
            }
        }
    }

    /// Lowest index first, in-progress or not.
    pub(super) fn pick_sequential(
        &mut self,
        class: usize,
        peer_has: &Bitfield,
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        if !self.may_start_piece() {
            self.pick_in_progress(class, peer_has, target, out);
            return;
        }
        if class == CLASS_HIGH {
            if self.high_missing == 0 {
                return;
            }
            // High pieces are few (a streaming window): gather and sort them.
            let mut pieces: Vec<u32> = (0..self.order.num_buckets(class))
                .flat_map(|b| self.order.bucket(class, b).iter().copied())
                .filter(|&p| peer_has.get(p))
                .collect();
            pieces.sort_unstable();
            for p in pieces {
                if out.len() >= target {
                    return;
                }
                if self.has_fresh_blocks(p) {
                    self.take_blocks(p, target, out);
                }
            }
            return;
        }
        for p in self.seq_cursor..self.num_pieces {
            if out.len() >= target {
                return;
            }
            if self.eligible(p, class, peer_has) && self.has_fresh_blocks(p) {
                self.take_blocks(p, target, out);
            }
        }
    }

    /// Allowed-fast pieces only (the set is small): in-progress ones, then new ones.
    pub(super) fn pick_allowed(
        &mut self,
        class: usize,
        peer_has: &Bitfield,
        allowed: &[PieceIndex],
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        for want_started in [true, false] {
            for &PieceIndex(p) in allowed {
                if out.len() >= target {
                    return;
                }
                if !self.eligible(p, class, peer_has) {
                    continue;
                }
                let started = self.partial_slot[p as usize] != NO_PARTIAL;
                if started == want_started && self.has_fresh_blocks(p) {
                    self.take_blocks(p, target, out);
                }
            }
        }
    }

    /// Duplicates of blocks requested elsewhere, fewest outstanding requests first.
    pub(super) fn pick_endgame(
        &mut self,
        peer_has: &Bitfield,
        pending: &dyn Fn(BlockRef) -> bool,
        allowed_only: Option<&[PieceIndex]>,
        target: usize,
        out: &mut Vec<BlockRef>,
    ) {
        // (requests, slot, block index): all blocks in flight, bounded by the sum of
        // the peers' pipeline depths.
        let mut candidates: Vec<(u8, u32, u32)> = Vec::new();
        for (slot, partial) in self.partials.iter().enumerate() {
            let p = partial.piece;
            if !self.want.get(p) || !peer_has.get(p) {
                continue;
            }
            if allowed_only.is_some_and(|allowed| !allowed.contains(&PieceIndex(p))) {
                continue;
            }
            let size = self.size_of(p);
            partial.endgame_candidates(|index, requests| {
                if !pending(block_at(p, size, index)) {
                    candidates.push((requests, slot as u32, index));
                }
            });
        }
        let room = target.saturating_sub(out.len());
        if candidates.len() > room {
            candidates.select_nth_unstable(room);
            candidates.truncate(room);
        }
        candidates.sort_unstable();
        for (requests, slot, index) in candidates {
            debug_assert!(requests > 0, "end-game with an unrequested block");
            let partial = &mut self.partials[slot as usize];
            partial.request_again(index);
            let p = partial.piece;
            out.push(block_at(p, self.size_of(p), index));
        }
    }
}
