//! One torrent's protocol state: its peers, the piece picker, the choker and the
//! pieces being assembled.
//!
//! The caller (the io layer) feeds events — a peer connected, a message arrived,
//! a piece was hashed, time passed — and drains [`Action`]s: messages to send,
//! blocks to read and serve, pieces to verify and write, peers to drop.

mod assembly;
mod config;
mod eviction;
mod incoming;
mod peer;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::SeedableRng;

pub use config::TorrentConfig;

use crate::bitfield::Bitfield;
use crate::choker::{ChokeCandidate, Choker, CHOKE_INTERVAL};
use crate::latency::{LatencyRecorder, LatencySummary};
use crate::piece_memory::{sha1_hashers, PieceAllocator, PieceData, PieceHasherFactory, VecPieceAllocator};
use crate::piece_picker::{PiecePicker, PiecePriority};
use crate::types::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex};
use crate::wire::{ExtensionHandshake, Handshake, Message, EXTENDED_HANDSHAKE_ID};
use assembly::{AssembledPiece, PieceBuffer};
use peer::{Contributor, Peer};

/// Most failed piece copies kept to find out later which peer sent bad data.
const MAX_FAILED_COPIES: usize = 32;
/// Most peer identities whose hash-failure strikes we remember.
const MAX_STRIKE_RECORDS: usize = 4096;

/// Something the io layer must do for the torrent.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this message to the peer.
    Send { peer: PeerKey, message: Message },
    /// Read this block from storage and send it to the peer as a PIECE message,
    /// after checking [`Torrent::take_serve`] (the peer may have cancelled it).
    ServeBlock { peer: PeerKey, block: BlockRef },
    /// Every block of the piece arrived and `digest` is its SHA-1 (hashed as the
    /// blocks came in): compare it with the piece's hash; if good, call
    /// [`Torrent::compare_good_copy`] when [`Torrent::wants_good_copy`], write it, then
    /// call [`Torrent::piece_verified`]. The engine keeps no reference to `data`.
    VerifyPiece {
        piece: PieceIndex,
        data: PieceData,
        digest: [u8; 20],
    },
    /// Close the connection, then call [`Torrent::remove_peer`].
    Disconnect { peer: PeerKey, reason: DisconnectReason },
    /// Every wanted piece is verified.
    Completed,
}

/// Why the torrent drops a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The peer broke the protocol; the text says how.
    Protocol(String),
    /// The peer sent data that failed hash checks too often.
    Banned,
    /// Both sides have everything; the connection has no use.
    BothSeeding,
    /// A connection to a peer we already talk to, or to ourselves.
    Duplicate,
}

/// Why a peer was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error("peer {0} is banned for sending corrupt data")]
    Banned(SocketAddr),
    #[error("peer key {0:?} is already in use")]
    DuplicateKey(PeerKey),
    #[error("handshake is for torrent {got}, not {expected}")]
    WrongTorrent { expected: InfoHash, got: InfoHash },
}

/// Shape of a torrent, from its metainfo.
#[derive(Clone, Debug)]
pub struct TorrentParams {
    pub info_hash: InfoHash,
    pub num_pieces: u32,
    pub piece_length: u32,
    pub total_length: u64,
}

/// Counters and rates for status output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentStats {
    pub pieces_have: u32,
    pub num_pieces: u32,
    /// Bytes of verified pieces.
    pub verified_bytes: u64,
    pub total_bytes: u64,
    /// Payload bytes received, good or not.
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Payload bytes thrown away: duplicates, unrequested, failed hashes.
    pub wasted: u64,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub peers: usize,
    pub hash_failures: u32,
    pub complete: bool,
    /// Request sent → block arrived, for blocks that were still pending.
    pub block_latency: LatencySummary,
    /// Time to hash one piece; filled in by the io layer (the engine leaves it default).
    pub hash_latency: LatencySummary,
    /// Time to write one piece to storage; filled in by the io layer (the engine leaves it default).
    pub write_latency: LatencySummary,
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
    /// Who sent each block of a piece out for hashing; the data itself is the
    /// caller's, so it can hand the buffer to the disk write without a copy.
    verifying: HashMap<PieceIndex, Vec<Option<Contributor>>>,
    failed_copies: HashMap<PieceIndex, AssembledPiece>,
    strikes: HashMap<PeerId, u32>,
    banned_addrs: HashSet<SocketAddr>,
    banned_ids: HashSet<PeerId>,
    actions: VecDeque<Action>,
    rng: SmallRng,
    last_choke: Option<Instant>,
    completed_emitted: bool,
    verified_bytes: u64,
    downloaded: u64,
    uploaded: u64,
    wasted: u64,
    hash_failures: u32,
    download_rate: crate::rate::RateEstimator,
    upload_rate: crate::rate::RateEstimator,
    block_latency: LatencyRecorder,
    scratch: Vec<BlockRef>,
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
            verifying: HashMap::new(),
            failed_copies: HashMap::new(),
            strikes: HashMap::new(),
            banned_addrs: HashSet::new(),
            banned_ids: HashSet::new(),
            actions: VecDeque::new(),
            rng: SmallRng::seed_from_u64(rng_seed),
            last_choke: None,
            completed_emitted: false,
            verified_bytes,
            downloaded: 0,
            uploaded: 0,
            wasted: 0,
            hash_failures: 0,
            download_rate: crate::rate::RateEstimator::new(now),
            upload_rate: crate::rate::RateEstimator::new(now),
            block_latency: LatencyRecorder::new(),
            scratch: Vec::new(),
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

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Whether a connection from/to this address or peer id would be refused.
    pub fn is_banned(&self, addr: SocketAddr, id: Option<PeerId>) -> bool {
        self.banned_addrs.contains(&addr) || id.is_some_and(|id| self.banned_ids.contains(&id))
    }

    /// Whether some connected peer has this peer id.
    pub fn is_connected_to(&self, id: PeerId) -> bool {
        self.peers.values().any(|p| p.id == id)
    }

    /// Skips or prefers a piece (file priorities are mapped to pieces by the caller).
    pub fn set_piece_priority(&mut self, piece: PieceIndex, priority: PiecePriority) {
        self.picker.set_piece_priority(piece, priority);
    }

    /// Registers a peer after the handshake and sends it our state.
    pub fn add_peer(
        &mut self,
        key: PeerKey,
        addr: SocketAddr,
        handshake: &Handshake,
        now: Instant,
    ) -> Result<(), AddPeerError> {
        if handshake.info_hash != self.params.info_hash {
            return Err(AddPeerError::WrongTorrent {
                expected: self.params.info_hash,
                got: handshake.info_hash,
            });
        }
        if self.is_banned(addr, Some(handshake.peer_id)) {
            return Err(AddPeerError::Banned(addr));
        }
        if self.peers.contains_key(&key) {
            return Err(AddPeerError::DuplicateKey(key));
        }
        let fast = handshake.reserved.supports_fast();
        let extensions = handshake.reserved.supports_extensions();
        let peer = Peer::new(addr, handshake.peer_id, fast, extensions, self.params.num_pieces, now);
        self.peers.insert(key, peer);

        if extensions {
            let mut ext = ExtensionHandshake {
                v: Some(self.config.client_name.clone()),
                p: self.config.listen_port,
                reqq: Some(self.config.max_peer_requests as u32),
                ..ExtensionHandshake::default()
            };
            ext.m.clear();
            self.send(
                key,
                Message::Extended {
                    id: EXTENDED_HANDSHAKE_ID,
                    payload: Bytes::from(ext.encode()),
                },
            );
        }
        let have = self.picker.have();
        let state = if fast && have.is_complete() {
            Some(Message::HaveAll)
        } else if fast && have.is_none() {
            Some(Message::HaveNone)
        } else if !have.is_none() {
            Some(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())))
        } else {
            None
        };
        if let Some(m) = state {
            self.send(key, m);
        }
        if fast {
            if let std::net::IpAddr::V4(ip) = addr.ip() {
                let set = crate::allowed_fast::allowed_fast_set(
                    &self.params.info_hash,
                    ip,
                    self.params.num_pieces,
                    self.config.allowed_fast_count,
                );
                for p in &set {
                    if self.picker.have().get(p.0) {
                        self.send(key, Message::AllowedFast(*p));
                    }
                }
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.allowed_fast_for_them = set;
                }
            }
        }
        Ok(())
    }

    /// Forgets a peer whose connection closed; its outstanding requests go back to the picker.
    pub fn remove_peer(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.forget_peer(key) else {
            return;
        };
        if !peer.pending.is_empty() {
            self.refill_all(now);
        }
        if !peer.am_choking {
            self.run_choker(now);
        }
    }

    /// Whether a block the peer requested should still be sent (not cancelled, not choked away).
    /// Counts it as taken: call [`Torrent::block_sent`] once written.
    pub fn take_serve(&mut self, key: PeerKey, block: BlockRef) -> bool {
        self.peers.get_mut(&key).is_some_and(|p| p.serving.remove(&block))
    }

    /// A PIECE message of `len` payload bytes went out to the peer.
    pub fn block_sent(&mut self, key: PeerKey, len: u32, now: Instant) {
        self.uploaded += len as u64;
        self.upload_rate.record(now, len as u64);
        if let Some(p) = self.peers.get_mut(&key) {
            p.upload.record(now, len as u64);
        }
    }

    /// Whether a failed copy of this piece waits to be compared with the good one
    /// (call [`Torrent::compare_good_copy`] before the good data is given away).
    pub fn wants_good_copy(&self, piece: PieceIndex) -> bool {
        self.failed_copies.contains_key(&piece)
    }

    /// Compares the good copy of a piece with the failed one kept earlier: the peers
    /// whose blocks differed get a strike.
    pub fn compare_good_copy(&mut self, piece: PieceIndex, good: &[u8]) {
        if let Some(bad) = self.failed_copies.remove(&piece) {
            for c in bad.culprits(good) {
                self.strike(c, 1);
            }
        }
    }

    /// The hash result of a piece handed out with [`Action::VerifyPiece`]. `ok` means
    /// it matched and is written to disk; when it did not, `failed_data` is that copy
    /// (kept to find out later who sent the bad blocks).
    pub fn piece_verified(&mut self, piece: PieceIndex, ok: bool, failed_data: Option<PieceData>, now: Instant) {
        let Some(block_from) = self.verifying.remove(&piece) else {
            return;
        };
        self.picker.piece_verified(piece, ok);
        let size = self.picker.piece_size(piece) as u64;
        if ok {
            self.verified_bytes += size;
            // Compared already, or the caller chose not to: either way it is done with.
            self.failed_copies.remove(&piece);
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for key in keys {
                if self.peers.get(&key).is_some_and(|p| !p.has.get(piece.0)) {
                    self.send(key, Message::Have(piece));
                }
            }
            if self.picker.is_wanted_complete() && !self.completed_emitted {
                self.on_complete();
            }
        } else {
            self.hash_failures += 1;
            self.wasted += size;
            let assembled = AssembledPiece {
                data: failed_data.unwrap_or_default(),
                block_from,
            };
            let contributors = assembled.contributors();
            if contributors.len() == 1 {
                self.strike(contributors[0], 1);
            } else if !assembled.data.is_empty() && self.failed_copies.len() < MAX_FAILED_COPIES {
                self.failed_copies.insert(piece, assembled);
            }
            self.refill_all(now);
        }
    }

    /// Periodic work: choking, request timeouts, pipeline depth. Call about once a second.
    pub fn tick(&mut self, now: Instant) {
        let timeout = self.config.request_timeout;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in &keys {
            let Some(peer) = self.peers.get_mut(key) else {
                continue;
            };
            let rate = peer.download.rate(now);
            peer.pipeline.on_rate(rate);
            let expired: Vec<BlockRef> = peer
                .pending
                .iter()
                .filter(|(_, sent)| now.saturating_duration_since(**sent) >= timeout)
                .map(|(b, _)| *b)
                .collect();
            for block in expired {
                peer.pending.remove(&block);
                self.picker.request_abandoned(block);
                self.actions.push_back(Action::Send {
                    peer: *key,
                    message: Message::Cancel(block),
                });
            }
        }
        let due = self
            .last_choke
            .is_none_or(|t| now.saturating_duration_since(t) >= CHOKE_INTERVAL);
        if due {
            self.run_choker(now);
        }
        self.refill_all(now);
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Counters for status output.
    pub fn stats(&self, now: Instant) -> TorrentStats {
        TorrentStats {
            pieces_have: self.picker.have().count_ones(),
            num_pieces: self.params.num_pieces,
            verified_bytes: self.verified_bytes,
            total_bytes: self.params.total_length,
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            wasted: self.wasted,
            download_rate: self.download_rate.rate(now),
            upload_rate: self.upload_rate.rate(now),
            peers: self.peers.len(),
            hash_failures: self.hash_failures,
            complete: self.picker.is_wanted_complete(),
            block_latency: self.block_latency.summary(),
            hash_latency: LatencySummary::default(),
            write_latency: LatencySummary::default(),
        }
    }

    fn send(&mut self, peer: PeerKey, message: Message) {
        self.actions.push_back(Action::Send { peer, message });
    }

    fn disconnect(&mut self, peer: PeerKey, reason: DisconnectReason, now: Instant) {
        self.actions.push_back(Action::Disconnect { peer, reason });
        self.remove_peer(peer, now);
    }

    /// Drops a peer's state: its pieces leave the availability counts and its
    /// outstanding requests go back to the picker.
    fn forget_peer(&mut self, key: PeerKey) -> Option<Peer> {
        let peer = self.peers.remove(&key)?;
        self.picker.peer_lost(&peer.has);
        for block in peer.pending.keys() {
            self.picker.request_abandoned(*block);
        }
        Some(peer)
    }

    fn strike(&mut self, who: Contributor, weight: u32) {
        if self.strikes.len() >= MAX_STRIKE_RECORDS && !self.strikes.contains_key(&who.id) {
            self.strikes.clear();
        }
        let strikes = self.strikes.entry(who.id).or_insert(0);
        *strikes += weight;
        if *strikes >= self.config.max_hash_failures {
            self.banned_addrs.insert(who.addr);
            self.banned_ids.insert(who.id);
            let keys: Vec<PeerKey> = self
                .peers
                .iter()
                .filter(|(_, p)| p.id == who.id || p.addr == who.addr)
                .map(|(k, _)| *k)
                .collect();
            for key in keys {
                self.actions.push_back(Action::Disconnect {
                    peer: key,
                    reason: DisconnectReason::Banned,
                });
                self.forget_peer(key);
            }
        }
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

    /// Hands back the buffer of a piece handed out with [`Action::VerifyPiece`] once
    /// the caller is done with it (hashed and written), so the next piece reuses it.
    pub fn recycle_piece_buffer(&mut self, data: PieceData) {
        if !self.completed_emitted {
            self.allocator.release(data);
        }
    }

    fn on_complete(&mut self) {
        self.completed_emitted = true;
        self.allocator.clear();
        self.actions.push_back(Action::Completed);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if peer.am_interested {
                peer.am_interested = false;
                self.actions.push_back(Action::Send {
                    peer: key,
                    message: Message::NotInterested,
                });
            }
            if peer.has.is_complete() && self.picker.have().is_complete() {
                self.actions.push_back(Action::Disconnect {
                    peer: key,
                    reason: DisconnectReason::BothSeeding,
                });
                self.forget_peer(key);
            }
        }
    }

    /// Recomputes who we unchoke.
    fn run_choker(&mut self, now: Instant) {
        self.last_choke = Some(now);
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
    fn has_free_unchoke_slot(&self) -> bool {
        let slots = self.config.unchoke_slots;
        slots == 0 || self.peers.values().filter(|p| !p.am_choking).count() < slots
    }

    fn refill_all(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.fill_requests(key, now);
        }
    }

    /// Tops up the peer's request pipeline; drops interest when it has nothing for us.
    fn fill_requests(&mut self, key: PeerKey, now: Instant) {
        let Torrent {
            peers,
            picker,
            actions,
            scratch,
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
    fn update_interest(&mut self, key: PeerKey, now: Instant) {
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

#[cfg(test)]
mod tests;
