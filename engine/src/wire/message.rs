//! The length-prefixed peer messages and their encoding.

use bytes::{BufMut, Bytes, BytesMut};

use crate::types::{BlockRef, PieceIndex};

/// Message ids (the byte after the length prefix).
pub(crate) mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 0x0d;
    pub const HAVE_ALL: u8 = 0x0e;
    pub const HAVE_NONE: u8 = 0x0f;
    pub const REJECT: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// Bytes of a PIECE message before its block data: length, id, index, begin.
pub const PIECE_HEADER_LEN: usize = 13;

/// One peer wire message. Payload-carrying variants hold [`Bytes`] so a decoded block
/// is a view of the receive buffer, not a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(PieceIndex),
    /// The raw bitfield bytes; checked against the piece count by the session.
    Bitfield(Bytes),
    Request(BlockRef),
    Piece {
        piece: PieceIndex,
        offset: u32,
        data: Bytes,
    },
    Cancel(BlockRef),
    /// BEP 5: the sender's DHT port.
    Port(u16),
    /// BEP 6 Suggest Piece.
    Suggest(PieceIndex),
    /// BEP 6 Have All.
    HaveAll,
    /// BEP 6 Have None.
    HaveNone,
    /// BEP 6 Reject Request.
    Reject(BlockRef),
    /// BEP 6 Allowed Fast.
    AllowedFast(PieceIndex),
    /// BEP 10: `id` is the extended message id (0 = extension handshake).
    Extended {
        id: u8,
        payload: Bytes,
    },
    /// A message id this codec does not know; ignored by peers, not fatal (BEP 3).
    Unknown {
        id: u8,
        payload: Bytes,
    },
}

impl Message {
    /// Appends the framed message (length prefix included) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        match self {
            Message::KeepAlive => out.put_u32(0),
            Message::Choke => put_header(out, 0, id::CHOKE),
            Message::Unchoke => put_header(out, 0, id::UNCHOKE),
            Message::Interested => put_header(out, 0, id::INTERESTED),
            Message::NotInterested => put_header(out, 0, id::NOT_INTERESTED),
            Message::HaveAll => put_header(out, 0, id::HAVE_ALL),
            Message::HaveNone => put_header(out, 0, id::HAVE_NONE),
            Message::Have(p) => put_piece_msg(out, id::HAVE, *p),
            Message::Suggest(p) => put_piece_msg(out, id::SUGGEST, *p),
            Message::AllowedFast(p) => put_piece_msg(out, id::ALLOWED_FAST, *p),
            Message::Request(b) => put_block_msg(out, id::REQUEST, b),
            Message::Cancel(b) => put_block_msg(out, id::CANCEL, b),
            Message::Reject(b) => put_block_msg(out, id::REJECT, b),
            Message::Port(port) => {
                put_header(out, 2, id::PORT);
                out.put_u16(*port);
            }
            Message::Bitfield(bits) => {
                put_header(out, bits.len(), id::BITFIELD);
                out.put_slice(bits);
            }
            Message::Piece { piece, offset, data } => {
                encode_piece_header(*piece, *offset, payload_u32(data.len()), out);
                out.put_slice(data);
            }
            Message::Extended { id: ext, payload } => {
                put_header(out, 1 + payload.len(), id::EXTENDED);
                out.put_u8(*ext);
                out.put_slice(payload);
            }
            Message::Unknown { id, payload } => {
                put_header(out, payload.len(), *id);
                out.put_slice(payload);
            }
        }
    }

    /// Exact number of bytes [`Message::encode`] appends, length prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 5,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 13,
            Message::Port(_) => 3,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::Unknown { payload, .. } => 1 + payload.len(),
        }
    }

    /// Human-readable name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::KeepAlive => "keep-alive",
            Message::Unknown { .. } => "unknown",
            Message::Choke => name_of(id::CHOKE),
            Message::Unchoke => name_of(id::UNCHOKE),
            Message::Interested => name_of(id::INTERESTED),
            Message::NotInterested => name_of(id::NOT_INTERESTED),
            Message::Have(_) => name_of(id::HAVE),
            Message::Bitfield(_) => name_of(id::BITFIELD),
            Message::Request(_) => name_of(id::REQUEST),
            Message::Piece { .. } => name_of(id::PIECE),
            Message::Cancel(_) => name_of(id::CANCEL),
            Message::Port(_) => name_of(id::PORT),
            Message::Suggest(_) => name_of(id::SUGGEST),
            Message::HaveAll => name_of(id::HAVE_ALL),
            Message::HaveNone => name_of(id::HAVE_NONE),
            Message::Reject(_) => name_of(id::REJECT),
            Message::AllowedFast(_) => name_of(id::ALLOWED_FAST),
            Message::Extended { .. } => name_of(id::EXTENDED),
        }
    }
}

/// Name of the message with wire id `id` ("unknown" for ids this codec does not know).
pub(crate) fn name_of(id: u8) -> &'static str {
    match id {
        id::CHOKE => "choke",
        id::UNCHOKE => "unchoke",
        id::INTERESTED => "interested",
        id::NOT_INTERESTED => "not interested",
        id::HAVE => "have",
        id::BITFIELD => "bitfield",
        id::REQUEST => "request",
        id::PIECE => "piece",
        id::CANCEL => "cancel",
        id::PORT => "port",
        id::SUGGEST => "suggest piece",
        id::HAVE_ALL => "have all",
        id::HAVE_NONE => "have none",
        id::REJECT => "reject request",
        id::ALLOWED_FAST => "allowed fast",
        id::EXTENDED => "extended",
        _ => "unknown",
    }
}

/// Writes only the 13-byte PIECE header for a block of `data_len` bytes, so the caller
/// can send the block itself from its own buffer (vectored write, no copy).
pub fn encode_piece_header(piece: PieceIndex, offset: u32, data_len: u32, out: &mut BytesMut) {
    out.reserve(PIECE_HEADER_LEN);
    // 9 = id + index + begin; a block near u32::MAX could not be framed at all, and
    // saturating keeps the frame self-consistently invalid rather than wrapping.
    out.put_u32(data_len.saturating_add(9));
    out.put_u8(id::PIECE);
    out.put_u32(piece.0);
    out.put_u32(offset);
}

/// Writes the length prefix (id byte + `payload_len`) and the id.
fn put_header(out: &mut BytesMut, payload_len: usize, id: u8) {
    out.put_u32(payload_u32(payload_len).saturating_add(1));
    out.put_u8(id);
}

fn put_piece_msg(out: &mut BytesMut, id: u8, piece: PieceIndex) {
    put_header(out, 4, id);
    out.put_u32(piece.0);
}

fn put_block_msg(out: &mut BytesMut, id: u8, block: &BlockRef) {
    put_header(out, 12, id);
    out.put_u32(block.piece.0);
    out.put_u32(block.offset);
    out.put_u32(block.length);
}

/// Payloads we send are bounded far below 4 GiB (blocks, bitfields, bencoded dicts);
/// anything larger is a caller bug, caught in debug builds.
fn payload_u32(len: usize) -> u32 {
    debug_assert!(len < u32::MAX as usize - 16, "payload of {len} bytes cannot be framed");
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(m: &Message) -> Vec<u8> {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        assert_eq!(out.len(), m.encoded_len(), "encoded_len of {m:?}");
        out.to_vec()
    }

    fn block(piece: u32, offset: u32, length: u32) -> BlockRef {
        BlockRef {
            piece: PieceIndex(piece),
            offset,
            length,
        }
    }

    #[test]
    fn fixed_messages_exact_bytes() {
        assert_eq!(bytes_of(&Message::KeepAlive), [0, 0, 0, 0]);
        assert_eq!(bytes_of(&Message::Choke), [0, 0, 0, 1, 0]);
        assert_eq!(bytes_of(&Message::Unchoke), [0, 0, 0, 1, 1]);
        assert_eq!(bytes_of(&Message::Interested), [0, 0, 0, 1, 2]);
        assert_eq!(bytes_of(&Message::NotInterested), [0, 0, 0, 1, 3]);
        assert_eq!(
            bytes_of(&Message::Have(PieceIndex(0x01020304))),
            [0, 0, 0, 5, 4, 1, 2, 3, 4]
        );
        assert_eq!(bytes_of(&Message::Port(6881)), [0, 0, 0, 3, 9, 0x1a, 0xe1]);
        assert_eq!(bytes_of(&Message::HaveAll), [0, 0, 0, 1, 0x0e]);
        assert_eq!(bytes_of(&Message::HaveNone), [0, 0, 0, 1, 0x0f]);
        assert_eq!(
            bytes_of(&Message::Suggest(PieceIndex(7))),
            [0, 0, 0, 5, 0x0d, 0, 0, 0, 7]
        );
        assert_eq!(
            bytes_of(&Message::AllowedFast(PieceIndex(9))),
            [0, 0, 0, 5, 0x11, 0, 0, 0, 9]
        );
    }

    #[test]
    fn block_messages_exact_bytes() {
        let b = block(1, 0x4000, 0x4000);
        let tail = [0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0];
        let expect = |id: u8| {
            let mut v = vec![0, 0, 0, 0x0d, id];
            v.extend_from_slice(&tail);
            v
        };
        assert_eq!(bytes_of(&Message::Request(b)), expect(6));
        assert_eq!(bytes_of(&Message::Cancel(b)), expect(8));
        assert_eq!(bytes_of(&Message::Reject(b)), expect(0x10));
    }

    #[test]
    fn variable_messages_exact_bytes() {
        assert_eq!(
            bytes_of(&Message::Bitfield(Bytes::from_static(&[0xff, 0x80]))),
            [0, 0, 0, 3, 5, 0xff, 0x80]
        );
        assert_eq!(bytes_of(&Message::Bitfield(Bytes::new())), [0, 0, 0, 1, 5]);
        let piece = Message::Piece {
            piece: PieceIndex(2),
            offset: 0x8000,
            data: Bytes::from_static(b"abc"),
        };
        assert_eq!(
            bytes_of(&piece),
            [0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0x80, 0, b'a', b'b', b'c']
        );
        let ext = Message::Extended {
            id: 3,
            payload: Bytes::from_static(b"de"),
        };
        assert_eq!(bytes_of(&ext), [0, 0, 0, 4, 20, 3, b'd', b'e']);
        let unk = Message::Unknown {
            id: 0xfe,
            payload: Bytes::from_static(b"x"),
        };
        assert_eq!(bytes_of(&unk), [0, 0, 0, 2, 0xfe, b'x']);
    }

    #[test]
    fn piece_header_matches_full_encoding() {
        let data = Bytes::from(vec![0x5a; 100]);
        let full = bytes_of(&Message::Piece {
            piece: PieceIndex(3),
            offset: 16,
            data: data.clone(),
        });
        let mut header = BytesMut::new();
        encode_piece_header(PieceIndex(3), 16, 100, &mut header);
        assert_eq!(header.len(), PIECE_HEADER_LEN);
        assert_eq!(&full[..PIECE_HEADER_LEN], &header[..]);
        assert_eq!(&full[PIECE_HEADER_LEN..], &data[..]);
    }

    #[test]
    fn encode_appends() {
        let mut out = BytesMut::from(&b"prefix"[..]);
        Message::Choke.encode(&mut out);
        assert_eq!(&out[..], b"prefix\0\0\0\x01\0");
    }

    #[test]
    fn names() {
        assert_eq!(Message::KeepAlive.name(), "keep-alive");
        assert_eq!(Message::Request(block(0, 0, 1)).name(), "request");
        assert_eq!(Message::Reject(block(0, 0, 1)).name(), "reject request");
        assert_eq!(
            Message::Unknown {
                id: 99,
                payload: Bytes::new()
            }
            .name(),
            "unknown"
        );
        assert_eq!(name_of(id::EXTENDED), "extended");
    }
}
