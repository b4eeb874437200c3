//! What the torrent knows about one connected peer.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Instant;

use crate::bitfield::Bitfield;
use crate::pipeline_depth::PipelineDepth;
use crate::rate::RateEstimator;
use crate::types::{BlockRef, PeerId, PieceIndex};

/// Most allowed-fast pieces we remember from one peer (BEP 6 suggests ~10).
pub(crate) const MAX_ALLOWED_FAST_FROM_PEER: usize = 64;

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
    /// Last message other than a keep-alive (or an unknown one), for eviction.
    pub last_useful_at: Instant,
    /// We refuse their requests.
    pub am_choking: bool,
    /// We want something they have.
    pub am_interested: bool,
    /// They refuse our requests.
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub has: Bitfield,
    /// Any message other than the extension handshake was seen; BITFIELD is then late.
    pub seen_first_message: bool,
    /// Our requests to them, with the time each was sent.
    pub pending: HashMap<BlockRef, Instant>,
    /// Their requests to us not yet served or cancelled.
    pub serving: HashSet<BlockRef>,
    /// Pieces they let us request while choked.
    pub allowed_fast_from_them: Vec<PieceIndex>,
    /// Pieces we let them request while we choke them.
    pub allowed_fast_for_them: Vec<PieceIndex>,
    pub download: RateEstimator,
    pub upload: RateEstimator,
    pub pipeline: PipelineDepth,
}

impl Peer {
    pub fn new(addr: SocketAddr, id: PeerId, fast: bool, extensions: bool, num_pieces: u32, now: Instant) -> Self {
        Peer {
            addr,
            id,
            fast,
            extensions,
            connected_at: now,
            last_useful_at: now,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            has: Bitfield::new(num_pieces),
            seen_first_message: false,
            pending: HashMap::new(),
            serving: HashSet::new(),
            allowed_fast_from_them: Vec::new(),
            allowed_fast_for_them: Vec::new(),
            download: RateEstimator::new(now),
            upload: RateEstimator::new(now),
            pipeline: PipelineDepth::new(),
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
