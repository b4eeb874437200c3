//! A magnet's life in the daemon: added with only an info-hash (and what the link
//! carries), kept as a link in the state dir until the shard has fetched the info
//! dictionary from peers, then saved as a `.torrent` and run like any other torrent.

use std::net::SocketAddr;
use std::sync::Arc;

use super::add::torrent_config;
use ccbt_engine::magnet::{FileSelection, MagnetError, MagnetLink};
use ccbt_engine::metainfo::{torrent_file_bytes, Metainfo};
use ccbt_engine::InfoHash;
use ccbt_io::storage::Preallocation;
use ccbt_shards::{AddMagnet, SessionError};

use super::{DaemonCore, Life};
use crate::api_types::{AddRequest, AddResponse, FilePriorityName};
use crate::control::ApiError;

/// Most `x.pe` peers taken from one link (a link is outside input).
const MAX_LINK_PEERS: usize = 200;
/// Most file indexes `skip_files` may name before the file count is known.
const MAX_SELECTED_FILES: usize = ccbt_engine::magnet::MAX_SELECT_ONLY;

/// What a magnet brought in place of a metainfo, kept until the metadata arrives.
#[derive(Clone, Debug)]
pub(crate) struct PendingMagnet {
    pub link: MagnetLink,
    /// What to show until the metadata names it: `dn`, else the info-hash in hex.
    pub name: String,
}

impl PendingMagnet {
    /// Parses a link as given by a user or a tool; a v2-only link (`urn:btmh:`) is
    /// refused as unsupported rather than as malformed.
    pub fn parse(text: &str) -> Result<PendingMagnet, ApiError> {
        let link = MagnetLink::parse(text).map_err(|e| match e {
            MagnetError::V2Only => ApiError::new(400, "unsupported", format!("magnet: {e}")),
            e => ApiError::new(400, "invalid_magnet", format!("magnet: {e}")),
        })?;
        let name = link.display_name.clone().unwrap_or_else(|| link.info_hash.to_hex());
        Ok(PendingMagnet { link, name })
    }

    /// The link as saved in the state dir: the parsed link, `so` included.
    pub fn to_uri(&self) -> String {
        self.link.to_uri()
    }

    /// The link's `x.pe` peers that are IP addresses (a host name would need a DNS
    /// lookup on the control thread: those are skipped).
    pub fn peer_addrs(&self) -> Vec<SocketAddr> {
        self.link
            .peers
            .iter()
            .filter_map(|p| match p.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    tracing::debug!(torrent = %self.link.info_hash, peer = %p, "x.pe peer is not an IP address; skipped");
                    None
                }
            })
            .take(MAX_LINK_PEERS)
            .collect()
    }

    /// The link's trackers, each its own tier (as libtorrent and Transmission take them).
    pub fn tracker_tiers(&self) -> Vec<Vec<String>> {
        self.link.trackers.iter().map(|t| vec![t.clone()]).collect()
    }
}

/// The link in a watch dir's `.magnet` file (its first line), read bounded.
pub(crate) fn read_magnet_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    /// Far above a link with many trackers.
    const MAX_MAGNET_FILE: u64 = 64 * 1024;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_MAGNET_FILE).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// File priorities once the file list is known: `so` keeps only its files, then
/// the add's `skip_files` (kept as a prefix of the list until then) apply.
fn priorities_for(
    meta: &Metainfo,
    select_only: Option<&FileSelection>,
    pending: &[FilePriorityName],
) -> Vec<FilePriorityName> {
    let files = meta.info.files.len();
    let mut priorities = match select_only {
        Some(keep) if keep.selects_any_below(files) => {
            let mut p = vec![FilePriorityName::Skip; files];
            for i in keep.indexes_below(files) {
                p[i] = FilePriorityName::Normal;
            }
            p
        }
        // A selection naming no file of the torrent would skip everything: ignored.
        _ => vec![FilePriorityName::Normal; files],
    };
    for (slot, p) in priorities.iter_mut().zip(pending) {
        if *p != FilePriorityName::Normal {
            *slot = *p;
        }
    }
    priorities
}

impl DaemonCore {
    /// Adds a magnet: a torrent in state `metadata` once the queue starts it.
    pub(super) fn add_magnet(&mut self, text: &str, options: AddRequest) -> Result<AddResponse, ApiError> {
        let magnet = PendingMagnet::parse(text)?;
        let info_hash = magnet.link.info_hash;
        self.refuse_duplicate(info_hash, &magnet.name)?;
        let download_dir = match &options.download_dir {
            Some(d) => super::add::absolute_dir("download_dir", d)?,
            None => self.download_dir.clone(),
        };
        let mut peers = magnet.peer_addrs();
        for p in super::add::parse_peers(&options.peers)? {
            if !peers.contains(&p) {
                peers.push(p);
            }
        }
        // The file count is unknown until the metadata arrives: `skip_files` is kept
        // as the head of the priority list and checked against the files then.
        let mut priorities = Vec::new();
        for &i in &options.skip_files {
            if i >= MAX_SELECTED_FILES {
                return Err(ApiError::bad_request(format!(
                    "skip_files: {i} is not a file index (at most {MAX_SELECTED_FILES} files)"
                )));
            }
            if priorities.len() <= i {
                priorities.resize(i + 1, FilePriorityName::Normal);
            }
            priorities[i] = FilePriorityName::Skip;
        }
        self.store
            .save_magnet(&info_hash.0, &magnet.to_uri())
            .map_err(|e| ApiError::internal(format!("cannot keep the magnet link: {e}")))?;
        let trackers = magnet.tracker_tiers();
        let added = super::add::NewTorrent {
            info_hash,
            meta: None,
            magnet: Some(magnet),
            download_dir,
            file_priorities: priorities,
            trackers: (!trackers.is_empty()).then_some(trackers),
            peers,
        };
        Ok(self.insert_new(added, &options))
    }

    /// Sends a magnet to a shard, which fetches its metadata from peers and then
    /// starts it (the core hears `MetadataReceived`, then `Started`).
    pub(super) fn start_magnet(&mut self, id: u32) {
        let listen_port = self.session.listen_addr().port();
        let ban_duration = self.bans.duration();
        let Some(t) = self.torrents.get_mut(&id) else { return };
        let Some(magnet) = &t.magnet else { return };
        let add = AddMagnet {
            info_hash: t.info_hash,
            display_name: magnet.link.display_name.clone(),
            trackers: t.settings.trackers.clone().unwrap_or_default(),
            peers: t.settings.peers.clone(),
            select_only: magnet.link.select_only.clone(),
            download_dir: t.settings.download_dir.clone(),
            config: torrent_config(listen_port, t.settings.sequential, ban_duration),
            preallocation: Preallocation::Sparse,
            direct_writes: true,
            download_limit: t.settings.download_limit,
            upload_limit: t.settings.upload_limit,
            sequential: t.settings.sequential,
            held: false,
        };
        match self.session.add_magnet(add) {
            Ok(shard) => {
                t.life = Life::Running;
                t.held = false;
                t.checked = false;
                t.shard = Some(shard);
                t.status = None;
                t.error = None;
            }
            Err(SessionError::Duplicate(_)) => {
                tracing::debug!(torrent = %t.info_hash, "previous run still stopping; start later");
            }
            Err(e) => t.error = Some(format!("cannot start: {e}")),
        }
    }

    /// Refuses a second add of the same torrent, and one still being removed.
    pub(super) fn refuse_duplicate(&self, info_hash: InfoHash, name: &str) -> Result<(), ApiError> {
        if let Some(id) = self.by_hash.get(&info_hash) {
            return Err(ApiError::new(
                409,
                "duplicate",
                format!("torrent {info_hash} ({name}) is already in the session as id {id}"),
            ));
        }
        if self.removing.contains_key(&info_hash) {
            return Err(ApiError::conflict(format!(
                "torrent {info_hash} is still being removed; add it again in a moment"
            )));
        }
        Ok(())
    }

    /// The shard fetched a magnet's info dictionary: the torrent now has files. Its
    /// `.torrent` is saved (a restart does not fetch again), `so` and `skip_files`
    /// become file priorities, and `metadata_received` is published. The shard goes
    /// on to check and run the torrent by itself.
    pub(super) fn on_metadata_received(&mut self, info_hash: InfoHash, meta: Arc<Metainfo>) {
        let Some(id) = self.by_hash.get(&info_hash).copied() else {
            return;
        };
        let Some(t) = self.torrents.get_mut(&id) else { return };
        if t.meta.is_some() || meta.info_hash != info_hash {
            return;
        }
        let tiers = match &t.settings.trackers {
            Some(tiers) => tiers.clone(),
            None => Vec::new(),
        };
        let bytes = torrent_file_bytes(&meta.info_bytes, &tiers);
        if let Err(e) = self.store.save_metainfo(&info_hash.0, &bytes) {
            // The torrent runs on; only a restart would have to fetch again.
            tracing::error!(torrent = %info_hash, error = %e, "cannot save the fetched .torrent");
        } else if let Err(e) = self.store.remove_magnet(&info_hash.0) {
            tracing::warn!(torrent = %info_hash, error = %e, "cannot delete the saved magnet link");
        }
        let select_only = t.magnet.take().and_then(|m| m.link.select_only);
        t.settings.file_priorities = priorities_for(&meta, select_only.as_ref(), &t.settings.file_priorities);
        // The shard applied `so` itself; `skip_files` is the daemon's to send.
        let skipped_beyond_selection = t.settings.file_priorities != priorities_for(&meta, select_only.as_ref(), &[]);
        t.meta = Some(meta);
        if skipped_beyond_selection && matches!(t.life, Life::Running) {
            let priorities = t
                .settings
                .file_priorities
                .iter()
                .map(|p| super::views::engine_priority(*p))
                .collect();
            let _ = self.session.set_file_priorities(info_hash, priorities);
        }
        self.session_dirty = true;
        self.request_schedule();
        if let Some(t) = self.torrents.get(&id) {
            tracing::info!(torrent = %info_hash, name = %t.name(), "metadata received");
            let files = t.meta.as_ref().map_or(0, |m| m.info.files.len());
            self.publish("metadata_received", Some(t), Some(format!("{files} files")));
        }
    }
}

#[cfg(test)]
mod tests;
