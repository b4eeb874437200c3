//! A magnet on its shard before it is a torrent: its [`MetadataTask`] runs until the
//! info dictionary is verified, then the torrent is added as any other (its files
//! checked first), with the peers the phase learned.

use std::rc::Rc;
use std::sync::Arc;

use ccbt_engine::file_priority::FilePriority;
use ccbt_engine::magnet::FileSelection;
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::torrent::TorrentStats;
use ccbt_engine::InfoHash;
use ccbt_io::metadata_task::{MetadataSetup, MetadataTask};

use super::{Shard, TorrentLife};
use crate::messages::{AddMagnet, AddTorrent, MetadataProgress, SessionEvent, TorrentState, TorrentStatus};

impl Shard {
    /// Registers a magnet and starts fetching its metadata.
    pub(super) fn add_magnet(self: &Rc<Self>, magnet: Box<AddMagnet>) {
        let info_hash = magnet.info_hash;
        let task = MetadataTask::new(MetadataSetup {
            info_hash,
            our_id: self.ctx.our_id,
            listen_port: magnet.config.listen_port,
            trackers: magnet.trackers.clone(),
            peers: magnet.peers.clone(),
            budget: self.budget.clone(),
            redial: self.ctx.redial,
            filter: self.filter.clone(),
        });
        self.torrents.borrow_mut().insert(
            info_hash,
            TorrentLife::FetchingMetadata {
                magnet,
                task: task.clone(),
            },
        );
        let shard = self.clone();
        glommio::spawn_local(async move { shard.fetch_metadata(info_hash, task).await }).detach();
    }

    /// The metadata phase of a magnet of this shard, if it is in it.
    pub(super) fn metadata_task(&self, info_hash: &InfoHash) -> Option<Rc<MetadataTask>> {
        match self.torrents.borrow().get(info_hash) {
            Some(TorrentLife::FetchingMetadata { task, .. }) => Some(task.clone()),
            _ => None,
        }
    }

    /// Runs the phase; on success the torrent is added in its place.
    async fn fetch_metadata(self: Rc<Self>, info_hash: InfoHash, task: Rc<MetadataTask>) {
        let Some(outcome) = task.run().await else {
            // Cancelled: a remove or the shutdown has already ended it.
            return;
        };
        // Still this magnet's phase (not removed meanwhile)?
        let magnet = {
            let mut torrents = self.torrents.borrow_mut();
            match torrents.remove(&info_hash) {
                Some(TorrentLife::FetchingMetadata { magnet, task: current }) if Rc::ptr_eq(&current, &task) => magnet,
                Some(other) => {
                    torrents.insert(info_hash, other);
                    return;
                }
                None => return,
            }
        };
        let bare = match outcome {
            Ok(meta) => meta,
            Err(e) => {
                let error = e.to_string();
                let name = display_name(&magnet);
                self.torrents.borrow_mut().insert(
                    info_hash,
                    TorrentLife::FailedToStart {
                        name,
                        error: error.clone(),
                    },
                );
                self.pending_changes.take(&info_hash);
                self.events.lifecycle(SessionEvent::Failed { info_hash, error });
                return;
            }
        };
        let meta = Arc::new(with_trackers(&bare, &magnet.trackers));
        tracing::info!(torrent = %info_hash, name = %meta.info.name, "metadata received");
        self.events.lifecycle(SessionEvent::MetadataReceived {
            info_hash,
            meta: meta.clone(),
        });
        let discovered = task
            .learned_peers()
            .into_iter()
            .filter(|(addr, _)| !magnet.peers.contains(addr))
            .collect();
        // A named peer that lied about the metadata is not pinned for the torrent.
        let mut magnet = magnet;
        magnet.peers.retain(|addr| !task.is_refused(addr));
        let add = AddTorrent {
            file_priorities: file_priorities(&meta, magnet.select_only.as_ref()),
            meta,
            download_dir: magnet.download_dir,
            config: magnet.config,
            preallocation: magnet.preallocation,
            direct_writes: magnet.direct_writes,
            peers: magnet.peers,
            download_limit: magnet.download_limit,
            upload_limit: magnet.upload_limit,
            resume: None,
            sequential: magnet.sequential,
            trackers: None,
            held: magnet.held,
        };
        let cancel = self.begin_add(info_hash);
        self.add(add, cancel, discovered).await;
    }
}

/// The metadata with the magnet's trackers, as a `.torrent` would carry them.
fn with_trackers(bare: &Metainfo, tiers: &[Vec<String>]) -> Metainfo {
    let mut meta = bare.clone();
    meta.announce = tiers.iter().flatten().next().cloned();
    meta.announce_list = tiers.iter().filter(|t| !t.is_empty()).cloned().collect();
    meta
}

/// BEP 53 `so`: the files named are wanted, the others skipped. A selection naming
/// no file of this torrent selects nothing, so it is ignored (everything wanted).
pub(super) fn file_priorities(meta: &Metainfo, select_only: Option<&FileSelection>) -> Vec<FilePriority> {
    let Some(selected) = select_only else {
        return Vec::new();
    };
    let files = meta.info.files.len();
    if !selected.selects_any_below(files) {
        tracing::warn!(torrent = %meta.info_hash, "the magnet's `so` names no file of the torrent: every file is downloaded");
        return Vec::new();
    }
    (0..files)
        .map(|i| {
            if selected.contains(i) {
                FilePriority::Normal
            } else {
                FilePriority::Skip
            }
        })
        .collect()
}

fn display_name(magnet: &AddMagnet) -> String {
    magnet.display_name.clone().unwrap_or_else(|| magnet.info_hash.to_hex())
}

/// A magnet's status while it fetches its metadata.
pub(super) fn status(shard: usize, magnet: &AddMagnet, task: &MetadataTask) -> TorrentStatus {
    let p = task.progress();
    TorrentStatus {
        info_hash: magnet.info_hash,
        name: display_name(magnet),
        shard,
        state: TorrentState::FetchingMetadata,
        stats: TorrentStats {
            peers: task.connections(),
            ..Default::default()
        },
        error: None,
        trackers: task.tracker_status(),
        no_reachable_peer: false,
        wanted_bytes: 0,
        peer_sources: Default::default(),
        metadata: Some(MetadataProgress {
            peers_asked: p.peers_asked,
            peers_with_metadata: p.peers_with_metadata,
            pieces_have: p.pieces_have,
            pieces_total: p.pieces_total,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_engine::metainfo_builder::MetainfoBuilder;

    fn three_files() -> Metainfo {
        let bytes = MetainfoBuilder {
            files: vec![(vec!["a".into()], 10), (vec!["b".into()], 10), (vec!["c".into()], 10)],
            piece_length: 16384,
            piece_hashes: vec![[0; 20]],
            ..MetainfoBuilder::new("three")
        }
        .build()
        .unwrap();
        Metainfo::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn select_only_skips_the_other_files() {
        use FilePriority::{Normal, Skip};
        let meta = three_files();
        assert_eq!(file_priorities(&meta, None), Vec::<FilePriority>::new());
        assert_eq!(
            file_priorities(&meta, Some(&FileSelection::from_ranges(vec![(0, 0), (2, 2)]))),
            vec![Normal, Skip, Normal]
        );
        assert_eq!(
            file_priorities(&meta, Some(&FileSelection::from_ranges(vec![(1, 1), (7, 7)]))),
            vec![Skip, Normal, Skip]
        );
        // Naming no file of the torrent selects nothing: everything is downloaded.
        assert_eq!(
            file_priorities(&meta, Some(&FileSelection::from_ranges(vec![(5, 5), (9, 9)]))),
            Vec::<FilePriority>::new()
        );
    }

    #[test]
    fn the_magnet_trackers_go_into_the_metadata() {
        let meta = three_files();
        let tiers = vec![vec!["http://a/announce".to_string()], vec!["udp://b:1".to_string()]];
        let with = with_trackers(&meta, &tiers);
        assert_eq!(with.announce.as_deref(), Some("http://a/announce"));
        assert_eq!(with.announce_list, tiers);
        assert_eq!(with.info_hash, meta.info_hash);
    }
}
