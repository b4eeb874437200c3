//! Many seeding torrents restarted from their resume records: none reads piece
//! data. `CCBT_RESTART_TORRENTS=10000` runs the measurement (times are
//! printed, never asserted); the default keeps the suite quick.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, CheckSummary, ResumeRecord, Session, SessionConfig, SessionEvent};

const PIECE: u32 = 16 * 1024;
const FILE_LEN: usize = 1000;
const DEFAULT_TORRENTS: usize = 1000;

fn session() -> Session {
    Session::start(SessionConfig {
        shards: 2,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: PeerId(*b"-CB0100-restartmany0"),
        read_cache_bytes: 1 << 20,
        connection_limits: Default::default(),
        redial: Default::default(),
    })
    .unwrap()
}

/// Torrent `i`: one single-piece file `t{i}.bin`, written complete in `dir`.
fn torrent(dir: &Path, i: usize) -> Arc<Metainfo> {
    let name = format!("t{i}.bin");
    let data: Vec<u8> = (0..FILE_LEN).map(|k| (k ^ i) as u8 ^ (i >> 8) as u8).collect();
    let mut data = data;
    data[..8].copy_from_slice(&(i as u64).to_le_bytes());
    std::fs::write(dir.join(&name), &data).unwrap();
    let bytes = MetainfoBuilder {
        files: vec![(vec![], FILE_LEN as u64)],
        piece_length: PIECE,
        piece_hashes: hash_pieces(&data, PIECE),
        ..MetainfoBuilder::new(name)
    }
    .build()
    .unwrap();
    Arc::new(Metainfo::from_bytes(&bytes).unwrap())
}

fn add(meta: &Arc<Metainfo>, dir: &Path, resume: Option<ResumeRecord>) -> AddTorrent {
    AddTorrent {
        meta: meta.clone(),
        download_dir: dir.to_path_buf(),
        config: TorrentConfig::default(),
        preallocation: Preallocation::Sparse,
        direct_writes: false,
        peers: Vec::new(),
        file_priorities: Vec::new(),
        sequential: false,
        trackers: None,
        download_limit: None,
        upload_limit: None,
        resume,
        held: false,
    }
}

/// Waits for `n` `Started` events; returns each torrent's check summary.
fn started(session: &Session, n: usize) -> HashMap<InfoHash, CheckSummary> {
    let deadline = Instant::now() + Duration::from_secs(60 + n as u64 / 50);
    let mut got = HashMap::new();
    while got.len() < n {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("only {} of {n} torrents started", got.len()));
        match session.events().recv_timeout(left) {
            Ok(SessionEvent::Started { info_hash, check, .. }) => {
                got.insert(info_hash, check);
            }
            Ok(SessionEvent::Failed { error, .. }) => panic!("{error}"),
            Ok(_) => {}
            Err(_) => panic!("only {} of {n} torrents started", got.len()),
        }
    }
    got
}

#[test]
fn seeding_torrents_restarted_from_their_records_read_no_piece_data() {
    let n: usize = std::env::var("CCBT_RESTART_TORRENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TORRENTS);
    let dir = tempfile::tempdir().unwrap();
    let metas: Vec<Arc<Metainfo>> = (0..n).map(|i| torrent(dir.path(), i)).collect();

    let mut first = session();
    let t0 = Instant::now();
    for m in &metas {
        first.add_torrent(add(m, dir.path(), None)).unwrap();
    }
    let checks = started(&first, n);
    let full_check = t0.elapsed();
    assert!(
        checks.values().all(|c| c.hashed_pieces == 1),
        "a first start reads its piece"
    );
    // Read the records while the shards stop (more may come than the queue holds).
    let events = first.events().clone();
    let reader = std::thread::spawn(move || {
        let mut records = HashMap::new();
        let mut stopped_shards = 0;
        while stopped_shards < 2 {
            match events.recv_timeout(Duration::from_secs(60)) {
                Ok(SessionEvent::Stopped { info_hash, record }) => {
                    records.insert(info_hash, record.expect("a record at shutdown"));
                }
                Ok(SessionEvent::ShardStopped { .. }) => stopped_shards += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        records
    });
    first.shutdown();
    let mut records = reader.join().unwrap();
    assert_eq!(records.len(), n, "a record for every torrent");
    drop(first);

    let mut second = session();
    let t1 = Instant::now();
    for m in &metas {
        let record = records.remove(&m.info_hash);
        second.add_torrent(add(m, dir.path(), record)).unwrap();
    }
    let checks = started(&second, n);
    let restart = t1.elapsed();
    for (info_hash, c) in &checks {
        assert_eq!(c.hashed_pieces, 0, "{info_hash} read its data: {c:?}");
        assert_eq!(c.trusted_pieces, 1, "{info_hash}: {c:?}");
        assert_eq!(c.record_problem, None);
    }
    eprintln!(
        "{n} single-piece torrents: first start (full check) {:.2} s, restart from records {:.2} s",
        full_check.as_secs_f64(),
        restart.as_secs_f64()
    );
    second.shutdown();
}
