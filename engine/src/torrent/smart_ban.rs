//! Smart-ban (as libtorrent's): when a piece made of several peers' blocks fails its
//! hash, nobody can tell yet which block was wrong. So a digest of every block is
//! kept with the address that sent it; when the piece is later downloaded again and
//! passes, each remembered block is compared with the good one. A sender whose block
//! differs lied and is banned at once; a sender whose blocks all matched is cleared
//! of the suspicion the failure put on it.
//!
//! Only digests are kept (20 bytes per block and sender, not the piece's data), and
//! at most [`MAX_REMEMBERED_FAILED_PIECES`] pieces, the oldest forgotten first, so a
//! swarm of liars cannot grow the table without bound.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use sha1::{Digest, Sha1};

use super::peer::Contributor;
use crate::types::{PieceIndex, BLOCK_SIZE};

/// Most failed pieces whose block digests are remembered at once.
pub const MAX_REMEMBERED_FAILED_PIECES: usize = 64;
/// Most distinct copies of one block remembered (a piece that fails again and again
/// with different senders): enough to catch a liar among a few retries, bounded
/// against a flood of them.
const MAX_COPIES_PER_BLOCK: usize = 4;

type BlockDigest = [u8; 20];

/// One copy of a block from a failed piece, and who sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SentBlock {
    digest: BlockDigest,
    from: IpAddr,
}

/// A failed piece: each block's copies, and the addresses charged for it.
#[derive(Debug, Default)]
struct FailedPiece {
    blocks: Vec<Vec<SentBlock>>,
    /// Addresses already charged a suspicion for this piece (once each, however often
    /// the piece fails before it resolves).
    charged: Vec<IpAddr>,
}

/// What a good copy told about the senders of a piece's failed copies.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Sent at least one block that differs from the good copy.
    pub liars: Vec<IpAddr>,
    /// Charged for the failure, and every block they sent matched: the charge is lifted.
    pub cleared: Vec<IpAddr>,
}

/// Failed pieces still waiting for a good copy to settle who lied.
#[derive(Debug, Default)]
pub(crate) struct SmartBan {
    pieces: HashMap<PieceIndex, FailedPiece>,
    /// Oldest first, for forgetting when full.
    order: VecDeque<PieceIndex>,
}

fn block_digests(data: &[u8]) -> impl Iterator<Item = BlockDigest> + '_ {
    data.chunks(BLOCK_SIZE as usize).map(|b| Sha1::digest(b).into())
}

impl SmartBan {
    /// Remembers a failed copy of `piece` (`block_from[i]` sent block `i`) and returns
    /// the addresses to charge: the senders not yet charged for this piece.
    pub fn piece_failed(&mut self, piece: PieceIndex, data: &[u8], block_from: &[Option<Contributor>]) -> Vec<IpAddr> {
        if !self.pieces.contains_key(&piece) {
            if self.pieces.len() >= MAX_REMEMBERED_FAILED_PIECES {
                if let Some(oldest) = self.order.pop_front() {
                    self.pieces.remove(&oldest);
                }
            }
            self.order.push_back(piece);
        }
        let record = self.pieces.entry(piece).or_default();
        if record.blocks.len() < block_from.len() {
            record.blocks.resize(block_from.len(), Vec::new());
        }
        let mut charge = Vec::new();
        for ((copies, from), digest) in record.blocks.iter_mut().zip(block_from).zip(block_digests(data)) {
            let Some(from) = from else { continue };
            let sent = SentBlock {
                digest,
                from: from.addr.ip(),
            };
            if !copies.contains(&sent) && copies.len() < MAX_COPIES_PER_BLOCK {
                copies.push(sent);
            }
            if !record.charged.contains(&sent.from) && !charge.contains(&sent.from) {
                charge.push(sent.from);
            }
        }
        record.charged.extend_from_slice(&charge);
        charge
    }

    /// `good` is a copy of `piece` that passed its hash: settles its failed copies,
    /// if any were remembered.
    pub fn piece_passed(&mut self, piece: PieceIndex, good: &[u8]) -> Option<Resolution> {
        let record = self.pieces.remove(&piece)?;
        self.order.retain(|p| *p != piece);
        let mut out = Resolution::default();
        for (copies, digest) in record.blocks.iter().zip(block_digests(good)) {
            for c in copies {
                if c.digest != digest && !out.liars.contains(&c.from) {
                    out.liars.push(c.from);
                }
            }
        }
        out.cleared = record
            .charged
            .into_iter()
            .filter(|ip| !out.liars.contains(ip))
            .collect();
        Some(out)
    }

    /// Failed pieces remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether `piece` has failed copies waiting for a good one.
    #[cfg(test)]
    pub fn remembers(&self, piece: PieceIndex) -> bool {
        self.pieces.contains_key(&piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PeerId, PeerKey};
    use proptest::prelude::*;

    const BLOCKS: usize = 4;

    fn from(i: u8) -> Contributor {
        Contributor {
            key: PeerKey(i as u64),
            id: PeerId([i; 20]),
            addr: std::net::SocketAddr::from(([10, 0, 0, i], 6881)),
        }
    }

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, i])
    }

    fn good_piece() -> Vec<u8> {
        (0..BLOCKS * BLOCK_SIZE as usize).map(|i| (i % 251) as u8).collect()
    }

    /// A copy of the good piece with the blocks in `corrupt` flipped.
    fn copy_with(corrupt: &[usize]) -> Vec<u8> {
        let mut data = good_piece();
        for b in corrupt {
            data[b * BLOCK_SIZE as usize] ^= 0xFF;
        }
        data
    }

    #[test]
    fn the_sender_of_the_differing_block_is_the_liar_and_the_other_is_cleared() {
        let mut sb = SmartBan::default();
        let senders = [Some(from(1)), Some(from(2)), Some(from(1)), Some(from(2))];
        let charged = sb.piece_failed(PieceIndex(3), &copy_with(&[2]), &senders);
        assert_eq!(charged, vec![ip(1), ip(2)]);
        let r = sb.piece_passed(PieceIndex(3), &good_piece()).unwrap();
        assert_eq!(r.liars, vec![ip(1)]);
        assert_eq!(r.cleared, vec![ip(2)]);
        assert_eq!(sb.len(), 0);
        assert!(sb.piece_passed(PieceIndex(3), &good_piece()).is_none(), "settled once");
    }

    #[test]
    fn a_piece_failing_again_charges_each_sender_once_and_remembers_every_copy() {
        let mut sb = SmartBan::default();
        let first = [Some(from(1)), Some(from(2)), Some(from(2)), Some(from(2))];
        assert_eq!(
            sb.piece_failed(PieceIndex(0), &copy_with(&[0]), &first),
            vec![ip(1), ip(2)]
        );
        // The retry: peer 3 lies about block 3, peer 1 sent nothing this time.
        let second = [Some(from(2)), Some(from(2)), Some(from(2)), Some(from(3))];
        assert_eq!(sb.piece_failed(PieceIndex(0), &copy_with(&[3]), &second), vec![ip(3)]);
        let mut r = sb.piece_passed(PieceIndex(0), &good_piece()).unwrap();
        r.liars.sort();
        assert_eq!(r.liars, vec![ip(1), ip(3)]);
        assert_eq!(r.cleared, vec![ip(2)]);
    }

    #[test]
    fn blocks_nobody_sent_blame_nobody() {
        let mut sb = SmartBan::default();
        let senders = [Some(from(1)), None, None, None];
        assert_eq!(
            sb.piece_failed(PieceIndex(1), &copy_with(&[1, 2]), &senders),
            vec![ip(1)]
        );
        let r = sb.piece_passed(PieceIndex(1), &good_piece()).unwrap();
        assert!(r.liars.is_empty());
        assert_eq!(r.cleared, vec![ip(1)]);
    }

    #[test]
    fn the_table_forgets_the_oldest_piece_when_full() {
        let mut sb = SmartBan::default();
        let senders = [Some(from(1)); BLOCKS];
        for p in 0..(MAX_REMEMBERED_FAILED_PIECES as u32 + 5) {
            sb.piece_failed(PieceIndex(p), &copy_with(&[0]), &senders);
        }
        assert_eq!(sb.len(), MAX_REMEMBERED_FAILED_PIECES);
        assert!(!sb.remembers(PieceIndex(0)));
        assert!(sb.remembers(PieceIndex(MAX_REMEMBERED_FAILED_PIECES as u32 + 4)));
    }

    proptest! {
        /// Whoever sent a corrupt block is a liar; whoever sent only good ones never is.
        #[test]
        fn liars_are_exactly_the_senders_of_corrupt_blocks(
            copies in prop::collection::vec(
                prop::collection::vec((0u8..5, any::<bool>(), any::<bool>()), BLOCKS),
                1..4,
            ),
        ) {
            let mut sb = SmartBan::default();
            let mut lied = std::collections::HashSet::new();
            let mut sent = std::collections::HashSet::new();
            let mut failed_once = false;
            for copy in &copies {
                let corrupt: Vec<usize> = (0..BLOCKS).filter(|b| copy[*b].1).collect();
                if corrupt.is_empty() {
                    continue; // a good copy would have passed, not failed
                }
                let senders: Vec<Option<Contributor>> = copy
                    .iter()
                    .map(|(who, _, missing)| (!missing).then(|| from(*who)))
                    .collect();
                for (b, (who, bad, missing)) in copy.iter().enumerate() {
                    if !missing {
                        sent.insert(ip(*who));
                        if *bad && corrupt.contains(&b) {
                            lied.insert(ip(*who));
                        }
                    }
                }
                sb.piece_failed(PieceIndex(9), &copy_with(&corrupt), &senders);
                failed_once = true;
            }
            let r = sb.piece_passed(PieceIndex(9), &good_piece());
            prop_assert_eq!(r.is_some(), failed_once);
            let r = r.unwrap_or_default();
            let liars: std::collections::HashSet<IpAddr> = r.liars.iter().copied().collect();
            // Every remembered copy is compared, up to the per-block bound (never hit here).
            prop_assert_eq!(&liars, &lied);
            for c in &r.cleared {
                prop_assert!(sent.contains(c) && !lied.contains(c));
            }
        }
    }
}
