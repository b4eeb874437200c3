//! A peer that lies about a magnet's metadata: it answers the BitTorrent handshake,
//! offers `ut_metadata` with the right `metadata_size`, and answers every request
//! with bytes of the right length that are not the info dictionary. It records
//! what it was asked and whether the other side closed the connection after the lie.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ccbt_engine::wire::{
    metadata_piece_len, ExtensionHandshake, Handshake, Message, MessageDecoder, MetadataMessage, Reserved, WireLimits,
    HANDSHAKE_LEN, UT_METADATA,
};
use ccbt_engine::{InfoHash, PeerId};

use crate::bad_peer_listener::serve_on_127_0_0_2;
use crate::stop_on_drop::StopOnDrop;

/// The id the liar receives `ut_metadata` under.
const LIAR_UT_METADATA_ID: u8 = 7;
/// Longest one connection is served.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// What the liar saw.
#[derive(Default, Debug)]
pub struct LiarStats {
    pub connections: AtomicU64,
    /// Metadata requests answered with wrong bytes.
    pub lies_sent: AtomicU64,
    /// Connections the other side closed after at least one lie.
    pub closed_after_lie: AtomicU64,
}

/// A running liar; its threads stop when this is dropped.
pub struct MetadataLiar {
    pub addr: SocketAddr,
    pub stats: Arc<LiarStats>,
    _stop: StopOnDrop,
}

impl MetadataLiar {
    /// Listens on 127.0.0.2 for `info_hash`, claiming an info dictionary of `size` bytes.
    pub fn start(info_hash: InfoHash, size: u64) -> MetadataLiar {
        let stats = Arc::new(LiarStats::default());
        let stop = StopOnDrop::default();
        let s = stats.clone();
        let addr = serve_on_127_0_0_2(stop.flag(), move |stream, stop| {
            let _ = serve(stream, info_hash, size, &s, stop);
        });
        MetadataLiar {
            addr,
            stats,
            _stop: stop,
        }
    }
}

fn serve(
    mut stream: TcpStream,
    info_hash: InfoHash,
    size: u64,
    stats: &LiarStats,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stats.connections.fetch_add(1, Ordering::Relaxed);
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut theirs = [0u8; HANDSHAKE_LEN];
    read_exact_bounded(&mut stream, &mut theirs, stop)?;
    let mut reserved = Reserved([0; 8]);
    reserved.0[5] |= 0x10; // BEP 10
    let ours = Handshake {
        reserved,
        info_hash,
        peer_id: PeerId(*b"-LI0001-metadataliar"),
    };
    stream.write_all(&ours.encode())?;
    let handshake = ExtensionHandshake {
        m: BTreeMap::from([(UT_METADATA.to_owned(), LIAR_UT_METADATA_ID)]),
        metadata_size: Some(size),
        v: Some("metadata liar".into()),
        ..Default::default()
    };
    let mut their_id = None;
    let mut out = BytesMut::new();
    handshake.to_message().encode(&mut out);
    stream.write_all(&out)?;
    let mut decoder = MessageDecoder::new(WireLimits::default());
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = Instant::now() + CONNECTION_LIFETIME;
    let mut lied = false;
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some(message)) = decoder.decode(&mut buf) {
            let Message::Extended { id, payload } = message else {
                continue;
            };
            if id == 0 {
                their_id = ExtensionHandshake::decode(&payload)
                    .ok()
                    .and_then(|h| h.m.get(UT_METADATA).copied());
                continue;
            }
            let (Some(reply_id), Ok(MetadataMessage::Request { piece })) =
                (their_id, MetadataMessage::decode(&payload))
            else {
                continue;
            };
            let Some(len) = metadata_piece_len(size, piece) else {
                continue;
            };
            let lie = MetadataMessage::Data {
                piece,
                total_size: size,
                data: Bytes::from(vec![b'x'; len]),
            };
            out.clear();
            Message::Extended {
                id: reply_id,
                payload: Bytes::from(lie.encode()),
            }
            .encode(&mut out);
            stream.write_all(&out)?;
            stats.lies_sent.fetch_add(1, Ordering::Relaxed);
            lied = true;
        }
    }
    if lied && !stop.load(Ordering::Relaxed) && Instant::now() < end {
        stats.closed_after_lie.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn read_exact_bounded(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> std::io::Result<()> {
    let mut got = 0;
    let end = Instant::now() + Duration::from_secs(10);
    while got < buf.len() {
        if stop.load(Ordering::Relaxed) || Instant::now() > end {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
