//! Node ids: 160-bit points in the DHT's XOR metric space, and BEP 42's rule that
//! ties an id to the node's external IP address.

use std::fmt;
use std::net::IpAddr;

use rand::Rng;

/// A DHT node id (or any 160-bit target: an info-hash is looked up as one).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// A uniformly random id.
    pub fn random<R: Rng>(rng: &mut R) -> NodeId {
        let mut id = [0u8; 20];
        rng.fill(&mut id[..]);
        NodeId(id)
    }

    /// The XOR distance to `other`, comparable as a big-endian number.
    pub fn distance(&self, other: &NodeId) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (i, b) in d.iter_mut().enumerate() {
            *b = self.0[i] ^ other.0[i];
        }
        d
    }

    /// How many leading bits `self` and `other` share (160 when equal).
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        for (i, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            let x = a ^ b;
            if x != 0 {
                return i * 8 + x.leading_zeros() as usize;
            }
        }
        160
    }

    /// Bit `index` (0 = the most significant).
    pub fn bit(&self, index: usize) -> bool {
        (self.0[index / 8] >> (7 - index % 8)) & 1 == 1
    }

    /// A random id that shares exactly `prefix_len` leading bits with `self`
    /// (the next bit differs): a target inside one routing-table bucket.
    pub fn random_with_prefix<R: Rng>(&self, prefix_len: usize, rng: &mut R) -> NodeId {
        let mut out = NodeId::random(rng);
        let prefix_len = prefix_len.min(159);
        for i in 0..=prefix_len {
            let byte = i / 8;
            let mask = 0x80u8 >> (i % 8);
            let want = if i < prefix_len { self.bit(i) } else { !self.bit(i) };
            if want {
                out.0[byte] |= mask;
            } else {
                out.0[byte] &= !mask;
            }
        }
        out
    }

    /// A BEP 42 id for a node whose external address is `ip`: the first 21 bits
    /// come from CRC32-C of the masked address and a random `r`, the last byte is `r`.
    pub fn bep42<R: Rng>(ip: IpAddr, rng: &mut R) -> NodeId {
        let r: u8 = rng.gen::<u8>() & 0x07;
        let crc = bep42_crc(ip, r);
        let mut id = NodeId::random(rng);
        id.0[0] = (crc >> 24) as u8;
        id.0[1] = (crc >> 16) as u8;
        id.0[2] = ((crc >> 8) as u8 & 0xf8) | (id.0[2] & 0x07);
        id.0[19] = r;
        id
    }

    /// True if this id follows BEP 42 for `ip`. Addresses BEP 42 exempts (loopback,
    /// private ranges) always pass: their nodes cannot know a global address.
    pub fn is_bep42_for(&self, ip: IpAddr) -> bool {
        if bep42_exempt(ip) {
            return true;
        }
        let crc = bep42_crc(ip, self.0[19] & 0x07);
        self.0[0] == (crc >> 24) as u8
            && self.0[1] == (crc >> 16) as u8
            && (self.0[2] & 0xf8) == ((crc >> 8) as u8 & 0xf8)
    }
}

/// Local, private and link-local addresses, which BEP 42 does not constrain.
pub fn bep42_exempt(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn bep42_crc(ip: IpAddr, r: u8) -> u32 {
    match ip {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip([0x03, 0x0f, 0x3f, 0xff]) {
                *x &= m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut b = [0u8; 8];
            for (i, m) in [0x01u8, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff].iter().enumerate() {
                b[i] = o[i] & m;
            }
            b[0] |= r << 5;
            crc32c(&b)
        }
    }
}

/// CRC32-C (Castagnoli), bitwise: a handful of bytes per id, so no table.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82f6_3b78 & mask);
        }
    }
    !crc
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", crate::types::to_hex(&self.0))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::types::to_hex(&self.0))
    }
}

impl From<crate::InfoHash> for NodeId {
    fn from(h: crate::InfoHash) -> NodeId {
        NodeId(h.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn bep42_examples_from_the_spec() {
        // BEP 42's test vectors: IP, rand, expected first three bytes (21 bits checked).
        let cases: [(&str, u8, [u8; 3]); 5] = [
            ("124.31.75.21", 1, [0x5f, 0xbf, 0xbf]),
            ("21.75.31.124", 86, [0x5a, 0x3c, 0xe9]),
            ("65.23.51.170", 22, [0xa5, 0xd4, 0x32]),
            ("84.124.73.14", 65, [0x1b, 0x03, 0x21]),
            ("43.213.53.83", 90, [0xe5, 0x6f, 0x6c]),
        ];
        for (ip, r, want) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            let crc = bep42_crc(ip, r & 7);
            assert_eq!((crc >> 24) as u8, want[0], "{ip}");
            assert_eq!((crc >> 16) as u8, want[1], "{ip}");
            assert_eq!((crc >> 8) as u8 & 0xf8, want[2] & 0xf8, "{ip}");
            let mut id = NodeId([0; 20]);
            id.0[..3].copy_from_slice(&want);
            id.0[19] = r;
            assert!(id.is_bep42_for(ip), "{ip}");
        }
    }

    #[test]
    fn generated_bep42_ids_validate_and_random_ones_mostly_do_not() {
        let mut rng = SmallRng::seed_from_u64(7);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..50 {
            assert!(NodeId::bep42(ip, &mut rng).is_bep42_for(ip));
        }
        let misses = (0..50).filter(|_| !NodeId::random(&mut rng).is_bep42_for(ip)).count();
        assert!(misses >= 49);
        assert!(NodeId::random(&mut rng).is_bep42_for("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn prefix_targets_land_in_their_bucket() {
        let mut rng = SmallRng::seed_from_u64(1);
        let me = NodeId::random(&mut rng);
        for p in [0, 1, 7, 8, 9, 100, 159] {
            let t = me.random_with_prefix(p, &mut rng);
            assert_eq!(me.common_prefix_len(&t), p);
        }
        assert_eq!(me.common_prefix_len(&me), 160);
    }
}
