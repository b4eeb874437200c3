//! Fetching a magnet's info dictionary from peers (BEP 9 over BEP 10), sans IO.
//!
//! Peers join once their BitTorrent handshake is done and tell us, in their extension
//! handshake, the id they receive `ut_metadata` under and the size of the dictionary.
//! The size most peers agree on is the one fetched; 16 KiB pieces are requested from
//! several peers at once (a few outstanding per peer), and a reject, a timeout or a
//! departure puts the piece back for another peer. When every piece is in, the SHA-1 of
//! the whole must be the info-hash:
//!
//! - if it is, the dictionary is parsed by the metainfo parser (its limits and path
//!   checks apply) and the fetch is done;
//! - if not, every piece is thrown away. When one peer sent them all it lied and is
//!   dropped; when several did, nobody can be blamed yet, so from then on each attempt
//!   takes every piece from one peer, and the next wrong one names its sender.
//!
//! A peer whose own size disagrees with the majority is never asked (if the majority
//! lies, its wrong answer drops its peers one by one and the size changes). A peer
//! without the extension protocol, without `ut_metadata`, without a usable size, or
//! silent for [`EXTENSION_HANDSHAKE_TIMEOUT`] is let go. Time comes in as `now`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha1::{Digest, Sha1};

use crate::metainfo::{Metainfo, MetainfoError};
use crate::types::{InfoHash, PeerKey};

use crate::wire::{
    metadata_piece_count, metadata_piece_len, ExtensionHandshake, Message, MetadataMessage, MetadataMessageError,
    MAX_METADATA_SIZE, UT_METADATA,
};

/// Requests outstanding at one peer at most.
pub const MAX_OUTSTANDING_PER_PEER: usize = 4;
/// A request unanswered this long goes to another peer, and counts against its peer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer that sends no extension handshake within this is let go.
pub const EXTENSION_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After a reject or a timeout, the peer is not asked again for this long.
pub const REJECT_BACKOFF: Duration = Duration::from_secs(5);
/// Rejects and timeouts a peer may cost us before it is let go.
pub const MAX_STRIKES: u32 = 3;
/// Requests a peer may send while we have no metadata to give (each is rejected);
/// beyond it the peer is flooding and is let go.
pub const MAX_REQUESTS_FROM_PEER: u32 = 64;
/// Peers followed at once; the caller bounds its connections below this anyway.
pub const MAX_FETCH_PEERS: usize = 256;

/// Why a peer is let go.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("does not speak the extension protocol")]
    NoExtensions,
    #[error("sent no extension handshake within {}s", EXTENSION_HANDSHAKE_TIMEOUT.as_secs())]
    NoExtensionHandshake,
    #[error("does not support ut_metadata")]
    NoMetadataSupport,
    #[error("has no metadata to give (no metadata_size)")]
    NoMetadata,
    #[error("announced a metadata_size of {0}, outside 1..={max}", max = MAX_METADATA_SIZE)]
    BadSize(u64),
    #[error("sent a piece with total_size {got}, but announced {announced}")]
    SizeContradiction { announced: u64, got: u64 },
    #[error("{0}")]
    BadMessage(MetadataMessageError),
    #[error("sent metadata that does not match the info-hash")]
    WrongMetadata,
    #[error("rejected or ignored {} requests", MAX_STRIKES)]
    TooManyStrikes,
    #[error("sent more than {} metadata requests", MAX_REQUESTS_FROM_PEER)]
    RequestFlood,
    #[error("too many peers in the metadata fetch (at most {})", MAX_FETCH_PEERS)]
    TooManyPeers,
}

/// What the caller does for the fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchAction {
    /// Send this message to the peer.
    Send { peer: PeerKey, message: Message },
    /// Close the connection to the peer; it is already forgotten here.
    Disconnect { peer: PeerKey, reason: DropReason },
}

/// Why a fetch cannot finish: the info dictionary matches the info-hash, so it is the
/// torrent's own, but it is not one ccbt can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataFetchError {
    #[error("torrent {info_hash}: its metadata is invalid: {source}")]
    BadInfo { info_hash: InfoHash, source: MetainfoError },
}

/// How the fetch is going, for a status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchProgress {
    /// Peers sent at least one request.
    pub peers_asked: u32,
    /// Peers now connected that offer the metadata with a usable size.
    pub peers_with_metadata: u32,
    /// Pieces received of the current attempt.
    pub pieces_have: u32,
    /// Pieces of the dictionary; 0 until a size is known.
    pub pieces_total: u32,
}

#[derive(Clone, Debug)]
enum Slot {
    Missing,
    Requested { peer: PeerKey },
    Have { data: Bytes, from: PeerKey },
}

#[derive(Debug)]
struct FetchPeer {
    joined: Instant,
    handshake_seen: bool,
    /// The id they receive `ut_metadata` under.
    their_id: Option<u8>,
    size: Option<u64>,
    /// Pieces asked of this peer, with when.
    outstanding: Vec<(u32, Instant)>,
    strikes: u32,
    not_before: Option<Instant>,
    requests_received: u32,
    asked: bool,
}

/// One magnet's metadata fetch; see the module docs.
#[derive(Debug)]
pub struct MetadataFetch {
    info_hash: InfoHash,
    peers: BTreeMap<PeerKey, FetchPeer>,
    /// The size being fetched, and one slot per piece of it.
    size: Option<u64>,
    pieces: Vec<Slot>,
    /// After an attempt from several peers failed: one peer per attempt.
    single_source: Option<PeerKey>,
    single_source_mode: bool,
    peers_asked: u32,
    failed_attempts: u32,
    actions: VecDeque<FetchAction>,
    outcome: Option<Result<Arc<Metainfo>, MetadataFetchError>>,
}

impl MetadataFetch {
    pub fn new(info_hash: InfoHash) -> MetadataFetch {
        MetadataFetch {
            info_hash,
            peers: BTreeMap::new(),
            size: None,
            pieces: Vec::new(),
            single_source: None,
            single_source_mode: false,
            peers_asked: 0,
            failed_attempts: 0,
            actions: VecDeque::new(),
            outcome: None,
        }
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// A peer finished the BitTorrent handshake. One without the extension bit is let
    /// go at once; the others are given [`EXTENSION_HANDSHAKE_TIMEOUT`] to send theirs.
    pub fn peer_connected(&mut self, peer: PeerKey, supports_extensions: bool, now: Instant) {
        if self.is_done() || self.peers.contains_key(&peer) {
            return;
        }
        if !supports_extensions {
            self.actions.push_back(FetchAction::Disconnect {
                peer,
                reason: DropReason::NoExtensions,
            });
            return;
        }
        if self.peers.len() >= MAX_FETCH_PEERS {
            self.actions.push_back(FetchAction::Disconnect {
                peer,
                reason: DropReason::TooManyPeers,
            });
            return;
        }
        self.peers.insert(
            peer,
            FetchPeer {
                joined: now,
                handshake_seen: false,
                their_id: None,
                size: None,
                outstanding: Vec::new(),
                strikes: 0,
                not_before: None,
                requests_received: 0,
                asked: false,
            },
        );
    }

    /// The peer's extension handshake (a later one updates the first, as BEP 10 allows).
    pub fn extension_handshake(&mut self, peer: PeerKey, handshake: &ExtensionHandshake, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.handshake_seen = true;
        let Some(&id) = handshake.m.get(UT_METADATA) else {
            return self.drop_peer(peer, DropReason::NoMetadataSupport, now);
        };
        let Some(size) = handshake.metadata_size else {
            return self.drop_peer(peer, DropReason::NoMetadata, now);
        };
        if size == 0 || size > MAX_METADATA_SIZE {
            return self.drop_peer(peer, DropReason::BadSize(size), now);
        }
        p.their_id = Some(id);
        if p.size != Some(size) {
            p.size = Some(size);
            // Whatever it had in flight was for its old size.
            let outstanding = std::mem::take(&mut p.outstanding);
            self.release_slots(peer, &outstanding);
        }
        self.choose_size();
        self.fill_requests(now);
    }

    /// The peer's extension handshake did not parse: the peer has no usable
    /// extensions, so it cannot give the metadata.
    pub fn bad_extension_handshake(&mut self, peer: PeerKey, now: Instant) {
        if self.peers.contains_key(&peer) {
            self.drop_peer(peer, DropReason::NoMetadataSupport, now);
        }
    }

    /// A `ut_metadata` message (the payload of an `Extended` message sent under our id).
    pub fn metadata_message(&mut self, peer: PeerKey, payload: &Bytes, now: Instant) {
        if self.is_done() || !self.peers.contains_key(&peer) {
            return;
        }
        match MetadataMessage::decode(payload) {
            Err(e) => self.drop_peer(peer, DropReason::BadMessage(e), now),
            Ok(MetadataMessage::Request { piece }) => self.on_request(peer, piece, now),
            Ok(MetadataMessage::Reject { piece }) => self.on_reject(peer, piece, now),
            Ok(MetadataMessage::Data {
                piece,
                total_size,
                data,
            }) => self.on_data(peer, piece, total_size, data, now),
        }
    }

    /// The connection ended; its requests go to other peers.
    pub fn peer_disconnected(&mut self, peer: PeerKey, now: Instant) {
        if let Some(p) = self.peers.remove(&peer) {
            self.release_slots(peer, &p.outstanding);
            self.after_departure(peer, now);
        }
    }

    /// When [`MetadataFetch::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_done() {
            return None;
        }
        self.peers
            .values()
            .flat_map(|p| {
                let handshake = (!p.handshake_seen).then(|| p.joined + EXTENSION_HANDSHAKE_TIMEOUT);
                let requests = p.outstanding.iter().map(|(_, at)| *at + REQUEST_TIMEOUT);
                handshake.into_iter().chain(requests).chain(p.not_before)
            })
            .min()
    }

    /// Expires silent peers and unanswered requests, and asks again.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_done() {
            return;
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(p) = self.peers.get_mut(&key) else { continue };
            if !p.handshake_seen && now >= p.joined + EXTENSION_HANDSHAKE_TIMEOUT {
                self.drop_peer(key, DropReason::NoExtensionHandshake, now);
                continue;
            }
            if p.not_before.is_some_and(|t| now >= t) {
                p.not_before = None;
            }
            let expired: Vec<(u32, Instant)> = p
                .outstanding
                .iter()
                .copied()
                .filter(|(_, at)| now >= *at + REQUEST_TIMEOUT)
                .collect();
            if expired.is_empty() {
                continue;
            }
            p.outstanding.retain(|(_, at)| now < *at + REQUEST_TIMEOUT);
            p.strikes += 1;
            // A slow peer is asked again only after the others had their turn.
            p.not_before = Some(now + REJECT_BACKOFF);
            let out = p.strikes >= MAX_STRIKES;
            self.release_slots(key, &expired);
            if out {
                self.drop_peer(key, DropReason::TooManyStrikes, now);
            }
        }
        self.fill_requests(now);
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<FetchAction> {
        self.actions.pop_front()
    }

    /// True once the metadata is verified (or found unusable).
    pub fn is_done(&self) -> bool {
        self.outcome.is_some()
    }

    /// The verified metadata (or why it cannot be used); `None` before.
    pub fn outcome(&self) -> Option<&Result<Arc<Metainfo>, MetadataFetchError>> {
        self.outcome.as_ref()
    }

    pub fn progress(&self) -> FetchProgress {
        FetchProgress {
            peers_asked: self.peers_asked,
            peers_with_metadata: self.peers.values().filter(|p| p.size.is_some()).count() as u32,
            pieces_have: self.pieces.iter().filter(|s| matches!(s, Slot::Have { .. })).count() as u32,
            pieces_total: self.pieces.len() as u32,
        }
    }

    /// Attempts whose assembled dictionary did not match the info-hash.
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// Peers followed now.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    fn on_request(&mut self, peer: PeerKey, piece: u32, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        p.requests_received += 1;
        if p.requests_received > MAX_REQUESTS_FROM_PEER {
            return self.drop_peer(peer, DropReason::RequestFlood, now);
        }
        // We have nothing to give yet; a peer that never told us its id gets no answer.
        if let Some(id) = p.their_id {
            self.actions.push_back(FetchAction::Send {
                peer,
                message: Message::Extended {
                    id,
                    payload: Bytes::from(MetadataMessage::Reject { piece }.encode()),
                },
            });
        }
    }

    fn on_reject(&mut self, peer: PeerKey, piece: u32, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let Some(at) = p.outstanding.iter().position(|(i, _)| *i == piece) else {
            return;
        };
        let released = p.outstanding.remove(at);
        p.strikes += 1;
        p.not_before = Some(now + REJECT_BACKOFF);
        let out = p.strikes >= MAX_STRIKES;
        self.release_slots(peer, &[released]);
        if out {
            self.drop_peer(peer, DropReason::TooManyStrikes, now);
        }
        self.fill_requests(now);
    }

    fn on_data(&mut self, peer: PeerKey, piece: u32, total_size: u64, data: Bytes, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        match p.size {
            Some(announced) if announced != total_size => {
                return self.drop_peer(
                    peer,
                    DropReason::SizeContradiction {
                        announced,
                        got: total_size,
                    },
                    now,
                );
            }
            Some(_) => {}
            // Data before a handshake with a size: it was never asked for.
            None => return,
        }
        let Some(at) = p.outstanding.iter().position(|(i, _)| *i == piece) else {
            // Not asked of this peer (or asked before a reset): ignored.
            return;
        };
        p.outstanding.remove(at);
        if self.size != Some(total_size) {
            return;
        }
        if let Some(slot) = self.pieces.get_mut(piece as usize) {
            if matches!(slot, Slot::Requested { peer: asked } if *asked == peer) {
                *slot = Slot::Have { data, from: peer };
            }
        }
        if self.pieces.iter().all(|s| matches!(s, Slot::Have { .. })) {
            self.assemble(now);
        } else {
            self.fill_requests(now);
        }
    }

    /// Every piece is in: hash, then parse or start again.
    fn assemble(&mut self, now: Instant) {
        let size = self.size.unwrap_or(0) as usize;
        let mut bytes = Vec::with_capacity(size);
        let mut contributors: Vec<PeerKey> = Vec::new();
        for slot in &self.pieces {
            if let Slot::Have { data, from } = slot {
                bytes.extend_from_slice(data);
                if !contributors.contains(from) {
                    contributors.push(*from);
                }
            }
        }
        let digest: [u8; 20] = Sha1::digest(&bytes).into();
        if digest == self.info_hash.0 {
            let outcome =
                Metainfo::from_info_bytes(&bytes)
                    .map(Arc::new)
                    .map_err(|source| MetadataFetchError::BadInfo {
                        info_hash: self.info_hash,
                        source,
                    });
            self.outcome = Some(outcome);
            self.pieces.clear();
            return;
        }
        self.failed_attempts += 1;
        for slot in &mut self.pieces {
            *slot = Slot::Missing;
        }
        match contributors.as_slice() {
            [liar] => self.drop_peer(*liar, DropReason::WrongMetadata, now),
            _ => {
                // Several senders: which one lied is unknown; one source per attempt now.
                self.single_source_mode = true;
                self.single_source = None;
            }
        }
        self.fill_requests(now);
    }

    /// Forgets a peer and tells the caller to close it.
    fn drop_peer(&mut self, peer: PeerKey, reason: DropReason, now: Instant) {
        if let Some(p) = self.peers.remove(&peer) {
            self.release_slots(peer, &p.outstanding);
        }
        self.actions.push_back(FetchAction::Disconnect { peer, reason });
        self.after_departure(peer, now);
    }

    fn after_departure(&mut self, peer: PeerKey, now: Instant) {
        if self.single_source == Some(peer) {
            self.single_source = None;
            self.reset_pieces();
        }
        self.choose_size();
        self.fill_requests(now);
    }

    /// Puts pieces asked of `peer` back as missing.
    fn release_slots(&mut self, peer: PeerKey, outstanding: &[(u32, Instant)]) {
        for (piece, _) in outstanding {
            if let Some(slot) = self.pieces.get_mut(*piece as usize) {
                if matches!(slot, Slot::Requested { peer: asked } if *asked == peer) {
                    *slot = Slot::Missing;
                }
            }
        }
    }

    /// Every piece is missing again and no request is in flight.
    fn reset_pieces(&mut self) {
        for slot in &mut self.pieces {
            *slot = Slot::Missing;
        }
        for p in self.peers.values_mut() {
            p.outstanding.clear();
        }
    }

    /// The size most peers announce (the earliest peer's on a tie). A change starts
    /// the fetch over for the new size.
    fn choose_size(&mut self) {
        let mut votes: BTreeMap<u64, (usize, PeerKey)> = BTreeMap::new();
        for (key, p) in &self.peers {
            if let Some(size) = p.size {
                let entry = votes.entry(size).or_insert((0, *key));
                entry.0 += 1;
            }
        }
        let chosen = votes
            .iter()
            .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.1 .1.cmp(&a.1 .1)))
            .map(|(size, _)| *size);
        let Some(size) = chosen else { return };
        if self.size == Some(size) {
            return;
        }
        self.size = Some(size);
        self.pieces = vec![Slot::Missing; metadata_piece_count(size) as usize];
        self.single_source = None;
        for p in self.peers.values_mut() {
            p.outstanding.clear();
        }
    }

    fn fill_requests(&mut self, now: Instant) {
        if self.is_done() {
            return;
        }
        let Some(size) = self.size else { return };
        let usable = |p: &FetchPeer| {
            p.size == Some(size)
                && p.their_id.is_some()
                && p.outstanding.len() < MAX_OUTSTANDING_PER_PEER
                && p.not_before.is_none_or(|t| now >= t)
        };
        if self.single_source_mode {
            let source = match self.single_source {
                Some(s) if self.peers.contains_key(&s) => s,
                _ => {
                    let Some(key) = self
                        .peers
                        .iter()
                        .find(|(_, p)| p.size == Some(size) && p.their_id.is_some())
                        .map(|(k, _)| *k)
                    else {
                        return;
                    };
                    // A new source starts from nothing, so the attempt is all its own.
                    self.single_source = Some(key);
                    self.reset_pieces();
                    key
                }
            };
            while self.peers.get(&source).is_some_and(usable) {
                let Some(piece) = self.next_missing() else { break };
                self.request(source, piece, now);
            }
            return;
        }
        loop {
            let Some(piece) = self.next_missing() else { break };
            // The usable peer with the fewest requests in flight (the earliest on a tie).
            let Some(key) = self
                .peers
                .iter()
                .filter(|(_, p)| usable(p))
                .min_by_key(|(k, p)| (p.outstanding.len(), **k))
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.request(key, piece, now);
        }
    }

    fn next_missing(&self) -> Option<u32> {
        self.pieces
            .iter()
            .position(|s| matches!(s, Slot::Missing))
            .map(|i| i as u32)
    }

    fn request(&mut self, peer: PeerKey, piece: u32, now: Instant) {
        let Some(p) = self.peers.get_mut(&peer) else { return };
        let Some(id) = p.their_id else { return };
        debug_assert!(self.size.and_then(|s| metadata_piece_len(s, piece)).is_some());
        p.outstanding.push((piece, now));
        if !p.asked {
            p.asked = true;
            self.peers_asked += 1;
        }
        if let Some(slot) = self.pieces.get_mut(piece as usize) {
            *slot = Slot::Requested { peer };
        }
        self.actions.push_back(FetchAction::Send {
            peer,
            message: Message::Extended {
                id,
                payload: Bytes::from(MetadataMessage::Request { piece }.encode()),
            },
        });
    }
}

#[cfg(test)]
mod tests;
