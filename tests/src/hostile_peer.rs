//! Hand-made bad peers over loopback: an injector of blocks nobody asked for, and a
//! poisoner that answers requests with garbage and re-dials under new identities.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ccbt_engine::wire::{encode_piece_header, Handshake, Message, Reserved};
use ccbt_engine::{Bitfield, InfoHash, PeerId, BLOCK_SIZE};

use crate::bad_peer_listener::serve_on_127_0_0_2;
use crate::garbage_answers::answer_requests_with_garbage;
use crate::stop_on_drop::StopOnDrop;

/// What a hostile peer saw.
#[derive(Default, Debug)]
pub struct HostileStats {
    /// TCP connections made or accepted.
    pub connections: AtomicU64,
    /// Connections where the other side answered our handshake.
    pub handshakes_answered: AtomicU64,
    /// PIECE messages written (garbage or unrequested).
    pub blocks_sent: AtomicU64,
    /// Connections the other side closed.
    pub closed_by_peer: AtomicU64,
}

/// A running hostile peer; its thread stops when this is dropped (and within 10 minutes regardless).
pub struct HostilePeer {
    /// Where it listens (injector) or what it dials (poisoner).
    pub addr: SocketAddr,
    pub stats: Arc<HostileStats>,
    /// Stops its threads when this handle drops.
    _stop: StopOnDrop,
}

const LIFETIME: Duration = Duration::from_secs(600);

fn handshake(info_hash: InfoHash, n: u64) -> Handshake {
    let mut id = *b"-HP0001-000000000000";
    id[8..].copy_from_slice(format!("{n:012}").as_bytes());
    Handshake {
        reserved: Reserved([0; 8]),
        info_hash,
        peer_id: PeerId(id),
    }
}

impl HostilePeer {
    /// Listens on 127.0.0.2 (bans are by IP; honest peers live elsewhere). Whoever
    /// dials it gets a full bitfield, is never unchoked, and then receives PIECE
    /// messages for blocks it never requested, filled with garbage, as fast as it reads.
    pub fn injector(info_hash: InfoHash, num_pieces: u32, piece_len: u32) -> HostilePeer {
        let stats = Arc::new(HostileStats::default());
        let stop = StopOnDrop::default();
        let s = stats.clone();
        let addr = serve_on_127_0_0_2(stop.flag(), move |stream, stop| {
            inject(stream, info_hash, num_pieces, piece_len, &s, stop)
        });
        HostilePeer {
            addr,
            stats,
            _stop: stop,
        }
    }

    /// Dials `target` again and again (at most `max_dials` times), each time from a
    /// new source port with a new peer id; when let in, claims every piece,
    /// unchokes and answers every request with garbage.
    pub fn poisoner(target: SocketAddr, info_hash: InfoHash, num_pieces: u32, max_dials: u64) -> HostilePeer {
        let stats = Arc::new(HostileStats::default());
        let stop = StopOnDrop::default();
        let (s, st) = (stats.clone(), stop.flag());
        std::thread::spawn(move || {
            let end = Instant::now() + LIFETIME;
            for n in 0..max_dials {
                if st.load(Ordering::Relaxed) || Instant::now() > end {
                    return;
                }
                if let Ok(stream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
                    poison(stream, handshake(info_hash, n), num_pieces, &s, &st);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        HostilePeer {
            addr: target,
            stats,
            _stop: stop,
        }
    }
}

fn inject(
    mut stream: TcpStream,
    info_hash: InfoHash,
    num_pieces: u32,
    piece_len: u32,
    stats: &HostileStats,
    stop: &AtomicBool,
) {
    stats.connections.fetch_add(1, Ordering::Relaxed);
    stream.set_nonblocking(false).ok();
    stream.set_write_timeout(Some(Duration::from_secs(10))).ok();
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut hs = [0u8; 68];
    if stream.read_exact(&mut hs).is_err() {
        return;
    }
    stats.handshakes_answered.fetch_add(1, Ordering::Relaxed);
    let mut out = BytesMut::new();
    out.extend_from_slice(&handshake(info_hash, 0).encode());
    Message::Bitfield(Bitfield::full(num_pieces).as_bytes().to_vec().into()).encode(&mut out);
    if stream.write_all(&out).is_err() {
        return;
    }
    let blocks_per_piece = piece_len / BLOCK_SIZE;
    let garbage = vec![0xa5u8; BLOCK_SIZE as usize];
    // Bounded: at most 100,000 blocks (1.6 GB) per connection.
    for n in 0..100_000u32 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let piece = (n / blocks_per_piece) % num_pieces;
        let offset = (n % blocks_per_piece) * BLOCK_SIZE;
        let mut out = BytesMut::with_capacity(BLOCK_SIZE as usize + 13);
        encode_piece_header(ccbt_engine::PieceIndex(piece), offset, BLOCK_SIZE, &mut out);
        out.extend_from_slice(&garbage);
        if stream.write_all(&out).is_err() {
            stats.closed_by_peer.fetch_add(1, Ordering::Relaxed);
            return;
        }
        stats.blocks_sent.fetch_add(1, Ordering::Relaxed);
    }
}

fn poison(mut stream: TcpStream, ours: Handshake, num_pieces: u32, stats: &HostileStats, stop: &AtomicBool) {
    stats.connections.fetch_add(1, Ordering::Relaxed);
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    stream.set_write_timeout(Some(Duration::from_secs(10))).ok();
    if stream.write_all(&ours.encode()).is_err() {
        return;
    }
    let mut hs = [0u8; 68];
    if stream.read_exact(&mut hs).is_err() {
        return;
    }
    stats.handshakes_answered.fetch_add(1, Ordering::Relaxed);
    let mut out = BytesMut::new();
    Message::Bitfield(Bitfield::full(num_pieces).as_bytes().to_vec().into()).encode(&mut out);
    Message::Unchoke.encode(&mut out);
    if stream.write_all(&out).is_err() {
        return;
    }
    answer_requests_with_garbage(&mut stream, num_pieces, &stats.blocks_sent, &stats.closed_by_peer, stop);
}
