//! BEP 9 `ut_metadata` messages: the payload of an `Extended` message sent under the
//! id the receiver gave `ut_metadata` in its extension handshake.
//!
//! `d8:msg_typei0e5:piecei3ee` asks for piece 3 of the info dictionary;
//! `d8:msg_typei1e5:piecei3e10:total_sizei40000ee<data>` answers it with the raw bytes
//! after the dictionary; `msg_type 2` rejects. Every field is checked here, so the
//! layers above only see pieces that can exist for the size they were told.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::bencode::{self, Value};

/// Extension name in the handshake's `m` dictionary.
pub const UT_METADATA: &str = "ut_metadata";
/// Extension name of peer exchange (BEP 11).
pub const UT_PEX: &str = "ut_pex";
/// The id under which ccbt wants to receive `ut_metadata` messages (our `m` entry).
pub const OUR_UT_METADATA_ID: u8 = 1;
/// The id under which ccbt wants to receive `ut_pex` messages (our `m` entry).
pub const OUR_UT_PEX_ID: u8 = 2;

/// Every metadata piece is 16 KiB, except the last.
pub const METADATA_PIECE_SIZE: usize = 16 * 1024;

/// Largest info dictionary ccbt fetches or accepts: 16 MiB. The piece hashes dominate
/// it (20 bytes per piece), so 16 MiB is 800,000 pieces: 200 GiB in 256 KiB pieces,
/// 3 TiB in 4 MiB pieces. libtorrent's default cap is 4 MiB; ours is higher so no
/// real torrent is refused, and low enough that a hostile size costs little.
pub const MAX_METADATA_SIZE: u64 = 16 * 1024 * 1024;

/// The number of 16 KiB pieces of an info dictionary of `size` bytes.
pub fn metadata_piece_count(size: u64) -> u32 {
    size.div_ceil(METADATA_PIECE_SIZE as u64) as u32
}

/// The length of piece `piece` of an info dictionary of `size` bytes, or `None` if
/// there is no such piece.
pub fn metadata_piece_len(size: u64, piece: u32) -> Option<usize> {
    let start = u64::from(piece) * METADATA_PIECE_SIZE as u64;
    if start >= size {
        return None;
    }
    Some((size - start).min(METADATA_PIECE_SIZE as u64) as usize)
}

/// One `ut_metadata` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMessage {
    /// Asks for one piece.
    Request { piece: u32 },
    /// One piece, with the size of the whole info dictionary.
    Data { piece: u32, total_size: u64, data: Bytes },
    /// The sender will not send this piece.
    Reject { piece: u32 },
}

/// Why a `ut_metadata` payload was refused. Fatal to the connection that sent it
/// (BEP 10: a bad extension message, once negotiated, breaks the protocol).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataMessageError {
    #[error("ut_metadata message is not a bencoded dictionary: {0}")]
    NotADict(String),
    #[error("ut_metadata message lacks `{0}` or it is not an integer")]
    MissingField(&'static str),
    #[error("ut_metadata message has unknown msg_type {0}")]
    UnknownType(i64),
    #[error("ut_metadata piece {0} is out of range")]
    BadPiece(i64),
    #[error("ut_metadata total_size {size} is outside 1..={max}", max = MAX_METADATA_SIZE)]
    BadTotalSize { size: i64 },
    #[error("ut_metadata piece {piece} carries {got} bytes, expected {expected} for total_size {total_size}")]
    BadDataLength {
        piece: u32,
        got: usize,
        expected: usize,
        total_size: u64,
    },
}

const MSG_REQUEST: i64 = 0;
const MSG_DATA: i64 = 1;
const MSG_REJECT: i64 = 2;

impl MetadataMessage {
    /// The payload of the `Extended` message (without the extended id byte).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, piece) = match self {
            MetadataMessage::Request { piece } => (MSG_REQUEST, *piece),
            MetadataMessage::Data { piece, .. } => (MSG_DATA, *piece),
            MetadataMessage::Reject { piece } => (MSG_REJECT, *piece),
        };
        let mut dict = BTreeMap::new();
        dict.insert(b"msg_type".to_vec(), Value::Int(kind));
        dict.insert(b"piece".to_vec(), Value::Int(i64::from(piece)));
        if let MetadataMessage::Data { total_size, .. } = self {
            dict.insert(
                b"total_size".to_vec(),
                Value::Int(i64::try_from(*total_size).unwrap_or(i64::MAX)),
            );
        }
        let mut out = bencode::encode(&Value::Dict(dict));
        if let MetadataMessage::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
        out
    }

    /// Parses a payload. A `Data` message must carry exactly the bytes its piece has
    /// for its `total_size`, and that size must be within [`MAX_METADATA_SIZE`];
    /// unknown keys are ignored (BEP 9 lets senders add fields).
    pub fn decode(payload: &Bytes) -> Result<MetadataMessage, MetadataMessageError> {
        let (value, used) =
            bencode::decode_prefix(payload).map_err(|e| MetadataMessageError::NotADict(e.to_string()))?;
        let dict = value
            .as_dict()
            .ok_or_else(|| MetadataMessageError::NotADict("top level is not a dictionary".to_owned()))?;
        let int = |key: &'static str| {
            dict.get(key.as_bytes())
                .and_then(Value::as_int)
                .ok_or(MetadataMessageError::MissingField(key))
        };
        let kind = int("msg_type")?;
        let raw_piece = int("piece")?;
        let piece = u32::try_from(raw_piece)
            .ok()
            .filter(|&p| p < metadata_piece_count(MAX_METADATA_SIZE))
            .ok_or(MetadataMessageError::BadPiece(raw_piece))?;
        match kind {
            MSG_REQUEST => Ok(MetadataMessage::Request { piece }),
            MSG_REJECT => Ok(MetadataMessage::Reject { piece }),
            MSG_DATA => {
                let raw_size = int("total_size")?;
                let total_size = u64::try_from(raw_size)
                    .ok()
                    .filter(|&s| s > 0 && s <= MAX_METADATA_SIZE)
                    .ok_or(MetadataMessageError::BadTotalSize { size: raw_size })?;
                let expected =
                    metadata_piece_len(total_size, piece).ok_or(MetadataMessageError::BadPiece(raw_piece))?;
                let data = payload.slice(used..);
                if data.len() != expected {
                    return Err(MetadataMessageError::BadDataLength {
                        piece,
                        got: data.len(),
                        expected,
                        total_size,
                    });
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                })
            }
            other => Err(MetadataMessageError::UnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reject_round_trip_in_bep9_form() {
        let req = MetadataMessage::Request { piece: 3 };
        assert_eq!(req.encode(), b"d8:msg_typei0e5:piecei3ee");
        assert_eq!(MetadataMessage::decode(&Bytes::from(req.encode())), Ok(req));
        let rej = MetadataMessage::Reject { piece: 0 };
        assert_eq!(rej.encode(), b"d8:msg_typei2e5:piecei0ee");
        assert_eq!(MetadataMessage::decode(&Bytes::from(rej.encode())), Ok(rej));
    }

    #[test]
    fn data_carries_its_bytes_after_the_dictionary() {
        let data = Bytes::from(vec![7u8; 100]);
        let msg = MetadataMessage::Data {
            piece: 1,
            total_size: METADATA_PIECE_SIZE as u64 + 100,
            data: data.clone(),
        };
        let wire = msg.encode();
        assert!(wire.starts_with(b"d8:msg_typei1e5:piecei1e10:total_sizei16484ee"));
        assert_eq!(MetadataMessage::decode(&Bytes::from(wire)), Ok(msg));
    }

    #[test]
    fn data_of_the_wrong_length_is_refused() {
        let msg = MetadataMessage::Data {
            piece: 0,
            total_size: 40_000,
            data: Bytes::from(vec![0u8; 100]),
        };
        assert!(matches!(
            MetadataMessage::decode(&Bytes::from(msg.encode())),
            Err(MetadataMessageError::BadDataLength { expected: 16384, .. })
        ));
    }

    #[test]
    fn hostile_sizes_and_pieces_are_refused() {
        let huge = b"d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee".to_vec();
        assert!(matches!(
            MetadataMessage::decode(&Bytes::from(huge)),
            Err(MetadataMessageError::BadTotalSize { .. })
        ));
        let past_end = b"d8:msg_typei1e5:piecei3e10:total_sizei100ee".to_vec();
        assert_eq!(
            MetadataMessage::decode(&Bytes::from(past_end)),
            Err(MetadataMessageError::BadPiece(3))
        );
        let negative = b"d8:msg_typei0e5:piecei-1ee".to_vec();
        assert_eq!(
            MetadataMessage::decode(&Bytes::from(negative)),
            Err(MetadataMessageError::BadPiece(-1))
        );
        let unknown = b"d8:msg_typei9e5:piecei0ee".to_vec();
        assert_eq!(
            MetadataMessage::decode(&Bytes::from(unknown)),
            Err(MetadataMessageError::UnknownType(9))
        );
        assert!(MetadataMessage::decode(&Bytes::from_static(b"li1ee")).is_err());
        assert!(MetadataMessage::decode(&Bytes::from_static(b"")).is_err());
    }

    #[test]
    fn piece_arithmetic() {
        assert_eq!(metadata_piece_count(1), 1);
        assert_eq!(metadata_piece_count(16384), 1);
        assert_eq!(metadata_piece_count(16385), 2);
        assert_eq!(metadata_piece_len(16385, 1), Some(1));
        assert_eq!(metadata_piece_len(16385, 2), None);
    }
}
