//! A magnet through the Session API: its status says `FetchingMetadata` with the
//! fetch's progress while a peer is asked, `MetadataReceived` carries the verified
//! metadata with the magnet's trackers, and the torrent then starts by itself
//! (checking what is on disk); removed during the metadata phase it ends with
//! `Stopped { record: None }` and the info-hash is free again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::wire::{
    metadata_piece_len, ExtensionHandshake, Handshake, Message, MessageDecoder, MetadataMessage, Reserved, WireLimits,
    HANDSHAKE_LEN, METADATA_PIECE_SIZE, UT_METADATA,
};
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddMagnet, Session, SessionConfig, SessionError, SessionEvent, TorrentState};

const PIECE: u32 = 16 * 1024;

fn session() -> Session {
    Session::start(SessionConfig {
        shards: 2,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: PeerId(*b"-CB0100-magnetmagnet"),
        read_cache_bytes: 1 << 20,
        connection_limits: Default::default(),
        redial: Default::default(),
    })
    .unwrap()
}

/// Writes a file of `len` bytes into `dir` and returns its metainfo.
fn torrent_on_disk(dir: &std::path::Path, len: usize) -> Metainfo {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(dir.join("magnet.bin"), &data).unwrap();
    let bytes = MetainfoBuilder {
        files: vec![(vec![], len as u64)],
        piece_length: PIECE,
        piece_hashes: hash_pieces(&data, PIECE),
        ..MetainfoBuilder::new("magnet.bin")
    }
    .build()
    .unwrap();
    Metainfo::from_bytes(&bytes).unwrap()
}

/// A magnet announcing to a tracker that is not there (its status still lists it).
fn magnet(info_hash: InfoHash, dir: &std::path::Path, peers: Vec<SocketAddr>) -> AddMagnet {
    AddMagnet {
        info_hash,
        display_name: Some("shown until the metadata".into()),
        trackers: vec![vec!["http://127.0.0.1:1/announce".into()]],
        peers,
        select_only: None,
        download_dir: dir.to_path_buf(),
        config: TorrentConfig {
            // Trackers are announced to only with a port to give them, as for a torrent.
            listen_port: Some(1),
            ..TorrentConfig::default()
        },
        preallocation: Preallocation::Sparse,
        direct_writes: false,
        download_limit: None,
        upload_limit: None,
        sequential: false,
        held: false,
    }
}

/// An honest peer that serves `info` over ut_metadata, each answer `delay` late.
/// Returns its address and how many requests it answered.
fn metadata_server(info: Vec<u8>, info_hash: InfoHash, delay: Duration) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        // One connection is all the test needs; the thread ends with it (bounded by
        // the read timeout and the connection's end).
        let Ok((mut stream, _)) = listener.accept() else { return };
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut theirs = [0u8; HANDSHAKE_LEN];
        if stream.read_exact(&mut theirs).is_err() {
            return;
        }
        let mut reserved = Reserved([0; 8]);
        reserved.0[5] |= 0x10;
        let ours = Handshake {
            reserved,
            info_hash,
            peer_id: PeerId(*b"-MS0001-metadataserv"),
        };
        let mut out = BytesMut::new();
        ExtensionHandshake {
            m: BTreeMap::from([(UT_METADATA.to_owned(), 5)]),
            metadata_size: Some(info.len() as u64),
            ..Default::default()
        }
        .to_message()
        .encode(&mut out);
        if stream.write_all(&ours.encode()).is_err() || stream.write_all(&out).is_err() {
            return;
        }
        let mut decoder = MessageDecoder::new(WireLimits::default());
        let mut buf = BytesMut::new();
        let mut chunk = [0u8; 4096];
        let mut their_id = None;
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                return;
            }
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
                std::thread::sleep(delay);
                let len = metadata_piece_len(info.len() as u64, piece).unwrap();
                let start = piece as usize * METADATA_PIECE_SIZE;
                let data = MetadataMessage::Data {
                    piece,
                    total_size: info.len() as u64,
                    data: Bytes::copy_from_slice(&info[start..start + len]),
                };
                out.clear();
                Message::Extended {
                    id: reply_id,
                    payload: Bytes::from(data.encode()),
                }
                .encode(&mut out);
                if stream.write_all(&out).is_err() {
                    return;
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (addr, answered)
}

/// Events until `pred` matches one (bounded), returning it.
fn wait_for(session: &Session, what: &str, mut pred: impl FnMut(&SessionEvent) -> bool) -> SessionEvent {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Ok(ev) = session.events().recv_timeout(Duration::from_millis(100)) {
            if pred(&ev) {
                return ev;
            }
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_magnet_fetches_its_metadata_then_checks_and_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let meta = torrent_on_disk(dir.path(), 40 * PIECE as usize + 123);
    let info_hash = meta.info_hash;
    // Slow answers, so a status shows the metadata phase.
    let (peer, answered) = metadata_server(meta.info_bytes.clone(), info_hash, Duration::from_millis(1500));
    let mut session = session();
    session.add_magnet(magnet(info_hash, dir.path(), vec![peer])).unwrap();
    assert!(matches!(
        session.add_magnet(magnet(info_hash, dir.path(), vec![])),
        Err(SessionError::Duplicate(h)) if h == info_hash
    ));
    let SessionEvent::Status { torrents, .. } = wait_for(&session, "a metadata status", |ev| {
        matches!(ev, SessionEvent::Status { torrents, .. }
            if torrents.iter().any(|t| t.info_hash == info_hash && t.metadata.is_some_and(|m| m.peers_asked == 1)))
    }) else {
        unreachable!()
    };
    let status = torrents.iter().find(|t| t.info_hash == info_hash).unwrap();
    assert_eq!(status.state, TorrentState::FetchingMetadata);
    assert_eq!(status.state.as_str(), "metadata");
    assert_eq!(status.name, "shown until the metadata");
    let progress = status.metadata.unwrap();
    assert_eq!(
        (
            progress.peers_with_metadata,
            progress.pieces_total,
            progress.pieces_have
        ),
        (1, 1, 0)
    );
    assert_eq!(status.trackers.len(), 1, "the magnet's tracker is shown: {status:?}");

    let SessionEvent::MetadataReceived { meta: received, .. } = wait_for(
        &session,
        "the metadata",
        |ev| matches!(ev, SessionEvent::MetadataReceived { info_hash: h, .. } if *h == info_hash),
    ) else {
        unreachable!()
    };
    assert_eq!(received.info_hash, info_hash);
    assert_eq!(received.info_bytes, meta.info_bytes);
    assert_eq!(received.announce.as_deref(), Some("http://127.0.0.1:1/announce"));
    assert_eq!(answered.load(Ordering::Relaxed), 1);
    // The data is on disk: the check finds every piece, and it seeds.
    let SessionEvent::Started { have, num_pieces, .. } = wait_for(
        &session,
        "the start",
        |ev| matches!(ev, SessionEvent::Started { info_hash: h, .. } if *h == info_hash),
    ) else {
        unreachable!()
    };
    assert_eq!((have, num_pieces), (meta.num_pieces(), meta.num_pieces()));
    wait_for(&session, "seeding", |ev| {
        matches!(ev, SessionEvent::Status { torrents, .. }
            if torrents.iter().any(|t| t.info_hash == info_hash && t.state == TorrentState::Seeding && t.metadata.is_none()))
    });
    session.shutdown();
}

#[test]
fn a_magnet_removed_while_fetching_ends_and_can_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let info_hash = InfoHash([0x5a; 20]);
    let mut session = session();
    session.add_magnet(magnet(info_hash, dir.path(), vec![])).unwrap();
    wait_for(&session, "a metadata status", |ev| {
        matches!(ev, SessionEvent::Status { torrents, .. }
            if torrents.iter().any(|t| t.info_hash == info_hash && t.state == TorrentState::FetchingMetadata))
    });
    session.remove_torrent(info_hash).unwrap();
    let stopped = wait_for(
        &session,
        "stopped",
        |ev| matches!(ev, SessionEvent::Stopped { info_hash: h, .. } if *h == info_hash),
    );
    assert!(matches!(stopped, SessionEvent::Stopped { record: None, .. }));
    assert_eq!(session.router().owner(&info_hash), None);
    // Gone from the statuses, and free to be added again.
    wait_for(
        &session,
        "a status without it",
        |ev| matches!(ev, SessionEvent::Status { torrents, .. } if torrents.iter().all(|t| t.info_hash != info_hash)),
    );
    session.add_magnet(magnet(info_hash, dir.path(), vec![])).unwrap();
    session.shutdown();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was written"
    );
}
