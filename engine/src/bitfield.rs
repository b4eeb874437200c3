//! A fixed-length set of pieces, in the wire layout of the BITFIELD message.

use thiserror::Error;

/// Why bytes from a peer are not a valid bitfield for this torrent.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BitfieldError {
    #[error("bitfield is {got} bytes, expected {expected} for {pieces} pieces")]
    WrongLength { got: usize, expected: usize, pieces: u32 },
    #[error("bitfield has spare bits set past piece {pieces}")]
    SpareBitsSet { pieces: u32 },
}

/// Bit `i` is set when piece `i` is present; high bit of byte 0 is piece 0.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

impl Bitfield {
    /// An empty set for `len` pieces.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// A full set for `len` pieces.
    pub fn full(len: u32) -> Self {
        let mut b = Self::new(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    /// Parses a peer's BITFIELD payload; rejects a wrong size and set spare bits.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                expected,
                pieces: len,
            });
        }
        let spare = (expected as u64 * 8 - len as u64) as u32;
        if spare > 0 {
            let mask = (1u8 << spare) - 1;
            if bytes[expected - 1] & mask != 0 {
                return Err(BitfieldError::SpareBitsSet { pieces: len });
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// Number of pieces the set covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether piece `i` is present; out of range is `false`.
    pub fn get(&self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Marks piece `i` present; returns whether it was newly set.
    pub fn set(&mut self, i: u32) -> bool {
        debug_assert!(i < self.len, "piece {i} out of range {}", self.len);
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.ones += 1;
        true
    }

    /// Marks piece `i` absent; returns whether it was set.
    pub fn clear(&mut self, i: u32) -> bool {
        if i >= self.len || !self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.ones -= 1;
        true
    }

    /// How many pieces are present.
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// Every piece is present.
    pub fn is_complete(&self) -> bool {
        self.ones == self.len
    }

    /// No piece is present.
    pub fn is_none(&self) -> bool {
        self.ones == 0
    }

    /// The wire payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Indices of present pieces, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.get(i))
    }
}

fn byte_len(len: u32) -> usize {
    len.div_ceil(8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spare_bits_rejected() {
        assert_eq!(Bitfield::from_bytes(&[0xff, 0x80], 9).map(|b| b.count_ones()), Ok(9));
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xc0], 9),
            Err(BitfieldError::SpareBitsSet { pieces: 9 })
        );
        assert!(matches!(
            Bitfield::from_bytes(&[0xff], 9),
            Err(BitfieldError::WrongLength {
                got: 1,
                expected: 2,
                pieces: 9
            })
        ));
    }

    proptest! {
        #[test]
        fn any_spare_bit_is_rejected(len in 1u32..200, spare_bit in 0u32..7) {
            let mut bf = Bitfield::full(len);
            let spare = len.div_ceil(8) * 8 - len;
            prop_assume!(spare > 0);
            let mut bytes = bf.as_bytes().to_vec();
            let last = bytes.len() - 1;
            bytes[last] |= 1 << (spare_bit % spare);
            prop_assert!(Bitfield::from_bytes(&bytes, len).is_err());
            bf.clear(0);
            prop_assert_eq!(bf.count_ones(), len - 1);
        }

        #[test]
        fn set_get_round_trip(len in 1u32..300, idx in proptest::collection::vec(0u32..300, 0..50)) {
            let mut bf = Bitfield::new(len);
            for &i in &idx { if i < len { bf.set(i); } }
            let back = Bitfield::from_bytes(bf.as_bytes(), len).unwrap();
            prop_assert_eq!(&back, &bf);
            for &i in &idx { prop_assert_eq!(bf.get(i), i < len); }
        }
    }
}
