//! Settings changed on running torrents through the Session API, with real
//! transfers between two sessions on loopback: shard and torrent rate limits,
//! file priorities, tracker lists.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::RecordingTracker;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{
    AddTorrent, FilePriority, Session, SessionConfig, SessionError, SessionEvent, ShardUsage, TorrentState,
    TorrentStatus,
};

const PIECE: u32 = 64 * 1024;

fn session(id: u8) -> Session {
    let mut peer_id = *b"-CB0100-livelivelive";
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

/// A torrent of `files` (name, length) with content derived from `seed`, written to
/// `seed_dir`; returns the torrent and every file's bytes.
fn torrent_of(files: &[(&str, usize)], seed: u8, seed_dir: &Path) -> (Arc<Metainfo>, Vec<Vec<u8>>) {
    let contents: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(f, (_, len))| (0..*len).map(|i| ((i * 31 + f * 7) % 251) as u8 ^ seed).collect())
        .collect();
    let root = seed_dir.join("live");
    std::fs::create_dir_all(&root).unwrap();
    for ((name, _), data) in files.iter().zip(&contents) {
        std::fs::write(root.join(name), data).unwrap();
    }
    let all: Vec<u8> = contents.concat();
    let bytes = MetainfoBuilder {
        files: files.iter().map(|(n, l)| (vec![n.to_string()], *l as u64)).collect(),
        piece_length: PIECE,
        piece_hashes: hash_pieces(&all, PIECE),
        ..MetainfoBuilder::new("live")
    }
    .build()
    .unwrap();
    (Arc::new(Metainfo::from_bytes(&bytes).unwrap()), contents)
}

fn add(meta: &Arc<Metainfo>, dir: &Path, peers: Vec<SocketAddr>) -> AddTorrent {
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
        held: false,
    }
}

/// A seeding session holding `meta`'s complete data in `dir`.
fn seeder(meta: &Arc<Metainfo>, dir: &Path) -> Session {
    let mut s = session(1);
    s.add_torrent(add(meta, dir, Vec::new())).unwrap();
    wait_for(&s, Duration::from_secs(20), "the seeder to start", |ev| {
        matches!(ev, SessionEvent::Started { .. }).then_some(())
    });
    s
}

/// Reads events until `f` returns Some, for at most `timeout`.
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

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join("live").join(name)).unwrap_or_default()
}

#[test]
fn a_shard_limit_holds_the_download_near_it_and_the_status_reports_its_usage() {
    const LIMIT: u64 = 256 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    let (meta, contents) = torrent_of(&[("a.bin", 1536 * 1024)], 1, &seed_dir);
    let total = contents[0].len() as u64;
    let seeder = seeder(&meta, &seed_dir);
    let mut leecher = session(2);
    leecher.set_shard_limits(0, Some(LIMIT), None).unwrap();
    assert!(matches!(
        leecher.set_shard_limits(1, Some(LIMIT), None),
        Err(SessionError::NoSuchShard { shard: 1, shards: 1 })
    ));
    let started = Instant::now();
    leecher
        .add_torrent(add(&meta, &down_dir, vec![seeder.listen_addr()]))
        .unwrap();
    let mut usage = Vec::<ShardUsage>::new();
    wait_for(
        &leecher,
        Duration::from_secs(60),
        "the limited download",
        |ev| match ev {
            SessionEvent::Status { usage: u, .. } => {
                usage.push(*u);
                None
            }
            SessionEvent::Completed { .. } => Some(()),
            _ => None,
        },
    );
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(read(&down_dir, "a.bin"), contents[0]);
    // The first quarter second's worth comes as a burst; the rest at the rate. A
    // generous band: a loaded machine only makes it slower.
    let rate = total as f64 / secs;
    assert!(
        rate > LIMIT as f64 * 0.5 && rate < LIMIT as f64 * 1.5,
        "{rate:.0} B/s over {secs:.1}s against a limit of {LIMIT}"
    );
    let downloaded: u64 = usage.iter().map(|u| u.downloaded).sum();
    assert!(downloaded > 0 && downloaded <= total * 2, "{downloaded}");
    assert!(usage.iter().any(|u| u.download_held_back), "{usage:?}");
    assert!(usage
        .iter()
        .all(|u| u.download_limit == Some(LIMIT) && u.upload_limit.is_none()));
    assert!(usage.iter().all(|u| !u.upload_held_back));
}

#[test]
fn a_shard_upload_limit_holds_the_seeding_rate_near_it() {
    const LIMIT: u64 = 256 * 1024;
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    // 2 MiB: big enough that the burst and the first write batch (sent before the
    // bucket is charged) cannot lift the average above the band.
    let (meta, contents) = torrent_of(&[("a.bin", 2048 * 1024)], 5, &seed_dir);
    let total = contents[0].len() as u64;
    let seeder = seeder(&meta, &seed_dir);
    seeder.set_shard_limits(0, None, Some(LIMIT)).unwrap();
    let mut leecher = session(2);
    let started = Instant::now();
    leecher
        .add_torrent(add(&meta, &down_dir, vec![seeder.listen_addr()]))
        .unwrap();
    wait_for(
        &leecher,
        Duration::from_secs(60),
        "the download from a limited seeder",
        |ev| matches!(ev, SessionEvent::Completed { .. }).then_some(()),
    );
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(read(&down_dir, "a.bin"), contents[0]);
    let rate = total as f64 / secs;
    assert!(
        rate > LIMIT as f64 * 0.5 && rate < LIMIT as f64 * 1.5,
        "{rate:.0} B/s over {secs:.1}s against a limit of {LIMIT}"
    );
    // The statuses sent while it seeded are still queued: one says it was held back.
    let usage = wait_for(&seeder, Duration::from_secs(5), "a held-back status", |ev| match ev {
        SessionEvent::Status { usage, .. } if usage.upload_held_back => Some(*usage),
        _ => None,
    });
    assert!(usage.uploaded > 0);
    assert_eq!(usage.upload_limit, Some(LIMIT));
    assert_eq!(usage.download_limit, None);
}

#[test]
fn a_torrent_limit_lifted_while_running_lets_the_download_finish_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    let (meta, contents) = torrent_of(&[("a.bin", 4 << 20)], 2, &seed_dir);
    let info_hash = meta.info_hash;
    let seeder = seeder(&meta, &seed_dir);
    let mut leecher = session(2);
    let mut limited = add(&meta, &down_dir, vec![seeder.listen_addr()]);
    // 4 MiB at 64 KiB/s would take a minute.
    limited.download_limit = Some(64 * 1024);
    leecher.add_torrent(limited).unwrap();
    let progress = wait_for(&leecher, Duration::from_secs(30), "some progress", |ev| {
        status_of(ev, info_hash).filter(|t| t.stats.downloaded > 0)
    });
    assert!(progress.stats.verified_bytes < 2 << 20, "{:?}", progress.stats);
    leecher.set_torrent_limits(info_hash, None, None).unwrap();
    wait_for(&leecher, Duration::from_secs(30), "completion once unlimited", |ev| {
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    assert_eq!(read(&down_dir, "a.bin"), contents[0]);
    // An unknown torrent is left alone.
    leecher.set_torrent_limits(InfoHash([9; 20]), Some(1), Some(1)).unwrap();
}

#[test]
fn a_skipped_file_selected_again_downloads_and_completes_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, down_dir) = (tmp.path().join("seed"), tmp.path().join("down"));
    // Whole pieces per file: no piece is shared, so the skipped file gets nothing.
    let (meta, contents) = torrent_of(
        &[("a.bin", 8 * PIECE as usize), ("b.bin", 4 * PIECE as usize)],
        3,
        &seed_dir,
    );
    let info_hash = meta.info_hash;
    let seeder = seeder(&meta, &seed_dir);
    let mut leecher = session(2);
    let mut partial = add(&meta, &down_dir, vec![seeder.listen_addr()]);
    partial.file_priorities = vec![FilePriority::Normal, FilePriority::Skip];
    leecher.add_torrent(partial).unwrap();
    wait_for(&leecher, Duration::from_secs(30), "the wanted file", |ev| {
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    assert_eq!(read(&down_dir, "a.bin"), contents[0]);
    assert_ne!(read(&down_dir, "b.bin"), contents[1]);
    let seeding = wait_for(&leecher, Duration::from_secs(5), "a status", |ev| {
        status_of(ev, info_hash)
    });
    assert_eq!(seeding.state, TorrentState::Seeding);
    assert!(seeding.stats.complete, "complete for what is wanted");
    assert_eq!(seeding.wanted_bytes, contents[0].len() as u64);
    assert_eq!(seeding.stats.verified_bytes, contents[0].len() as u64);
    assert!(seeding.stats.verified_bytes < seeding.stats.total_bytes);

    leecher
        .set_file_priorities(info_hash, vec![FilePriority::Normal, FilePriority::High])
        .unwrap();
    let mut states = Vec::new();
    wait_for(&leecher, Duration::from_secs(30), "the second completion", |ev| {
        if let Some(t) = status_of(ev, info_hash) {
            states.push(t.state);
        }
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    assert_eq!(read(&down_dir, "b.bin"), contents[1]);
    let done = wait_for(&leecher, Duration::from_secs(5), "a status", |ev| {
        status_of(ev, info_hash)
    });
    assert_eq!(done.wanted_bytes, done.stats.total_bytes);
    assert_eq!(done.stats.verified_bytes, done.stats.total_bytes);
    assert_eq!(done.state, TorrentState::Seeding);
    // The status in between may or may not have caught it downloading; never failed.
    assert!(!states.contains(&TorrentState::Failed), "{states:?}");
}

#[test]
fn replacing_the_trackers_stops_the_old_ones_and_starts_the_new_ones() {
    let (first, second) = (RecordingTracker::start(), RecordingTracker::start());
    let tmp = tempfile::tempdir().unwrap();
    let (meta, _) = torrent_of(&[("a.bin", 2 * PIECE as usize)], 4, tmp.path());
    let info_hash = meta.info_hash;
    let mut s = session(1);
    let mut torrent = add(&meta, tmp.path(), Vec::new());
    torrent.config.listen_port = Some(s.listen_addr().port());
    // The metainfo has no tracker: the override is the list.
    torrent.trackers = Some(vec![vec![first.url.clone()]]);
    s.add_torrent(torrent).unwrap();
    first.wait_for_event("started", 1);

    let bad = "ftp://tracker.example/announce";
    let err = s
        .set_trackers(info_hash, vec![vec![second.url.clone()], vec![bad.to_string()]])
        .unwrap_err();
    assert!(matches!(err, SessionError::BadTrackerUrl { .. }), "{err:?}");
    assert!(err.to_string().contains(bad), "{err}");

    s.set_trackers(info_hash, vec![vec![second.url.clone()]]).unwrap();
    first.wait_for_event("stopped", 1);
    second.wait_for_event("started", 1);
    let status = wait_for(&s, Duration::from_secs(5), "a status", |ev| status_of(ev, info_hash));
    let urls: Vec<&str> = status.trackers.iter().map(|t| t.url.as_str()).collect();
    assert_eq!(urls, vec![second.url.as_str()]);
    // Asked again at once, the tracker's minimum interval holds the announce back.
    s.reannounce(info_hash).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(second.events(), vec!["started".to_string()]);
    s.shutdown();
    second.wait_for_event("stopped", 1);
}
