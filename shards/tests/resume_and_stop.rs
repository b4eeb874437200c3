//! Resume records through the Session API: a download sends one on completion, a
//! remove ends with `Stopped` and the last record, a restart from it reads
//! nothing; a remove during a check cancels it; a query answers with the detail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, ResumeRecord, Session, SessionConfig, SessionEvent, TorrentSnapshot};

const PIECE: u32 = 64 * 1024;
const WAIT: Duration = Duration::from_secs(20);

fn session(id: u8) -> Session {
    Session::start(SessionConfig {
        shards: 1,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: PeerId([id; 20]),
        read_cache_bytes: 1 << 20,
        connection_limits: Default::default(),
        redial: Default::default(),
    })
    .unwrap()
}

/// A torrent of `len` bytes in one file "data.bin"; the data is written to
/// `seed_dir` when given.
fn torrent(len: usize, seed_dir: Option<&Path>) -> Arc<Metainfo> {
    use std::io::Write;
    // Written and hashed a piece at a time: some of these are large.
    let mut file = seed_dir.map(|dir| std::fs::File::create(dir.join("data.bin")).unwrap());
    let mut piece_hashes = Vec::new();
    for start in (0..len).step_by(PIECE as usize) {
        let piece: Vec<u8> = (start..len.min(start + PIECE as usize))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        if let Some(f) = file.as_mut() {
            f.write_all(&piece).unwrap();
        }
        piece_hashes.extend(hash_pieces(&piece, PIECE));
    }
    let bytes = MetainfoBuilder {
        files: vec![(vec![], len as u64)],
        piece_length: PIECE,
        piece_hashes,
        ..MetainfoBuilder::new("data.bin")
    }
    .build()
    .unwrap();
    Arc::new(Metainfo::from_bytes(&bytes).unwrap())
}

fn add(meta: &Arc<Metainfo>, dir: &Path, peers: Vec<SocketAddr>, resume: Option<ResumeRecord>) -> AddTorrent {
    AddTorrent {
        meta: meta.clone(),
        download_dir: dir.to_path_buf(),
        config: TorrentConfig::default(),
        preallocation: Preallocation::Sparse,
        direct_writes: false,
        peers,
        file_priorities: Vec::new(),
        sequential: false,
        trackers: None,
        download_limit: None,
        upload_limit: None,
        resume,
        held: false,
    }
}

/// Events until `pick` returns something, within `WAIT`; every event seen is kept.
fn wait_for<T>(
    session: &Session,
    seen: &mut Vec<SessionEvent>,
    what: &str,
    mut pick: impl FnMut(&SessionEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(ev) = session.events().recv_timeout(left) else {
            break;
        };
        let picked = pick(&ev);
        seen.push(ev);
        if let Some(t) = picked {
            return t;
        }
    }
    panic!("no {what} within {WAIT:?}; seen: {seen:?}");
}

fn full_have(pieces: u32) -> Vec<u8> {
    let mut have = vec![0u8; pieces.div_ceil(8) as usize];
    for p in 0..pieces {
        have[(p / 8) as usize] |= 0x80 >> (p % 8);
    }
    have
}

fn query(session: &Session, info_hash: InfoHash) -> Option<TorrentSnapshot> {
    let (tx, rx) = std::sync::mpsc::channel();
    session
        .query(
            info_hash,
            Box::new(move |detail| {
                let _ = tx.send(detail);
            }),
        )
        .unwrap();
    rx.recv_timeout(WAIT).expect("the shard answers")
}

#[test]
fn a_download_records_its_completion_stops_with_a_record_and_restarts_without_reading() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let len = 20 * PIECE as usize + 1234;
    let meta = torrent(len, Some(seed_dir.path()));
    let info_hash = meta.info_hash;
    let pieces = meta.num_pieces();

    let mut seeder = session(1);
    let mut seen = Vec::new();
    seeder
        .add_torrent(add(&meta, seed_dir.path(), Vec::new(), None))
        .unwrap();
    wait_for(&seeder, &mut seen, "seeder completed", |ev| {
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });

    let mut leecher = session(2);
    let mut seen = Vec::new();
    // Slowed down, so that it is seen downloading from its peer for a while.
    let mut slow = add(&meta, leech_dir.path(), vec![seeder.listen_addr()], None);
    slow.download_limit = Some(512 * 1024);
    leecher.add_torrent(slow).unwrap();
    wait_for(&leecher, &mut seen, "downloading from the seeder", |ev| match ev {
        SessionEvent::Status { torrents, .. } => torrents
            .iter()
            .any(|t| t.info_hash == info_hash && t.stats.peers == 1 && !t.stats.complete)
            .then_some(()),
        _ => None,
    });
    // The detail while downloading: its one peer, the seeder, which we dialled.
    let detail = query(&leecher, info_hash).expect("running on its shard");
    assert_eq!(detail.peers.len(), 1, "{detail:?}");
    let peer = &detail.peers[0];
    assert_eq!(peer.addr, seeder.listen_addr());
    assert!(!peer.incoming, "we dialled the seeder");
    assert_eq!(peer.peer_id, [1; 20]);
    assert!(peer.am_interested && !peer.peer_choking, "{peer:?}");
    assert!(peer.downloaded > 0 && peer.pieces_have == pieces, "{peer:?}");
    let served = query(&seeder, info_hash).expect("seeding");
    assert_eq!(served.peers.len(), 1);
    assert!(served.peers[0].incoming, "the leecher connected to the seeder");
    assert_eq!(served.peers[0].peer_id, [2; 20]);
    let partial: u64 = detail.files.iter().map(|f| f.verified_bytes).sum();
    assert!(partial < len as u64);

    wait_for(&leecher, &mut seen, "download completed", |ev| {
        matches!(ev, SessionEvent::Completed { .. }).then_some(())
    });
    // At once on completion: a record naming every piece, stamped after the flush.
    let record = wait_for(&leecher, &mut seen, "the completion's record", |ev| match ev {
        SessionEvent::Resume { info_hash: h, record } if *h == info_hash && record.have == full_have(pieces) => {
            Some(record.clone())
        }
        _ => None,
    });
    let on_disk = std::fs::metadata(leech_dir.path().join("data.bin")).unwrap();
    assert_eq!(record.files.len(), 1);
    assert_eq!(record.files[0].length, on_disk.len());

    // The detail once complete: its pieces, its file, how its start went.
    let detail = query(&leecher, info_hash).expect("running on its shard");
    assert_eq!((detail.num_pieces, detail.piece_length), (pieces, PIECE));
    assert_eq!(detail.have, full_have(pieces));
    assert_eq!(detail.files.len(), 1);
    assert_eq!(detail.files[0].verified_bytes, len as u64);
    let check = detail.check.expect("its start's summary");
    assert_eq!(
        check.hashed_pieces, 0,
        "nothing on disk to read at the start of a download"
    );
    assert!(query(&leecher, InfoHash([7; 20])).is_none(), "unknown torrent");

    // Removed: it ends, then says so with its last record; its files may go now.
    leecher.remove_torrent(info_hash).unwrap();
    let last = wait_for(&leecher, &mut seen, "stopped", |ev| match ev {
        SessionEvent::Stopped { info_hash: h, record } if *h == info_hash => Some(record.clone()),
        _ => None,
    });
    let last = last.expect("a running torrent stops with a record");
    assert_eq!(last.have, full_have(pieces));
    assert_eq!(leecher.router().owner(&info_hash), None);
    assert!(query(&leecher, info_hash).is_none());
    leecher.shutdown();
    seeder.shutdown();

    // A restart from that record trusts every piece and reads none.
    let mut restarted = session(3);
    let mut seen = Vec::new();
    restarted
        .add_torrent(add(&meta, leech_dir.path(), Vec::new(), Some(last)))
        .unwrap();
    let check = wait_for(&restarted, &mut seen, "started", |ev| match ev {
        SessionEvent::Started { check, have, .. } => Some((check.clone(), *have)),
        _ => None,
    });
    assert_eq!(check.1, pieces);
    assert_eq!(check.0.trusted_pieces, pieces);
    assert_eq!(check.0.hashed_pieces, 0);
    assert_eq!(check.0.changed_files, 0);
    restarted.shutdown();
}

/// Removes `meta` (data in `dir`) `after` its add, then checks that it ends with
/// `Stopped { record: None }` and that nothing of it runs afterwards.
fn removed_while_starting_never_runs(s: &mut Session, meta: &Arc<Metainfo>, dir: &Path, after: Duration) {
    let info_hash = meta.info_hash;
    let mut seen = Vec::new();
    s.add_torrent(add(meta, dir, Vec::new(), None)).unwrap();
    std::thread::sleep(after);
    s.remove_torrent(info_hash).unwrap();
    let record = wait_for(s, &mut seen, "stopped", |ev| match ev {
        SessionEvent::Stopped { info_hash: h, record } if *h == info_hash => Some(record.clone()),
        _ => None,
    });
    assert_eq!(record, None, "it never ran: no record");
    assert_eq!(s.router().owner(&info_hash), None);
    // Nothing follows: no start, no status, no record.
    let deadline = Instant::now() + Duration::from_millis(2500);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(ev) = s.events().recv_timeout(left) else { break };
        seen.push(ev);
    }
    for ev in &seen {
        match ev {
            SessionEvent::Started { .. } | SessionEvent::Completed { .. } | SessionEvent::Resume { .. } => {
                panic!("a removed torrent ran: {ev:?}")
            }
            SessionEvent::Status { torrents, .. } => {
                assert!(
                    torrents
                        .iter()
                        .all(|t| t.info_hash != info_hash || t.state == ccbt_shards::TorrentState::Checking),
                    "running after its remove: {torrents:?}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn a_remove_queued_behind_its_add_ends_it_before_it_opens_anything() {
    let dir = tempfile::tempdir().unwrap();
    let meta = torrent(64 * PIECE as usize, Some(dir.path()));
    let mut s = session(4);
    // Both commands are queued before the shard looks: it never gets a start slot.
    removed_while_starting_never_runs(&mut s, &meta, dir.path(), Duration::ZERO);
    s.shutdown();
}

#[test]
fn a_remove_during_a_long_check_cancels_it_and_nothing_runs() {
    // 512 MiB of real data (in memory): hashing it takes far longer than the
    // 150 ms after which the remove comes, long after the shard (which looks for
    // commands at least every 100 ms) began the check.
    let dir = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    let meta = torrent(8192 * PIECE as usize, Some(dir.path()));
    let mut s = session(8);
    removed_while_starting_never_runs(&mut s, &meta, dir.path(), Duration::from_millis(150));
    s.shutdown();
}

#[test]
fn shutdown_stops_every_torrent_with_its_record_before_the_shard_stops() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = torrent(3 * PIECE as usize, Some(dir_a.path()));
    let b = torrent(5 * PIECE as usize + 7, Some(dir_b.path()));
    let mut s = session(5);
    let mut seen = Vec::new();
    s.add_torrent(add(&a, dir_a.path(), Vec::new(), None)).unwrap();
    s.add_torrent(add(&b, dir_b.path(), Vec::new(), None)).unwrap();
    let mut started = 0;
    wait_for(&s, &mut seen, "both started", |ev| {
        started += usize::from(matches!(ev, SessionEvent::Started { .. }));
        (started == 2).then_some(())
    });
    s.shutdown();
    let mut order = Vec::new();
    while let Ok(ev) = s.events().try_recv() {
        match ev {
            SessionEvent::Stopped { info_hash, record } => {
                let meta = if info_hash == a.info_hash { &a } else { &b };
                let record = record.expect("a record at shutdown");
                assert_eq!(record.have, full_have(meta.num_pieces()), "{info_hash}");
                order.push(Some(info_hash));
            }
            SessionEvent::ShardStopped { .. } => order.push(None),
            _ => {}
        }
    }
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(order[2], None, "both Stopped before ShardStopped: {order:?}");
    assert!(order.contains(&Some(a.info_hash)) && order.contains(&Some(b.info_hash)));
}

#[test]
fn a_changed_verified_set_is_recorded_at_the_next_tick_and_an_unchanged_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let meta = torrent(4 * PIECE as usize, Some(dir.path()));
    let info_hash = meta.info_hash;
    let mut s = session(6);
    let mut seen = Vec::new();
    // No record: what the check found is news, recorded at the first tick.
    s.add_torrent(add(&meta, dir.path(), Vec::new(), None)).unwrap();
    let record = wait_for(&s, &mut seen, "a record", |ev| match ev {
        SessionEvent::Resume { info_hash: h, record } if *h == info_hash => Some(record.clone()),
        _ => None,
    });
    assert_eq!(record.have, full_have(4));
    s.remove_torrent(info_hash).unwrap();
    wait_for(&s, &mut seen, "stopped", |ev| {
        matches!(ev, SessionEvent::Stopped { info_hash: h, .. } if *h == info_hash).then_some(())
    });

    // Started from that record, which says what the check finds: nothing to record.
    s.add_torrent(add(&meta, dir.path(), Vec::new(), Some(record))).unwrap();
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut after = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(ev) = s.events().recv_timeout(left) else { break };
        after.push(ev);
    }
    assert!(
        after.iter().any(|ev| matches!(ev, SessionEvent::Started { .. })),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|ev| matches!(ev, SessionEvent::Resume { .. })),
        "no change, no record: {after:?}"
    );
    s.shutdown();
}

#[test]
fn a_torrent_that_failed_to_start_is_stopped_without_a_record_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let meta = torrent(2 * PIECE as usize, None);
    let info_hash = meta.info_hash;
    // Its file's place is taken by a directory: it cannot start.
    std::fs::create_dir(dir.path().join("data.bin")).unwrap();
    let mut s = session(7);
    let mut seen = Vec::new();
    s.add_torrent(add(&meta, dir.path(), Vec::new(), None)).unwrap();
    let error = wait_for(&s, &mut seen, "failed", |ev| match ev {
        SessionEvent::Failed { info_hash: h, error } if *h == info_hash => Some(error.clone()),
        _ => None,
    });
    assert!(error.contains("data.bin"), "{error}");
    // It stays listed, and owned, until removed; a remove ends it without a record.
    assert_eq!(s.router().owner(&info_hash), Some(0));
    assert!(query(&s, info_hash).is_none(), "not running");
    s.remove_torrent(info_hash).unwrap();
    let record = wait_for(&s, &mut seen, "stopped", |ev| match ev {
        SessionEvent::Stopped { info_hash: h, record } if *h == info_hash => Some(record.clone()),
        _ => None,
    });
    assert_eq!(record, None);
    assert_eq!(s.router().owner(&info_hash), None);
    // Then it may be added again (and fails again, the directory still being there).
    s.add_torrent(add(&meta, dir.path(), Vec::new(), None)).unwrap();
    wait_for(&s, &mut seen, "failed again", |ev| {
        matches!(ev, SessionEvent::Failed { info_hash: h, .. } if *h == info_hash).then_some(())
    });
    s.shutdown();
    let mut stopped = None;
    while let Ok(ev) = s.events().try_recv() {
        if let SessionEvent::Stopped { info_hash: h, record } = ev {
            if h == info_hash {
                stopped = Some(record);
            }
        }
    }
    assert_eq!(
        stopped,
        Some(None),
        "a failed torrent is stopped at shutdown too, without a record"
    );
}
