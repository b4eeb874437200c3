//! Adds what the engine counted for one torrent (hash failures, bans, block
//! latencies) to its shard's counters, as the difference since the last time: the
//! shard's figures keep growing when a torrent is removed, where a sum over the
//! torrents still there would drop.

use ccbt_engine::latency::LatencyBuckets;

use super::TorrentTask;
use crate::shard_counters;

/// The engine's own figures of a torrent as last added to the shard's counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExportedFigures {
    hash_failures: u32,
    peers_banned: u32,
    block_latency: LatencyBuckets,
}

impl TorrentTask {
    /// Adds the engine's figures that grew since the last call to the shard's
    /// counters. The shard calls it with each status and once more at a remove.
    pub fn export_to_shard_counters(&self) {
        let now = {
            let engine = self.engine.borrow();
            let stats = engine.stats(std::time::Instant::now());
            ExportedFigures {
                hash_failures: stats.hash_failures,
                peers_banned: stats.peers_banned,
                block_latency: engine.block_latency_buckets(),
            }
        };
        let before = self.exported.replace(now);
        shard_counters::count(|c| {
            c.hash_failures += u64::from(now.hash_failures.saturating_sub(before.hash_failures));
            c.peers_banned += u64::from(now.peers_banned.saturating_sub(before.peers_banned));
            c.block_latency.add(&now.block_latency.since(&before.block_latency));
        });
    }
}
