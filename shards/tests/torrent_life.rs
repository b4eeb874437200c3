//! A torrent's life on its shard, through the Session API: removed while it is
//! still checking its data, it never starts running (no status lists it, no peer
//! can reach it) and can be added again afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::metainfo_builder::{hash_pieces, MetainfoBuilder};
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, Session, SessionConfig, SessionError, SessionEvent, TorrentState};

const PIECE: u32 = 64 * 1024;

fn session() -> Session {
    Session::start(SessionConfig {
        shards: 1,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        our_id: PeerId(*b"-CB0100-lifelifelife"),
        read_cache_bytes: 1 << 20,
        connection_limits: Default::default(),
        redial: Default::default(),
    })
    .unwrap()
}

/// A complete single-file torrent of `len` bytes in `dir`: starting it rechecks every byte.
fn complete_torrent(dir: &std::path::Path, len: usize) -> AddTorrent {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.join("life.bin"), &data).unwrap();
    let bytes = MetainfoBuilder {
        files: vec![(vec![], len as u64)],
        piece_length: PIECE,
        piece_hashes: hash_pieces(&data, PIECE),
        ..MetainfoBuilder::new("life.bin")
    }
    .build()
    .unwrap();
    AddTorrent {
        meta: Arc::new(Metainfo::from_bytes(&bytes).unwrap()),
        download_dir: dir.to_path_buf(),
        config: TorrentConfig::default(),
        preallocation: Preallocation::Sparse,
        direct_writes: false,
        peers: Vec::new(),
        file_priorities: Vec::new(),
        download_limit: None,
        upload_limit: None,
        resume: None,
        sequential: false,
        trackers: None,
        held: false,
    }
}

/// Every state of `info_hash` seen in the next `window`, from status lines and
/// from a `Started` event (which ends `Checking`; these torrents are complete, so
/// it counts as `Seeding`).
fn states_during(session: &Session, info_hash: InfoHash, window: Duration) -> Vec<TorrentState> {
    let deadline = Instant::now() + window;
    let mut states = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(ev) = session.events().recv_timeout(left) else {
            break;
        };
        match ev {
            SessionEvent::Status { torrents, .. } => {
                states.extend(torrents.iter().filter(|t| t.info_hash == info_hash).map(|t| t.state));
            }
            SessionEvent::Started { info_hash: h, .. } if h == info_hash => states.push(TorrentState::Seeding),
            _ => {}
        }
    }
    states
}

#[test]
fn a_torrent_removed_while_checking_never_runs_and_can_be_added_again() {
    let dir = tempfile::tempdir().unwrap();
    let add = complete_torrent(dir.path(), 8 << 20);
    let info_hash = add.meta.info_hash;
    let mut session = session();
    // Both commands are queued before the shard looks: the remove finds the torrent checking.
    session.add_torrent(add.clone()).unwrap();
    session.remove_torrent(info_hash).unwrap();
    let states = states_during(&session, info_hash, Duration::from_secs(3));
    assert!(
        !states
            .iter()
            .any(|s| matches!(s, TorrentState::Seeding | TorrentState::Downloading)),
        "a removed torrent never runs: {states:?}"
    );
    assert_eq!(session.router().owner(&info_hash), None, "forgotten by the router");

    // Added again, it runs (seeding its complete data).
    session.add_torrent(add).unwrap();
    let states = states_during(&session, info_hash, Duration::from_secs(3));
    assert_eq!(states.last(), Some(&TorrentState::Seeding), "{states:?}");
    session.shutdown();
}

#[test]
fn a_running_torrent_is_removed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let add = complete_torrent(dir.path(), 256 * 1024);
    let info_hash = add.meta.info_hash;
    let mut session = session();
    session.add_torrent(add.clone()).unwrap();
    let states = states_during(&session, info_hash, Duration::from_millis(2500));
    assert_eq!(states.last(), Some(&TorrentState::Seeding), "{states:?}");
    session.remove_torrent(info_hash).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(session.router().owner(&info_hash), None);
    assert!(
        states_during(&session, info_hash, Duration::from_millis(1500)).is_empty(),
        "no status after removal"
    );
    assert!(matches!(session.add_torrent(add), Ok(0)));
    assert!(matches!(
        session.remove_torrent(InfoHash([9; 20])),
        Err(SessionError::Stopped)
    ));
    session.shutdown();
}
