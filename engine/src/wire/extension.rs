//! The BEP 10 extension handshake: the bencoded dictionary carried by the first
//! `Extended` message with id [`EXTENDED_HANDSHAKE_ID`].

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Message, WireError};
use crate::bencode::{self, Value};

/// Extended message id of the extension handshake (BEP 10).
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;

/// At most this many `m` entries are kept from a peer; the rest are ignored. Real
/// clients send about ten, and the handshake lives as long as the connection.
pub const MAX_EXTENSIONS: usize = 128;

/// `m` names longer than this are ignored (real names are like `ut_metadata`).
pub const MAX_EXTENSION_NAME_LEN: usize = 64;

/// A `v` (client name) longer than this is ignored.
pub const MAX_CLIENT_NAME_LEN: usize = 256;

/// The fields of an extension handshake that ccbt understands. Decoding is lenient
/// (BEP 10: unknown names are ignored), so a peer's odd field never costs the
/// connection; only a payload that is not a bencoded dictionary is an error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtensionHandshake {
    /// Extension name to the id the sender wants to receive it under. Decoding drops
    /// entries with id 0 ("disabled"); encoding writes every entry as given.
    pub m: BTreeMap<String, u8>,
    /// Client name and version.
    pub v: Option<String>,
    /// The sender's TCP listen port.
    pub p: Option<u16>,
    /// How many outstanding requests the sender accepts without dropping any.
    pub reqq: Option<u32>,
    /// BEP 9: size of the info dictionary in bytes; bounded by the metadata layer.
    pub metadata_size: Option<u64>,
    /// The receiver's address as the sender sees it: 4 (IPv4) or 16 (IPv6) bytes.
    pub yourip: Option<Vec<u8>>,
}

impl ExtensionHandshake {
    /// The bencoded dictionary (without the message framing).
    pub fn encode(&self) -> Vec<u8> {
        let m = self
            .m
            .iter()
            .map(|(name, id)| (name.as_bytes().to_vec(), Value::Int(i64::from(*id))))
            .collect();
        let mut dict = BTreeMap::new();
        dict.insert(b"m".to_vec(), Value::Dict(m));
        if let Some(v) = &self.v {
            dict.insert(b"v".to_vec(), Value::string(v));
        }
        if let Some(p) = self.p {
            dict.insert(b"p".to_vec(), Value::Int(i64::from(p)));
        }
        if let Some(reqq) = self.reqq {
            dict.insert(b"reqq".to_vec(), Value::Int(i64::from(reqq)));
        }
        if let Some(size) = self.metadata_size {
            // Sizes past i64::MAX do not exist; saturate rather than wrap negative.
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            dict.insert(b"metadata_size".to_vec(), Value::Int(size));
        }
        if let Some(ip) = &self.yourip {
            dict.insert(b"yourip".to_vec(), Value::Bytes(ip.clone()));
        }
        bencode::encode(&Value::Dict(dict))
    }

    /// The message that carries this handshake: `Extended { id: 0, payload: self.encode() }`.
    pub fn to_message(&self) -> Message {
        Message::Extended {
            id: EXTENDED_HANDSHAKE_ID,
            payload: Bytes::from(self.encode()),
        }
    }

    /// Parses a handshake payload. Bytes after the dictionary are ignored, as are
    /// unknown keys and known keys with a wrong type or an impossible value.
    pub fn decode(payload: &[u8]) -> Result<ExtensionHandshake, WireError> {
        let (value, _used) =
            bencode::decode_prefix(payload).map_err(|e| WireError::BadExtensionHandshake(e.to_string()))?;
        let Some(dict) = value.as_dict() else {
            return Err(WireError::BadExtensionHandshake(
                "top level is not a dictionary".to_owned(),
            ));
        };
        let get = |key: &str| dict.get(key.as_bytes());
        let int = |key: &str| get(key).and_then(Value::as_int);

        let m = get("m").and_then(Value::as_dict).map(decode_m).unwrap_or_default();
        let v = get("v")
            .and_then(Value::as_bytes)
            .filter(|v| v.len() <= MAX_CLIENT_NAME_LEN)
            // BEP 10 says UTF-8; a client name in another encoding is still worth logging.
            .map(|v| String::from_utf8_lossy(v).into_owned())
            // Lossy decoding can triple the length (a bad byte becomes a 3-byte U+FFFD):
            // bound the text kept too, so a decoded handshake re-encodes to one that
            // decodes the same (found by fuzz/fuzz_targets/wire.rs).
            .filter(|v| v.len() <= MAX_CLIENT_NAME_LEN);
        let p = int("p").and_then(|p| u16::try_from(p).ok()).filter(|&p| p != 0);
        // A reqq of 0 would forbid every request; no client means that.
        let reqq = int("reqq").and_then(|q| u32::try_from(q).ok()).filter(|&q| q != 0);
        let metadata_size = int("metadata_size").and_then(|s| u64::try_from(s).ok());
        let yourip = get("yourip")
            .and_then(Value::as_bytes)
            .filter(|ip| ip.len() == 4 || ip.len() == 16)
            .map(<[u8]>::to_vec);
        Ok(ExtensionHandshake {
            m,
            v,
            p,
            reqq,
            metadata_size,
            yourip,
        })
    }
}

fn decode_m(entries: &BTreeMap<Vec<u8>, Value>) -> BTreeMap<String, u8> {
    entries
        .iter()
        .filter(|(name, _)| name.len() <= MAX_EXTENSION_NAME_LEN)
        .filter_map(|(name, id)| {
            let name = std::str::from_utf8(name).ok()?;
            let id = u8::try_from(id.as_int()?).ok().filter(|&id| id != 0)?;
            Some((name.to_owned(), id))
        })
        .take(MAX_EXTENSIONS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MessageDecoder, WireLimits};
    use bytes::BytesMut;
    use proptest::prelude::*;

    fn bad(payload: &[u8]) -> bool {
        matches!(
            ExtensionHandshake::decode(payload),
            Err(WireError::BadExtensionHandshake(_))
        )
    }

    #[test]
    fn decodes_bep10_example() {
        // The BEP text says "6:µT_PEX", but "µ" is two bytes in UTF-8.
        let payload = b"d1:md11:LT_metadatai1e7:\xc2\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e";
        let hs = ExtensionHandshake::decode(payload).unwrap();
        assert_eq!(hs.m.get("LT_metadata"), Some(&1));
        assert_eq!(hs.m.get("µT_PEX"), Some(&2));
        assert_eq!(hs.p, Some(6881));
        assert_eq!(hs.v.as_deref(), Some("µTorrent 1.2"));
        assert_eq!(hs.reqq, None);
        assert_eq!(hs.encode(), payload);
    }

    #[test]
    fn encodes_exact_bytes() {
        let hs = ExtensionHandshake {
            m: BTreeMap::from([("ut_metadata".to_owned(), 3), ("ut_pex".to_owned(), 1)]),
            v: Some("ccbt 0.1".to_owned()),
            p: Some(6881),
            reqq: Some(500),
            metadata_size: Some(31235),
            yourip: Some(vec![127, 0, 0, 1]),
        };
        let want: &[u8] = b"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e\
            1:pi6881e4:reqqi500e1:v8:ccbt 0.16:yourip4:\x7f\0\0\x01e";
        assert_eq!(hs.encode(), want);
        assert_eq!(ExtensionHandshake::decode(want), Ok(hs));
        assert_eq!(ExtensionHandshake::default().encode(), b"d1:mdee");
    }

    #[test]
    fn zero_ids_are_dropped() {
        let hs = ExtensionHandshake::decode(b"d1:md11:ut_metadatai2e6:ut_pexi0eee");
        let hs = hs.unwrap();
        assert_eq!(hs.m, BTreeMap::from([("ut_metadata".to_owned(), 2)]));
    }

    #[test]
    fn wrong_types_and_values_are_ignored() {
        // Every known key has a wrong type, plus an unknown key.
        let payload = b"d1:mi5e1:pli1ee4:reqq3:abc1:vi7e1:xi0e6:yourip3:abce";
        assert_eq!(ExtensionHandshake::decode(payload), Ok(ExtensionHandshake::default()));
        // Right types, impossible values.
        let payload = b"d1:md1:ai256e1:bi-1e1:c1:x2:\xff\xfei4ee13:metadata_sizei-5e\
            1:pi70000e4:reqqi0e6:yourip5:12345e";
        assert_eq!(ExtensionHandshake::decode(payload), Ok(ExtensionHandshake::default()));
        assert_eq!(ExtensionHandshake::decode(b"d1:pi0ee").unwrap().p, None);
    }

    #[test]
    fn non_utf8_client_name_is_kept_lossily() {
        let hs = ExtensionHandshake::decode(b"d1:v3:a\xffbe").unwrap();
        assert_eq!(hs.v.as_deref(), Some("a\u{fffd}b"));
        let long = format!(
            "d1:v{}:{}e",
            MAX_CLIENT_NAME_LEN + 1,
            "x".repeat(MAX_CLIENT_NAME_LEN + 1)
        );
        assert_eq!(ExtensionHandshake::decode(long.as_bytes()).unwrap().v, None);
    }

    #[test]
    fn client_name_bound_holds_after_lossy_decoding() {
        // 200 invalid bytes are within the raw bound but become 600 bytes of text.
        let mut payload = b"d1:v200:".to_vec();
        payload.extend_from_slice(&[0xff; 200]);
        payload.push(b'e');
        let hs = ExtensionHandshake::decode(&payload).unwrap();
        assert_eq!(hs.v, None);
        assert_eq!(ExtensionHandshake::decode(&hs.encode()), Ok(hs));
        // 80 invalid bytes become 240 bytes of text: kept, and stable when re-sent.
        let mut payload = b"d1:v80:".to_vec();
        payload.extend_from_slice(&[0xff; 80]);
        payload.push(b'e');
        let hs = ExtensionHandshake::decode(&payload).unwrap();
        assert_eq!(hs.v.as_ref().map(String::len), Some(240));
        assert_eq!(ExtensionHandshake::decode(&hs.encode()), Ok(hs));
    }

    #[test]
    fn m_is_bounded() {
        let mut payload = b"d1:md".to_vec();
        let names: BTreeMap<String, u8> = (0..MAX_EXTENSIONS + 10).map(|i| (format!("x{i:04}"), 1)).collect();
        for name in names.keys() {
            payload.extend_from_slice(format!("{}:{}i1e", name.len(), name).as_bytes());
        }
        payload.extend_from_slice(b"ee");
        assert_eq!(ExtensionHandshake::decode(&payload).unwrap().m.len(), MAX_EXTENSIONS);
    }

    #[test]
    fn rejects_non_dict_and_malformed() {
        assert!(bad(b""));
        assert!(bad(b"i1e"));
        assert!(bad(b"l1:me"));
        assert!(bad(b"4:spam"));
        assert!(bad(b"d1:m"));
        assert!(bad(b"d1:md"));
        assert!(bad(b"\xff"));
        // Bytes after the dictionary do not matter.
        assert_eq!(ExtensionHandshake::decode(b"d1:pi1eeJUNK").unwrap().p, Some(1));
    }

    #[test]
    fn travels_as_extended_message_zero() {
        let hs = ExtensionHandshake {
            m: BTreeMap::from([("ut_metadata".to_owned(), 1)]),
            metadata_size: Some(1 << 20),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        hs.to_message().encode(&mut buf);
        let msg = MessageDecoder::new(WireLimits::default()).decode(&mut buf).unwrap();
        let Some(Message::Extended { id, payload }) = msg else {
            panic!("expected an extended message, got {msg:?}");
        };
        assert_eq!(id, EXTENDED_HANDSHAKE_ID);
        assert_eq!(ExtensionHandshake::decode(&payload), Ok(hs));
    }

    fn any_handshake() -> impl Strategy<Value = ExtensionHandshake> {
        (
            proptest::collection::btree_map("[a-zA-Z_]{1,20}", 1u8..=255, 0..8),
            proptest::option::of("\\PC{0,30}"),
            proptest::option::of(1u16..),
            proptest::option::of(1u32..),
            proptest::option::of(0u64..=i64::MAX as u64),
            proptest::option::of(prop_oneof![
                proptest::collection::vec(any::<u8>(), 4),
                proptest::collection::vec(any::<u8>(), 16),
            ]),
        )
            .prop_map(|(m, v, p, reqq, metadata_size, yourip)| ExtensionHandshake {
                m,
                v,
                p,
                reqq,
                metadata_size,
                yourip,
            })
    }

    proptest! {
        #[test]
        fn round_trips(hs in any_handshake()) {
            prop_assert_eq!(ExtensionHandshake::decode(&hs.encode()), Ok(hs));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExtensionHandshake::decode(&bytes);
            let mut wrapped = b"d1:m".to_vec();
            wrapped.extend_from_slice(&bytes);
            let _ = ExtensionHandshake::decode(&wrapped);
        }
    }
}
