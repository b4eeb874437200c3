//! A running torrent's detail, for `btbt show` and the API: pieces, per-file
//! progress, peers and how its start went. Built on the torrent's own executor.

use std::net::SocketAddr;
use std::time::Instant;

use ccbt_engine::file_layout::FileLayout;
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::PieceIndex;

use super::TorrentTask;
use crate::resume::CheckSummary;

/// One torrent at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentSnapshot {
    pub num_pieces: u32,
    pub piece_length: u32,
    /// Verified pieces, as a BitTorrent bitfield (piece 0 = high bit).
    pub have: Vec<u8>,
    /// One per metainfo file, in order (padding files included).
    pub files: Vec<FileProgress>,
    pub peers: Vec<PeerSnapshot>,
    /// How its start went (`None` for a torrent that has not finished starting).
    pub check: Option<CheckSummary>,
}

/// One file's share of the verified pieces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileProgress {
    /// Bytes of the file that lie in verified pieces.
    pub verified_bytes: u64,
}

/// One connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSnapshot {
    pub addr: SocketAddr,
    pub peer_id: [u8; 20],
    /// They connected to us.
    pub incoming: bool,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Payload bytes per second.
    pub download_rate: u64,
    pub upload_rate: u64,
    /// Payload bytes since they connected.
    pub downloaded: u64,
    pub uploaded: u64,
    /// Pieces they have.
    pub pieces_have: u32,
    /// Where we learned their address (`Incoming` when they dialed us and we did not
    /// know them).
    pub source: PeerSource,
}

impl TorrentTask {
    /// The torrent's detail now.
    pub fn detail(&self) -> TorrentSnapshot {
        let now = Instant::now();
        let engine = self.engine.borrow();
        let have = engine.have();
        let book = self.peer_book.borrow();
        let peers = engine
            .peer_views(now)
            .into_iter()
            .map(|p| PeerSnapshot {
                addr: p.addr,
                peer_id: p.peer_id.0,
                incoming: p.incoming,
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                download_rate: p.download_rate,
                upload_rate: p.upload_rate,
                downloaded: p.downloaded,
                uploaded: p.uploaded,
                pieces_have: p.pieces_have,
                // Every peer we dial comes from the book.
                source: if p.incoming {
                    PeerSource::Incoming
                } else {
                    book.source_of(p.addr).unwrap_or(PeerSource::Manual)
                },
            })
            .collect();
        TorrentSnapshot {
            num_pieces: self.meta.num_pieces(),
            piece_length: self.meta.info.piece_length,
            have: have.as_bytes().to_vec(),
            files: file_progress(self.storage.layout(), have.iter_ones()),
            peers,
            check: Some(self.check.clone()),
        }
    }
}

/// Bytes of each file covered by the `verified` pieces.
pub(crate) fn file_progress(layout: &FileLayout, verified: impl Iterator<Item = u32>) -> Vec<FileProgress> {
    let mut files = vec![FileProgress::default(); layout.num_files()];
    for p in verified {
        let piece = PieceIndex(p);
        for span in layout.spans(piece, 0, layout.piece_size(piece)) {
            if let Some(f) = files.get_mut(span.file_index) {
                f.verified_bytes += u64::from(span.length);
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_bytes_are_split_over_the_files_a_piece_covers() {
        // Files of 24, 8 and 32 bytes, 16-byte pieces.
        let layout = FileLayout::new(&[24, 8, 32], 16, 64).unwrap();
        let got: Vec<u64> = file_progress(&layout, [1u32, 3].into_iter())
            .iter()
            .map(|f| f.verified_bytes)
            .collect();
        assert_eq!(got, vec![8, 8, 16]);
        let all: u64 = file_progress(&layout, 0..4).iter().map(|f| f.verified_bytes).sum();
        assert_eq!(all, 64);
    }
}
