//! The BEP 10 extension layer of a running torrent: our extension handshake, the
//! peer's (tolerated when it does not parse), serving `ut_metadata` (BEP 9) and peer
//! exchange (`ut_pex`, BEP 11).
//!
//! A peer whose extension handshake does not parse keeps its connection as a peer
//! without extensions: the base protocol does not depend on that dictionary (the
//! original Python ccbt writes booleans as `iTruee`, which no bencode accepts). A
//! broken `ut_metadata` or `ut_pex` message, once those are negotiated, still ends
//! the connection.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::timers::Timer;
use super::violation::ProtocolViolation;
use super::{Action, Torrent};
use crate::peer_source::PeerSource;
use crate::pex::{PexMessage, FLAG_REACHABLE, FLAG_SEED, PEX_INTERVAL};
use crate::types::PeerKey;
use crate::wire::{
    metadata_piece_count, metadata_piece_len, ExtensionHandshake, Message, MetadataMessage, EXTENDED_HANDSHAKE_ID,
    METADATA_PIECE_SIZE, OUR_UT_METADATA_ID, OUR_UT_PEX_ID, UT_METADATA, UT_PEX,
};

/// A peer's first `ut_pex` message from us goes out this long after its extension
/// handshake (the next ones every [`PEX_INTERVAL`]).
pub const PEX_FIRST_DELAY: Duration = Duration::from_secs(1);
/// Times one peer may ask for the same metadata piece per [`METADATA_SERVE_WINDOW`];
/// past it we reject (a real fetcher needs each piece once, twice after a loss).
pub const MAX_SERVES_PER_PIECE: u8 = 3;
/// The window over which [`MAX_SERVES_PER_PIECE`] counts.
pub const METADATA_SERVE_WINDOW: Duration = Duration::from_secs(60);

/// What a peer told us in its extension handshake.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerExtensions {
    /// The id the peer wants `ut_metadata` messages under.
    pub ut_metadata: Option<u8>,
    /// The id the peer wants `ut_pex` messages under (None also when we do not
    /// exchange peers for this torrent).
    pub ut_pex: Option<u8>,
    /// The peer's TCP listen port (`p`), to advertise an incoming peer by.
    pub listen_port: Option<u16>,
}

/// How often one peer asked for each metadata piece in the current window.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetadataServeBudget {
    window_start: Option<Instant>,
    /// One count per piece, sized on the first request.
    served: Vec<u8>,
}

impl MetadataServeBudget {
    /// Whether piece `piece` of `pieces` may be served at `now`; counts it if so.
    fn take(&mut self, piece: u32, pieces: u32, now: Instant) -> bool {
        let expired = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= METADATA_SERVE_WINDOW);
        if expired {
            self.window_start = Some(now);
            self.served.clear();
        }
        if self.served.len() != pieces as usize {
            self.served = vec![0; pieces as usize];
        }
        let Some(count) = self.served.get_mut(piece as usize) else {
            return false;
        };
        if *count >= MAX_SERVES_PER_PIECE {
            return false;
        }
        *count += 1;
        true
    }
}

/// The info dictionary a torrent serves, and whether the torrent is private.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServedMetadata {
    pub info_bytes: Option<Bytes>,
    pub private: bool,
}

impl Torrent {
    /// Gives the torrent its info dictionary (the exact bytes the info-hash is
    /// taken of), served to peers that ask with `ut_metadata`, and whether the
    /// torrent is private (BEP 27: then it never exchanges peers). Call it before
    /// the first peer joins: the extension handshake announces `metadata_size`.
    pub fn set_info_dict(&mut self, info_bytes: Bytes, private: bool) {
        self.metadata.info_bytes = (!info_bytes.is_empty()).then_some(info_bytes);
        self.metadata.private = private;
    }

    /// Whether peers are exchanged with `ut_pex` (on unless private or turned off).
    pub fn exchanges_peers(&self) -> bool {
        self.config.pex && !self.metadata.private
    }

    /// Our extension handshake for a peer at `addr`.
    pub(super) fn our_extension_handshake(&self, addr: SocketAddr) -> ExtensionHandshake {
        let mut ext = ExtensionHandshake {
            v: Some(self.config.client_name.clone()),
            p: self.config.listen_port,
            reqq: Some(self.config.max_peer_requests as u32),
            metadata_size: self.metadata.info_bytes.as_ref().map(|b| b.len() as u64),
            yourip: Some(match addr.ip() {
                IpAddr::V4(ip) => ip.octets().to_vec(),
                IpAddr::V6(ip) => ip.octets().to_vec(),
            }),
            ..ExtensionHandshake::default()
        };
        if self.metadata.info_bytes.is_some() {
            ext.m.insert(UT_METADATA.to_owned(), OUR_UT_METADATA_ID);
        }
        if self.exchanges_peers() {
            ext.m.insert(UT_PEX.to_owned(), OUR_UT_PEX_ID);
        }
        ext
    }

    /// An `Extended` message from a peer.
    pub(super) fn on_extended(
        &mut self,
        key: PeerKey,
        id: u8,
        payload: Bytes,
        now: Instant,
    ) -> Result<(), ProtocolViolation> {
        match id {
            EXTENDED_HANDSHAKE_ID => {
                self.on_extension_handshake(key, &payload, now);
                Ok(())
            }
            OUR_UT_METADATA_ID if self.metadata.info_bytes.is_some() => {
                let msg = MetadataMessage::decode(&payload).map_err(ProtocolViolation::BadMetadataMessage)?;
                // Data and rejects are answers to a fetch; a running torrent does
                // not fetch, so they are stray and ignored.
                if let MetadataMessage::Request { piece } = msg {
                    self.serve_metadata_piece(key, piece, now);
                }
                Ok(())
            }
            OUR_UT_PEX_ID if self.exchanges_peers() => {
                let msg = PexMessage::decode(&payload).map_err(ProtocolViolation::BadPexMessage)?;
                self.on_pex(key, &msg, now);
                Ok(())
            }
            // An id we never gave out (or an extension we did not offer here).
            _ => Ok(()),
        }
    }

    fn on_extension_handshake(&mut self, key: PeerKey, payload: &[u8], now: Instant) {
        let pex = self.exchanges_peers();
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let ext = match ExtensionHandshake::decode(payload) {
            Ok(ext) => ext,
            Err(_) => {
                // Tolerated: the peer stays, as one without extensions. A later
                // handshake that parses still counts.
                self.bad_extension_handshakes = self.bad_extension_handshakes.saturating_add(1);
                return;
            }
        };
        if let Some(reqq) = ext.reqq {
            peer.pipeline.on_reqq(reqq);
        }
        peer.ext.ut_metadata = ext.m.get(UT_METADATA).copied();
        peer.ext.listen_port = ext.p.or(peer.ext.listen_port);
        let had_pex = peer.ext.ut_pex.is_some();
        peer.ext.ut_pex = if pex { ext.m.get(UT_PEX).copied() } else { None };
        if peer.ext.ut_pex.is_some() && !had_pex {
            let due = now + PEX_FIRST_DELAY;
            peer.pex_send.next_due = Some(due);
            self.deadlines.arm(Timer::Pex, due);
        } else if peer.ext.ut_pex.is_none() {
            peer.pex_send.next_due = None;
        }
    }

    /// Answers a metadata request: the piece, or a reject when it does not exist or
    /// the peer asked for it too often. A peer that did not announce `ut_metadata`
    /// has no id to answer under and gets nothing.
    fn serve_metadata_piece(&mut self, key: PeerKey, piece: u32, now: Instant) {
        let Some(info) = self.metadata.info_bytes.clone() else {
            return;
        };
        let size = info.len() as u64;
        let pieces = metadata_piece_count(size);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(their_id) = peer.ext.ut_metadata else {
            return;
        };
        let len = metadata_piece_len(size, piece);
        let allowed = len.is_some() && peer.metadata_serve.take(piece, pieces, now);
        let reply = match len {
            Some(len) if allowed => {
                let start = piece as usize * METADATA_PIECE_SIZE;
                self.metadata_pieces_served += 1;
                MetadataMessage::Data {
                    piece,
                    total_size: size,
                    data: info.slice(start..start + len),
                }
            }
            _ => {
                self.metadata_requests_rejected += 1;
                MetadataMessage::Reject { piece }
            }
        };
        self.send(
            key,
            Message::Extended {
                id: their_id,
                payload: Bytes::from(reply.encode()),
            },
        );
    }

    fn on_pex(&mut self, key: PeerKey, msg: &PexMessage, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let addrs = peer.pex_intake.accept(msg, now);
        if addrs.is_empty() {
            return;
        }
        self.pex_addresses_received += addrs.len() as u64;
        self.actions.push_back(Action::AddPeers {
            source: PeerSource::Pex,
            addrs,
        });
    }

    /// Sends the due `ut_pex` messages: to each peer, what changed in our
    /// connected set since we last told it.
    pub(super) fn send_pex(&mut self, now: Instant) {
        if !self.exchanges_peers() {
            self.deadlines.set(Timer::Pex, None);
            return;
        }
        let current: BTreeMap<SocketAddr, (SocketAddr, u8)> = self
            .peers
            .values()
            .filter_map(|p| {
                // An incoming peer's address has its ephemeral port: advertise the
                // port it listens on, or not at all.
                let addr = if p.incoming {
                    SocketAddr::new(p.addr.ip(), p.ext.listen_port?)
                } else {
                    p.addr
                };
                let mut flags = if p.incoming { 0 } else { FLAG_REACHABLE };
                if p.has.is_complete() {
                    flags |= FLAG_SEED;
                }
                Some((p.addr, (addr, flags)))
            })
            .collect();
        let mut sends = Vec::new();
        let mut next: Option<Instant> = None;
        for (key, peer) in self.peers.iter_mut() {
            let (Some(id), Some(due)) = (peer.ext.ut_pex, peer.pex_send.next_due) else {
                continue;
            };
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            let others: BTreeMap<SocketAddr, u8> = current
                .iter()
                .filter(|(conn, _)| **conn != peer.addr)
                .map(|(_, (adv, flags))| (*adv, *flags))
                .collect();
            if let Some(msg) = peer.pex_send.next_message(&others) {
                sends.push((*key, id, msg));
            }
            let due = now + PEX_INTERVAL;
            peer.pex_send.next_due = Some(due);
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        for (key, id, msg) in sends {
            self.pex_messages_sent += 1;
            self.send(
                key,
                Message::Extended {
                    id,
                    payload: Bytes::from(msg.encode()),
                },
            );
        }
        self.deadlines.set(Timer::Pex, next);
    }
}

#[cfg(test)]
mod tests;
