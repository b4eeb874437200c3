//! SHA-1 of whole pieces (BEP 3 v1 piece hashes).
//!
//! Uses the `sha1` crate with its `asm` feature, which picks the CPU's SHA
//! extensions when present (see the storage bench for the measured rate).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ccbt_engine::latency::LatencyRecorder;
use ccbt_engine::piece_memory::{PieceHasher, PieceHasherFactory};
use sha1::{Digest, Sha1};

/// The SHA-1 digest of `data`.
pub fn sha1_piece(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Whether `data` hashes to `expected`.
pub fn verify_piece(data: &[u8], expected: &[u8; 20]) -> bool {
    sha1_piece(data) == *expected
}

/// SHA-1 of one piece that adds up the time spent hashing it, block by block,
/// and records the sum as the piece's hash latency when done.
pub struct TimedSha1 {
    sha: Sha1,
    spent: Duration,
    recorder: Rc<RefCell<LatencyRecorder>>,
}

impl TimedSha1 {
    pub fn new(recorder: Rc<RefCell<LatencyRecorder>>) -> Self {
        TimedSha1 {
            sha: Sha1::new(),
            spent: Duration::ZERO,
            recorder,
        }
    }

    /// A factory for the engine's [`Torrent::set_piece_hasher`](ccbt_engine::torrent::Torrent::set_piece_hasher).
    pub fn factory(recorder: Rc<RefCell<LatencyRecorder>>) -> PieceHasherFactory {
        Box::new(move || Box::new(TimedSha1::new(recorder.clone())))
    }
}

impl PieceHasher for TimedSha1 {
    fn update(&mut self, bytes: &[u8]) {
        let started = Instant::now();
        Digest::update(&mut self.sha, bytes);
        self.spent += started.elapsed();
    }

    fn finish(self: Box<Self>) -> [u8; 20] {
        let started = Instant::now();
        let digest = self.sha.finalize().into();
        let took = self.spent + started.elapsed();
        self.recorder.borrow_mut().record(took);
        crate::shard_counters::count(|c| c.hash_latency.record(took));
        digest
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
        let recorder = Rc::new(RefCell::new(LatencyRecorder::new()));
        let mut h = Box::new(TimedSha1::new(recorder.clone()));
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), abc);
        assert_eq!(recorder.borrow().summary().count, 1, "one piece timed");
    }
}
