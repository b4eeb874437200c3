//! Block bookkeeping for one piece that is being downloaded.

/// In end-game a block is requested from at most this many peers at once, so a
/// large swarm does not pull the same last blocks 50 times.
pub const ENDGAME_MAX_REQUESTS_PER_BLOCK: u8 = 8;

#[derive(Clone, Copy, Default, Debug)]
struct BlockState {
    /// Requests for this block outstanding across all peers; kept after receipt so
    /// that, if the piece fails its hash, blocks still on the wire stay requested.
    requests: u8,
    received: bool,
}

/// What receiving a block changed.
pub(super) enum Receipt {
    /// Already received.
    Duplicate,
    /// Newly received; `was_unrequested` when it arrived with no request outstanding
    /// (a late reply to an abandoned request).
    New { was_unrequested: bool },
}

pub(super) struct Partial {
    pub(super) piece: u32,
    blocks: Vec<BlockState>,
    received: u32,
    /// Blocks neither received nor requested.
    unrequested: u32,
    /// Sum of `requests` over all blocks.
    outstanding: u32,
    /// Every block below this is received or requested: where to look for new ones.
    hint: u32,
}

impl Partial {
    pub(super) fn new(piece: u32, num_blocks: u32) -> Self {
        debug_assert!(num_blocks > 0);
        Partial {
            piece,
            blocks: vec![BlockState::default(); num_blocks as usize],
            received: 0,
            unrequested: num_blocks,
            outstanding: 0,
            hint: 0,
        }
    }

    pub(super) fn unrequested(&self) -> u32 {
        self.unrequested
    }

    /// Every block has arrived: the piece is ready to hash.
    pub(super) fn is_complete(&self) -> bool {
        self.received as usize == self.blocks.len()
    }

    /// Nothing received and nothing on the wire: the partial can be dropped.
    pub(super) fn is_idle(&self) -> bool {
        self.received == 0 && self.outstanding == 0
    }

    /// Requests up to `max` blocks nobody has requested yet, in ascending order,
    /// passing each index to `f`; returns how many.
    pub(super) fn request_fresh(&mut self, max: usize, mut f: impl FnMut(u32)) -> u32 {
        let mut taken = 0u32;
        let mut i = self.hint as usize;
        while i < self.blocks.len() && (taken as usize) < max && self.unrequested > 0 {
            let block = &mut self.blocks[i];
            if !block.received && block.requests == 0 {
                block.requests = 1;
                self.unrequested -= 1;
                self.outstanding += 1;
                taken += 1;
                f(i as u32);
            }
            i += 1;
        }
        self.hint = i as u32;
        taken
    }

    /// Calls `f(index, requests)` for each block an end-game peer could also request.
    pub(super) fn endgame_candidates(&self, mut f: impl FnMut(u32, u8)) {
        for (i, block) in self.blocks.iter().enumerate() {
            if !block.received && block.requests < ENDGAME_MAX_REQUESTS_PER_BLOCK {
                f(i as u32, block.requests);
            }
        }
    }

    /// Adds one more outstanding request for a block (end-game duplicate).
    pub(super) fn request_again(&mut self, index: u32) {
        let Some(block) = self.blocks.get_mut(index as usize) else {
            debug_assert!(false, "block {index} out of range");
            return;
        };
        debug_assert!(!block.received && block.requests < ENDGAME_MAX_REQUESTS_PER_BLOCK);
        if block.requests == 0 {
            self.unrequested -= 1;
        }
        block.requests += 1;
        self.outstanding += 1;
    }

    pub(super) fn receive(&mut self, index: u32) -> Receipt {
        let Some(block) = self.blocks.get_mut(index as usize) else {
            debug_assert!(false, "block {index} out of range");
            return Receipt::Duplicate;
        };
        // One request is answered, whichever peer it was.
        let had_request = block.requests > 0;
        if had_request {
            block.requests -= 1;
            self.outstanding -= 1;
        }
        if block.received {
            return Receipt::Duplicate;
        }
        block.received = true;
        self.received += 1;
        if !had_request {
            self.unrequested -= 1;
        }
        Receipt::New {
            was_unrequested: !had_request,
        }
    }

    /// Drops one outstanding request; returns whether the block became unrequested.
    pub(super) fn abandon(&mut self, index: u32) -> bool {
        let Some(block) = self.blocks.get_mut(index as usize) else {
            debug_assert!(false, "block {index} out of range");
            return false;
        };
        if block.requests == 0 {
            return false;
        }
        block.requests -= 1;
        self.outstanding -= 1;
        if block.requests > 0 || block.received {
            return false;
        }
        self.unrequested += 1;
        self.hint = self.hint.min(index);
        true
    }

    /// Hash failure: forget every received block. Blocks still on the wire stay
    /// requested (their replies will be accepted); the rest become unrequested.
    /// Returns how many became unrequested.
    pub(super) fn reset_received(&mut self) -> u32 {
        let mut freed = 0;
        for block in &mut self.blocks {
            if block.received {
                block.received = false;
                if block.requests == 0 {
                    freed += 1;
                }
            }
        }
        self.received = 0;
        self.unrequested += freed;
        self.hint = 0;
        freed
    }

    /// Outstanding requests of one block (0 for an index out of range).
    pub(super) fn requests_of(&self, index: u32) -> u8 {
        self.blocks.get(index as usize).map_or(0, |b| b.requests)
    }

    /// Outstanding requests of each block, in order.
    #[cfg(test)]
    pub(super) fn requests(&self) -> Vec<u8> {
        self.blocks.iter().map(|b| b.requests).collect()
    }

    /// Recounts everything and checks the cached counters.
    #[cfg(test)]
    pub(super) fn check(&self) {
        let received = self.blocks.iter().filter(|b| b.received).count() as u32;
        let unrequested = self.blocks.iter().filter(|b| !b.received && b.requests == 0).count() as u32;
        let outstanding: u32 = self.blocks.iter().map(|b| u32::from(b.requests)).sum();
        assert_eq!(received, self.received, "piece {}", self.piece);
        assert_eq!(unrequested, self.unrequested, "piece {}", self.piece);
        assert_eq!(outstanding, self.outstanding, "piece {}", self.piece);
        let hint = self.hint as usize;
        assert!(self.blocks[..hint.min(self.blocks.len())]
            .iter()
            .all(|b| b.received || b.requests > 0));
    }
}
