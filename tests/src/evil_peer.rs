//! A peer that answers every request with garbage: for testing hash-failure handling.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ccbt_engine::wire::{Handshake, Message, Reserved};
use ccbt_engine::{Bitfield, InfoHash, PeerId};

use crate::bad_peer_listener::serve_on_127_0_0_2;
use crate::garbage_answers::answer_requests_with_garbage;
use crate::stop_on_drop::StopOnDrop;

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
    /// Stops its threads when this handle drops.
    _stop: StopOnDrop,
}

impl EvilPeer {
    /// Listens on an ephemeral port of 127.0.0.2, claiming to have all `num_pieces`.
    /// Not 127.0.0.1: bans are by IP, and the honest peers of a test live there.
    pub fn start(info_hash: InfoHash, num_pieces: u32) -> EvilPeer {
        let stats = Arc::new(EvilStats::default());
        let stop = StopOnDrop::default();
        let s = stats.clone();
        // Bounded: stops when the test drops the handle, or after 10 minutes.
        let addr = serve_on_127_0_0_2(stop.flag(), move |stream, stop| {
            serve(stream, info_hash, num_pieces, &s, stop)
        });
        EvilPeer {
            addr,
            stats,
            _stop: stop,
        }
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
    answer_requests_with_garbage(
        &mut stream,
        num_pieces,
        &stats.blocks_served,
        &stats.closed_by_peer,
        stop,
    );
}
