//! BEP 6 allowed-fast set: the pieces a choked peer may still request from us.
//!
//! The set is a pure function of the peer's IPv4 /24, the info-hash and the piece
//! count, so both sides (and every client) compute the same pieces, and a set of size
//! `k + 1` extends the set of size `k`.

use crate::types::{InfoHash, PieceIndex};
use sha1::{Digest, Sha1};
use std::net::Ipv4Addr;

/// The set size BEP 6 suggests.
pub const DEFAULT_ALLOWED_FAST: usize = 10;

/// Upper bound on `k`: the set exists to let a starting peer ramp up, not to bypass
/// choking, and the duplicate check is quadratic in `k`.
pub const MAX_ALLOWED_FAST: usize = 256;

/// Upper bound on SHA-1 rounds (5 candidates each). Collecting `MAX_ALLOWED_FAST`
/// distinct indices from as few pieces needs ~300 rounds on average, so this is only
/// reached on a pathological hash cycle; the set is then returned short.
const MAX_HASH_ROUNDS: usize = 16 * 1024;

/// Candidates taken from each 20-byte digest (BEP 6 step 4).
const INDICES_PER_DIGEST: usize = 5;

/// The first `k` pieces of the canonical BEP 6 allowed-fast sequence for a peer at `ip`.
///
/// `k` is capped at `num_pieces` (indices are distinct) and at [`MAX_ALLOWED_FAST`].
pub fn allowed_fast_set(info_hash: &InfoHash, ip: Ipv4Addr, num_pieces: u32, k: usize) -> Vec<PieceIndex> {
    let k = k.min(MAX_ALLOWED_FAST).min(num_pieces as usize);
    let mut set: Vec<PieceIndex> = Vec::with_capacity(k);
    if k == 0 {
        return set;
    }

    // Only the /24 counts, so one user with many addresses in a subnet gets one set.
    let masked = u32::from(ip) & 0xFFFF_FF00;
    let mut seed = [0u8; 24];
    seed[..4].copy_from_slice(&masked.to_be_bytes());
    seed[4..].copy_from_slice(&info_hash.0);
    let mut digest: [u8; 20] = Sha1::digest(seed).into();

    for _ in 0..MAX_HASH_ROUNDS {
        for chunk in digest.chunks_exact(4).take(INDICES_PER_DIGEST) {
            if set.len() >= k {
                return set;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = PieceIndex(y % num_pieces);
            if !set.contains(&index) {
                set.push(index);
            }
        }
        if set.len() >= k {
            return set;
        }
        digest = Sha1::digest(digest).into();
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bep_vector(k: usize) -> Vec<u32> {
        allowed_fast_set(&InfoHash([0xaa; 20]), Ipv4Addr::new(80, 4, 4, 200), 1313, k)
            .into_iter()
            .map(|p| p.0)
            .collect()
    }

    #[test]
    fn bep6_test_vector_k7() {
        assert_eq!(bep_vector(7), vec![1059, 431, 808, 1217, 287, 376, 1188]);
    }

    #[test]
    fn bep6_test_vector_k9() {
        assert_eq!(bep_vector(9), vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
    }

    #[test]
    fn only_the_slash_24_matters() {
        let h = InfoHash([0x11; 20]);
        let a = allowed_fast_set(&h, Ipv4Addr::new(10, 1, 2, 3), 5000, 10);
        let b = allowed_fast_set(&h, Ipv4Addr::new(10, 1, 2, 250), 5000, 10);
        let c = allowed_fast_set(&h, Ipv4Addr::new(10, 1, 3, 3), 5000, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bounded_by_piece_count_and_cap() {
        let h = InfoHash([0x42; 20]);
        let ip = Ipv4Addr::new(192, 168, 0, 1);
        assert!(allowed_fast_set(&h, ip, 0, 10).is_empty());
        assert!(allowed_fast_set(&h, ip, 100, 0).is_empty());
        let mut all = allowed_fast_set(&h, ip, 3, 10);
        all.sort();
        assert_eq!(all, vec![PieceIndex(0), PieceIndex(1), PieceIndex(2)]);
        let big = allowed_fast_set(&h, ip, 1_000_000, 10_000);
        assert_eq!(big.len(), MAX_ALLOWED_FAST);
        let mut dedup = big.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), big.len());
        assert!(big.iter().all(|p| p.0 < 1_000_000));
    }
}
