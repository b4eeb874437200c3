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
    pub fn new(size: u32) -> Self {
        PieceBuffer {
            data: vec![0; size as usize],
            block_from: vec![None; size.div_ceil(BLOCK_SIZE) as usize],
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
