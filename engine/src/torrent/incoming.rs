//! How the torrent reacts to each message a peer sends.

use std::time::Instant;

use bytes::Bytes;

use super::assembly::PieceBuffer;
use super::flood::MessageClass;
use super::peer::MAX_ALLOWED_FAST_FROM_PEER;
use super::violation::{ProtocolViolation, ViolationKind};
use super::{Action, DisconnectReason, Torrent};
use crate::bitfield::Bitfield;
use crate::peer_session::Phase;
use crate::piece_picker::BlockOutcome;
use crate::types::{BlockRef, PeerKey, PieceIndex};
use crate::wire::Message;

/// Largest block we serve; bigger requests break the protocol's convention.
const MAX_SERVED_BLOCK: u32 = 128 * 1024;
/// Unrequested blocks forgiven on one connection, plus one per
/// [`UNREQUESTED_PER_REQUESTED`] requested blocks received: races we did not foresee
/// cost an honest peer nothing, while an injector is cut off after a handful.
const UNREQUESTED_TOLERANCE: u32 = 16;
const UNREQUESTED_PER_REQUESTED: u64 = 64;

impl Torrent {
    /// Feeds one message from a peer. A protocol violation queues
    /// [`Action::Disconnect`] and forgets the peer.
    pub fn on_message(&mut self, key: PeerKey, message: Message, now: Instant) {
        if !self.peers.contains_key(&key) {
            return;
        }
        if let Err(why) = self.handle(key, message, now) {
            self.protocol_violation(key, why, now);
        }
    }

    /// The peer broke the protocol (here or in the io layer's decoder): count it and
    /// drop the peer.
    pub fn protocol_violation(&mut self, key: PeerKey, why: ProtocolViolation, now: Instant) {
        let Some(ip) = self.peers.get(&key).map(|p| p.addr.ip()) else {
            return;
        };
        let hostile = why.kind().is_hostile();
        self.violations.record(why.kind());
        self.disconnect(key, DisconnectReason::Protocol(why), now);
        if hostile {
            self.strike(ip, super::bans::WHOLE_STRIKE, super::BanReason::HostileProtocol, now);
        }
    }

    fn handle(&mut self, key: PeerKey, message: Message, now: Instant) -> Result<(), ProtocolViolation> {
        let num_pieces = self.params.num_pieces;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        peer.heard_from(&message, now);
        let first = peer.phase == Phase::BitfieldWindow;
        let repeats = match &message {
            Message::Have(p) => peer.has.get(p.0),
            // A late BITFIELD is aria2's batched HAVEs (it sends one instead of many
            // HAVEs when it finished many pieces at once): only one that adds no piece
            // repeats anything.
            Message::Bitfield(bytes) => !first && !adds_pieces(peer.has.as_bytes(), bytes),
            Message::HaveAll => !first && peer.has.is_complete(),
            _ => false,
        };
        if let Some((anomaly, count)) = peer.flood.record(MessageClass::of(&message, repeats), now) {
            return Err(ProtocolViolation::Flood { anomaly, count });
        }
        peer.phase = peer.phase.after(&message);
        let fast = peer.fast;
        let require_fast = |message: &'static str| {
            if fast {
                Ok(())
            } else {
                Err(ProtocolViolation::FastWithoutNegotiation { message })
            }
        };
        let check_index = |message: &'static str, p: PieceIndex| {
            if p.0 < num_pieces {
                Ok(())
            } else {
                Err(ProtocolViolation::PieceIndexOutOfRange {
                    message,
                    index: p.0,
                    num_pieces,
                })
            }
        };
        match message {
            Message::KeepAlive | Message::Port(_) | Message::Unknown { .. } => {}
            Message::Choke => {
                peer.peer_choking = true;
                if !peer.fast {
                    // BEP 3: a choke drops every request; blocks already sent may still come.
                    let dropped: Vec<BlockRef> = peer.pending.keys().copied().collect();
                    for b in dropped {
                        peer.give_up_request(b);
                        self.picker.request_abandoned(b);
                    }
                    self.refill_all(now);
                }
            }
            Message::Unchoke => {
                peer.peer_choking = false;
                self.fill_requests(key, now);
            }
            Message::Interested => {
                peer.peer_interested = true;
                if peer.am_choking && self.has_free_unchoke_slot() {
                    self.run_choker(now);
                }
            }
            Message::NotInterested => {
                peer.peer_interested = false;
                if !peer.am_choking {
                    self.run_choker(now);
                }
            }
            Message::Have(p) => {
                check_index("HAVE", p)?;
                if peer.has.set(p.0) {
                    self.picker.peer_has_piece(p);
                    self.after_peer_gained(key, now);
                }
            }
            // BEP 3 puts BITFIELD first, but aria2 sends HAVE NONE and later a BITFIELD
            // once it has pieces; a late one is taken as an update, like libtorrent does.
            Message::Bitfield(bytes) => {
                let bf = Bitfield::from_bytes(&bytes, num_pieces).map_err(ProtocolViolation::BadBitfield)?;
                self.set_peer_pieces(key, bf, now);
            }
            Message::HaveAll => {
                require_fast("HAVE ALL")?;
                self.set_peer_pieces(key, Bitfield::full(num_pieces), now);
            }
            Message::HaveNone => {
                require_fast("HAVE NONE")?;
                if !first {
                    return Err(ProtocolViolation::LateHaveNone);
                }
            }
            Message::Request(block) => self.on_request(key, block)?,
            Message::Cancel(block) => {
                if peer.serving.remove(&block) && peer.fast {
                    // BEP 6: a cancelled request is answered, here with a reject.
                    self.send(key, Message::Reject(block));
                }
            }
            Message::Piece { piece, offset, data } => {
                check_index("PIECE", piece)?;
                self.on_piece(key, piece, offset, data, now)?;
            }
            Message::Reject(block) => {
                require_fast("REJECT")?;
                if peer.pending.remove(&block).is_some() {
                    self.picker.request_abandoned(block);
                    self.refill_all(now);
                }
            }
            Message::AllowedFast(p) => {
                require_fast("ALLOWED FAST")?;
                check_index("ALLOWED FAST", p)?;
                if peer.allowed_fast_from_them.len() < MAX_ALLOWED_FAST_FROM_PEER
                    && !peer.allowed_fast_from_them.contains(&p)
                {
                    peer.allowed_fast_from_them.push(p);
                    self.update_interest(key, now);
                    self.fill_requests(key, now);
                }
            }
            Message::Suggest(p) => {
                require_fast("SUGGEST")?;
                check_index("SUGGEST", p)?;
            }
            Message::Extended { id, payload } => self.on_extended(key, id, payload, now)?,
        }
        Ok(())
    }

    /// Sets what the peer has (a first BITFIELD, or a late one as an update).
    pub(super) fn set_peer_pieces(&mut self, key: PeerKey, mut bf: Bitfield, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if !peer.has.is_none() {
            // A peer does not lose pieces: keep what it announced before.
            for p in peer.has.iter_ones() {
                bf.set(p);
            }
            self.picker.peer_lost(&peer.has);
        }
        self.picker.peer_has_bitfield(&bf);
        peer.has = bf;
        self.after_peer_gained(key, now);
    }

    /// The peer announced more pieces: maybe we are interested, or both of us are seeds.
    pub(super) fn after_peer_gained(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        if peer.has.is_complete() && self.picker.have().is_complete() {
            self.disconnect(key, DisconnectReason::BothSeeding, now);
            return;
        }
        if peer.am_interested {
            self.fill_requests(key, now);
        } else {
            self.update_interest(key, now);
        }
    }

    fn on_request(&mut self, key: PeerKey, block: BlockRef) -> Result<(), ProtocolViolation> {
        let num_pieces = self.params.num_pieces;
        if block.piece.0 >= num_pieces {
            return Err(ProtocolViolation::PieceIndexOutOfRange {
                message: "REQUEST",
                index: block.piece.0,
                num_pieces,
            });
        }
        let piece_size = self.picker.piece_size(block.piece);
        let end = block.offset as u64 + block.length as u64;
        if block.length == 0 || block.length > MAX_SERVED_BLOCK || end > piece_size as u64 {
            return Err(ProtocolViolation::RequestOutOfRange { block, piece_size });
        }
        let have = self.picker.have().get(block.piece.0);
        let max = self.config.max_peer_requests;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let allowed = !peer.am_choking || peer.allowed_fast_for_them.contains(&block.piece);
        let room = peer.serving.len() < max;
        if have && allowed && room {
            if peer.serving.insert(block) {
                self.actions.push_back(Action::ServeBlock { peer: key, block });
            }
            return Ok(());
        }
        if !room {
            // We advertised `reqq` = max; a peer that keeps queueing past it, a whole
            // queue's worth, is flooding us.
            peer.refused_requests += 1;
            if peer.refused_requests as usize > max {
                return Err(ProtocolViolation::TooManyRequests {
                    refused: peer.refused_requests,
                    limit: max as u32,
                });
            }
        }
        if peer.fast {
            self.send(key, Message::Reject(block));
        }
        Ok(())
    }

    /// A block arrived. One we did not ask this peer for (and did not cancel a moment
    /// ago) is dropped unread: it never enters a piece, and a peer that keeps
    /// sending them is cut off.
    fn on_piece(
        &mut self,
        key: PeerKey,
        piece: PieceIndex,
        offset: u32,
        data: Bytes,
        now: Instant,
    ) -> Result<(), ProtocolViolation> {
        let len = data.len() as u64;
        self.downloaded += len;
        self.download_rate.record(now, len);
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let block = BlockRef { piece, offset, length };
        let sent = peer.pending.remove(&block);
        let was_pending = sent.is_some();
        if !was_pending && !peer.recently_cancelled.take(&block) {
            self.wasted += len;
            peer.unrequested_blocks += 1;
            let count = peer.unrequested_blocks;
            let forgiven =
                u64::from(UNREQUESTED_TOLERANCE) + peer.requested_blocks_received / UNREQUESTED_PER_REQUESTED;
            if u64::from(count) > forgiven {
                return Err(ProtocolViolation::UnrequestedBlocks { count });
            }
            self.violations.record(ViolationKind::UnrequestedBlock);
            return Ok(());
        }
        peer.requested_blocks_received += 1;
        peer.download.record(now, len);
        if let Some(sent) = sent {
            self.block_latency.record(now.saturating_duration_since(sent));
        }
        let from = peer.contributor(key);
        match self.picker.block_received(block) {
            BlockOutcome::Accepted { piece_complete } => {
                let size = self.picker.piece_size(piece);
                let (allocator, hashers) = (&mut self.allocator, &self.hashers);
                let buffer = self
                    .assembling
                    .entry(piece)
                    .or_insert_with(|| PieceBuffer::new(allocator.allocate(size as usize), hashers()));
                if !buffer.put(offset, &data, from) {
                    self.wasted += len;
                }
                // Someone else still waits for this block (an end-game duplicate, kept
                // even after a hash failure ended end-game), or its count just answered
                // another peer's request: cancel it there.
                if !was_pending || self.picker.requests_outstanding(block) > 0 {
                    self.cancel_elsewhere(key, block);
                }
                if piece_complete {
                    if let Some(buffer) = self.assembling.remove(&piece) {
                        let (assembled, digest) = buffer.finish();
                        self.piece_assembled(piece, assembled, digest, now);
                    }
                }
            }
            BlockOutcome::Duplicate | BlockOutcome::Unexpected => self.wasted += len,
        }
        self.fill_requests(key, now);
        Ok(())
    }

    /// Another peer also has this block outstanding (end-game or a timed-out request): cancel it there.
    pub(super) fn cancel_elsewhere(&mut self, except: PeerKey, block: BlockRef) {
        let mut cancelled = Vec::new();
        for (k, p) in self.peers.iter_mut() {
            if *k != except && p.give_up_request(block) {
                cancelled.push(*k);
            }
        }
        for k in cancelled {
            self.picker.request_abandoned(block);
            self.send(k, Message::Cancel(block));
        }
    }
}

/// Whether a BITFIELD's bytes name a piece that `known` lacks. Bytes of another
/// length are a bad bitfield, which the handler reports: not a repeat.
fn adds_pieces(known: &[u8], announced: &[u8]) -> bool {
    known.len() != announced.len() || known.iter().zip(announced).any(|(k, a)| a & !k != 0)
}
