//! A read-only view of each connected peer, for detail queries (`btbt show`, the API).

use std::net::SocketAddr;
use std::time::Instant;

use super::*;

/// One connected peer as the torrent sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerView {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    /// They connected to us (we did not dial them).
    pub incoming: bool,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Payload bytes per second from them, over the rate window.
    pub download_rate: u64,
    /// Payload bytes per second to them.
    pub upload_rate: u64,
    /// Payload bytes received from them since they connected.
    pub downloaded: u64,
    /// Payload bytes sent to them since they connected.
    pub uploaded: u64,
    /// Pieces they said they have.
    pub pieces_have: u32,
}

impl Torrent {
    /// Each connected peer's address and whether it connected to us; cheaper than
    /// [`Torrent::peer_views`] (no rates), for counts in every status.
    pub fn connected_peers(&self) -> impl Iterator<Item = (SocketAddr, bool)> + '_ {
        self.peers.values().map(|p| (p.addr, p.incoming))
    }

    /// Every connected peer, in connection order.
    pub fn peer_views(&self, now: Instant) -> Vec<PeerView> {
        self.peers
            .values()
            .map(|p| PeerView {
                addr: p.addr,
                peer_id: p.id,
                incoming: p.incoming,
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                download_rate: p.download.rate(now),
                upload_rate: p.upload.rate(now),
                downloaded: p.download.total(),
                uploaded: p.upload.total(),
                pieces_have: p.has.count_ones(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::driver::{addr, peer_id, Driver};
    use super::*;

    #[test]
    fn a_peer_view_shows_its_choke_state_pieces_and_bytes() {
        let mut d = Driver::new(4, false, TorrentConfig::default());
        let key = d.connect_seed(1);
        let actions = d.actions();
        let asked = Driver::requests_to(&actions, key);
        assert!(!asked.is_empty());
        let block = asked[0];
        let message = d.piece_message(block, false);
        d.deliver(key, message);
        let views = d.torrent.peer_views(d.now);
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!((v.addr, v.peer_id), (addr(1), peer_id(1)));
        assert!(!v.incoming, "we dialled it");
        assert!(
            v.am_interested && !v.peer_choking && v.am_choking && !v.peer_interested,
            "{v:?}"
        );
        assert_eq!(v.pieces_have, 4);
        assert_eq!(v.downloaded, u64::from(block.length));
        assert_eq!(v.uploaded, 0);
    }
}
