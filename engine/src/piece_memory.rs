//! The memory pieces are put together in.
//!
//! The host may supply its own buffers through a [`PieceAllocator`]: the io layer
//! hands out page-aligned ones that its disk layer writes with `O_DIRECT` as they
//! are, with no copy between the piece buffer and the device. Plain `Vec`s are the
//! default ([`VecPieceAllocator`]).

use std::any::Any;
use std::fmt;
use std::ops::Deref;

/// A buffer that one piece is assembled in.
pub trait PieceMemory: Any {
    fn bytes(&self) -> &[u8];
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl PieceMemory for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// The bytes of one piece, in whatever memory the allocator gave. Derefs to the
/// bytes; [`PieceData::downcast`] gives the host its own buffer type back.
pub struct PieceData(Box<dyn PieceMemory>);

impl PieceData {
    pub fn new(memory: impl PieceMemory) -> Self {
        PieceData(Box::new(memory))
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.0.bytes_mut()
    }

    /// The buffer as the type it was made with, or `self` back if it is another.
    pub fn downcast<T: PieceMemory>(self) -> Result<T, PieceData> {
        if !(&*self.0 as &dyn Any).is::<T>() {
            return Err(self);
        }
        let any: Box<dyn Any> = self.0;
        match any.downcast::<T>() {
            Ok(memory) => Ok(*memory),
            Err(_) => unreachable!("the type was checked above"),
        }
    }
}

impl Deref for PieceData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.bytes()
    }
}

impl AsRef<[u8]> for PieceData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Equal when the bytes are, whatever memory holds them.
impl PartialEq for PieceData {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for PieceData {}

impl Default for PieceData {
    fn default() -> Self {
        PieceData::new(Vec::new())
    }
}

impl From<Vec<u8>> for PieceData {
    fn from(v: Vec<u8>) -> Self {
        PieceData::new(v)
    }
}

impl fmt::Debug for PieceData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PieceData({} bytes)", self.len())
    }
}

/// Where a torrent's piece buffers come from, and go back to once written.
pub trait PieceAllocator {
    /// A buffer of exactly `len` bytes. Its old contents do not matter: a piece is
    /// finished only once every block was put, and the hash decides.
    fn allocate(&mut self, len: usize) -> PieceData;
    /// A buffer the host is done with (hashed and written), for reuse.
    fn release(&mut self, data: PieceData);
    /// Drops the buffers kept for reuse (the download is over).
    fn clear(&mut self);
}

/// Hashes one piece as its blocks arrive, in order, while they are still in the
/// CPU cache. The host may supply its own (the io layer times each update for its
/// hash-latency histogram, as the engine has no clock); the default is plain SHA-1.
pub trait PieceHasher {
    fn update(&mut self, bytes: &[u8]);
    fn finish(self: Box<Self>) -> [u8; 20];
}

impl PieceHasher for sha1::Sha1 {
    fn update(&mut self, bytes: &[u8]) {
        sha1::Digest::update(self, bytes);
    }

    fn finish(self: Box<Self>) -> [u8; 20] {
        sha1::Digest::finalize(*self).into()
    }
}

/// Makes a [`PieceHasher`] for each piece a torrent starts assembling.
pub type PieceHasherFactory = Box<dyn Fn() -> Box<dyn PieceHasher>>;

/// The default: SHA-1, untimed.
pub fn sha1_hashers() -> PieceHasherFactory {
    Box::new(|| Box::new(<sha1::Sha1 as sha1::Digest>::new()))
}

/// Bytes of buffers a [`PooledPieceAllocator`] keeps for reuse.
const SPARE_BYTES: usize = 64 << 20;
/// At most this many, whatever the piece size.
const MAX_SPARES: usize = 64;

/// Piece buffers of type `M`, reusing written ones so a download does not
/// allocate, zero and page-fault a fresh buffer for every piece (measured: 5% of a
/// 1 GiB download's CPU went to that).
pub struct PooledPieceAllocator<M> {
    piece_length: usize,
    max: usize,
    spares: Vec<M>,
    make: fn(usize) -> M,
}

/// The default allocator: plain `Vec`s.
pub type VecPieceAllocator = PooledPieceAllocator<Vec<u8>>;

impl<M: PieceMemory> PooledPieceAllocator<M> {
    /// Makes new buffers with `make(len)`.
    pub fn new(piece_length: u32, make: fn(usize) -> M) -> Self {
        let piece_length = piece_length as usize;
        PooledPieceAllocator {
            piece_length,
            max: (SPARE_BYTES / piece_length.max(1)).clamp(1, MAX_SPARES),
            spares: Vec::new(),
            make,
        }
    }

    /// Buffers waiting for reuse.
    pub fn spare_count(&self) -> usize {
        self.spares.len()
    }
}

impl VecPieceAllocator {
    pub fn vecs(piece_length: u32) -> Self {
        PooledPieceAllocator::new(piece_length, |len| vec![0; len])
    }
}

impl<M: PieceMemory> PieceAllocator for PooledPieceAllocator<M> {
    fn allocate(&mut self, len: usize) -> PieceData {
        if len == self.piece_length {
            if let Some(buf) = self.spares.pop() {
                return PieceData::new(buf);
            }
        }
        PieceData::new((self.make)(len))
    }

    fn release(&mut self, data: PieceData) {
        if let Ok(buf) = data.downcast::<M>() {
            if buf.bytes().len() == self.piece_length && self.spares.len() < self.max {
                self.spares.push(buf);
            }
        }
    }

    fn clear(&mut self) {
        self.spares = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Other(Vec<u8>);

    impl PieceMemory for Other {
        fn bytes(&self) -> &[u8] {
            &self.0
        }
        fn bytes_mut(&mut self) -> &mut [u8] {
            &mut self.0
        }
    }

    #[test]
    fn downcast_gives_the_buffer_back_only_as_its_own_type() {
        let data = PieceData::new(Other(vec![7; 4]));
        let data = data.downcast::<Vec<u8>>().unwrap_err();
        assert_eq!(&*data, &[7; 4]);
        let other = data.downcast::<Other>().ok().unwrap();
        assert_eq!(other.0, vec![7; 4]);
    }

    #[test]
    fn whole_piece_buffers_are_reused() {
        let mut a = VecPieceAllocator::vecs(1 << 20);
        let first = a.allocate(1 << 20);
        let ptr = first.as_ptr();
        a.release(first);
        assert_eq!(a.spare_count(), 1);
        // The short last piece gets a fresh buffer; the spare stays.
        assert_eq!(a.allocate(1000).len(), 1000);
        assert_eq!(a.spare_count(), 1);
        assert_eq!(a.allocate(1 << 20).as_ptr(), ptr);
        // Wrong sizes and foreign buffers are not kept.
        a.release(vec![0; 10].into());
        a.release(PieceData::new(Other(vec![0; 1 << 20])));
        assert_eq!(a.spare_count(), 0);
    }

    #[test]
    fn spares_are_bounded_by_bytes_and_count() {
        let mut big = VecPieceAllocator::vecs(16 << 20);
        for _ in 0..10 {
            big.release(vec![0; 16 << 20].into());
        }
        assert_eq!(big.spare_count(), 4);
        let mut small = VecPieceAllocator::vecs(16 << 10);
        for _ in 0..100 {
            small.release(vec![0; 16 << 10].into());
        }
        assert_eq!(small.spare_count(), MAX_SPARES);
        small.clear();
        assert_eq!(small.spare_count(), 0);
    }
}
