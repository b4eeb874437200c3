//! A stand-in for the daemon's core: answers every [`ControlRequest`] with canned
//! data about one torrent (id 1), refuses other ids the way the core does, and
//! records what it was asked so tests can check what the server passed on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::api_types::{
    AddRequest, AddResponse, FileEntry, FilePriorityName, FilesPatch, PeerEntry, PeersBySource, PieceMap, QueueMove,
    SessionInfo, SessionPatch, SessionSettings, SessionStats, ShardStats, TorrentDetail, TorrentPatch,
    TorrentStateName, TorrentSummary, TrackerEntry,
};
use crate::control::{AddSource, ApiError, ControlInbox, ControlRequest, TorrentAction};

pub(super) const INFO_HASH: &str = "1111111111111111111111111111111111111111";
pub(super) const NAME: &str = "ubuntu.iso";

/// What the server passed on, for the requests that carry something.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Seen {
    AddMetainfo { bytes: Vec<u8>, options: AddRequest },
    AddPath { path: String, options: AddRequest },
    AddMagnet { magnet: String },
    Patch { id: String, patch: TorrentPatch },
    Remove { id: String, delete_data: bool },
    Action { id: String, action: TorrentAction },
    Move { id: String, to: QueueMove },
    PatchFiles { id: String, patch: FilesPatch },
    PatchSession { patch: SessionPatch },
    Shutdown,
}

pub(super) type SeenLog = Arc<Mutex<Vec<Seen>>>;

/// Answers requests until every handle is gone.
pub(super) async fn run(mut inbox: ControlInbox, seen: SeenLog) {
    while let Some(request) = inbox.requests.recv().await {
        answer(request, &seen);
    }
}

fn record(seen: &SeenLog, what: Seen) {
    if let Ok(mut log) = seen.lock() {
        log.push(what);
    }
}

/// The core resolves `1`, the full hash, or a unique prefix of it.
fn resolve(id: &str) -> Result<(), ApiError> {
    if id == "1" || (id.len() >= 2 && INFO_HASH.starts_with(&id.to_ascii_lowercase())) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no torrent matches id `{id}`")))
    }
}

fn answer(request: ControlRequest, seen: &SeenLog) {
    // A send fails only when the server dropped the request; nothing to do then.
    match request {
        ControlRequest::ListTorrents(reply) => drop(reply.send(Ok(vec![summary()]))),
        ControlRequest::GetTorrent { id, reply } => drop(reply.send(resolve(&id).map(|()| detail()))),
        ControlRequest::AddTorrent { source, options, reply } => {
            let result = match source {
                AddSource::Metainfo(bytes) => {
                    let parses = bytes.first() == Some(&b'd') && bytes.last() == Some(&b'e');
                    record(seen, Seen::AddMetainfo { bytes, options });
                    if parses {
                        Ok(added())
                    } else {
                        Err(ApiError::invalid_torrent("the .torrent is not a bencoded dictionary"))
                    }
                }
                AddSource::Path(path) => {
                    record(seen, Seen::AddPath { path, options });
                    Ok(added())
                }
                AddSource::Magnet(magnet) => {
                    record(seen, Seen::AddMagnet { magnet });
                    Err(ApiError::new(400, "unsupported", "magnet links are not supported yet"))
                }
            };
            drop(reply.send(result));
        }
        ControlRequest::PatchTorrent { id, patch, reply } => {
            let result = resolve(&id).map(|()| summary());
            record(seen, Seen::Patch { id, patch });
            drop(reply.send(result));
        }
        ControlRequest::RemoveTorrent { id, delete_data, reply } => {
            let result = resolve(&id);
            record(seen, Seen::Remove { id, delete_data });
            drop(reply.send(result));
        }
        ControlRequest::Action { id, action, reply } => {
            let result = resolve(&id).map(|()| summary());
            record(seen, Seen::Action { id, action });
            drop(reply.send(result));
        }
        ControlRequest::Files { id, reply } => drop(reply.send(resolve(&id).map(|()| files()))),
        ControlRequest::PatchFiles { id, patch, reply } => {
            let result = resolve(&id).map(|()| files());
            record(seen, Seen::PatchFiles { id, patch });
            drop(reply.send(result));
        }
        ControlRequest::Peers { id, reply } => drop(reply.send(resolve(&id).map(|()| peers()))),
        ControlRequest::Trackers { id, reply } => drop(reply.send(resolve(&id).map(|()| trackers()))),
        ControlRequest::Pieces { id, reply } => drop(reply.send(resolve(&id).map(|()| pieces()))),
        ControlRequest::Queue(reply) => drop(reply.send(Ok(vec![summary()]))),
        ControlRequest::MoveInQueue { id, to, reply } => {
            let result = resolve(&id).map(|()| vec![summary()]);
            record(seen, Seen::Move { id, to });
            drop(reply.send(result));
        }
        ControlRequest::GetSession(reply) => drop(reply.send(Ok(session()))),
        ControlRequest::PatchSession { patch, reply } => {
            record(seen, Seen::PatchSession { patch });
            drop(reply.send(Ok(session())));
        }
        ControlRequest::Stats(reply) => drop(reply.send(Ok(stats()))),
        ControlRequest::ListBans(reply) => drop(reply.send(Ok(vec![ban()]))),
        ControlRequest::Unban { addr, reply } => drop(reply.send(if addr == ban().ip {
            Ok(ban())
        } else {
            Err(ApiError::not_found(format!("{addr} is not banned")))
        })),
        ControlRequest::Metrics(reply) => drop(reply.send(Ok(crate::metrics::snapshot::for_tests::sample()))),
        ControlRequest::Shutdown(reply) => {
            record(seen, Seen::Shutdown);
            drop(reply.send(Ok(())));
        }
        ControlRequest::SyncMainData { rid, reply } => {
            let mut log = crate::core::change_log::ChangeLog::new(1);
            log.record(summary());
            drop(reply.send(Ok(log.delta_since(
                rid,
                std::time::Instant::now(),
                &BTreeMap::new(),
                &[],
            ))));
        }
        ControlRequest::Categories(reply) => drop(reply.send(Ok(Default::default()))),
        ControlRequest::IpFilter(crate::control::IpFilterRequest::Status(reply)) => {
            drop(reply.send(Ok(Default::default())))
        }
        ControlRequest::IpFilter(crate::control::IpFilterRequest::Reload(reply)) => {
            drop(reply.send(Err(ApiError::conflict("the fake core has no lists"))))
        }
        ControlRequest::IpFilter(crate::control::IpFilterRequest::SetLists { reply, .. }) => drop(reply.send(Ok(()))),
        ControlRequest::IpFilter(crate::control::IpFilterRequest::Check { address, reply }) => {
            drop(reply.send(Ok(crate::api_types::IpFilterCheck {
                address: address.to_string(),
                blocked: address.is_loopback(),
            })))
        }
        ControlRequest::EditCategories { edit, reply } => {
            let mut book = crate::control::CategoryBook::default();
            drop(reply.send(book.apply(&edit).map(|_| book)));
        }
        ControlRequest::Reconfigure { reply, .. } => drop(reply.send(Ok(()))),
        ControlRequest::Alerts(request) => answer_alerts(request),
    }
}

/// The alert routes, answered by a real engine with the default rules.
fn answer_alerts(request: crate::alerts::AlertRequest) {
    use crate::alerts::{AlertEngine, AlertRequest};
    let mut engine = AlertEngine::new(&crate::daemon_config::AlertsConfig::default(), Vec::new());
    match request {
        AlertRequest::List(reply) => drop(reply.send(Ok(engine.list()))),
        AlertRequest::Rules(reply) => drop(reply.send(Ok(Vec::new()))),
        AlertRequest::AddRule { rule, reply } => {
            drop(reply.send(Err(ApiError::bad_request(format!("fake core: {}", rule.name)))))
        }
        AlertRequest::RemoveRule { name, reply } => {
            drop(reply.send(Err(ApiError::not_found(format!("no rule named {name:?}")))))
        }
        AlertRequest::Test(reply) => drop(reply.send(Ok(engine.fire_test(1)[0].view().clone()))),
        AlertRequest::SetConfig { config, reply } => {
            engine.set_config_rules(&config, 1);
            drop(reply.send(Ok(())))
        }
    }
}

fn added() -> AddResponse {
    AddResponse {
        id: 2,
        info_hash: "2222222222222222222222222222222222222222".to_string(),
        name: "added".to_string(),
    }
}

pub(super) fn summary() -> TorrentSummary {
    TorrentSummary {
        info_hash: INFO_HASH.to_string(),
        state: TorrentStateName::Seeding,
        progress: 1.0,
        verified_bytes: 4096,
        total_bytes: 4096,
        wanted_bytes: 4096,
        download_rate: 0,
        upload_rate: 512,
        downloaded: 4096,
        uploaded: 8192,
        ratio: 2.0,
        peers: 3,
        eta_secs: None,
        labels: vec!["linux".to_string()],
        download_dir: "/srv/dl".to_string(),
        completed_at: Some(1_700_000_100),
        seconds_seeding: 50,
        upload_limit: Some(1000),
        ..TorrentSummary::sample(1, NAME)
    }
}

fn detail() -> TorrentDetail {
    TorrentDetail {
        summary: summary(),
        piece_length: 16384,
        num_pieces: 1,
        pieces_have: 1,
        files: files(),
        peers_list: peers(),
        trackers: trackers(),
        last_check: None,
        peers_by_source: PeersBySource {
            tracker: 1,
            ..PeersBySource::default()
        },
    }
}

fn files() -> Vec<FileEntry> {
    vec![FileEntry {
        index: 0,
        path: "ubuntu.iso".to_string(),
        length: 4096,
        verified_bytes: 4096,
        progress: 1.0,
        priority: FilePriorityName::Normal,
        padding: false,
    }]
}

fn peers() -> Vec<PeerEntry> {
    vec![PeerEntry {
        addr: "127.0.0.1:6881".to_string(),
        client: "qB 4.6.5.0".to_string(),
        flags: "U".to_string(),
        download_rate: 0,
        upload_rate: 512,
        downloaded: 0,
        uploaded: 8192,
        progress: 0.5,
        source: "tracker".to_string(),
    }]
}

fn trackers() -> Vec<TrackerEntry> {
    vec![TrackerEntry {
        url: "http://127.0.0.1:6969/announce".to_string(),
        tier: 0,
        status: "working".to_string(),
        next_announce_secs: Some(1800),
        seeders: Some(1),
        leechers: Some(2),
        last_error: None,
    }]
}

fn pieces() -> PieceMap {
    PieceMap {
        num_pieces: 1,
        have: 1,
        bitfield_hex: "80".to_string(),
    }
}

pub(super) fn session() -> SessionInfo {
    SessionInfo {
        version: "0.1.0".to_string(),
        api_version: crate::api_types::API_VERSION,
        pid: 4242,
        api_url: "http://127.0.0.1:64124".to_string(),
        listen: "0.0.0.0:6881".to_string(),
        state_dir: "/var/lib/ccbt".to_string(),
        download_dir: "/srv/dl".to_string(),
        shards: 2,
        uptime_secs: 60,
        settings: SessionSettings {
            download_limit: None,
            upload_limit: Some(1_000_000),
            alt_download_limit: None,
            alt_upload_limit: None,
            alt_speed_enabled: false,
            alt_speed_schedule: None,
            alt_speed_active: false,
            max_active_downloads: 8,
            max_active_seeds: 2000,
            max_active_checks: 1,
            ratio_limit: None,
            seed_time_limit_secs: None,
            idle_limit_secs: None,
            watch_dir: None,
        },
    }
}

pub(super) fn ban() -> crate::api_types::BanView {
    crate::api_types::BanView {
        ip: "192.0.2.7".into(),
        reason: "proven_corrupt_block".into(),
        info_hash: None,
        banned_at: 1_000,
        expires_at: 4_600,
    }
}

fn stats() -> SessionStats {
    SessionStats {
        download_rate: 0,
        upload_rate: 512,
        session_downloaded: 4096,
        session_uploaded: 8192,
        total_downloaded: 4096,
        total_uploaded: 8192,
        torrents: 1,
        by_state: BTreeMap::from([("seeding".to_string(), 1)]),
        peers: 3,
        shards: vec![ShardStats {
            shard: 0,
            torrents: 1,
            peers: 3,
            download_rate: 0,
            upload_rate: 512,
            download_share: None,
            upload_share: Some(500_000),
            busy_percent: 0.0,
        }],
        events_dropped: 0,
        handovers: 7,
        uptime_secs: 60,
        ip_filter_blocked: Default::default(),
        peer_guard: crate::api_types::PeerGuardStats {
            refusals: BTreeMap::from([("handshake_rate".to_string(), 2)]),
            violations: BTreeMap::new(),
            bans_issued: 1,
            bans_in_force: 1,
        },
    }
}
