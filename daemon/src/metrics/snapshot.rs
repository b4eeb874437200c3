//! Every figure one scrape reports, as one value: built by the core from its own
//! state and the shards' last published figures, then encoded as Prometheus text
//! (`exposition.rs`) or served as JSON (`GET /api/v1/metrics`, `btbt metrics
//! --format json`). The JSON field names are part of the API: add, never rename.

use std::collections::BTreeMap;

use ccbt_engine::latency::LatencyBuckets;
use ccbt_shards::{DhtStatus, ShardMetrics};
use serde::{Deserialize, Serialize};

use crate::api_types::{IpFilterBlocked, PeerGuardStats, SessionStats, ShardStats, TorrentStateName, TorrentSummary};

/// Every state a torrent can be in, so each has a series (0 included) and a
/// dashboard never sees one appear out of nothing.
pub const TORRENT_STATES: [TorrentStateName; 8] = [
    TorrentStateName::Checking,
    TorrentStateName::Queued,
    TorrentStateName::Downloading,
    TorrentStateName::Seeding,
    TorrentStateName::Paused,
    TorrentStateName::Finished,
    TorrentStateName::Error,
    TorrentStateName::Metadata,
];

/// `GET /api/v1/metrics`, and what `/metrics` encodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    pub session: SessionFigures,
    /// None when the DHT is off.
    pub dht: Option<DhtFigures>,
    pub shards: Vec<ShardFigures>,
    /// Per torrent, when `[metrics] per_torrent` is on and there are at most
    /// `per_torrent_max` torrents; empty otherwise.
    pub torrents: Vec<TorrentFigures>,
    /// Torrents left out of `torrents` because there were more than
    /// `per_torrent_max` (0 when per-torrent series are off).
    pub torrents_omitted: u32,
    /// The IP filter's and the peer defences' counts (as in `GET /api/v1/stats`).
    #[serde(default)]
    pub security: SecurityFigures,
}

/// What the IP filter and the peer defences did since the daemon started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityFigures {
    pub ip_filter_blocked: IpFilterBlocked,
    pub peer_guard: PeerGuardStats,
}

impl SecurityFigures {
    pub fn of(stats: &SessionStats) -> SecurityFigures {
        SecurityFigures {
            ip_filter_blocked: stats.ip_filter_blocked.clone(),
            peer_guard: stats.peer_guard.clone(),
        }
    }
}

/// The session as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionFigures {
    pub uptime_secs: u64,
    pub torrents: u32,
    /// Every state name, 0 included.
    pub torrents_by_state: BTreeMap<String, u32>,
    /// Queued torrents waiting for a download slot, and complete ones waiting for
    /// a seed slot.
    pub queued_downloads: u32,
    pub queued_seeds: u32,
    pub peers: usize,
    /// Payload bytes per second, now.
    pub download_rate: u64,
    pub upload_rate: u64,
    /// Payload bytes since the daemon started, and over the state dir's life.
    pub session_downloaded: u64,
    pub session_uploaded: u64,
    pub total_downloaded: u64,
    pub total_uploaded: u64,
    /// Events a slow `/api/v1/events` reader missed.
    pub events_dropped: u64,
    /// Connections handed from the accepting shard to their owner, and incoming
    /// connections for a torrent the session does not have (or not yet running).
    pub handovers: u64,
    pub unroutable_connections: u64,
}

/// The DHT node's figures (`Session::dht_status`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DhtFigures {
    pub nodes: usize,
    pub good_nodes: usize,
    pub queries_sent: u64,
    pub replies_received: u64,
    pub errors_received: u64,
    pub timeouts: u64,
    pub queries_received: u64,
    pub replies_sent: u64,
    pub dropped: u64,
    pub announces_sent: u64,
    pub announces_received: u64,
    pub stored_hashes: usize,
    pub stored_peers: usize,
    pub lookups_done: u64,
    pub send_errors: u64,
}

/// One shard. Counters are since the daemon started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardFigures {
    pub shard: usize,
    /// Share of the last second its executor spent running tasks, 0 to 100.
    pub busy_percent: f64,
    /// Seconds its executor spent running tasks.
    pub busy_seconds: f64,
    pub torrents: u32,
    pub peers: usize,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub open_connections: usize,
    pub half_open_connections: usize,
    pub open_files: usize,
    pub payload_bytes_down: u64,
    pub payload_bytes_up: u64,
    pub protocol_bytes_down: u64,
    pub protocol_bytes_up: u64,
    pub handshakes: u64,
    pub handshake_failures: u64,
    /// By reason: `peer_closed`, `io_error`, `protocol`, `banned`, `both_seeding`,
    /// `idle`, `evicted`, `outbox_full`.
    pub disconnects: BTreeMap<String, u64>,
    pub peers_banned: u64,
    pub pieces_verified: u64,
    pub hash_failures: u64,
    pub piece_write_failures: u64,
    pub disk_reads: u64,
    pub disk_read_bytes: u64,
    pub disk_read_errors: u64,
    pub disk_writes: u64,
    pub disk_write_bytes: u64,
    pub disk_write_errors: u64,
    pub read_cache_hits: u64,
    pub read_cache_misses: u64,
    pub read_cache_evictions: u64,
    pub read_cache_bytes: u64,
    pub read_cache_capacity_bytes: u64,
    pub tracker_announces: u64,
    pub tracker_announce_errors: u64,
    /// Request sent → block arrived.
    pub block_request_latency: HistogramFigures,
    /// SHA-1 of one piece.
    pub piece_hash_latency: HistogramFigures,
    /// Writing one verified piece.
    pub piece_write_latency: HistogramFigures,
    /// One storage read (a piece for the read cache, or a check).
    pub disk_read_latency: HistogramFigures,
}

/// A latency histogram: cumulative buckets as Prometheus has them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramFigures {
    pub count: u64,
    pub sum_seconds: f64,
    /// `(upper bound in seconds, samples at most that)`, increasing; the `+Inf`
    /// bucket is `count`.
    pub buckets: Vec<HistogramBucket>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub le_seconds: f64,
    pub count: u64,
}

impl From<&LatencyBuckets> for HistogramFigures {
    fn from(b: &LatencyBuckets) -> HistogramFigures {
        HistogramFigures {
            count: b.count(),
            sum_seconds: b.sum_us() as f64 / 1e6,
            buckets: b
                .cumulative()
                .map(|(le_us, count)| HistogramBucket {
                    le_seconds: le_us as f64 / 1e6,
                    count,
                })
                .collect(),
        }
    }
}

/// One torrent (per-torrent series).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TorrentFigures {
    pub info_hash: String,
    pub name: String,
    pub state: String,
    /// Payload bytes over the torrent's life in this state dir.
    pub downloaded: u64,
    pub uploaded: u64,
    pub download_rate: u64,
    pub upload_rate: u64,
    pub peers: usize,
    /// Verified share of the wanted bytes, 0 to 1.
    pub progress: f64,
    pub verified_bytes: u64,
    pub wanted_bytes: u64,
    pub ratio: f64,
}

impl From<&TorrentSummary> for TorrentFigures {
    fn from(t: &TorrentSummary) -> TorrentFigures {
        TorrentFigures {
            info_hash: t.info_hash.clone(),
            name: t.name.clone(),
            state: t.state.as_str().to_string(),
            downloaded: t.downloaded,
            uploaded: t.uploaded,
            download_rate: t.download_rate,
            upload_rate: t.upload_rate,
            peers: t.peers,
            progress: t.progress,
            verified_bytes: t.verified_bytes,
            wanted_bytes: t.wanted_bytes,
            ratio: t.ratio,
        }
    }
}

impl From<&DhtStatus> for DhtFigures {
    fn from(d: &DhtStatus) -> DhtFigures {
        let s = &d.stats;
        DhtFigures {
            nodes: s.nodes,
            good_nodes: s.good_nodes,
            queries_sent: s.queries_sent,
            replies_received: s.replies_received,
            errors_received: s.errors_received,
            timeouts: s.timeouts,
            queries_received: s.queries_received,
            replies_sent: s.replies_sent,
            dropped: s.dropped,
            announces_sent: s.announces_sent,
            announces_received: s.announces_received,
            stored_hashes: s.stored_hashes,
            stored_peers: s.stored_peers,
            lookups_done: s.lookups_done,
            send_errors: d.send_errors,
        }
    }
}

/// A shard's figures: its row of `/api/v1/stats` and what it published.
pub fn shard_figures(row: &ShardStats, m: &ShardMetrics) -> ShardFigures {
    let io = &m.io;
    ShardFigures {
        shard: row.shard,
        busy_percent: m.busy_percent,
        busy_seconds: m.busy.as_secs_f64(),
        torrents: row.torrents,
        peers: row.peers,
        download_rate: row.download_rate,
        upload_rate: row.upload_rate,
        open_connections: m.open_connections,
        half_open_connections: m.half_open,
        open_files: m.open_files,
        payload_bytes_down: io.payload_bytes_down,
        payload_bytes_up: io.payload_bytes_up,
        protocol_bytes_down: io.protocol_bytes_down,
        protocol_bytes_up: io.protocol_bytes_up,
        handshakes: io.handshakes,
        handshake_failures: io.handshake_failures,
        disconnects: io
            .disconnects
            .by_reason()
            .into_iter()
            .map(|(reason, n)| (reason.to_string(), n))
            .collect(),
        peers_banned: io.peers_banned,
        pieces_verified: io.pieces_verified,
        hash_failures: io.hash_failures,
        piece_write_failures: io.piece_write_failures,
        disk_reads: io.disk_reads,
        disk_read_bytes: io.disk_read_bytes,
        disk_read_errors: io.disk_read_errors,
        disk_writes: io.disk_writes,
        disk_write_bytes: io.disk_write_bytes,
        disk_write_errors: io.disk_write_errors,
        read_cache_hits: m.cache.hits,
        read_cache_misses: m.cache.misses,
        read_cache_evictions: m.cache.evictions,
        read_cache_bytes: m.cache.bytes,
        read_cache_capacity_bytes: m.cache.capacity,
        tracker_announces: io.tracker_announces,
        tracker_announce_errors: io.tracker_announce_errors,
        block_request_latency: (&io.block_latency).into(),
        piece_hash_latency: (&io.hash_latency).into(),
        piece_write_latency: (&io.write_latency).into(),
        disk_read_latency: (&io.read_latency).into(),
    }
}

/// The session-wide figures from `/api/v1/stats` and the queue.
pub fn session_figures(stats: &SessionStats, queued: QueuedCounts, unroutable: u64) -> SessionFigures {
    let mut by_state: BTreeMap<String, u32> = TORRENT_STATES.iter().map(|s| (s.as_str().to_string(), 0)).collect();
    for (state, n) in &stats.by_state {
        by_state.insert(state.clone(), *n);
    }
    SessionFigures {
        uptime_secs: stats.uptime_secs,
        torrents: stats.torrents,
        torrents_by_state: by_state,
        queued_downloads: queued.downloads,
        queued_seeds: queued.seeds,
        peers: stats.peers,
        download_rate: stats.download_rate,
        upload_rate: stats.upload_rate,
        session_downloaded: stats.session_downloaded,
        session_uploaded: stats.session_uploaded,
        total_downloaded: stats.total_downloaded,
        total_uploaded: stats.total_uploaded,
        events_dropped: stats.events_dropped,
        handovers: stats.handovers,
        unroutable_connections: unroutable,
    }
}

/// Queued torrents by the slot they wait for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuedCounts {
    pub downloads: u32,
    pub seeds: u32,
}

/// The per-torrent part under the config's switch and cap: the figures, and how
/// many torrents were left out.
pub fn per_torrent(
    config: &crate::daemon_config::metrics::MetricsConfig,
    torrents: usize,
    summaries: impl FnOnce() -> Vec<TorrentSummary>,
) -> (Vec<TorrentFigures>, u32) {
    if !config.per_torrent {
        return (Vec::new(), 0);
    }
    if torrents > config.per_torrent_max {
        return (Vec::new(), u32::try_from(torrents).unwrap_or(u32::MAX));
    }
    (summaries().iter().map(TorrentFigures::from).collect(), 0)
}

/// A snapshot with a figure in every family, for the encoding tests and the API
/// server's fake core.
#[cfg(test)]
pub mod for_tests {
    use std::time::Duration;

    use super::*;

    pub fn sample() -> MetricsSnapshot {
        let row = ShardStats {
            shard: 0,
            torrents: 2,
            peers: 3,
            download_rate: 1000,
            upload_rate: 2000,
            download_share: None,
            upload_share: None,
            busy_percent: 12.5,
        };
        let mut m = ShardMetrics {
            shard: 0,
            busy_percent: 12.5,
            busy: Duration::from_millis(1500),
            open_connections: 3,
            open_files: 4,
            ..Default::default()
        };
        m.io.payload_bytes_down = 1 << 20;
        m.io.protocol_bytes_down = 4096;
        m.io.handshakes = 5;
        m.io.disconnects.peer_closed = 2;
        m.io.pieces_verified = 64;
        m.io.hash_failures = 1;
        m.io.block_latency.record(Duration::from_millis(3));
        m.io.block_latency.record(Duration::from_millis(70));
        m.io.hash_latency.record(Duration::from_micros(800));
        m.cache.hits = 9;
        m.cache.misses = 1;
        let mut second = m.clone();
        second.shard = 1;
        let stats = SessionStats {
            download_rate: 1000,
            upload_rate: 2000,
            session_downloaded: 1 << 20,
            session_uploaded: 0,
            total_downloaded: 1 << 21,
            total_uploaded: 0,
            torrents: 2,
            by_state: BTreeMap::from([("downloading".to_string(), 1), ("seeding".to_string(), 1)]),
            peers: 3,
            shards: vec![row.clone()],
            events_dropped: 0,
            handovers: 1,
            uptime_secs: 30,
            ip_filter_blocked: IpFilterBlocked {
                total: 3,
                incoming: 2,
                outgoing: 1,
                disconnected: 0,
                by_source: BTreeMap::from([("tracker".to_string(), 4)]),
            },
            peer_guard: PeerGuardStats {
                refusals: BTreeMap::from([("per_ip".to_string(), 7)]),
                violations: BTreeMap::from([("request_flood".to_string(), 1)]),
                bans_issued: 2,
                bans_in_force: 1,
            },
        };
        let second_row = ShardStats {
            shard: 1,
            ..row.clone()
        };
        MetricsSnapshot {
            session: session_figures(&stats, QueuedCounts { downloads: 1, seeds: 0 }, 2),
            dht: Some(DhtFigures {
                nodes: 8,
                good_nodes: 5,
                queries_sent: 40,
                ..Default::default()
            }),
            shards: vec![shard_figures(&row, &m), shard_figures(&second_row, &second)],
            torrents: vec![TorrentFigures {
                info_hash: "0123456789abcdef0123456789abcdef01234567".to_string(),
                name: "a \"quoted\" name\nwith a newline".to_string(),
                state: "downloading".to_string(),
                downloaded: 1 << 20,
                uploaded: 0,
                download_rate: 1000,
                upload_rate: 0,
                peers: 3,
                progress: 0.5,
                verified_bytes: 1 << 20,
                wanted_bytes: 1 << 21,
                ratio: 0.0,
            }],
            torrents_omitted: 0,
            security: SecurityFigures::of(&stats),
        }
    }
}
