//! The fixed 68-byte handshake that opens every peer connection (BEP 3).

use super::WireError;
use crate::types::{InfoHash, PeerId};

/// The protocol string, preceded on the wire by its length byte (19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// Length of the whole handshake: pstrlen, pstr, reserved, info-hash, peer id.
pub const HANDSHAKE_LEN: usize = 68;

/// Length of the handshake up to and including the info-hash: enough to decide which
/// torrent (and so which shard) an incoming connection belongs to.
pub const HANDSHAKE_ROUTING_LEN: usize = 48;

const RESERVED_AT: usize = 20;
const INFO_HASH_AT: usize = 28;
const PEER_ID_AT: usize = 48;

/// The 8 reserved handshake bytes, where peers advertise protocol extensions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    const EXTENSION_BYTE: usize = 5;
    const EXTENSION_BIT: u8 = 0x10;
    const FAST_BYTE: usize = 7;
    const FAST_BIT: u8 = 0x04;
    const DHT_BYTE: usize = 7;
    const DHT_BIT: u8 = 0x01;

    /// What we advertise by default: the extension protocol (BEP 10) and Fast (BEP 6).
    /// DHT is left out because only a session running a DHT node may claim it; see
    /// [`Reserved::with_dht`].
    pub fn ours() -> Self {
        let mut r = [0u8; 8];
        r[Self::EXTENSION_BYTE] |= Self::EXTENSION_BIT;
        r[Self::FAST_BYTE] |= Self::FAST_BIT;
        Reserved(r)
    }

    /// The same bits plus the DHT bit (BEP 5), for a session that answers PORT.
    pub fn with_dht(mut self) -> Self {
        self.0[Self::DHT_BYTE] |= Self::DHT_BIT;
        self
    }

    /// BEP 10 extension protocol: `reserved[5] & 0x10`.
    pub fn supports_extensions(&self) -> bool {
        self.0[Self::EXTENSION_BYTE] & Self::EXTENSION_BIT != 0
    }

    /// BEP 6 Fast extension: `reserved[7] & 0x04`.
    pub fn supports_fast(&self) -> bool {
        self.0[Self::FAST_BYTE] & Self::FAST_BIT != 0
    }

    /// BEP 5 DHT: `reserved[7] & 0x01`.
    pub fn supports_dht(&self) -> bool {
        self.0[Self::DHT_BYTE] & Self::DHT_BIT != 0
    }
}

/// A parsed or to-be-sent handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: Reserved,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
}

impl Handshake {
    /// The exact 68 bytes to send.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = PROTOCOL.len() as u8;
        out[1..RESERVED_AT].copy_from_slice(PROTOCOL);
        out[RESERVED_AT..INFO_HASH_AT].copy_from_slice(&self.reserved.0);
        out[INFO_HASH_AT..PEER_ID_AT].copy_from_slice(&self.info_hash.0);
        out[PEER_ID_AT..].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Parses exactly [`HANDSHAKE_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Handshake, WireError> {
        let bytes: &[u8; HANDSHAKE_LEN] = bytes
            .try_into()
            .map_err(|_| WireError::BadHandshake("handshake must be exactly 68 bytes"))?;
        let (reserved, info_hash) = parse_routing_prefix(bytes)?;
        let mut peer_id = [0u8; 20];
        peer_id.copy_from_slice(&bytes[PEER_ID_AT..]);
        Ok(Handshake {
            reserved,
            info_hash,
            peer_id: PeerId(peer_id),
        })
    }
}

/// Parses the first [`HANDSHAKE_ROUTING_LEN`] bytes (bytes past them are ignored), so an
/// incoming connection can be routed to its torrent before the peer id has arrived.
pub fn parse_routing_prefix(bytes: &[u8]) -> Result<(Reserved, InfoHash), WireError> {
    let Some(prefix) = bytes.get(..HANDSHAKE_ROUTING_LEN) else {
        return Err(WireError::BadHandshake("fewer than 48 bytes before the peer id"));
    };
    if usize::from(prefix[0]) != PROTOCOL.len() {
        return Err(WireError::BadHandshake("protocol string length is not 19"));
    }
    if &prefix[1..RESERVED_AT] != PROTOCOL {
        return Err(WireError::BadHandshake(
            "protocol string is not \"BitTorrent protocol\"",
        ));
    }
    let mut reserved = [0u8; 8];
    reserved.copy_from_slice(&prefix[RESERVED_AT..INFO_HASH_AT]);
    let mut info_hash = [0u8; 20];
    info_hash.copy_from_slice(&prefix[INFO_HASH_AT..]);
    Ok((Reserved(reserved), InfoHash(info_hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::ours(),
            info_hash: InfoHash([0xaa; 20]),
            peer_id: PeerId(*b"-CB0100-abcdefghijkl"),
        }
    }

    #[test]
    fn encodes_exact_layout() {
        let bytes = sample().encode();
        assert_eq!(bytes[0], 19);
        assert_eq!(&bytes[1..20], b"BitTorrent protocol");
        assert_eq!(&bytes[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        assert_eq!(&bytes[28..48], &[0xaa; 20]);
        assert_eq!(&bytes[48..68], b"-CB0100-abcdefghijkl");
    }

    #[test]
    fn round_trips() {
        let hs = sample();
        assert_eq!(Handshake::parse(&hs.encode()), Ok(hs));
    }

    #[test]
    fn reserved_bits() {
        let ours = Reserved::ours();
        assert!(ours.supports_extensions());
        assert!(ours.supports_fast());
        assert!(!ours.supports_dht());
        assert_eq!(ours.0, [0, 0, 0, 0, 0, 0x10, 0, 0x04]);

        let dht = ours.with_dht();
        assert!(dht.supports_dht() && dht.supports_fast() && dht.supports_extensions());
        assert_eq!(dht.0[7], 0x05);

        let none = Reserved::default();
        assert!(!none.supports_extensions() && !none.supports_fast() && !none.supports_dht());
        // Neighbouring bits must not be mistaken for ours.
        let others = Reserved([0xff, 0xff, 0xff, 0xff, 0xff, !0x10, 0xff, !0x05]);
        assert!(!others.supports_extensions() && !others.supports_fast());
        assert!(!others.supports_dht());
    }

    #[test]
    fn rejects_wrong_total_length() {
        let bytes = sample().encode();
        for len in [0, 19, 48, 67] {
            assert!(matches!(
                Handshake::parse(&bytes[..len]),
                Err(WireError::BadHandshake(_))
            ));
        }
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(Handshake::parse(&long), Err(WireError::BadHandshake(_))));
    }

    #[test]
    fn rejects_bad_protocol_string() {
        let mut bytes = sample().encode();
        bytes[0] = 18;
        assert_eq!(
            Handshake::parse(&bytes),
            Err(WireError::BadHandshake("protocol string length is not 19"))
        );
        let mut bytes = sample().encode();
        bytes[1] = b'b';
        assert!(matches!(Handshake::parse(&bytes), Err(WireError::BadHandshake(_))));
        // An HTTP request or garbage on the peer port.
        let mut http = [0u8; 68];
        http[..16].copy_from_slice(b"GET / HTTP/1.1\r\n");
        assert!(Handshake::parse(&http).is_err());
    }

    #[test]
    fn routing_prefix_needs_48_bytes_only() {
        let bytes = sample().encode();
        assert_eq!(
            parse_routing_prefix(&bytes[..HANDSHAKE_ROUTING_LEN]),
            Ok((Reserved::ours(), InfoHash([0xaa; 20])))
        );
        assert_eq!(
            parse_routing_prefix(&bytes),
            Ok((Reserved::ours(), InfoHash([0xaa; 20])))
        );
        assert!(matches!(
            parse_routing_prefix(&bytes[..47]),
            Err(WireError::BadHandshake(_))
        ));
    }
}
