//! Peers joining and leaving, and what we serve them.

use std::time::Instant;

use super::*;

impl Torrent {
    /// Takes over a connection whose handshake completed (and was checked, see
    /// [`crate::peer_session`]) and sends it our state.
    pub fn add_peer(
        &mut self,
        key: PeerKey,
        addr: SocketAddr,
        session: Established,
        now: Instant,
    ) -> Result<(), AddPeerError> {
        debug_assert_eq!(session.info_hash(), self.params.info_hash, "session of another torrent");
        if self.is_banned(addr.ip(), now) {
            return Err(AddPeerError::Banned(addr));
        }
        if self.peers.contains_key(&key) {
            return Err(AddPeerError::DuplicateKey(key));
        }
        if self.is_connected_to(session.peer_id()) {
            return Err(AddPeerError::AlreadyConnected(addr));
        }
        let fast = session.reserved().supports_fast();
        let extensions = session.reserved().supports_extensions();
        let mut peer = Peer::new(addr, session.peer_id(), fast, extensions, self.params.num_pieces, now);
        peer.incoming = session.direction() == crate::peer_session::Direction::Incoming;
        self.peers.insert(key, peer);
        self.arm_peer_timers(now);

        if extensions {
            let ext = self.our_extension_handshake(addr);
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

    /// Drops a peer's state: its pieces leave the availability counts and its
    /// outstanding requests go back to the picker.
    pub(super) fn forget_peer(&mut self, key: PeerKey) -> Option<Peer> {
        let peer = self.peers.remove(&key)?;
        self.picker.peer_lost(&peer.has);
        for block in peer.pending.keys() {
            self.picker.request_abandoned(*block);
        }
        Some(peer)
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

    /// Whether some connected peer has this peer id.
    pub fn is_connected_to(&self, id: PeerId) -> bool {
        self.peers.values().any(|p| p.id == id)
    }

    /// Number of connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
}
