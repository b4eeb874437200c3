//! Shared pieces of the fuzz targets: an allocator that remembers the largest single
//! allocation (so a target can assert that no parser allocates for a length an input
//! merely claims), and a deterministic splitter that cuts a byte stream into the
//! arbitrary chunks a socket could deliver.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest request it has served since the last
/// [`largest_allocation_during`] began.
pub struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the only addition is a
// relaxed atomic max on the requested size, which cannot affect the allocation.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Bytes a parser may allocate at once beyond [`ALLOC_FACTOR`] times its input: room
/// for fixed-size tables and the first growth steps of small collections.
pub const ALLOC_SLACK: usize = 64 * 1024;

/// How many times its input size a parser may allocate at once. Decoded values are
/// bigger than their encoding (a 3-byte `i0e` becomes a 32-byte enum, a `Vec` doubles
/// its capacity), so this is generous; what it catches is an allocation sized by a
/// length the input claims, which is unbounded by the input (`4294967295:`).
pub const ALLOC_FACTOR: usize = 64;

/// Runs `f` and returns its result with the largest single allocation it made.
/// Fuzz targets run on one thread, so nothing else allocates meanwhile.
pub fn largest_allocation_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let out = f();
    (out, LARGEST.load(Ordering::Relaxed))
}

/// Runs `f` on an input of `input_len` bytes and panics (a finding) if it allocated
/// more at once than [`ALLOC_FACTOR`] × `input_len` + [`ALLOC_SLACK`].
pub fn assert_bounded_allocation<T>(what: &str, input_len: usize, f: impl FnOnce() -> T) -> T {
    let (out, largest) = largest_allocation_during(f);
    let bound = input_len.saturating_mul(ALLOC_FACTOR).saturating_add(ALLOC_SLACK);
    assert!(
        largest <= bound,
        "{what}: one allocation of {largest} bytes for {input_len} bytes of input (bound {bound})"
    );
    out
}

/// Splits a stream into chunk lengths drawn from `seed`, the way reads from a socket
/// may split it: mostly small pieces (1–16 bytes, so every field boundary gets cut),
/// sometimes large ones. Deterministic for a given seed, so a finding reproduces.
pub struct Chunks {
    state: u64,
}

impl Chunks {
    /// A splitter for `seed`; two different seeds give different cuts.
    pub fn new(seed: u64) -> Self {
        // splitmix64 needs a state that is not zero everywhere; any constant works.
        Chunks {
            state: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64: a full-period generator with good low bits in a few operations.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next chunk length, at least 1.
    pub fn next_len(&mut self) -> usize {
        let r = self.next_u64();
        let len = if r & 0xf == 0 { (r >> 8) % 4096 } else { (r >> 8) % 16 };
        usize::try_from(len).unwrap_or(0) + 1
    }

    /// `data` cut into consecutive chunks.
    pub fn split<'a>(&mut self, mut data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let n = self.next_len().min(data.len());
            let (head, tail) = data.split_at(n);
            out.push(head);
            data = tail;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_stream_in_order() {
        let data: Vec<u8> = (0..=255).collect();
        let parts = Chunks::new(7).split(&data);
        assert!(parts.len() > 1);
        assert_eq!(parts.concat(), data);
    }

    #[test]
    fn an_oversized_allocation_is_reported() {
        let (_, largest) = largest_allocation_during(|| vec![0u8; 1 << 20]);
        assert!(largest >= 1 << 20);
    }
}
