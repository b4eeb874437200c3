//! Drives one torrent by hand: fake peers whose every message the test writes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use super::super::*;
use crate::peer_session::{Dialing, Established};

pub const PIECE: u32 = 64 * 1024;
pub const BLOCKS_PER_PIECE: u32 = PIECE / crate::BLOCK_SIZE;

/// One torrent under test, with the payload it should end up with.
pub struct Driver {
    pub torrent: Torrent,
    pub data: Vec<u8>,
    pub now: Instant,
    /// Pieces handed out for writing, with their bytes.
    pub written: Vec<(PieceIndex, Vec<u8>)>,
    /// Whether [`Driver::actions`] reports each write as done at once.
    pub auto_write: bool,
}

/// A session as if we dialed a peer with id `theirs` (which speaks Fast and BEP 10).
pub fn established(info_hash: InfoHash, ours: PeerId, theirs: PeerId) -> Established {
    let reply = Dialing::new(info_hash, theirs).handshake_bytes();
    Dialing::new(info_hash, ours).receive(&reply).unwrap()
}

pub fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, i], 7000 + i as u16))
}

pub fn peer_id(i: u8) -> PeerId {
    let mut id = [b'p'; 20];
    id[0] = i;
    PeerId(id)
}

impl Driver {
    /// A downloader (nothing had) or a seeder of `pieces` pieces of random data.
    pub fn new(pieces: u32, seeding: bool, config: TorrentConfig) -> Driver {
        let data = super::payload((pieces * PIECE) as usize, 99);
        let hashes: Vec<[u8; 20]> = data.chunks(PIECE as usize).map(|c| Sha1::digest(c).into()).collect();
        let params = TorrentParams {
            info_hash: InfoHash([7; 20]),
            num_pieces: pieces,
            piece_length: PIECE,
            total_length: data.len() as u64,
            piece_hashes: hashes.into(),
        };
        let have = if seeding {
            Bitfield::full(pieces)
        } else {
            Bitfield::new(pieces)
        };
        let now = Instant::now();
        let torrent = Torrent::new(params, &have, config, PeerId([b'u'; 20]), 1, now);
        Driver {
            torrent,
            data,
            now,
            written: Vec::new(),
            auto_write: true,
        }
    }

    /// Connects fake peer `i` (Fast extension on).
    pub fn connect(&mut self, i: u8) -> PeerKey {
        let key = PeerKey(i as u64);
        let session = established(self.torrent.info_hash(), self.torrent.our_id(), peer_id(i));
        self.torrent.add_peer(key, addr(i), session, self.now).unwrap();
        key
    }

    /// Connects fake peer `i` speaking plain BEP 3 (no Fast, no extensions).
    pub fn connect_plain(&mut self, i: u8) -> PeerKey {
        let key = PeerKey(i as u64);
        let info_hash = self.torrent.info_hash();
        let theirs = crate::wire::Handshake {
            reserved: crate::wire::Reserved([0; 8]),
            info_hash,
            peer_id: peer_id(i),
        };
        let session = Dialing::new(info_hash, self.torrent.our_id())
            .receive(&theirs.encode())
            .unwrap();
        self.torrent.add_peer(key, addr(i), session, self.now).unwrap();
        key
    }

    /// Connects peer `i` as a seed that unchoked us.
    pub fn connect_seed(&mut self, i: u8) -> PeerKey {
        let key = self.connect(i);
        self.torrent.on_message(key, Message::HaveAll, self.now);
        self.torrent.on_message(key, Message::Unchoke, self.now);
        key
    }

    pub fn deliver(&mut self, key: PeerKey, message: Message) {
        self.torrent.on_message(key, message, self.now);
        self.torrent.check_invariants();
    }

    /// Drains the actions; pieces to write are "written" at once.
    pub fn actions(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.torrent.poll_action() {
            match a {
                Action::WritePiece { piece, data } => {
                    self.written.push((piece, data.to_vec()));
                    if self.auto_write {
                        self.torrent.piece_written(piece, true, self.now);
                    }
                }
                Action::Disconnect { peer, .. } => {
                    self.torrent.remove_peer(peer, self.now);
                    out.push(a);
                }
                a => out.push(a),
            }
        }
        self.torrent.check_invariants();
        out
    }

    /// The requests among `actions` sent to `key`.
    pub fn requests_to(actions: &[Action], key: PeerKey) -> Vec<BlockRef> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send {
                    peer,
                    message: Message::Request(b),
                } if *peer == key => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The real bytes of a block.
    pub fn block_data(&self, b: BlockRef) -> Vec<u8> {
        let start = (b.piece.0 * PIECE + b.offset) as usize;
        self.data[start..start + b.length as usize].to_vec()
    }

    pub fn piece_message(&self, b: BlockRef, corrupt: bool) -> Message {
        let mut data = self.block_data(b);
        if corrupt {
            data[0] ^= 0xff;
        }
        Message::Piece {
            piece: b.piece,
            offset: b.offset,
            data: data.into(),
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    pub fn disconnect_reason(actions: &[Action], key: PeerKey) -> Option<DisconnectReason> {
        actions.iter().find_map(|a| match a {
            Action::Disconnect { peer, reason } if *peer == key => Some(reason.clone()),
            _ => None,
        })
    }
}
