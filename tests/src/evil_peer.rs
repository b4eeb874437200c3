//! A peer that answers every request with garbage: for testing hash-failure handling.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ccbt_engine::wire::{encode_piece_header, Handshake, Message, MessageDecoder, Reserved, WireLimits};
use ccbt_engine::{Bitfield, InfoHash, PeerId};

/// What the evil peer saw.
#[derive(Default, Debug)]
pub struct EvilStats {
    pub connections: AtomicU64,
    pub blocks_served: AtomicU64,
    /// Connections the other side closed.
    pub closed_by_peer: AtomicU64,
}

/// A running evil peer on 127.0.0.1; stops when dropped.
pub struct EvilPeer {
    pub addr: SocketAddr,
    pub stats: Arc<EvilStats>,
    stop: Arc<AtomicBool>,
}

impl Drop for EvilPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl EvilPeer {
    /// Listens on an ephemeral port of 127.0.0.2, claiming to have all `num_pieces`.
    /// Not 127.0.0.1: bans are by IP, and the honest peers of a test live there.
    pub fn start(info_hash: InfoHash, num_pieces: u32) -> EvilPeer {
        let listener = TcpListener::bind("127.0.0.2:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(EvilStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stats.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: stops when the test drops the handle, or after 10 minutes.
            for _ in 0..(10 * 60 * 20) {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (s, st) = (s.clone(), st.clone());
                        std::thread::spawn(move || serve(stream, info_hash, num_pieces, &s, &st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        EvilPeer { addr, stats, stop }
    }
}

fn serve(mut stream: TcpStream, info_hash: InfoHash, num_pieces: u32, stats: &EvilStats, stop: &AtomicBool) {
    stats.connections.fetch_add(1, Ordering::Relaxed);
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut hs = [0u8; 68];
    if stream.read_exact(&mut hs).is_err() {
        return;
    }
    let ours = Handshake {
        reserved: Reserved([0; 8]),
        info_hash,
        peer_id: PeerId(*b"-EV0001-evilevilevil"),
    };
    let mut out = BytesMut::new();
    out.extend_from_slice(&ours.encode());
    Message::Bitfield(Bitfield::full(num_pieces).as_bytes().to_vec().into()).encode(&mut out);
    Message::Unchoke.encode(&mut out);
    if stream.write_all(&out).is_err() {
        return;
    }
    let mut decoder = MessageDecoder::new(WireLimits::default().with_piece_count(num_pieces));
    let mut buf = BytesMut::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut garbage_byte = 0u8;
    while !stop.load(Ordering::Relaxed) {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                stats.closed_by_peer.fetch_add(1, Ordering::Relaxed);
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
                stats.blocks_served.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            stats.closed_by_peer.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}
