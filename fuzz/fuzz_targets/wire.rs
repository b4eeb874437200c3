//! Peer wire decoding: the 68-byte handshake, then a byte stream cut into arbitrary
//! chunks and fed to the framing decoder, with BEP 10 extension handshakes and
//! bitfields parsed further.
//!
//! Input layout: byte 0 picks options (bit 0: a handshake comes first; bits 1–2: which
//! limits), bytes 1–2 a piece count, bytes 3–4 the seed of the chunking; the rest is
//! the stream.
//!
//! Properties: nothing panics; the decoder allocates nothing sized by a length prefix;
//! chunking does not change what is decoded (every message and the first error are
//! the same as when the whole stream arrives at once); an incomplete frame leaves the
//! buffer untouched and never asks for more than its id's limit; a decoded message
//! re-encodes to exactly the frame it came from; a decoded extension handshake
//! re-encodes to one that decodes the same; an accepted bitfield keeps its bytes.

#![no_main]

use bytes::BytesMut;
use ccbt_engine::wire::{
    parse_routing_prefix, ExtensionHandshake, Handshake, Message, MessageDecoder, WireError, WireLimits,
    EXTENDED_HANDSHAKE_ID, HANDSHAKE_LEN,
};
use ccbt_engine::Bitfield;
use ccbt_fuzz::{largest_allocation_during, Chunks, ALLOC_SLACK};
use libfuzzer_sys::fuzz_target;

/// What one decode step produced: a message with the frame bytes it consumed, or the
/// error that ends the connection.
#[derive(Debug, PartialEq)]
enum Step {
    Message(Message, Vec<u8>),
    Error(WireError),
}

/// Limits small enough that the fuzzer reaches every "too large" branch with short
/// inputs, alongside the real defaults.
fn limits(selector: u8, pieces: u32) -> WireLimits {
    match selector & 3 {
        0 => WireLimits::default(),
        1 => WireLimits::default().with_piece_count(pieces),
        2 => WireLimits {
            max_block_len: 16,
            max_bitfield_len: 2,
            max_extended_len: 64,
            max_other_len: 8,
        },
        _ => WireLimits::default().with_piece_count(pieces.saturating_mul(4099)),
    }
}

fn largest_frame(l: &WireLimits) -> usize {
    let largest_payload = l
        .max_block_len
        .max(l.max_bitfield_len)
        .max(l.max_extended_len)
        .max(l.max_other_len);
    // Length prefix, id, the PIECE header (the largest), then the payload.
    4 + 1 + 8 + usize::try_from(largest_payload).unwrap_or(usize::MAX)
}

/// Decodes everything decodable in `buf`, appending to `steps`; false after an error.
fn drain(decoder: &mut MessageDecoder, buf: &mut BytesMut, steps: &mut Vec<Step>) -> bool {
    // A frame is at least 4 bytes, so this bounds the loop.
    for _ in 0..=buf.len() / 4 {
        let before = buf.clone();
        let (result, largest) = largest_allocation_during(|| decoder.decode(buf));
        assert!(largest <= ALLOC_SLACK, "decoder allocated {largest} bytes at once");
        match result {
            Ok(Some(msg)) => {
                let used = before.len() - buf.len();
                assert!(used >= 4, "a message consumed {used} bytes");
                steps.push(Step::Message(msg, before[..used].to_vec()));
            }
            Ok(None) => {
                assert_eq!(*buf, before, "an incomplete frame leaves the buffer untouched");
                let needed = decoder.bytes_needed(buf);
                assert!(needed >= 1);
                assert!(
                    buf.len() + needed <= largest_frame(decoder.limits()),
                    "bytes_needed {needed} with {} buffered exceeds the largest frame",
                    buf.len()
                );
                return true;
            }
            Err(e) => {
                assert_eq!(*buf, before, "an error leaves the buffer as it was");
                steps.push(Step::Error(e));
                return false;
            }
        }
    }
    panic!("decoder made no progress");
}

fn check_handshake(bytes: &[u8]) {
    let parsed = Handshake::parse(bytes);
    let prefix = parse_routing_prefix(bytes);
    if let Ok(h) = &parsed {
        assert_eq!(&h.encode()[..], bytes, "a handshake re-encodes to its bytes");
        assert_eq!(prefix.as_ref().ok(), Some(&(h.reserved, h.info_hash)));
    } else if bytes.len() == HANDSHAKE_LEN {
        assert!(prefix.is_err(), "68 bytes with a good prefix are a good handshake");
    }
}

fn check_message(msg: &Message, frame: &[u8], pieces: Option<u32>) {
    let mut out = BytesMut::new();
    msg.encode(&mut out);
    assert_eq!(&out[..], frame, "{} re-encodes to its frame", msg.name());
    assert_eq!(msg.encoded_len(), frame.len());
    match msg {
        Message::Extended { id, payload } if *id == EXTENDED_HANDSHAKE_ID => {
            if let Ok(hs) = ExtensionHandshake::decode(payload) {
                let again = ExtensionHandshake::decode(&hs.encode());
                assert_eq!(again.as_ref(), Ok(&hs), "extension handshake round-trips");
            }
        }
        Message::Bitfield(bits) => {
            if let Some(Ok(b)) = pieces.map(|n| Bitfield::from_bytes(bits, n)) {
                assert_eq!(b.as_bytes(), &bits[..]);
                assert!(b.count_ones() <= b.len());
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let [options, p0, p1, s0, s1] = *head;
    let pieces = u32::from(u16::from_le_bytes([p0, p1]));
    let limits = limits(options >> 1, pieces);
    let mut stream = rest;
    if options & 1 == 1 {
        let (hs, after) = stream.split_at(stream.len().min(HANDSHAKE_LEN));
        check_handshake(hs);
        stream = after;
    }

    let mut whole = Vec::new();
    let mut decoder = MessageDecoder::new(limits);
    let mut buf = BytesMut::from(stream);
    drain(&mut decoder, &mut buf, &mut whole);

    let mut chunked = Vec::new();
    let mut decoder = MessageDecoder::new(limits);
    let mut buf = BytesMut::new();
    for chunk in Chunks::new(u64::from(u16::from_le_bytes([s0, s1]))).split(stream) {
        buf.extend_from_slice(chunk);
        if !drain(&mut decoder, &mut buf, &mut chunked) {
            break;
        }
    }
    assert_eq!(whole, chunked, "chunking changed what was decoded");

    let pieces = ((options >> 1) & 3 == 1).then_some(pieces);
    for step in &whole {
        if let Step::Message(msg, frame) = step {
            check_message(msg, frame, pieces);
        }
    }
});
