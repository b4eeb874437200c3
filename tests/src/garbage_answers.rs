//! The part the hand-made bad peers share: once past the handshake, answer every
//! REQUEST with a PIECE of garbage until the other side closes or the test stops.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::BytesMut;
use ccbt_engine::wire::{encode_piece_header, Message, MessageDecoder, WireLimits};

/// Reads requests from `stream` and answers each with a block of garbage (a new
/// byte value each time), counting blocks in `blocks` and a close by the other
/// side (or a failed read or write) in `closed_by_peer`. Returns when `stop` is
/// set or the connection ends.
pub fn answer_requests_with_garbage(
    stream: &mut TcpStream,
    num_pieces: u32,
    blocks: &AtomicU64,
    closed_by_peer: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut decoder = MessageDecoder::new(WireLimits::default().with_piece_count(num_pieces));
    let mut buf = BytesMut::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut garbage_byte = 0u8;
    while !stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                closed_by_peer.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = BytesMut::new();
        while let Ok(Some(msg)) = decoder.decode(&mut buf) {
            if let Message::Request(block) = msg {
                garbage_byte = garbage_byte.wrapping_add(1);
                encode_piece_header(block.piece, block.offset, block.length, &mut out);
                out.extend_from_slice(&vec![garbage_byte; block.length as usize]);
                blocks.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            closed_by_peer.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}
