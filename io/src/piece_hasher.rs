//! SHA-1 of whole pieces (BEP 3 v1 piece hashes).
//!
//! Uses the `sha1` crate with its `asm` feature, which picks the CPU's SHA
//! extensions when present (see the storage bench for the measured rate).

use sha1::{Digest, Sha1};

/// The SHA-1 digest of `data`.
pub fn sha1_piece(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Whether `data` hashes to `expected`.
pub fn verify_piece(data: &[u8], expected: &[u8; 20]) -> bool {
    sha1_piece(data) == *expected
}

/// Incremental SHA-1 over a piece that arrives in parts (e.g. file spans).
#[derive(Clone, Default)]
pub struct PieceHasher(Sha1);

impl PieceHasher {
    /// A hasher with no input yet.
    pub fn new() -> Self {
        PieceHasher(Sha1::new())
    }

    /// Feeds the next bytes of the piece.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> [u8; 20] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // FIPS 180-1 test vector "abc".
        let abc = [
            0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0,
            0xd8, 0x9d,
        ];
        assert_eq!(sha1_piece(b"abc"), abc);
        assert!(verify_piece(b"abc", &abc));
        assert!(!verify_piece(b"abd", &abc));
        let mut h = PieceHasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), abc);
    }
}
