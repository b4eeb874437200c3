//! What the torrent knows about one connected peer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::bitfield::Bitfield;
use crate::pipeline_depth::PipelineDepth;
use crate::rate::RateEstimator;
use crate::types::{BlockRef, PeerId, PieceIndex};

/// Most allowed-fast pieces we remember from one peer (BEP 6 suggests ~10).
pub(crate) const MAX_ALLOWED_FAST_FROM_PEER: usize = 64;

/// Most requests to one peer remembered after we gave up on them: one full pipeline,
/// so even a choke that drops every outstanding request is covered.
pub(crate) const MAX_RECENTLY_CANCELLED: usize = crate::pipeline_depth::MAX_DEPTH;

/// Who sent a block, kept until its piece is verified so blame lands on the right peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Contributor {
    pub key: crate::types::PeerKey,
    pub addr: SocketAddr,
    pub id: PeerId,
}

pub(crate) struct Peer {
    pub addr: SocketAddr,
    pub id: PeerId,
    pub fast: bool,
    #[allow(dead_code)]
    pub extensions: bool,
    pub connected_at: Instant,
    /// They connected to us.
    pub incoming: bool,
    /// Last message of any kind from them (keep-alives included).
    pub last_message: Instant,
    /// Last message from them other than a keep-alive.
    pub last_useful: Instant,
    /// We queued something for them since the last keep-alive round.
    pub sent_recently: bool,
    /// We refuse their requests.
    pub am_choking: bool,
    /// We want something they have.
    pub am_interested: bool,
    /// They refuse our requests.
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub has: Bitfield,
    /// Whether BITFIELD / HAVE NONE may still come as the first message.
    pub phase: crate::peer_session::Phase,
    /// Our requests to them, with the time each was sent.
    pub pending: HashMap<BlockRef, Instant>,
    /// Requests we cancelled or gave up on whose block may still be on the wire: its
    /// arrival is a late answer, not an unrequested block.
    pub recently_cancelled: RecentlyCancelled,
    /// Blocks that arrived answering one of our requests.
    pub requested_blocks_received: u64,
    /// Blocks that arrived unasked (dropped).
    pub unrequested_blocks: u32,
    /// Their requests refused because their queue with us was full.
    pub refused_requests: u32,
    /// Their requests to us not yet served or cancelled.
    pub serving: HashSet<BlockRef>,
    /// Pieces they let us request while choked.
    pub allowed_fast_from_them: Vec<PieceIndex>,
    /// Pieces we let them request while we choke them.
    pub allowed_fast_for_them: Vec<PieceIndex>,
    pub download: RateEstimator,
    pub upload: RateEstimator,
    pub pipeline: PipelineDepth,
    /// What its extension handshake said (empty until one parses).
    pub ext: super::extensions::PeerExtensions,
    /// How often it asked for each metadata piece lately.
    pub metadata_serve: super::extensions::MetadataServeBudget,
    /// What we told it with `ut_pex`, and when it hears from us next.
    pub pex_send: crate::pex::PexSendState,
    /// How many addresses it gave us with `ut_pex` lately.
    pub pex_intake: crate::pex::PexIntake,
    /// Its messages per second, by kind, against the flood limits.
    pub flood: super::flood::FloodMeter,
}

impl Peer {
    pub fn new(addr: SocketAddr, id: PeerId, fast: bool, extensions: bool, num_pieces: u32, now: Instant) -> Self {
        Peer {
            addr,
            id,
            fast,
            extensions,
            connected_at: now,
            incoming: false,
            last_message: now,
            last_useful: now,
            sent_recently: false,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            has: Bitfield::new(num_pieces),
            phase: crate::peer_session::Phase::BitfieldWindow,
            pending: HashMap::new(),
            recently_cancelled: RecentlyCancelled::default(),
            requested_blocks_received: 0,
            unrequested_blocks: 0,
            refused_requests: 0,
            serving: HashSet::new(),
            allowed_fast_from_them: Vec::new(),
            allowed_fast_for_them: Vec::new(),
            download: RateEstimator::new(now),
            upload: RateEstimator::new(now),
            pipeline: PipelineDepth::new(),
            ext: Default::default(),
            metadata_serve: Default::default(),
            pex_send: Default::default(),
            pex_intake: Default::default(),
            flood: Default::default(),
        }
    }

    /// Stops waiting for a request (cancelled, timed out, dropped by a choke),
    /// remembering it in case the block is already on its way. Whether it was pending.
    pub fn give_up_request(&mut self, block: BlockRef) -> bool {
        let was = self.pending.remove(&block).is_some();
        if was {
            self.recently_cancelled.insert(block);
        }
        was
    }

    /// A message arrived at `now`.
    pub fn heard_from(&mut self, message: &crate::wire::Message, now: Instant) {
        self.last_message = now;
        // Keep-alives and messages we do not know prove nothing: an idle peer that
        // sends only those stays evictable.
        if !matches!(
            message,
            crate::wire::Message::KeepAlive | crate::wire::Message::Unknown { .. }
        ) {
            self.last_useful = now;
        }
    }

    pub fn activity(&self) -> super::PeerActivity {
        super::PeerActivity {
            connected_at: self.connected_at,
            last_message: self.last_message,
            last_useful: self.last_useful,
            peer_interested: self.peer_interested,
            am_interested: self.am_interested,
        }
    }

    pub fn contributor(&self, key: crate::types::PeerKey) -> Contributor {
        Contributor {
            key,
            addr: self.addr,
            id: self.id,
        }
    }
}

/// A bounded first-in first-out set of blocks (oldest forgotten first).
#[derive(Default)]
pub(crate) struct RecentlyCancelled {
    order: VecDeque<BlockRef>,
    set: HashSet<BlockRef>,
}

impl RecentlyCancelled {
    pub fn insert(&mut self, block: BlockRef) {
        if !self.set.insert(block) {
            return;
        }
        self.order.push_back(block);
        if self.order.len() > MAX_RECENTLY_CANCELLED {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether the block was remembered; forgets it (one cancel excuses one block).
    pub fn take(&mut self, block: &BlockRef) -> bool {
        if !self.set.remove(block) {
            return false;
        }
        if let Some(i) = self.order.iter().position(|b| b == block) {
            self.order.remove(i);
        }
        true
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PieceIndex;

    fn block(i: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(i),
            offset: 0,
            length: 16384,
        }
    }

    #[test]
    fn recently_cancelled_is_bounded_and_excuses_each_block_once() {
        let mut rc = RecentlyCancelled::default();
        for i in 0..(MAX_RECENTLY_CANCELLED as u32 + 10) {
            rc.insert(block(i));
        }
        assert_eq!(rc.len(), MAX_RECENTLY_CANCELLED);
        assert!(!rc.take(&block(0)), "the oldest were forgotten");
        assert!(rc.take(&block(10)));
        assert!(!rc.take(&block(10)), "one cancel excuses one block");
    }
}
