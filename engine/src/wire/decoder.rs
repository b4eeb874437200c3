//! Framing: turns a byte stream from a peer into [`Message`]s, enforcing size limits
//! before any body is buffered.

use bytes::{Buf, BytesMut};

use super::message::{id, name_of, Message};
use super::WireError;
use crate::types::{BlockRef, PieceIndex};

/// Largest payloads the decoder accepts, per message kind. Each limit counts the bytes
/// of the corresponding [`Message`] field (headers excluded). A frame whose length
/// prefix exceeds its limit is rejected as soon as the prefix and id have arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireLimits {
    /// Largest block in a PIECE, and largest length a REQUEST may ask for.
    pub max_block_len: u32,
    /// Largest BITFIELD payload in bytes; set it from the piece count once known
    /// ([`WireLimits::with_piece_count`]).
    pub max_bitfield_len: u32,
    /// Largest BEP 10 payload (after the extended message id byte).
    pub max_extended_len: u32,
    /// Largest payload of a message with an id this codec does not know.
    pub max_other_len: u32,
}

impl WireLimits {
    /// 128 KiB: eight standard 16 KiB blocks; clients in use never ask for more.
    pub const DEFAULT_MAX_BLOCK_LEN: u32 = 128 * 1024;
    /// 1 MiB of bitfield covers 8 Mi pieces, more than any real torrent.
    pub const DEFAULT_MAX_BITFIELD_LEN: u32 = 1024 * 1024;
    /// 1 MiB: extension handshakes and metadata pieces (16 KiB) fit many times over.
    pub const DEFAULT_MAX_EXTENDED_LEN: u32 = 1024 * 1024;
    /// 256 KiB: room for future messages (e.g. BEP 52 hashes) we skip unread.
    pub const DEFAULT_MAX_OTHER_LEN: u32 = 256 * 1024;

    /// These limits with the bitfield limit set to exactly what `pieces` needs.
    pub fn with_piece_count(self, pieces: u32) -> Self {
        WireLimits {
            max_bitfield_len: pieces.div_ceil(8),
            ..self
        }
    }
}

impl Default for WireLimits {
    fn default() -> Self {
        WireLimits {
            max_block_len: Self::DEFAULT_MAX_BLOCK_LEN,
            max_bitfield_len: Self::DEFAULT_MAX_BITFIELD_LEN,
            max_extended_len: Self::DEFAULT_MAX_EXTENDED_LEN,
            max_other_len: Self::DEFAULT_MAX_OTHER_LEN,
        }
    }
}

/// Allowed values of the length prefix (which counts the id byte) for one message id.
enum FrameLen {
    Exact(u32),
    /// `max` is u64 because header bytes plus a u32 limit can exceed u32.
    Range {
        min: u32,
        max: u64,
    },
}

/// Splits complete frames off the front of a receive buffer. Holds no partial state:
/// everything not yet decoded stays in the caller's buffer.
#[derive(Clone, Debug, Default)]
pub struct MessageDecoder {
    limits: WireLimits,
}

impl MessageDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: WireLimits) -> Self {
        MessageDecoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &WireLimits {
        &self.limits
    }

    /// Replaces the limits, e.g. once a magnet link's metadata reveals the piece count.
    pub fn set_limits(&mut self, limits: WireLimits) {
        self.limits = limits;
    }

    /// Decodes one message from the front of `buf`, consuming exactly its frame.
    /// Returns `Ok(None)` and leaves `buf` untouched when the frame is incomplete.
    /// Payloads are zero-copy views of `buf`'s storage. After an error the buffer is
    /// left as it was and the connection must be dropped.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WireError> {
        let Some(len) = length_prefix(buf) else {
            return Ok(None);
        };
        if len == 0 {
            buf.advance(4);
            return Ok(Some(Message::KeepAlive));
        }
        let Some(&msg_id) = buf.get(4) else {
            return Ok(None);
        };
        self.check_len(msg_id, len)?;
        let frame_len = frame_total(len);
        if buf.len() < frame_len {
            return Ok(None);
        }
        if let Some(msg) = self.decode_fixed(msg_id, &buf[..frame_len])? {
            buf.advance(frame_len);
            return Ok(Some(msg));
        }
        // Variable-size: the payload becomes a view of the receive buffer, not a copy.
        let frame = buf.split_to(frame_len).freeze();
        let msg = match msg_id {
            id::PIECE => Message::Piece {
                piece: PieceIndex(be_u32(&frame, 5)),
                offset: be_u32(&frame, 9),
                data: frame.slice(13..),
            },
            id::BITFIELD => Message::Bitfield(frame.slice(5..)),
            id::EXTENDED => Message::Extended {
                id: frame[5],
                payload: frame.slice(6..),
            },
            other => Message::Unknown {
                id: other,
                payload: frame.slice(5..),
            },
        };
        Ok(Some(msg))
    }

    /// Decodes a complete fixed-size `frame`; `None` for ids that carry a payload.
    fn decode_fixed(&self, msg_id: u8, frame: &[u8]) -> Result<Option<Message>, WireError> {
        let msg = match msg_id {
            id::CHOKE => Message::Choke,
            id::UNCHOKE => Message::Unchoke,
            id::INTERESTED => Message::Interested,
            id::NOT_INTERESTED => Message::NotInterested,
            id::HAVE_ALL => Message::HaveAll,
            id::HAVE_NONE => Message::HaveNone,
            id::HAVE => Message::Have(PieceIndex(be_u32(frame, 5))),
            id::SUGGEST => Message::Suggest(PieceIndex(be_u32(frame, 5))),
            id::ALLOWED_FAST => Message::AllowedFast(PieceIndex(be_u32(frame, 5))),
            id::PORT => Message::Port(u16::from_be_bytes([frame[5], frame[6]])),
            id::REQUEST => Message::Request(self.check_request(block_ref(frame))?),
            id::CANCEL => Message::Cancel(block_ref(frame)),
            id::REJECT => Message::Reject(block_ref(frame)),
            _ => return Ok(None),
        };
        Ok(Some(msg))
    }

    /// How many more bytes `buf` needs before the next frame is complete (at least 1).
    /// Never more than the limit for the frame's id, so a reader can size its next
    /// read by it without trusting the peer; on an invalid header it returns 1 and
    /// [`MessageDecoder::decode`] reports the error.
    pub fn bytes_needed(&self, buf: &BytesMut) -> usize {
        let have = buf.len();
        let Some(len) = length_prefix(buf) else {
            return 4 - have;
        };
        let needed = match buf.get(4) {
            _ if len == 0 => 0,
            // Waiting for the id: the frame is at least that one byte.
            None => 1,
            Some(&msg_id) if self.check_len(msg_id, len).is_err() => 0,
            Some(_) => frame_total(len).saturating_sub(have),
        };
        needed.max(1)
    }

    fn frame_rule(&self, msg_id: u8) -> FrameLen {
        let l = &self.limits;
        match msg_id {
            id::CHOKE | id::UNCHOKE | id::INTERESTED | id::NOT_INTERESTED => FrameLen::Exact(1),
            id::HAVE_ALL | id::HAVE_NONE => FrameLen::Exact(1),
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => FrameLen::Exact(5),
            id::REQUEST | id::CANCEL | id::REJECT => FrameLen::Exact(13),
            id::PORT => FrameLen::Exact(3),
            id::PIECE => FrameLen::Range {
                min: 9,
                max: 9 + u64::from(l.max_block_len),
            },
            id::BITFIELD => FrameLen::Range {
                min: 1,
                max: 1 + u64::from(l.max_bitfield_len),
            },
            id::EXTENDED => FrameLen::Range {
                min: 2,
                max: 2 + u64::from(l.max_extended_len),
            },
            _ => FrameLen::Range {
                min: 1,
                max: 1 + u64::from(l.max_other_len),
            },
        }
    }

    /// Validates a length prefix against the rule for its id; `len` is non-zero.
    fn check_len(&self, msg_id: u8, len: u32) -> Result<(), WireError> {
        match self.frame_rule(msg_id) {
            FrameLen::Exact(n) if len == n => Ok(()),
            FrameLen::Exact(_) => Err(WireError::BadLength {
                message: name_of(msg_id),
                len,
            }),
            FrameLen::Range { min, .. } if len < min => Err(WireError::BadLength {
                message: name_of(msg_id),
                len,
            }),
            FrameLen::Range { max, .. } if u64::from(len) > max => Err(WireError::LengthTooLarge {
                id: msg_id,
                len,
                max: u32::try_from(max).unwrap_or(u32::MAX),
            }),
            FrameLen::Range { .. } => Ok(()),
        }
    }

    fn check_request(&self, block: BlockRef) -> Result<BlockRef, WireError> {
        if block.length == 0 {
            return Err(WireError::BadRequest {
                block,
                reason: "zero length",
            });
        }
        if block.length > self.limits.max_block_len {
            return Err(WireError::BlockTooLarge {
                block,
                max: self.limits.max_block_len,
            });
        }
        if block.offset.checked_add(block.length).is_none() {
            return Err(WireError::BadRequest {
                block,
                reason: "block end overflows u32",
            });
        }
        Ok(block)
    }
}

fn length_prefix(buf: &[u8]) -> Option<u32> {
    let prefix: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(prefix))
}

/// Prefix plus body. Saturates only on 16-bit targets, where no limit lets such a
/// frame through anyway.
fn frame_total(len: u32) -> usize {
    usize::try_from(len).map_or(usize::MAX, |l| l.saturating_add(4))
}

/// Reads a big-endian u32 at `at`; callers have checked the frame holds it.
fn be_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Index, begin, length of a 13-byte REQUEST / CANCEL / REJECT frame.
fn block_ref(buf: &[u8]) -> BlockRef {
    BlockRef {
        piece: PieceIndex(be_u32(buf, 5)),
        offset: be_u32(buf, 9),
        length: be_u32(buf, 13),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Message>, WireError> {
        let mut dec = MessageDecoder::default();
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(m) = dec.decode(&mut buf)? {
            out.push(m);
        }
        assert!(buf.is_empty(), "trailing bytes {buf:?}");
        Ok(out)
    }

    fn decode_one(bytes: &[u8]) -> Result<Option<Message>, WireError> {
        MessageDecoder::default().decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn decodes_each_message() {
        let block = BlockRef {
            piece: PieceIndex(1),
            offset: 0x4000,
            length: 0x4000,
        };
        let cases: Vec<(&[u8], Message)> = vec![
            (&[0, 0, 0, 0], Message::KeepAlive),
            (&[0, 0, 0, 1, 0], Message::Choke),
            (&[0, 0, 0, 1, 1], Message::Unchoke),
            (&[0, 0, 0, 1, 2], Message::Interested),
            (&[0, 0, 0, 1, 3], Message::NotInterested),
            (&[0, 0, 0, 5, 4, 0, 0, 1, 0], Message::Have(PieceIndex(256))),
            (
                &[0, 0, 0, 3, 5, 0xf0, 0x01],
                Message::Bitfield(Bytes::from_static(&[0xf0, 1])),
            ),
            (
                &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
                Message::Request(block),
            ),
            (
                &[0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
                Message::Cancel(block),
            ),
            (
                &[0, 0, 0, 13, 16, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
                Message::Reject(block),
            ),
            (&[0, 0, 0, 3, 9, 0x1a, 0xe1], Message::Port(6881)),
            (&[0, 0, 0, 5, 13, 0, 0, 0, 2], Message::Suggest(PieceIndex(2))),
            (&[0, 0, 0, 1, 14], Message::HaveAll),
            (&[0, 0, 0, 1, 15], Message::HaveNone),
            (&[0, 0, 0, 5, 17, 0, 0, 0, 3], Message::AllowedFast(PieceIndex(3))),
            (
                &[0, 0, 0, 11, 7, 0, 0, 0, 4, 0, 0, 0, 8, b'h', b'i'],
                Message::Piece {
                    piece: PieceIndex(4),
                    offset: 8,
                    data: Bytes::from_static(b"hi"),
                },
            ),
            (
                &[0, 0, 0, 4, 20, 0, b'd', b'e'],
                Message::Extended {
                    id: 0,
                    payload: Bytes::from_static(b"de"),
                },
            ),
            (
                &[0, 0, 0, 2, 20, 1],
                Message::Extended {
                    id: 1,
                    payload: Bytes::new(),
                },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode_all(bytes), Ok(vec![want.clone()]), "{}", want.name());
            let mut enc = BytesMut::new();
            want.encode(&mut enc);
            assert_eq!(&enc[..], bytes, "re-encoding {}", want.name());
        }
    }

    #[test]
    fn unknown_ids_are_not_fatal() {
        let got = decode_all(&[0, 0, 0, 3, 0x0a, 1, 2, 0, 0, 0, 1, 0xff, 0, 0, 0, 1, 1]);
        assert_eq!(
            got,
            Ok(vec![
                Message::Unknown {
                    id: 0x0a,
                    payload: Bytes::from_static(&[1, 2])
                },
                Message::Unknown {
                    id: 0xff,
                    payload: Bytes::new()
                },
                Message::Unchoke,
            ])
        );
    }

    #[test]
    fn huge_lengths_rejected_from_five_byte_prefix() {
        let limits = WireLimits::default();
        for (msg_id, max) in [
            (id::PIECE, 9 + limits.max_block_len),
            (id::BITFIELD, 1 + limits.max_bitfield_len),
            (id::EXTENDED, 2 + limits.max_extended_len),
            (0x42, 1 + limits.max_other_len),
        ] {
            let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, msg_id][..]);
            let err = MessageDecoder::new(limits).decode(&mut buf);
            assert_eq!(
                err,
                Err(WireError::LengthTooLarge {
                    id: msg_id,
                    len: u32::MAX,
                    max
                })
            );
            assert_eq!(buf.len(), 5, "buffer left intact on error");
            // One byte over the limit is rejected; exactly at it is waited for.
            let over = (max + 1).to_be_bytes();
            let err = decode_one(&[over[0], over[1], over[2], over[3], msg_id]);
            assert!(matches!(err, Err(WireError::LengthTooLarge { .. })));
            let at = max.to_be_bytes();
            assert_eq!(decode_one(&[at[0], at[1], at[2], at[3], msg_id]), Ok(None));
        }
    }

    #[test]
    fn limits_saturate_instead_of_overflowing() {
        let limits = WireLimits {
            max_block_len: u32::MAX,
            max_bitfield_len: u32::MAX,
            max_extended_len: u32::MAX,
            max_other_len: u32::MAX,
        };
        let mut dec = MessageDecoder::new(limits);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, id::PIECE][..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(dec.bytes_needed(&buf) > 0);
    }

    #[test]
    fn bitfield_limit_from_piece_count() {
        let limits = WireLimits::default().with_piece_count(9);
        assert_eq!(limits.max_bitfield_len, 2);
        let mut dec = MessageDecoder::new(limits);
        let mut ok = BytesMut::from(&[0, 0, 0, 3, 5, 0xff, 0x80][..]);
        assert!(matches!(dec.decode(&mut ok), Ok(Some(Message::Bitfield(_)))));
        let mut long = BytesMut::from(&[0, 0, 0, 4, 5][..]);
        assert_eq!(
            dec.decode(&mut long),
            Err(WireError::LengthTooLarge { id: 5, len: 4, max: 3 })
        );
    }

    #[test]
    fn wrong_fixed_sizes_rejected() {
        let cases: [(u8, u32, &str); 14] = [
            (0, 2, "choke"),
            (1, 5, "unchoke"),
            (2, 2, "interested"),
            (3, 13, "not interested"),
            (4, 4, "have"),
            (4, 6, "have"),
            (6, 12, "request"),
            (6, 17, "request"),
            (8, 14, "cancel"),
            (9, 5, "port"),
            (13, 1, "suggest piece"),
            (14, 5, "have all"),
            (16, 9, "reject request"),
            (17, 13, "allowed fast"),
        ];
        for (msg_id, len, name) in cases {
            let l = len.to_be_bytes();
            assert_eq!(
                decode_one(&[l[0], l[1], l[2], l[3], msg_id]),
                Err(WireError::BadLength { message: name, len }),
                "id {msg_id} len {len}"
            );
        }
        // Variable-size messages shorter than their fixed header.
        for (bytes, name) in [(&[0, 0, 0, 8, 7][..], "piece"), (&[0, 0, 0, 1, 20][..], "extended")] {
            assert!(matches!(decode_one(bytes), Err(WireError::BadLength { message, .. }) if message == name));
        }
    }

    #[test]
    fn bad_requests_rejected() {
        let req = |offset: u32, length: u32| {
            let mut out = BytesMut::new();
            let block = BlockRef {
                piece: PieceIndex(0),
                offset,
                length,
            };
            Message::Request(block).encode(&mut out);
            (MessageDecoder::default().decode(&mut out), block)
        };
        let (res, block) = req(0, 0);
        assert_eq!(
            res,
            Err(WireError::BadRequest {
                block,
                reason: "zero length"
            })
        );
        let (res, block) = req(0, WireLimits::DEFAULT_MAX_BLOCK_LEN + 1);
        assert_eq!(
            res,
            Err(WireError::BlockTooLarge {
                block,
                max: WireLimits::DEFAULT_MAX_BLOCK_LEN
            })
        );
        let (res, _) = req(u32::MAX - 10, 16);
        assert!(matches!(res, Err(WireError::BadRequest { .. })));
        let (res, block) = req(0, WireLimits::DEFAULT_MAX_BLOCK_LEN);
        assert_eq!(res, Ok(Some(Message::Request(block))));
        // Cancel and Reject only name a request; the session matches them.
        let mut out = BytesMut::new();
        Message::Cancel(BlockRef {
            piece: PieceIndex(0),
            offset: 0,
            length: 0,
        })
        .encode(&mut out);
        assert!(matches!(
            MessageDecoder::default().decode(&mut out),
            Ok(Some(Message::Cancel(_)))
        ));
    }

    #[test]
    fn partial_frames_wait_and_leave_buffer_intact() {
        let mut whole = BytesMut::new();
        Message::Piece {
            piece: PieceIndex(1),
            offset: 0,
            data: Bytes::from(vec![7u8; 20]),
        }
        .encode(&mut whole);
        let mut dec = MessageDecoder::default();
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(dec.decode(&mut part), Ok(None), "cut at {cut}");
            assert_eq!(part.len(), cut);
            let need = dec.bytes_needed(&part);
            assert!(need >= 1 && cut + need <= whole.len(), "cut {cut} need {need}");
        }
        let mut part = BytesMut::from(&whole[..5]);
        assert_eq!(dec.bytes_needed(&part), whole.len() - 5);
        assert!(dec.decode(&mut part).is_ok());
    }

    #[test]
    fn bytes_needed_never_trusts_a_huge_prefix() {
        let dec = MessageDecoder::default();
        assert_eq!(dec.bytes_needed(&BytesMut::new()), 4);
        assert_eq!(dec.bytes_needed(&BytesMut::from(&[0, 0][..])), 2);
        assert_eq!(dec.bytes_needed(&BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..])), 1);
        assert_eq!(dec.bytes_needed(&BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 7][..])), 1);
        assert_eq!(dec.bytes_needed(&BytesMut::from(&[0, 0, 0, 0][..])), 1);
    }

    #[test]
    fn piece_payload_shares_the_receive_buffer() {
        let mut buf = BytesMut::new();
        Message::Piece {
            piece: PieceIndex(0),
            offset: 0,
            data: Bytes::from(vec![1u8; 64]),
        }
        .encode(&mut buf);
        Message::Choke.encode(&mut buf);
        let start = buf.as_ptr() as usize;
        let mut dec = MessageDecoder::default();
        let Ok(Some(Message::Piece { data, .. })) = dec.decode(&mut buf) else {
            panic!("expected a piece");
        };
        assert_eq!(data.as_ptr() as usize, start + 13, "block must not be copied");
        assert_eq!(data.len(), 64);
        assert_eq!(dec.decode(&mut buf), Ok(Some(Message::Choke)));
        assert!(buf.is_empty());
    }
}
