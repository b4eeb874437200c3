//! Held torrents through the Session API, with real sessions on loopback: a held
//! torrent is checked but dials nobody, admits nobody and announces nothing until
//! released; a hold stops a running transfer and tells the tracker `stopped`; a
//! release resumes it without a recheck.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::RecordingTracker;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, Session, SessionConfig, SessionEvent, TorrentSnapshot, TorrentState, TorrentStatus};

const PIECE: u32 = 64 * 1024;
/// How long a held torrent is watched doing nothing.
const QUIET: Duration = Duration::from_secs(3);

fn session(id: u8) -> Session {
    let mut peer_id = *b"-CB0100-heldheldheld";
    peer_id[19] = id;
    Session::start(SessionConfig {
        shards: 1,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: PeerId(peer_id),
        read_cache_bytes: 4 << 20,
        connection_limits: Default::default(),
        redial: Default::default(),
    })
    .unwrap()
}

/// A one-file torrent "held.bin" of `len` bytes derived from `seed`, its data written
/// to `seed_dir`; returns the torrent and the bytes.
fn torrent(len: usize, seed: u8, seed_dir: &Path) -> (Arc<Metainfo>, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| ((i * 31) % 251) as u8 ^ seed).collect();
    std::fs::create_dir_all(seed_dir).unwrap();
    std::fs::write(seed_dir.join("held.bin"), &data).unwrap();
    let bytes = MetainfoBuilder {
        files: vec![(vec![], len as u64)],
        piece_length: PIECE,
        piece_hashes: hash_pieces(&data, PIECE),
        ..MetainfoBuilder::new("held.bin")
    }
    .build()
    .unwrap();
    (Arc::new(Metainfo::from_bytes(&bytes).unwrap()), data)
}

fn add(meta: &Arc<Metainfo>, dir: &Path, peers: Vec<SocketAddr>, held: bool) -> AddTorrent {
    AddTorrent {
        meta: meta.clone(),
        download_dir: dir.to_path_buf(),
        config: TorrentConfig::default(),
        preallocation: Preallocation::Sparse,
        direct_writes: false,
        peers,
        file_priorities: Vec::new(),
        download_limit: None,
        upload_limit: None,
        sequential: false,
        trackers: None,
        resume: None,
        held,
    }
}

/// Reads events until `f` returns Some, for at most `timeout`; a Failed event fails the test.
fn wait_for<T>(s: &Session, timeout: Duration, what: &str, mut f: impl FnMut(&SessionEvent) -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(ev) = s.events().recv_timeout(left) {
            if let SessionEvent::Failed { error, .. } = &ev {
                panic!("waiting for {what}: failed: {error}");
            }
            if let Some(t) = f(&ev) {
                return t;
            }
        }
    }
    panic!("timed out waiting for {what}");
}

fn status_of(ev: &SessionEvent, info_hash: InfoHash) -> Option<TorrentStatus> {
    match ev {
        SessionEvent::Status { torrents, .. } => torrents.iter().find(|t| t.info_hash == info_hash).cloned(),
        _ => None,
    }
}

/// Every event of `s` for `window`; the statuses of `info_hash` among them, and
/// whether another Started came (a recheck would send one).
fn watch(s: &Session, info_hash: InfoHash, window: Duration) -> (Vec<TorrentStatus>, bool) {
    let (mut statuses, mut started) = (Vec::new(), false);
    let deadline = Instant::now() + window;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(ev) = s.events().recv_timeout(left) {
            if let SessionEvent::Failed { error, .. } = &ev {
                panic!("failed: {error}");
            }
            started |= matches!(ev, SessionEvent::Started { info_hash: h, .. } if h == info_hash);
            statuses.extend(status_of(&ev, info_hash));
        }
    }
    (statuses, started)
}

fn seeder(meta: &Arc<Metainfo>, dir: &Path) -> Session {
    let mut s = session(1);
    s.add_torrent(add(meta, dir, Vec::new(), false)).unwrap();
    wait_for(&s, Duration::from_secs(20), "the seeder to start", |ev| {
        matches!(ev, SessionEvent::Started { .. }).then_some(())
    });
    s
}

/// The torrent's detail from its shard.
fn detail(s: &Session, info_hash: InfoHash) -> TorrentSnapshot {
    let (tx, rx) = std::sync::mpsc::channel();
    s.query(info_hash, Box::new(move |d| tx.send(d).unwrap())).unwrap();
    rx.recv_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("a running torrent")
}

/// A listener that counts the connections made to it and closes each at once.
struct CountingListener {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CountingListener {
    fn start() -> CountingListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (a, s) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: until dropped, or two minutes.
            for _ in 0..(2 * 60 * 50) {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                match listener.accept() {
                    Ok(_) => {
                        a.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        CountingListener { addr, accepted, stop }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for CountingListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sends a BitTorrent handshake for `info_hash` to `addr` and returns what comes
/// back before the peer closes or 68 bytes arrived (bounded by a read timeout).
fn handshake_reply(addr: SocketAddr, info_hash: InfoHash) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = vec![19u8];
    hello.extend_from_slice(b"BitTorrent protocol");
    hello.extend_from_slice(&[0; 8]);
    hello.extend_from_slice(&info_hash.0);
    hello.extend_from_slice(b"-XX0001-handshaketst");
    stream.write_all(&hello).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 68];
    while reply.len() < 68 {
        match stream.read(&mut buf[..68 - reply.len()]) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the handshake reply from {addr}: {e}"),
        }
    }
    reply
}

#[test]
fn a_held_torrent_dials_nobody_until_released_then_downloads_to_completion() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    let (meta, data) = torrent(1 << 20, 1, &seed_dir);
    let info_hash = meta.info_hash;
    let seeder = seeder(&meta, &seed_dir);
    let canary = CountingListener::start();
    let mut leecher = session(2);
    leecher
        .add_torrent(add(&meta, &down_dir, vec![seeder.listen_addr(), canary.addr], true))
        .unwrap();
    wait_for(&leecher, Duration::from_secs(20), "the check", |ev| {
        matches!(ev, SessionEvent::Started { .. }).then_some(())
    });

    let (statuses, _) = watch(&leecher, info_hash, QUIET);
    assert!(statuses.len() >= 2, "{statuses:?}");
    for s in &statuses {
        assert_eq!(s.state, TorrentState::Held, "{s:?}");
        assert_eq!(s.state.as_str(), "held");
        assert_eq!((s.stats.verified_bytes, s.stats.downloaded, s.stats.peers), (0, 0, 0));
        assert!(!s.stats.complete);
    }
    assert_eq!(canary.accepted(), 0, "a held torrent dialled a pinned peer");
    let (seeder_statuses, _) = watch(&seeder, info_hash, Duration::from_millis(1100));
    assert!(
        seeder_statuses.iter().all(|s| s.stats.peers == 0),
        "{seeder_statuses:?}"
    );

    leecher.release(info_hash).unwrap();
    wait_for(&leecher, Duration::from_secs(30), "completion once released", |ev| {
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    assert_eq!(std::fs::read(down_dir.join("held.bin")).unwrap(), data);
    // Released, it dials every pinned peer, the silent one too.
    for _ in 0..100 {
        if canary.accepted() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(canary.accepted() > 0, "the released torrent never dialled the canary");
    let done = wait_for(&leecher, Duration::from_secs(5), "a status", |ev| {
        status_of(ev, info_hash)
    });
    assert_eq!(done.state, TorrentState::Seeding);
}

#[test]
fn a_held_torrent_refuses_incoming_peers_until_released() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    let (meta, data) = torrent(768 * 1024, 2, &seed_dir);
    let info_hash = meta.info_hash;
    let mut held = session(1);
    held.add_torrent(add(&meta, &seed_dir, Vec::new(), true)).unwrap();
    // Checked, it knows it would seed.
    let status = wait_for(&held, Duration::from_secs(20), "a held status", |ev| {
        status_of(ev, info_hash).filter(|s| s.state == TorrentState::Held)
    });
    assert!(status.stats.complete, "{:?}", status.stats);
    assert_eq!(status.stats.verified_bytes, data.len() as u64);
    assert_eq!(status.stats.pieces_have, status.stats.num_pieces);

    // Closed before a byte of our handshake goes out, as for a torrent we lack.
    assert_eq!(handshake_reply(held.listen_addr(), info_hash), Vec::<u8>::new());
    let mut leecher = session(2);
    leecher
        .add_torrent(add(&meta, &down_dir, vec![held.listen_addr()], false))
        .unwrap();
    let (statuses, _) = watch(&leecher, info_hash, QUIET);
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| s.stats.verified_bytes == 0), "{statuses:?}");
    let (held_statuses, _) = watch(&held, info_hash, Duration::from_millis(1100));
    assert!(
        held_statuses
            .iter()
            .all(|s| s.state == TorrentState::Held && s.stats.peers == 0 && s.stats.uploaded == 0),
        "{held_statuses:?}"
    );

    held.release(info_hash).unwrap();
    wait_for(&held, Duration::from_secs(5), "a seeding status", |ev| {
        status_of(ev, info_hash).filter(|s| s.state == TorrentState::Seeding)
    });
    let reply = handshake_reply(held.listen_addr(), info_hash);
    assert_eq!(reply.len(), 68, "{reply:?}");
    assert_eq!(&reply[28..48], &info_hash.0);
    wait_for(
        &leecher,
        Duration::from_secs(30),
        "the download from the released seeder",
        |ev| matches!(ev, SessionEvent::Completed { .. }).then_some(()),
    );
    assert_eq!(std::fs::read(down_dir.join("held.bin")).unwrap(), data);
}

#[test]
fn a_hold_stops_the_transfer_and_the_tracker_and_a_release_resumes_without_a_recheck() {
    const SEED_RATE: u64 = 256 * 1024;
    let tracker = RecordingTracker::start();
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    // 4 MiB at 256 KiB/s: sixteen seconds, long enough to be held half way.
    let (meta, data) = torrent(4 << 20, 3, &seed_dir);
    let info_hash = meta.info_hash;
    let seeder = seeder(&meta, &seed_dir);
    seeder.set_shard_limits(0, None, Some(SEED_RATE)).unwrap();
    let mut leecher = session(2);
    let mut torrent = add(&meta, &down_dir, vec![seeder.listen_addr()], false);
    torrent.config.listen_port = Some(leecher.listen_addr().port());
    torrent.trackers = Some(vec![vec![tracker.url.clone()]]);
    leecher.add_torrent(torrent).unwrap();
    tracker.wait_for_event("started", 1);
    wait_for(&leecher, Duration::from_secs(30), "some verified data", |ev| {
        status_of(ev, info_hash).filter(|s| s.stats.verified_bytes > 0)
    });
    let check = detail(&leecher, info_hash).check.expect("a check summary");

    leecher.hold(info_hash).unwrap();
    tracker.wait_for_event("stopped", 1);
    // Writes under way when the peers closed may still land: settle, then watch.
    let settled = wait_for(&leecher, Duration::from_secs(10), "a held status without peers", |ev| {
        status_of(ev, info_hash).filter(|s| s.state == TorrentState::Held && s.stats.peers == 0)
    });
    assert!(!settled.stats.complete, "held too late: {:?}", settled.stats);
    let baseline = wait_for(&leecher, Duration::from_secs(5), "the next status", |ev| {
        status_of(ev, info_hash)
    });
    let (statuses, restarted) = watch(&leecher, info_hash, QUIET);
    assert!(statuses.len() >= 2, "{statuses:?}");
    for s in &statuses {
        assert_eq!(s.state, TorrentState::Held);
        assert_eq!(s.stats.verified_bytes, baseline.stats.verified_bytes, "{s:?}");
        assert_eq!(s.stats.downloaded, baseline.stats.downloaded, "{s:?}");
        assert_eq!(s.stats.peers, 0);
    }
    assert!(!restarted);
    assert!(baseline.stats.verified_bytes < data.len() as u64);
    assert_eq!(
        tracker.events().iter().filter(|e| *e == "started").count(),
        1,
        "{:?}",
        tracker.events()
    );

    seeder.set_shard_limits(0, None, None).unwrap();
    leecher.release(info_hash).unwrap();
    // A release of a torrent not held changes nothing.
    leecher.release(info_hash).unwrap();
    tracker.wait_for_event("started", 2);
    let mut restarted = false;
    wait_for(&leecher, Duration::from_secs(60), "completion once released", |ev| {
        restarted |= matches!(ev, SessionEvent::Started { .. });
        if let Some(s) = status_of(ev, info_hash) {
            // The verified pieces were kept, not checked again from nothing.
            assert!(s.stats.verified_bytes >= baseline.stats.verified_bytes, "{s:?}");
        }
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    assert!(!restarted, "a release must not recheck");
    assert_eq!(std::fs::read(down_dir.join("held.bin")).unwrap(), data);
    assert_eq!(detail(&leecher, info_hash).check, Some(check));
    let events = tracker.events();
    assert_eq!(&events[..3], ["started", "stopped", "started"], "{events:?}");
}

#[test]
fn a_release_sent_right_after_the_add_is_applied_once_the_check_ends() {
    let tracker = RecordingTracker::start();
    let tmp = tempfile::tempdir().unwrap();
    let (meta, data) = torrent(8 << 20, 4, tmp.path());
    let info_hash = meta.info_hash;
    let mut s = session(1);
    let mut torrent = add(&meta, tmp.path(), Vec::new(), true);
    torrent.config.listen_port = Some(s.listen_addr().port());
    torrent.trackers = Some(vec![vec![tracker.url.clone()]]);
    s.add_torrent(torrent).unwrap();
    // Before the shard has even begun the check: kept, not lost.
    s.release(info_hash).unwrap();
    let status = wait_for(&s, Duration::from_secs(20), "a seeding status", |ev| {
        status_of(ev, info_hash).filter(|t| t.state != TorrentState::Checking)
    });
    assert_eq!(status.state, TorrentState::Seeding, "{status:?}");
    assert_eq!(status.stats.verified_bytes, data.len() as u64);
    tracker.wait_for_event("started", 1);
}

#[test]
fn a_held_torrent_ends_with_its_record_on_remove_and_on_shutdown_and_never_announces() {
    let tracker = RecordingTracker::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (meta_a, _) = torrent(512 * 1024, 5, &dir_a);
    let (meta_b, _) = torrent(512 * 1024, 6, &dir_b);
    let mut s = session(1);
    for (meta, dir) in [(&meta_a, &dir_a), (&meta_b, &dir_b)] {
        let mut torrent = add(meta, dir, Vec::new(), true);
        torrent.config.listen_port = Some(s.listen_addr().port());
        torrent.trackers = Some(vec![vec![tracker.url.clone()]]);
        s.add_torrent(torrent).unwrap();
    }
    let mut held = Vec::new();
    wait_for(&s, Duration::from_secs(20), "both held", |ev| {
        if let SessionEvent::Status { torrents, .. } = ev {
            held.extend(
                torrents
                    .iter()
                    .filter(|t| t.state == TorrentState::Held)
                    .map(|t| t.info_hash),
            );
        }
        (held.contains(&meta_a.info_hash) && held.contains(&meta_b.info_hash)).then_some(())
    });
    let full = |meta: &Metainfo| {
        let n = meta.num_pieces() as usize;
        (0..n.div_ceil(8))
            .map(|i| if (i + 1) * 8 <= n { 0xff } else { 0xffu8 << (8 - n % 8) })
            .collect::<Vec<u8>>()
    };

    s.remove_torrent(meta_a.info_hash).unwrap();
    let record = wait_for(&s, Duration::from_secs(10), "a's end", |ev| match ev {
        SessionEvent::Stopped { info_hash, record } if *info_hash == meta_a.info_hash => Some(record.clone()),
        _ => None,
    });
    assert_eq!(record.expect("a record").have, full(&meta_a));

    s.shutdown();
    let mut ended_b = None;
    while let Ok(ev) = s.events().try_recv() {
        if let SessionEvent::Stopped { info_hash, record } = ev {
            if info_hash == meta_b.info_hash {
                ended_b = Some(record);
            }
        }
    }
    let record = ended_b.expect("b ended at shutdown");
    assert_eq!(record.expect("a record").have, full(&meta_b));
    // Held all its life: no started, so no stopped either.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(tracker.events(), Vec::<String>::new());
}

#[test]
fn a_release_right_after_a_hold_announces_started_only_after_stopped() {
    let tracker = RecordingTracker::start();
    let tmp = tempfile::tempdir().unwrap();
    let (meta, _) = torrent(256 * 1024, 7, tmp.path());
    let info_hash = meta.info_hash;
    let mut s = session(1);
    let mut torrent = add(&meta, tmp.path(), Vec::new(), false);
    torrent.config.listen_port = Some(s.listen_addr().port());
    torrent.trackers = Some(vec![vec![tracker.url.clone()]]);
    s.add_torrent(torrent).unwrap();
    tracker.wait_for_event("started", 1);
    // Both reach the shard together: the release waits for the hold's `stopped`.
    s.hold(info_hash).unwrap();
    s.release(info_hash).unwrap();
    tracker.wait_for_event("started", 2);
    assert_eq!(tracker.events(), ["started", "stopped", "started"]);
    let status = wait_for(&s, Duration::from_secs(5), "a status", |ev| status_of(ev, info_hash));
    assert_eq!(status.state, TorrentState::Seeding);
}
