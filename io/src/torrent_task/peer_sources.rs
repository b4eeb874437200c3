//! Where the torrent's connected peers came from, for its status.

use ccbt_engine::peer_source::{PeerSource, PeerSourceCounts};

use super::TorrentTask;

impl TorrentTask {
    /// Connected peers counted by where their address came from: those that dialled
    /// us are `incoming`; every peer we dialled is in the book with its source.
    pub fn connected_peer_sources(&self) -> PeerSourceCounts {
        let engine = self.engine.borrow();
        let book = self.peer_book.borrow();
        let mut counts = PeerSourceCounts::default();
        for (addr, incoming) in engine.connected_peers() {
            counts.count(if incoming {
                PeerSource::Incoming
            } else {
                book.source_of(addr).unwrap_or(PeerSource::Manual)
            });
        }
        counts
    }
}
