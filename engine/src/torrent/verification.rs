//! Whether a finished piece is good, and what follows: the write of a good piece,
//! blame for a bad one.
//!
//! The engine hashes each piece as its blocks arrive (see `assembly.rs`), so the
//! verdict is taken here, synchronously, the moment the last block lands. The io
//! layer only writes good pieces ([`Action::WritePiece`]) and reports back with
//! [`Torrent::piece_written`].

use std::time::Instant;

use super::assembly::AssembledPiece;
use super::bans::{BanReason, SUSPICION, WHOLE_STRIKE};
use super::{Action, DisconnectReason, Torrent};
use crate::piece_memory::PieceData;
use crate::types::{PeerKey, PieceIndex};
use crate::wire::Message;

impl Torrent {
    /// Every block of `piece` arrived; `digest` is the SHA-1 of its bytes.
    pub(super) fn piece_assembled(
        &mut self,
        piece: PieceIndex,
        assembled: AssembledPiece,
        digest: [u8; 20],
        now: Instant,
    ) {
        let expected = self.params.piece_hashes.get(piece.0 as usize);
        if expected == Some(&digest) {
            if let Some(settled) = self.smart_ban.piece_passed(piece, &assembled.data) {
                // The good copy shows whose blocks of the earlier failed copies were wrong.
                for ip in settled.cleared {
                    self.forgive(ip, SUSPICION);
                }
                for ip in settled.liars {
                    self.ban_address(ip, BanReason::ProvenCorruptBlock, now);
                }
            }
            self.writing.insert(piece);
            self.actions.push_back(Action::WritePiece {
                piece,
                data: assembled.data,
            });
        } else {
            self.piece_failed(piece, assembled, now);
        }
    }

    /// The piece's data is wrong: its blocks go back to the picker and whoever sent
    /// them is blamed: a whole strike when one address sent it all; otherwise a
    /// suspicion each (a fifth of a strike), lifted or turned into a ban once a good copy shows whose blocks
    /// differed (smart-ban).
    fn piece_failed(&mut self, piece: PieceIndex, assembled: AssembledPiece, now: Instant) {
        self.hash_failures += 1;
        self.wasted += self.picker.piece_size(piece) as u64;
        self.picker.piece_verified(piece, false);
        let charged = self
            .smart_ban
            .piece_failed(piece, &assembled.data, &assembled.block_from);
        let senders = assembled.sender_addresses();
        self.allocator.release(assembled.data);
        if let [only] = senders[..] {
            // No one else to suspect: this is its failure alone (the record stays so a
            // later good copy may still prove it).
            self.strike(only, WHOLE_STRIKE, BanReason::CorruptData, now);
        } else {
            for ip in charged {
                self.strike(ip, SUSPICION, BanReason::CorruptData, now);
            }
        }
        self.refill_all(now);
    }

    /// The write of a piece handed out with [`Action::WritePiece`] ended: `written`
    /// when it is on disk. A failed write puts the piece back among the missing ones
    /// (the io layer decides what the disk error means for the torrent).
    pub fn piece_written(&mut self, piece: PieceIndex, written: bool, now: Instant) {
        if !self.writing.remove(&piece) {
            return;
        }
        self.picker.piece_verified(piece, written);
        if !written {
            self.refill_all(now);
            return;
        }
        self.verified_bytes += self.picker.piece_size(piece) as u64;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            if self.peers.get(&key).is_some_and(|p| !p.has.get(piece.0)) {
                self.send(key, Message::Have(piece));
            }
        }
        if self.picker.is_wanted_complete() && !self.completed_emitted {
            self.on_complete();
        }
    }

    /// Hands back the buffer of a piece handed out with [`Action::WritePiece`] once
    /// the caller is done with it, so the next piece reuses it.
    pub fn recycle_piece_buffer(&mut self, data: PieceData) {
        if !self.completed_emitted {
            self.allocator.release(data);
        }
    }

    pub(super) fn on_complete(&mut self) {
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
}
