//! Pieces being put together from blocks, and blame for pieces that fail their hash.

use bytes::Bytes;

use super::peer::Contributor;
use crate::types::BLOCK_SIZE;

/// A piece whose blocks are arriving: the one copy between socket buffer and disk.
pub(crate) struct PieceBuffer {
    data: Vec<u8>,
    block_from: Vec<Option<Contributor>>,
}

impl PieceBuffer {
    /// A buffer for a piece of `data.len()` bytes. Its old contents do not matter:
    /// a piece is finished only once every block was put, and the hash decides.
    pub fn new(data: Vec<u8>) -> Self {
        let blocks = data.len().div_ceil(BLOCK_SIZE as usize);
        PieceBuffer {
            data,
            block_from: vec![None; blocks],
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
        self.data[start..end].copy_from_slice(block);
        self.block_from[(offset / BLOCK_SIZE) as usize] = Some(from);
        true
    }

    pub fn finish(self) -> AssembledPiece {
        AssembledPiece {
            data: Bytes::from(self.data),
            block_from: self.block_from,
        }
    }
}

/// Bytes of finished piece buffers a torrent keeps for reuse.
const SPARE_BYTES: usize = 64 << 20;
/// At most this many, whatever the piece size.
const MAX_SPARES: usize = 64;

/// Piece buffers handed back after their piece was written, reused so a download
/// does not allocate, zero and page-fault a fresh buffer for every piece (measured:
/// 5% of a 1 GiB download's CPU went to that).
pub(crate) struct SpareBuffers {
    piece_length: usize,
    max: usize,
    spares: Vec<Vec<u8>>,
}

impl SpareBuffers {
    pub fn new(piece_length: u32) -> Self {
        let piece_length = piece_length as usize;
        SpareBuffers {
            piece_length,
            max: (SPARE_BYTES / piece_length.max(1)).clamp(1, MAX_SPARES),
            spares: Vec::new(),
        }
    }

    /// A buffer of `size` bytes: a spare when one fits, else a new zeroed one.
    pub fn take(&mut self, size: u32) -> Vec<u8> {
        let size = size as usize;
        if size == self.piece_length {
            if let Some(buf) = self.spares.pop() {
                return buf;
            }
        }
        vec![0; size]
    }

    /// Keeps `buf` for reuse if it is a whole piece long and there is room.
    pub fn give(&mut self, buf: Vec<u8>) {
        if buf.len() == self.piece_length && self.spares.len() < self.max {
            self.spares.push(buf);
        }
    }

    pub fn clear(&mut self) {
        self.spares = Vec::new();
    }

    pub fn len(&self) -> usize {
        self.spares.len()
    }
}

/// A complete piece handed out for hashing, kept (cheaply, `Bytes` is shared) for blame.
#[derive(Clone)]
pub(crate) struct AssembledPiece {
    pub data: Bytes,
    pub block_from: Vec<Option<Contributor>>,
}

impl AssembledPiece {
    /// Distinct contributors, in block order.
    pub fn contributors(&self) -> Vec<Contributor> {
        let mut out: Vec<Contributor> = Vec::new();
        for c in self.block_from.iter().flatten() {
            if !out.iter().any(|o| o.id == c.id && o.addr == c.addr) {
                out.push(*c);
            }
        }
        out
    }

    /// Given the good copy of the same piece, the peers whose blocks differed from it.
    pub fn culprits(&self, good: &[u8]) -> Vec<Contributor> {
        let mut out: Vec<Contributor> = Vec::new();
        for (i, from) in self.block_from.iter().enumerate() {
            let Some(from) = from else { continue };
            let start = i * BLOCK_SIZE as usize;
            let end = (start + BLOCK_SIZE as usize).min(self.data.len()).min(good.len());
            if start >= end {
                continue;
            }
            if self.data[start..end] != good[start..end] && !out.contains(from) {
                out.push(*from);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_buffers_are_reused_for_whole_pieces_only() {
        let mut spares = SpareBuffers::new(1 << 20);
        let first = spares.take(1 << 20);
        let ptr = first.as_ptr();
        spares.give(first);
        assert_eq!(spares.len(), 1);
        // The short last piece gets a fresh buffer; the spare stays.
        assert_eq!(spares.take(1000).len(), 1000);
        assert_eq!(spares.len(), 1);
        let again = spares.take(1 << 20);
        assert_eq!(again.as_ptr(), ptr);
        // Wrong-sized buffers are not kept.
        spares.give(vec![0; 10]);
        assert_eq!(spares.len(), 0);
    }

    #[test]
    fn spare_buffers_are_bounded_by_bytes_and_count() {
        let mut big = SpareBuffers::new(16 << 20);
        for _ in 0..5 {
            big.give(vec![0; 16 << 20]);
        }
        assert_eq!(big.len(), 4);
        let mut small = SpareBuffers::new(16 << 10);
        for _ in 0..100 {
            small.give(vec![0; 16 << 10]);
        }
        assert_eq!(small.len(), MAX_SPARES);
        small.clear();
        assert_eq!(small.len(), 0);
    }

    #[test]
    fn a_reused_buffer_is_fully_overwritten_by_its_blocks() {
        let from = Contributor {
            key: crate::types::PeerKey(1),
            id: crate::PeerId([1; 20]),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let mut buf = PieceBuffer::new(vec![0xEE; 2 * BLOCK_SIZE as usize]);
        assert!(buf.put(0, &[1; BLOCK_SIZE as usize], from));
        assert!(buf.put(BLOCK_SIZE, &[2; BLOCK_SIZE as usize], from));
        let done = buf.finish();
        assert!(done.data.iter().all(|&b| b == 1 || b == 2));
        assert_eq!(done.contributors().len(), 1);
    }
}
