//! How the torrent reacts to each message a peer sends.

use std::time::Instant;

use bytes::Bytes;

use super::assembly::PieceBuffer;
use super::peer::MAX_ALLOWED_FAST_FROM_PEER;
use super::{Action, DisconnectReason, Torrent};
use crate::bitfield::Bitfield;
use crate::piece_picker::BlockOutcome;
use crate::types::{BlockRef, PeerKey, PieceIndex};
use crate::wire::{ExtensionHandshake, Message, EXTENDED_HANDSHAKE_ID};

/// Largest block we serve; bigger requests break the protocol's convention.
const MAX_SERVED_BLOCK: u32 = 128 * 1024;

impl Torrent {
    /// Feeds one message from a peer. A protocol violation queues
    /// [`Action::Disconnect`] and forgets the peer.
    pub fn on_message(&mut self, key: PeerKey, message: Message, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if !matches!(message, Message::KeepAlive | Message::Unknown { .. }) {
            peer.last_useful_at = now;
        }
        if let Err(why) = self.handle(key, message, now) {
            self.disconnect(key, DisconnectReason::Protocol(why), now);
        }
    }

    fn handle(&mut self, key: PeerKey, message: Message, now: Instant) -> Result<(), String> {
        let num_pieces = self.params.num_pieces;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let first = !peer.seen_first_message;
        if !matches!(message, Message::Extended { .. } | Message::KeepAlive) {
            peer.seen_first_message = true;
        }
        let fast = peer.fast;
        let require_fast = |name: &str| {
            if fast {
                Ok(())
            } else {
                Err(format!("{name} from a peer without the Fast extension"))
            }
        };
        let check_index = |p: PieceIndex| {
            if p.0 < num_pieces {
                Ok(())
            } else {
                Err(format!("piece index {} out of range ({num_pieces} pieces)", p.0))
            }
        };
        match message {
            Message::KeepAlive | Message::Port(_) | Message::Unknown { .. } => {}
            Message::Choke => {
                peer.peer_choking = true;
                if !peer.fast {
                    let dropped: Vec<BlockRef> = peer.pending.drain().map(|(b, _)| b).collect();
                    for b in dropped {
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
                check_index(p)?;
                if peer.has.set(p.0) {
                    self.picker.peer_has_piece(p);
                    self.after_peer_gained(key, now);
                }
            }
            // BEP 3 puts BITFIELD first, but aria2 sends HAVE NONE and later a BITFIELD
            // once it has pieces; a late one is taken as an update, like libtorrent does.
            Message::Bitfield(bytes) => {
                let bf = Bitfield::from_bytes(&bytes, num_pieces).map_err(|e| e.to_string())?;
                self.set_peer_pieces(key, bf, now);
            }
            Message::HaveAll => {
                require_fast("HAVE ALL")?;
                self.set_peer_pieces(key, Bitfield::full(num_pieces), now);
            }
            Message::HaveNone => {
                require_fast("HAVE NONE")?;
                if !first {
                    return Err("HAVE NONE after other messages".into());
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
                check_index(piece)?;
                self.on_piece(key, piece, offset, data, now);
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
                check_index(p)?;
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
                check_index(p)?;
            }
            Message::Extended { id, payload } => {
                if id == EXTENDED_HANDSHAKE_ID {
                    let ext = ExtensionHandshake::decode(&payload).map_err(|e| e.to_string())?;
                    if let Some(reqq) = ext.reqq {
                        peer.pipeline.on_reqq(reqq);
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets what the peer has (a first BITFIELD, or a late one as an update).
    fn set_peer_pieces(&mut self, key: PeerKey, mut bf: Bitfield, now: Instant) {
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
    fn after_peer_gained(&mut self, key: PeerKey, now: Instant) {
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

    fn on_request(&mut self, key: PeerKey, block: BlockRef) -> Result<(), String> {
        let num_pieces = self.params.num_pieces;
        if block.piece.0 >= num_pieces {
            return Err(format!("request for piece {} out of range", block.piece.0));
        }
        let piece_size = self.picker.piece_size(block.piece);
        let end = block.offset as u64 + block.length as u64;
        if block.length == 0 || block.length > MAX_SERVED_BLOCK || end > piece_size as u64 {
            return Err(format!(
                "bad request: piece {} offset {} length {} (piece is {piece_size} bytes)",
                block.piece.0, block.offset, block.length
            ));
        }
        let have = self.picker.have().get(block.piece.0);
        let max = self.config.max_peer_requests;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let allowed = !peer.am_choking || peer.allowed_fast_for_them.contains(&block.piece);
        if have && allowed && peer.serving.len() < max {
            if peer.serving.insert(block) {
                self.actions.push_back(Action::ServeBlock { peer: key, block });
            }
        } else if peer.fast {
            self.send(key, Message::Reject(block));
        }
        Ok(())
    }

    fn on_piece(&mut self, key: PeerKey, piece: PieceIndex, offset: u32, data: Bytes, now: Instant) {
        let len = data.len() as u64;
        self.downloaded += len;
        self.download_rate.record(now, len);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.download.record(now, len);
        let Ok(length) = u32::try_from(data.len()) else {
            self.wasted += len;
            return;
        };
        let block = BlockRef { piece, offset, length };
        let sent = peer.pending.remove(&block);
        let was_pending = sent.is_some();
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
                if !was_pending || self.picker.in_endgame() {
                    self.cancel_elsewhere(key, block);
                }
                if piece_complete {
                    if let Some(buffer) = self.assembling.remove(&piece) {
                        let (assembled, digest) = buffer.finish();
                        self.verifying.insert(piece, assembled.block_from);
                        self.actions.push_back(Action::VerifyPiece {
                            piece,
                            digest,
                            data: assembled.data,
                        });
                    }
                }
            }
            BlockOutcome::Duplicate | BlockOutcome::Unexpected => self.wasted += len,
        }
        self.fill_requests(key, now);
    }

    /// Another peer also has this block outstanding (end-game or a timed-out request): cancel it there.
    fn cancel_elsewhere(&mut self, except: PeerKey, block: BlockRef) {
        let mut cancelled = Vec::new();
        for (k, p) in self.peers.iter_mut() {
            if *k != except && p.pending.remove(&block).is_some() {
                cancelled.push(*k);
            }
        }
        for k in cancelled {
            self.picker.request_abandoned(block);
            self.send(k, Message::Cancel(block));
        }
    }
}
