//! One torrent's protocol state: its peers, the piece picker, the choker and the
//! pieces being assembled.
//!
//! The caller (the io layer) feeds events — a peer connected, a message arrived,
//! a piece was written, time passed — and drains [`Action`]s: messages to send,
//! blocks to read and serve, good pieces to write, peers to drop.
//!
//! One job per file: `peers.rs` (joining, leaving, serving), `incoming.rs` (each
//! message), `requests.rs` (what we ask for, timeouts), `choking.rs` (whom we
//! upload to), `assembly.rs` + `verification.rs` (blocks into pieces, the hash
//! verdict, blame), `smart_ban.rs` (which sender of a failed piece lied),
//! `bans.rs` (strikes and banned addresses), `violation.rs`
//! (typed protocol violations), `stats.rs` (counters).

mod assembly;
mod bans;
mod choking;
mod config;
mod eviction;
mod extensions;
mod flood;
mod incoming;
#[cfg(test)]
mod invariants;
mod live_settings;
mod peer;
mod peer_view;
mod peers;
mod requests;
mod smart_ban;
mod stats;
mod timers;
mod verification;
mod violation;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::SeedableRng;

pub use bans::{BanNotice, BanReason, BanTable, MAX_BANNED_ADDRS};
pub use config::TorrentConfig;
pub use extensions::{MAX_SERVES_PER_PIECE, METADATA_SERVE_WINDOW, PEX_FIRST_DELAY};
pub use flood::{FloodAnomaly, FLOOD_WINDOW};
pub use peer_view::PeerView;
pub use smart_ban::MAX_REMEMBERED_FAILED_PIECES;
pub use stats::TorrentStats;
pub use timers::{PeerActivity, KEEPALIVE_INTERVAL, RATE_INTERVAL};
pub use violation::{ProtocolViolation, ViolationCounts, ViolationKind};

use crate::bitfield::Bitfield;
use crate::choker::{ChokeCandidate, Choker, CHOKE_INTERVAL};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::peer_session::Established;
use crate::piece_memory::{sha1_hashers, PieceAllocator, PieceData, PieceHasherFactory, VecPieceAllocator};
use crate::piece_picker::{PiecePicker, PiecePriority};
use crate::types::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex};
use crate::wire::{Message, EXTENDED_HANDSHAKE_ID};
use assembly::PieceBuffer;
use peer::Peer;

/// Something the io layer must do for the torrent.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this message to the peer.
    Send { peer: PeerKey, message: Message },
    /// Read this block from storage and send it to the peer as a PIECE message,
    /// after checking [`Torrent::take_serve`] (the peer may have cancelled it).
    ServeBlock { peer: PeerKey, block: BlockRef },
    /// A piece passed its hash check: write it to storage, then report the result with
    /// [`Torrent::piece_written`] and hand the buffer back with
    /// [`Torrent::recycle_piece_buffer`] if storage did not keep it. The engine keeps
    /// no reference to `data`, so storage may take it without a copy.
    WritePiece { piece: PieceIndex, data: PieceData },
    /// Close the connection, then call [`Torrent::remove_peer`].
    Disconnect { peer: PeerKey, reason: DisconnectReason },
    /// Every wanted piece is verified.
    Completed,
    /// Peer addresses learned from a peer (PEX): remember them with their source
    /// in the peer book and dial what is due.
    AddPeers {
        source: crate::peer_source::PeerSource,
        addrs: Vec<SocketAddr>,
    },
}

/// Why the torrent drops a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer broke the protocol.
    Protocol(ProtocolViolation),
    /// The peer sent data that failed hash checks too often.
    Banned,
    /// Both sides have everything; the connection has no use.
    BothSeeding,
    /// Nothing, not even a keep-alive, came for [`TorrentConfig::peer_idle_timeout`].
    Idle,
}

/// Why a peer was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error("peer {0} is banned for sending corrupt data")]
    Banned(SocketAddr),
    #[error("peer key {0:?} is already in use")]
    DuplicateKey(PeerKey),
    #[error("peer {0}: already connected to this peer id")]
    AlreadyConnected(SocketAddr),
}

/// Shape of a torrent, from its metainfo.
#[derive(Clone, Debug)]
pub struct TorrentParams {
    pub info_hash: InfoHash,
    pub num_pieces: u32,
    pub piece_length: u32,
    pub total_length: u64,
    /// SHA-1 of every piece, in order: the engine decides whether a piece is good.
    pub piece_hashes: Arc<[[u8; 20]]>,
}

/// The protocol state of one torrent.
pub struct Torrent {
    params: TorrentParams,
    config: TorrentConfig,
    our_id: PeerId,
    picker: PiecePicker,
    choker: Choker,
    peers: BTreeMap<PeerKey, Peer>,
    assembling: HashMap<PieceIndex, PieceBuffer>,
    /// Where piece buffers come from, and written ones go back to.
    allocator: Box<dyn PieceAllocator>,
    /// Makes the hasher of each piece.
    hashers: PieceHasherFactory,
    /// Pieces that passed their hash and are being written; the data is the
    /// caller's, so it can hand the buffer to the disk write without a copy.
    writing: HashSet<PieceIndex>,
    /// Block digests of failed pieces, to find out which sender lied.
    smart_ban: smart_ban::SmartBan,
    strikes: bans::Strikes,
    bans: bans::BanTable,
    /// Bans issued and not yet taken by the caller for the session's list.
    new_bans: VecDeque<BanNotice>,
    actions: VecDeque<Action>,
    rng: SmallRng,
    deadlines: timers::Deadlines,
    completed_emitted: bool,
    verified_bytes: u64,
    downloaded: u64,
    uploaded: u64,
    wasted: u64,
    hash_failures: u32,
    /// Addresses banned so far, and the latest (for the daemon's `peer_banned` event).
    bans_issued: u32,
    last_banned: Option<std::net::IpAddr>,
    violations: ViolationCounts,
    download_rate: crate::rate::RateEstimator,
    upload_rate: crate::rate::RateEstimator,
    block_latency: LatencyRecorder,
    scratch: Vec<BlockRef>,
    /// The info dictionary we serve (BEP 9) and whether the torrent is private.
    metadata: extensions::ServedMetadata,
    /// Extension handshakes that did not parse (the peers stayed, without extensions).
    bad_extension_handshakes: u32,
    metadata_pieces_served: u64,
    metadata_requests_rejected: u64,
    /// Addresses taken from peers' `ut_pex` messages.
    pex_addresses_received: u64,
    pex_messages_sent: u64,
}

impl Torrent {
    /// A torrent that already holds the pieces in `have` (verified on disk).
    pub fn new(
        params: TorrentParams,
        have: &Bitfield,
        config: TorrentConfig,
        our_id: PeerId,
        rng_seed: u64,
        now: Instant,
    ) -> Self {
        let mut picker = PiecePicker::new(params.num_pieces, params.piece_length, params.total_length);
        picker.set_sequential(config.sequential);
        picker.set_max_in_flight_pieces(config.max_in_flight_pieces);
        let mut verified_bytes = 0;
        for p in have.iter_ones() {
            picker.mark_have(PieceIndex(p));
            verified_bytes += picker.piece_size(PieceIndex(p)) as u64;
        }
        // Already complete: that is not news to report again when priorities change.
        let completed_emitted = picker.is_wanted_complete();
        let choker = Choker::new(config.unchoke_slots);
        let allocator = Box::new(VecPieceAllocator::vecs(params.piece_length));
        Torrent {
            params,
            config,
            our_id,
            picker,
            choker,
            peers: BTreeMap::new(),
            assembling: HashMap::new(),
            allocator,
            hashers: sha1_hashers(),
            writing: HashSet::new(),
            smart_ban: smart_ban::SmartBan::default(),
            strikes: bans::Strikes::default(),
            bans: bans::BanTable::default(),
            new_bans: VecDeque::new(),
            actions: VecDeque::new(),
            rng: SmallRng::seed_from_u64(rng_seed),
            deadlines: timers::Deadlines::default(),
            completed_emitted,
            verified_bytes,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            hash_failures: 0,
            bans_issued: 0,
            last_banned: None,
            violations: ViolationCounts::default(),
            download_rate: crate::rate::RateEstimator::new(now),
            upload_rate: crate::rate::RateEstimator::new(now),
            block_latency: LatencyRecorder::new(),
            scratch: Vec::new(),
            metadata: extensions::ServedMetadata::default(),
            bad_extension_handshakes: 0,
            metadata_pieces_served: 0,
            metadata_requests_rejected: 0,
            pex_addresses_received: 0,
            pex_messages_sent: 0,
        }
    }

    pub fn info_hash(&self) -> InfoHash {
        self.params.info_hash
    }

    pub fn our_id(&self) -> PeerId {
        self.our_id
    }

    /// The port we accept peers on, as configured.
    pub fn listen_port(&self) -> Option<u16> {
        self.config.listen_port
    }

    /// Pieces verified so far.
    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// Every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.is_wanted_complete()
    }

    /// Skips or prefers a piece (file priorities are mapped to pieces by the caller).
    pub fn set_piece_priority(&mut self, piece: PieceIndex, priority: PiecePriority) {
        self.picker.set_piece_priority(piece, priority);
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front()?;
        let sends = match &action {
            Action::Send { message, .. } => *message != Message::KeepAlive,
            Action::ServeBlock { .. } => true,
            _ => false,
        };
        if let (true, Action::Send { peer, .. } | Action::ServeBlock { peer, .. }) = (sends, &action) {
            // Something goes out: no keep-alive needed this round.
            if let Some(p) = self.peers.get_mut(peer) {
                p.sent_recently = true;
            }
        }
        Some(action)
    }

    pub(super) fn send(&mut self, peer: PeerKey, message: Message) {
        self.actions.push_back(Action::Send { peer, message });
    }

    pub(super) fn disconnect(&mut self, peer: PeerKey, reason: DisconnectReason, now: Instant) {
        self.actions.push_back(Action::Disconnect { peer, reason });
        self.remove_peer(peer, now);
    }

    /// Where piece buffers come from (default: `Vec`s, see [`VecPieceAllocator`]).
    /// Set it before the first piece arrives.
    pub fn set_piece_allocator(&mut self, allocator: Box<dyn PieceAllocator>) {
        self.allocator = allocator;
    }

    /// How pieces are hashed (default: SHA-1, untimed). Set it before the first
    /// piece arrives.
    pub fn set_piece_hasher(&mut self, hashers: PieceHasherFactory) {
        self.hashers = hashers;
    }
}

#[cfg(test)]
mod tests;
