//! Property tests for the codec as a whole: round trips through arbitrary chunking,
//! and totality on hostile bytes.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::message::id;
use super::{Message, MessageDecoder, WireLimits};
use crate::types::{BlockRef, PieceIndex};

const KNOWN_IDS: &[u8] = &[
    id::CHOKE,
    id::UNCHOKE,
    id::INTERESTED,
    id::NOT_INTERESTED,
    id::HAVE,
    id::BITFIELD,
    id::REQUEST,
    id::PIECE,
    id::CANCEL,
    id::PORT,
    id::SUGGEST,
    id::HAVE_ALL,
    id::HAVE_NONE,
    id::REJECT,
    id::ALLOWED_FAST,
    id::EXTENDED,
];

fn small_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

fn any_block() -> impl Strategy<Value = BlockRef> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(p, o, l)| BlockRef {
        piece: PieceIndex(p),
        offset: o,
        length: l,
    })
}

/// Requests the decoder accepts: non-empty, within the block limit, end fits in u32.
fn valid_request() -> impl Strategy<Value = BlockRef> {
    (any::<u32>(), 0u32..(1 << 30), 1..=WireLimits::DEFAULT_MAX_BLOCK_LEN).prop_map(|(p, o, l)| BlockRef {
        piece: PieceIndex(p),
        offset: o,
        length: l,
    })
}

/// Every message kind, with payloads inside the default limits.
fn any_message() -> impl Strategy<Value = Message> {
    let piece = || any::<u32>().prop_map(PieceIndex);
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        piece().prop_map(Message::Have),
        piece().prop_map(Message::Suggest),
        piece().prop_map(Message::AllowedFast),
        small_bytes().prop_map(Message::Bitfield),
        valid_request().prop_map(Message::Request),
        any_block().prop_map(Message::Cancel),
        any_block().prop_map(Message::Reject),
        any::<u16>().prop_map(Message::Port),
        (piece(), any::<u32>(), small_bytes()).prop_map(|(piece, offset, data)| Message::Piece { piece, offset, data }),
        (any::<u8>(), small_bytes()).prop_map(|(id, payload)| Message::Extended { id, payload }),
        (
            any::<u8>().prop_filter("unknown id", |i| !KNOWN_IDS.contains(i)),
            small_bytes()
        )
            .prop_map(|(id, payload)| Message::Unknown { id, payload }),
    ]
}

/// Feeds `stream` in chunks of the given sizes (cycled), decoding after each chunk.
/// Returns the messages, or the first error, and checks the framing invariants.
fn feed(dec: &mut MessageDecoder, stream: &[u8], chunks: &[usize]) -> Result<Vec<Message>, super::WireError> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().cycle();
    while fed < stream.len() {
        let n = (*sizes.next().unwrap_or(&1)).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            let before = buf.clone();
            match dec.decode(&mut buf)? {
                Some(m) => {
                    // Decoding is canonical: the consumed bytes re-encode exactly.
                    let consumed = before.len() - buf.len();
                    let mut again = BytesMut::new();
                    m.encode(&mut again);
                    assert_eq!(&again[..], &before[..consumed], "{m:?}");
                    out.push(m);
                }
                None => {
                    assert_eq!(buf, before, "incomplete frame must leave buffer intact");
                    assert!(dec.bytes_needed(&buf) >= 1);
                    break;
                }
            }
        }
    }
    Ok(out)
}

proptest! {
    #[test]
    fn round_trip_through_any_chunking(
        msgs in proptest::collection::vec(any_message(), 0..24),
        chunks in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        prop_assert_eq!(stream.len(), msgs.iter().map(Message::encoded_len).sum::<usize>());
        let got = feed(&mut MessageDecoder::default(), &stream, &chunks);
        prop_assert_eq!(got, Ok(msgs));
    }

    #[test]
    fn bytes_needed_never_overshoots_a_valid_stream(
        msgs in proptest::collection::vec(any_message(), 1..8),
        cut_frac in 0.0f64..1.0,
    ) {
        let mut stream = BytesMut::new();
        for m in &msgs {
            m.encode(&mut stream);
        }
        let cut = ((stream.len() as f64) * cut_frac) as usize;
        let mut buf = BytesMut::from(&stream[..cut]);
        let mut dec = MessageDecoder::default();
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
        if !buf.is_empty() || cut < stream.len() {
            let remaining = stream.len() - cut;
            prop_assert!(dec.bytes_needed(&buf) <= remaining.max(1));
        }
    }

    #[test]
    fn never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        chunks in proptest::collection::vec(1usize..64, 1..6),
    ) {
        let _ = feed(&mut MessageDecoder::default(), &bytes, &chunks);
    }

    /// Random bytes rarely form a plausible header; these frames have small lengths and
    /// real ids, so every size check and body parser is reached with wrong sizes.
    #[test]
    fn never_panics_on_plausible_frames(
        frames in proptest::collection::vec(
            (0u32..40, 0u8..26, proptest::collection::vec(any::<u8>(), 0..40)),
            0..12,
        ),
        tiny_limits in any::<bool>(),
        chunks in proptest::collection::vec(1usize..20, 1..6),
    ) {
        let mut stream = Vec::new();
        for (len, msg_id, body) in frames {
            stream.extend_from_slice(&len.to_be_bytes());
            stream.push(msg_id);
            stream.extend_from_slice(&body);
        }
        let limits = if tiny_limits {
            WireLimits { max_block_len: 4, max_bitfield_len: 2, max_extended_len: 3, max_other_len: 1 }
        } else {
            WireLimits::default()
        };
        let _ = feed(&mut MessageDecoder::new(limits), &stream, &chunks);
    }
}
