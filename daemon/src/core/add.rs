//! Adding torrents, and starting and stopping them on the shards.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::InfoHash;
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddTorrent, SessionError};

use super::magnet::PendingMagnet;
use super::managed::LifetimeTotals;
use super::{unix_now, AfterStop, DaemonCore, Life, Managed, StopReason, TorrentSettings};
use crate::api_types::{AddRequest, AddResponse, FilePriorityName, LimitKeyword, LimitSetting};
use crate::control::{AddSource, ApiError};

/// Largest `.torrent` the daemon reads from a path (the same cap as `ccbt`).
const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// The bytes of a `.torrent` named by path, capped in the read itself.
fn read_torrent_path(path: &str) -> Result<Vec<u8>, ApiError> {
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| ApiError::invalid_torrent(format!("cannot read {path}: {e}")))?;
    if !meta.is_file() {
        return Err(ApiError::invalid_torrent(format!("{path} is not a regular file")));
    }
    let file = std::fs::File::open(p).map_err(|e| ApiError::invalid_torrent(format!("cannot read {path}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_TORRENT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ApiError::invalid_torrent(format!("cannot read {path}: {e}")))?;
    if bytes.len() as u64 > MAX_TORRENT_FILE {
        return Err(ApiError::invalid_torrent(format!(
            "{path} is larger than {MAX_TORRENT_FILE} bytes: not a .torrent"
        )));
    }
    Ok(bytes)
}

pub(super) fn parse_peers(peers: &[String]) -> Result<Vec<SocketAddr>, ApiError> {
    peers
        .iter()
        .map(|p| {
            p.parse::<SocketAddr>()
                .map_err(|_| ApiError::bad_request(format!("peers: {p:?} is not an ADDRESS:PORT")))
        })
        .collect()
}

pub(super) fn absolute_dir(field: &str, dir: &str) -> Result<PathBuf, ApiError> {
    let path = PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(ApiError::bad_request(format!(
            "{field}: {dir:?} is not an absolute path"
        )));
    }
    Ok(path)
}

/// What differs between a `.torrent` add and a magnet add.
pub(super) struct NewTorrent {
    pub info_hash: InfoHash,
    pub meta: Option<Arc<Metainfo>>,
    pub magnet: Option<PendingMagnet>,
    pub download_dir: PathBuf,
    pub file_priorities: Vec<FilePriorityName>,
    pub trackers: Option<Vec<Vec<String>>>,
    pub peers: Vec<SocketAddr>,
}

impl DaemonCore {
    pub(super) fn add(&mut self, source: AddSource, options: AddRequest) -> Result<AddResponse, ApiError> {
        let (bytes, origin) = match source {
            AddSource::Metainfo(bytes) => (bytes, "the uploaded torrent".to_string()),
            AddSource::Path(path) => (read_torrent_path(&path)?, path),
            AddSource::Magnet(link) => return self.add_magnet(&link, options),
        };
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| ApiError::invalid_torrent(format!("{origin}: {e}")))?;
        let info_hash = meta.info_hash;
        self.refuse_duplicate(info_hash, &meta.info.name)?;
        let download_dir = match &options.download_dir {
            Some(d) => absolute_dir("download_dir", d)?,
            None => self.download_dir.clone(),
        };
        let peers = parse_peers(&options.peers)?;
        let files = meta.info.files.len();
        let mut priorities = vec![FilePriorityName::Normal; files];
        for &i in &options.skip_files {
            let slot = priorities.get_mut(i).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "skip_files: the torrent has {files} files, there is no file {i}"
                ))
            })?;
            *slot = FilePriorityName::Skip;
        }
        self.store
            .save_metainfo(&info_hash.0, &bytes)
            .map_err(|e| ApiError::internal(format!("cannot keep a copy of the torrent: {e}")))?;
        let added = NewTorrent {
            info_hash,
            meta: Some(Arc::new(meta)),
            magnet: None,
            download_dir,
            file_priorities: priorities,
            trackers: None,
            peers,
        };
        Ok(self.insert_new(added, &options))
    }

    /// A torrent just added (a `.torrent` or a magnet): the next id, the end of the
    /// queue, the session's limits; then into the session.
    pub(super) fn insert_new(&mut self, added: NewTorrent, options: &AddRequest) -> AddResponse {
        let id = self.next_id;
        self.next_id += 1;
        let queue_position = self.torrents.values().map(|t| t.queue_position + 1).max().unwrap_or(0);
        let managed = Managed {
            id,
            info_hash: added.info_hash,
            meta: added.meta,
            magnet: added.magnet,
            settings: TorrentSettings {
                download_dir: added.download_dir,
                labels: options.labels.clone(),
                sequential: options.sequential,
                download_limit: None,
                upload_limit: None,
                ratio_limit: LimitSetting::Keyword(LimitKeyword::Global),
                seed_time_limit_secs: LimitSetting::Keyword(LimitKeyword::Global),
                idle_limit_secs: LimitSetting::Keyword(LimitKeyword::Global),
                file_priorities: added.file_priorities,
                trackers: added.trackers,
                peers: added.peers,
                force_started: false,
            },
            stop: options.paused.then_some(StopReason::Paused),
            life: Life::Idle,
            status: None,
            shard: None,
            resume: None,
            resume_dirty: false,
            recheck_next_start: false,
            check: None,
            record_problem: None,
            error: None,
            totals: LifetimeTotals::default(),
            complete: false,
            added_at: unix_now(),
            completed_at: None,
            queue_position,
            published_state: None,
            checked: false,
            held: false,
            idle: Default::default(),
        };
        self.insert_added(managed)
    }

    /// Puts a new torrent in the session: indexed, announced, queued.
    pub(super) fn insert_added(&mut self, managed: Managed) -> AddResponse {
        let id = managed.id;
        let info_hash = managed.info_hash;
        let response = AddResponse {
            id,
            info_hash: info_hash.to_hex(),
            name: managed.name().to_string(),
        };
        self.by_hash.insert(info_hash, id);
        if let Err(e) = self.ids.insert(id, info_hash.0) {
            tracing::error!(error = %e, "torrent ids out of step");
        }
        self.torrents.insert(id, managed);
        self.session_dirty = true;
        if let Some(t) = self.torrents.get(&id) {
            self.publish("added", Some(t), None);
            self.automation.hook_added(t);
        }
        self.request_schedule();
        response
    }

    /// Sends a torrent to a shard. A torrent whose previous run has not let go of
    /// its place yet stays queued and is tried again at the next tick.
    /// `held`: only check its files, then wait on the shard (no peers, no trackers)
    /// until the queue releases it.
    pub(super) fn start_torrent(&mut self, id: u32, held: bool) {
        let listen_port = self.session.listen_addr().port();
        let ban_duration = self.bans.duration();
        let Some(t) = self.torrents.get_mut(&id) else { return };
        if !matches!(t.life, Life::Idle) {
            return;
        }
        let Some(meta) = t.meta.clone() else {
            self.start_magnet(id);
            return;
        };
        let config = torrent_config(listen_port, t.settings.sequential, ban_duration);
        let resume = if t.recheck_next_start { None } else { t.resume.clone() };
        let add = AddTorrent {
            meta,
            download_dir: t.settings.download_dir.clone(),
            config,
            preallocation: Preallocation::Sparse,
            direct_writes: true,
            peers: t.settings.peers.clone(),
            file_priorities: t
                .settings
                .file_priorities
                .iter()
                .map(|p| super::views::engine_priority(*p))
                .collect(),
            sequential: t.settings.sequential,
            trackers: t.settings.trackers.clone(),
            download_limit: t.settings.download_limit,
            upload_limit: t.settings.upload_limit,
            resume,
            held,
        };
        match self.session.add_torrent(add) {
            Ok(shard) => {
                t.life = Life::Running;
                t.held = held;
                t.checked = false;
                t.shard = Some(shard);
                t.status = None;
                t.error = None;
                t.recheck_next_start = false;
            }
            Err(SessionError::Duplicate(_)) => {
                tracing::debug!(torrent = %t.info_hash, "previous run still stopping; start later");
            }
            Err(e) => {
                t.error = Some(format!("cannot start: {e}"));
            }
        }
    }

    /// Asks the shard to stop a running torrent; `then` runs once it has.
    pub(super) fn stop_torrent(&mut self, id: u32, then: AfterStop) {
        let Some(t) = self.torrents.get_mut(&id) else { return };
        match t.life {
            Life::Running => {
                let _ = self.session.remove_torrent(t.info_hash);
                t.life = Life::Stopping(then);
            }
            Life::Stopping(_) => t.life = Life::Stopping(then),
            Life::Idle => {
                t.life = Life::Stopping(then);
                self.after_stop(id);
            }
        }
    }
}

/// The engine settings of a torrent the daemon starts (from a .torrent or, once
/// its metadata arrives, a magnet): our port for PEX and LSD, the torrent's
/// sequential switch, and `[bans] duration` for the bans it issues itself.
pub(super) fn torrent_config(listen_port: u16, sequential: bool, ban_duration: std::time::Duration) -> TorrentConfig {
    TorrentConfig {
        listen_port: Some(listen_port),
        sequential,
        ban_duration,
        ..TorrentConfig::default()
    }
}
