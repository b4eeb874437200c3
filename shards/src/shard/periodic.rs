//! What a shard does on a timer: tick its torrents, report their status and its
//! figures, and say which torrents want the DHT and LSD.

use std::rc::Rc;

use ccbt_engine::InfoHash;
use ccbt_io::torrent_task::{TorrentTask, TICK_INTERVAL};

use super::{magnet_phase, Shard, TorrentLife, STATUS_INTERVAL};
use crate::messages::{SessionEvent, TorrentState, TorrentStatus};

/// The shard's torrents that may use the DHT: running, not held, not failed, and
/// not private (BEP 27: peers only from the trackers).
/// Magnets fetching their metadata count too: their info-hash is all they have,
/// and the DHT is how a magnet without trackers or `x.pe` finds anyone.
pub(super) fn dht_demand(shard: &Shard) -> Vec<ccbt_engine::dht::schedule::TorrentDemand> {
    use ccbt_engine::dht::schedule::TorrentDemand;
    let mut demand: Vec<TorrentDemand> = shard
        .running()
        .iter()
        .filter(|t| !t.meta.info.private && !t.is_held() && !t.is_stopped() && t.failure().is_none())
        .map(|t| TorrentDemand {
            info_hash: t.info_hash,
            connected_peers: t.stats().peers,
            downloading: !t.is_complete(),
        })
        .collect();
    demand.extend(
        shard
            .torrents
            .borrow()
            .iter()
            .filter_map(|(info_hash, life)| match life {
                TorrentLife::FetchingMetadata { task, .. } => Some(TorrentDemand {
                    info_hash: *info_hash,
                    connected_peers: task.connections(),
                    downloading: true,
                }),
                _ => None,
            }),
    );
    demand
}

/// Torrents ticked between two chances for other tasks to run.
const TICKS_PER_YIELD: usize = 256;

/// Ticks every torrent of the shard once a [`TICK_INTERVAL`], in one wake.
///
/// Why one loop: a timer per torrent, each on its own phase, woke an idle seeder of
/// 10,000 torrents for every one of them (21% of a core with nothing to do).
pub(super) async fn tick_loop(shard: Rc<Shard>) {
    let mut ticks: u64 = 0;
    loop {
        glommio::timer::sleep(TICK_INTERVAL).await;
        ticks += 1;
        let tasks = shard.running();
        for (i, task) in tasks.iter().enumerate() {
            task.tick(ticks);
            if (i + 1) % TICKS_PER_YIELD == 0 {
                glommio::yield_if_needed().await;
            }
        }
        if shard.ctx.lsd.enabled() && ticks % crate::lsd_service::PUBLISH_EVERY_TICKS == 1 {
            shard.ctx.lsd.publish(shard.ctx.id, lsd_announceable(&tasks));
        }
    }
}

/// The torrents local service discovery may announce: running with peers (not held,
/// not failed) and not private (BEP 27).
fn lsd_announceable(tasks: &[Rc<TorrentTask>]) -> Vec<InfoHash> {
    tasks
        .iter()
        .filter(|t| !t.is_held() && !t.is_stopped() && t.failure().is_none() && !t.meta.info.private)
        .map(|t| t.info_hash)
        .collect()
}

pub(super) async fn status_loop(shard: Rc<Shard>) {
    let mut busy = crate::shard_metrics::BusyMeter::new();
    loop {
        glommio::timer::sleep(STATUS_INTERVAL).await;
        let torrents = statuses(&shard);
        publish_metrics(&shard, &mut busy);
        if !shard.events.status(SessionEvent::Status {
            shard: shard.ctx.id,
            torrents,
            usage: shard.rate_limits.take_usage(),
        }) {
            return;
        }
    }
}

pub(super) fn statuses(shard: &Shard) -> Vec<TorrentStatus> {
    shard
        .torrents
        .borrow()
        .iter()
        .filter_map(|(info_hash, life)| match life {
            TorrentLife::Running(t) => Some(running_status(shard.ctx.id, t)),
            TorrentLife::Checking { removed: false, .. } => Some(TorrentStatus {
                info_hash: *info_hash,
                name: String::new(),
                shard: shard.ctx.id,
                state: TorrentState::Checking,
                stats: Default::default(),
                error: None,
                trackers: Vec::new(),
                no_reachable_peer: false,
                wanted_bytes: 0,
                metadata: None,
                peer_sources: Default::default(),
            }),
            // Removed: no longer the user's, only waiting for its check to end.
            TorrentLife::Checking { removed: true, .. } => None,
            TorrentLife::FailedToStart { name, error } => Some(TorrentStatus {
                info_hash: *info_hash,
                name: name.clone(),
                shard: shard.ctx.id,
                state: TorrentState::Failed,
                stats: Default::default(),
                error: Some(error.clone()),
                trackers: Vec::new(),
                no_reachable_peer: false,
                wanted_bytes: 0,
                metadata: None,
                peer_sources: Default::default(),
            }),
            TorrentLife::FetchingMetadata { magnet, task } => Some(magnet_phase::status(shard.ctx.id, magnet, task)),
        })
        .collect()
}

/// Publishes the shard's figures for monitoring (after [`statuses`], which adds
/// each torrent's engine figures to the shard's counters).
fn publish_metrics(shard: &Shard, busy: &mut crate::shard_metrics::BusyMeter) {
    let (busy_percent, busy) = busy.sample();
    shard.ctx.metrics.publish(crate::shard_metrics::ShardMetrics {
        shard: shard.ctx.id,
        io: ccbt_io::shard_counters::snapshot(),
        busy_percent,
        busy,
        cache: shard.cache.borrow().stats(),
        open_connections: shard.budget.open(),
        half_open: shard.budget.half_open(),
        open_files: ccbt_io::storage::Storage::executor_open_file_count(),
        running_torrents: shard.running().len(),
    });
}

fn running_status(shard: usize, t: &TorrentTask) -> TorrentStatus {
    let stats = t.stats();
    t.export_to_shard_counters(&stats);
    let error = t.failure();
    let state = if error.is_some() {
        TorrentState::Failed
    } else if t.is_held() {
        TorrentState::Held
    } else if stats.complete {
        TorrentState::Seeding
    } else {
        TorrentState::Downloading
    };
    TorrentStatus {
        info_hash: t.info_hash,
        name: t.meta.info.name.clone(),
        shard,
        state,
        stats,
        error,
        trackers: t.tracker_status(),
        no_reachable_peer: state == TorrentState::Downloading && t.peer_reachability().none_reachable(),
        wanted_bytes: t.wanted_bytes(),
        metadata: None,
        peer_sources: t.connected_peer_sources(),
    }
}
