//! Which blocks to request from which peer.
//!
//! Policy, in order: High priority before Normal, Normal before Low; within a class, pieces already in
//! flight before new ones (few partial pieces, bounded memory); new pieces rarest
//! first (or lowest index in sequential mode), ties in a seeded shuffled order;
//! end-game duplicates only once every missing wanted block is requested.
//!
//! Wanted, missing pieces live in buckets by (priority, availability) (see
//! `order.rs`): a HAVE or BITFIELD moves each piece in O(1), and a pick walks from the
//! rarest bucket and usually stops after a few pieces. Pieces being downloaded have a
//! `Partial` record with per-block request counts (see `partial.rs`).

#[cfg(test)]
mod invariants;
mod order;
mod partial;
#[cfg(test)]
mod proptests;
mod strategy;
#[cfg(test)]
mod tests;

pub use partial::ENDGAME_MAX_REQUESTS_PER_BLOCK;

use crate::bitfield::Bitfield;
use crate::types::{BlockRef, PieceIndex, BLOCK_SIZE};
use order::Order;
use partial::{Partial, Receipt};

/// Availabilities at or above this share one bucket, which bounds the bucket table
/// whatever the caller feeds us; rarity distinctions that high are meaningless.
pub const MAX_TRACKED_AVAILABILITY: u32 = 1024;

/// Tie-break seed of [`PiecePicker::new`].
const DEFAULT_SEED: u64 = 0x6363_6274_7069_636b;

/// `partial_slot` of a piece with no download in progress.
const NO_PARTIAL: u32 = u32::MAX;

const CLASS_HIGH: usize = 0;
const CLASS_NORMAL: usize = 1;
const CLASS_LOW: usize = 2;

/// How much a piece is wanted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PiecePriority {
    /// Never download.
    Skip,
    #[default]
    Normal,
    /// Download before any Normal piece.
    High,
    /// Download only when no Normal or High piece can be picked from the peer.
    Low,
}

impl PiecePriority {
    fn class(self) -> Option<usize> {
        match self {
            PiecePriority::Skip => None,
            PiecePriority::High => Some(CLASS_HIGH),
            PiecePriority::Normal => Some(CLASS_NORMAL),
            PiecePriority::Low => Some(CLASS_LOW),
        }
    }
}

/// What a received block meant to the picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// New data for a piece in progress; hash the piece when `piece_complete`.
    Accepted { piece_complete: bool },
    /// We already have this block (an end-game race, or the piece is verified).
    Duplicate,
    /// Not a valid block of this torrent, or its piece is not being downloaded.
    Unexpected,
}

/// Block-level download state of one torrent and the policy choosing what to request.
pub struct PiecePicker {
    num_pieces: u32,
    piece_length: u32,
    last_piece_size: u32,
    have: Bitfield,
    /// Non-Skip and not had: exactly the pieces in `order`.
    want: Bitfield,
    priority: Vec<PiecePriority>,
    availability: Vec<u32>,
    /// Index into `partials`, or `NO_PARTIAL`.
    partial_slot: Vec<u32>,
    partials: Vec<Partial>,
    order: Order,
    sequential: bool,
    /// Every piece below is had; where sequential scans start.
    seq_cursor: u32,
    /// 0 = unlimited.
    max_in_flight: u32,
    /// Partials of wanted pieces: what `max_in_flight` limits.
    wanted_partials: u32,
    high_missing: u32,
    bytes_left_wanted: u64,
    /// Blocks of wanted pieces that are neither requested nor received; end-game at 0.
    unrequested_blocks: u64,
}

impl std::fmt::Debug for PiecePicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiecePicker")
            .field("num_pieces", &self.num_pieces)
            .field("have", &self.have.count_ones())
            .field("wanted_missing", &self.want.count_ones())
            .field("in_flight", &self.partials.len())
            .field("unrequested_blocks", &self.unrequested_blocks)
            .field("sequential", &self.sequential)
            .finish()
    }
}

impl PiecePicker {
    /// A picker with nothing had, every piece Normal, and a fixed tie-break seed.
    ///
    /// Inconsistent geometry (from a bad metainfo) does not panic: the last piece is
    /// clamped to 1..=`piece_length` bytes. Callers bound `num_pieces` when parsing.
    pub fn new(num_pieces: u32, piece_length: u32, total_length: u64) -> Self {
        Self::with_seed(num_pieces, piece_length, total_length, DEFAULT_SEED)
    }

    /// Like [`new`](Self::new) with the tie-break order seeded by `seed`; pass a
    /// value from the session RNG so that different clients pick different pieces.
    pub fn with_seed(num_pieces: u32, piece_length: u32, total_length: u64, seed: u64) -> Self {
        let piece_length = piece_length.max(1);
        let last_piece_size = match num_pieces {
            0 => 0,
            n => {
                let before_last = u64::from(n - 1) * u64::from(piece_length);
                total_length
                    .saturating_sub(before_last)
                    .clamp(1, u64::from(piece_length)) as u32
            }
        };
        let n = num_pieces as usize;
        let mut picker = PiecePicker {
            num_pieces,
            piece_length,
            last_piece_size,
            have: Bitfield::new(num_pieces),
            want: Bitfield::full(num_pieces),
            priority: vec![PiecePriority::Normal; n],
            availability: vec![0; n],
            partial_slot: vec![NO_PARTIAL; n],
            partials: Vec::new(),
            order: Order::new(num_pieces, seed),
            sequential: false,
            seq_cursor: 0,
            max_in_flight: 0,
            wanted_partials: 0,
            high_missing: 0,
            bytes_left_wanted: 0,
            unrequested_blocks: 0,
        };
        for p in 0..num_pieces {
            picker.order.insert(p, CLASS_NORMAL, 0);
            picker.bytes_left_wanted += u64::from(picker.size_of(p));
            picker.unrequested_blocks += u64::from(picker.blocks_of(p));
        }
        picker
    }

    /// Pieces in the torrent.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Bytes in piece `p`: `piece_length`, except the last piece; 0 out of range.
    pub fn piece_size(&self, p: PieceIndex) -> u32 {
        self.size_of(p.0)
    }

    /// Blocks in piece `p` (the last block may be short); 0 out of range.
    pub fn blocks_in_piece(&self, p: PieceIndex) -> u32 {
        self.blocks_of(p.0)
    }

    /// Pieces verified on disk.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Sequential mode picks the lowest missing index first instead of the rarest.
    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
    }

    /// Caps the wanted pieces with a download in progress; once reached, only pieces
    /// already in flight are picked (peers holding none of them get nothing). 0 =
    /// unlimited.
    pub fn set_max_in_flight_pieces(&mut self, n: u32) {
        self.max_in_flight = n;
    }

    /// Whether no wanted piece is missing.
    pub fn is_wanted_complete(&self) -> bool {
        self.want.is_none()
    }

    /// Every missing wanted block is already requested (or received).
    pub fn in_endgame(&self) -> bool {
        self.unrequested_blocks == 0 && !self.want.is_none()
    }

    /// Bytes of wanted pieces not yet verified.
    pub fn bytes_left_wanted(&self) -> u64 {
        self.bytes_left_wanted
    }

    /// Piece `p` is verified on disk (startup recheck, or a hash passed).
    pub fn mark_have(&mut self, p: PieceIndex) {
        let p = p.0;
        if p >= self.num_pieces || !self.have.set(p) {
            return;
        }
        if self.want.get(p) {
            self.set_wanted(p, false);
        }
        self.remove_partial(p);
        while self.have.get(self.seq_cursor) {
            self.seq_cursor += 1;
        }
    }

    /// Changes how much piece `p` is wanted; a Skip piece in flight keeps accepting
    /// the blocks already requested. Out-of-range indices are ignored.
    pub fn set_piece_priority(&mut self, p: PieceIndex, prio: PiecePriority) {
        let p = p.0;
        let Some(&old) = self.priority.get(p as usize) else {
            return;
        };
        if old == prio {
            return;
        }
        let was_wanted = self.want.get(p);
        if was_wanted {
            self.set_wanted(p, false);
        }
        self.priority[p as usize] = prio;
        if prio != PiecePriority::Skip && !self.have.get(p) {
            self.set_wanted(p, true);
        }
    }

    /// A peer announced piece `p` (HAVE). Out-of-range indices are ignored.
    pub fn peer_has_piece(&mut self, p: PieceIndex) {
        if p.0 < self.num_pieces {
            self.change_availability(p.0, true);
        }
    }

    /// A peer announced these pieces (BITFIELD, HAVE ALL). Picks only consider pieces
    /// some registered peer has, so register a peer before picking for it.
    pub fn peer_has_bitfield(&mut self, bf: &Bitfield) {
        let n = self.num_pieces;
        for p in bf.iter_ones().take_while(|&p| p < n) {
            self.change_availability(p, true);
        }
    }

    /// A peer left: undo its HAVEs and BITFIELD (pass everything it announced).
    pub fn peer_lost(&mut self, bf: &Bitfield) {
        let n = self.num_pieces;
        for p in bf.iter_ones().take_while(|&p| p < n) {
            self.change_availability(p, false);
        }
    }

    /// The peer has a wanted piece we lack.
    pub fn is_interesting(&self, peer_has: &Bitfield) -> bool {
        peer_has
            .as_bytes()
            .iter()
            .zip(self.want.as_bytes())
            .any(|(theirs, ours)| theirs & ours != 0)
    }

    /// Appends up to `max` blocks for this peer to `out`, marking them requested.
    ///
    /// Never a piece the peer lacks, never a Skip piece, never a piece we have.
    /// Outside end-game never a block already requested from anyone; in end-game
    /// (every missing wanted block already requested) it may return blocks requested
    /// from others, fewest requests first, but never one for which `pending(block)` is
    /// true (the caller's outstanding requests to this same peer). `allowed_only`:
    /// when Some, only pieces in that set may be picked (peer choked us but gave
    /// allowed-fast pieces).
    pub fn pick_blocks(
        &mut self,
        peer_has: &Bitfield,
        max: usize,
        pending: &dyn Fn(BlockRef) -> bool,
        allowed_only: Option<&[PieceIndex]>,
        out: &mut Vec<BlockRef>,
    ) {
        if max == 0 || self.want.is_none() {
            return;
        }
        let start = out.len();
        let target = start.saturating_add(max);
        for class in [CLASS_HIGH, CLASS_NORMAL, CLASS_LOW] {
            if out.len() >= target {
                break;
            }
            match allowed_only {
                Some(allowed) => self.pick_allowed(class, peer_has, allowed, target, out),
                None if self.sequential => self.pick_sequential(class, peer_has, target, out),
                None => {
                    self.pick_in_progress(class, peer_has, target, out);
                    self.pick_rarest(class, peer_has, target, out);
                }
            }
        }
        // Blocks picked above are fresh; duplicating in the same call would need to
        // tell them apart from `pending`, so end-game waits for the next call.
        if out.len() == start && self.unrequested_blocks == 0 {
            self.pick_endgame(peer_has, pending, allowed_only, target, out);
        }
        debug_assert!(out.len() <= target);
    }

    /// A block arrived with its data. Returns Accepted{piece_complete} if it was
    /// wanted and not yet received, Duplicate if already received (end-game race) or
    /// its piece is had, Unexpected if its piece is not being downloaded or the block
    /// is not a valid block of this torrent (wrong offset or length).
    ///
    /// A block of a piece in progress is accepted even after its request was
    /// abandoned (a late reply): the data is still good.
    pub fn block_received(&mut self, b: BlockRef) -> BlockOutcome {
        let Some(index) = self.block_index(b) else {
            return BlockOutcome::Unexpected;
        };
        let p = b.piece.0;
        if self.have.get(p) {
            return BlockOutcome::Duplicate;
        }
        let Some(partial) = self.partial_mut(p) else {
            return BlockOutcome::Unexpected;
        };
        match partial.receive(index) {
            Receipt::Duplicate => BlockOutcome::Duplicate,
            Receipt::New { was_unrequested } => {
                let piece_complete = partial.is_complete();
                if was_unrequested && self.want.get(p) {
                    self.take_unrequested(1);
                }
                BlockOutcome::Accepted { piece_complete }
            }
        }
    }

    /// Requests for this block still outstanding (with any peer); 0 when its piece
    /// is not being downloaded.
    pub fn requests_outstanding(&self, b: BlockRef) -> u8 {
        let Some(index) = self.block_index(b) else {
            return 0;
        };
        match self.partial_slot.get(b.piece.0 as usize) {
            Some(&slot) if slot != NO_PARTIAL => self.partials[slot as usize].requests_of(index),
            _ => 0,
        }
    }

    /// A request was rejected, cancelled, timed out or its peer choked/disconnected:
    /// the block becomes pickable again unless another peer still has it outstanding.
    /// Call this for every request that will not be answered, including end-game
    /// duplicates cancelled after the block arrived elsewhere.
    pub fn request_abandoned(&mut self, b: BlockRef) {
        let Some(index) = self.block_index(b) else {
            return;
        };
        let p = b.piece.0;
        let wanted = self.want.get(p);
        let Some(partial) = self.partial_mut(p) else {
            return;
        };
        let freed = partial.abandon(index);
        let idle = partial.is_idle();
        if freed && wanted {
            self.unrequested_blocks += 1;
        }
        if idle {
            self.remove_partial(p);
        }
    }

    /// Hash result for a piece whose blocks were all received. ok => have; !ok => its
    /// blocks become pickable again (those still requested elsewhere stay requested).
    pub fn piece_verified(&mut self, p: PieceIndex, ok: bool) {
        if ok {
            self.mark_have(p);
            return;
        }
        let p = p.0;
        let wanted = self.want.get(p);
        let Some(partial) = self.partial_mut(p) else {
            return;
        };
        let freed = partial.reset_received();
        let idle = partial.is_idle();
        if wanted {
            self.unrequested_blocks += u64::from(freed);
        }
        if idle {
            self.remove_partial(p);
        }
    }

    fn size_of(&self, p: u32) -> u32 {
        if p >= self.num_pieces {
            0
        } else if p == self.num_pieces - 1 {
            self.last_piece_size
        } else {
            self.piece_length
        }
    }

    fn blocks_of(&self, p: u32) -> u32 {
        self.size_of(p).div_ceil(BLOCK_SIZE)
    }

    /// The block index of `b` if it is exactly a block this picker would request.
    fn block_index(&self, b: BlockRef) -> Option<u32> {
        let size = self.size_of(b.piece.0);
        let index = b.offset / BLOCK_SIZE;
        if index * BLOCK_SIZE != b.offset || b.offset >= size {
            return None;
        }
        (b.length == (size - b.offset).min(BLOCK_SIZE)).then_some(index)
    }

    fn partial_mut(&mut self, p: u32) -> Option<&mut Partial> {
        let slot = *self.partial_slot.get(p as usize)?;
        self.partials.get_mut(slot as usize)
    }

    fn unrequested_in(&self, p: u32) -> u32 {
        match self.partial_slot.get(p as usize) {
            Some(&slot) if slot != NO_PARTIAL => self.partials[slot as usize].unrequested(),
            _ => self.blocks_of(p),
        }
    }

    fn take_unrequested(&mut self, n: u32) {
        debug_assert!(self.unrequested_blocks >= u64::from(n));
        self.unrequested_blocks = self.unrequested_blocks.saturating_sub(u64::from(n));
    }

    /// Moves `p` in or out of the wanted set, keeping every wanted-derived count.
    fn set_wanted(&mut self, p: u32, wanted: bool) {
        let prio = self.priority[p as usize];
        let Some(class) = prio.class() else {
            debug_assert!(false, "Skip piece {p} cannot be wanted");
            return;
        };
        let bucket = bucket_of(self.availability[p as usize]);
        let size = u64::from(self.size_of(p));
        let unrequested = u64::from(self.unrequested_in(p));
        let has_partial = self.partial_slot[p as usize] != NO_PARTIAL;
        let high = u32::from(prio == PiecePriority::High);
        if wanted {
            self.want.set(p);
            self.order.insert(p, class, bucket);
            self.bytes_left_wanted += size;
            self.unrequested_blocks += unrequested;
            self.wanted_partials += u32::from(has_partial);
            self.high_missing += high;
        } else {
            self.want.clear(p);
            self.order.remove(p, class, bucket);
            self.bytes_left_wanted -= size;
            self.unrequested_blocks -= unrequested;
            self.wanted_partials -= u32::from(has_partial);
            self.high_missing -= high;
        }
    }

    fn change_availability(&mut self, p: u32, up: bool) {
        let old = self.availability[p as usize];
        // Saturating: a caller that loses a peer it never registered must not wrap.
        let new = if up {
            old.saturating_add(1)
        } else {
            old.saturating_sub(1)
        };
        self.availability[p as usize] = new;
        let (from, to) = (bucket_of(old), bucket_of(new));
        if from != to && self.want.get(p) {
            if let Some(class) = self.priority[p as usize].class() {
                self.order.remove(p, class, from);
                self.order.insert(p, class, to);
            }
        }
    }

    fn may_start_piece(&self) -> bool {
        self.max_in_flight == 0 || self.wanted_partials < self.max_in_flight
    }

    fn remove_partial(&mut self, p: u32) {
        let slot = self.partial_slot[p as usize];
        if slot == NO_PARTIAL {
            return;
        }
        self.partials.swap_remove(slot as usize);
        if let Some(moved) = self.partials.get(slot as usize) {
            self.partial_slot[moved.piece as usize] = slot;
        }
        self.partial_slot[p as usize] = NO_PARTIAL;
        if self.want.get(p) {
            self.wanted_partials -= 1;
        }
    }
}

fn bucket_of(availability: u32) -> usize {
    availability.min(MAX_TRACKED_AVAILABILITY) as usize
}

fn block_at(piece: u32, piece_size: u32, index: u32) -> BlockRef {
    let offset = index * BLOCK_SIZE;
    debug_assert!(offset < piece_size);
    BlockRef {
        piece: PieceIndex(piece),
        offset,
        length: (piece_size - offset).min(BLOCK_SIZE),
    }
}
