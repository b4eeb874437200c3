//! A [`MetricsSnapshot`] in the Prometheus text format (0.0.4), written by
//! prometheus-client: the snapshot is a collector registered in a registry made for
//! the scrape, so names, label escaping and histogram lines are the library's.
//! Every family is listed in `docs/metrics.md`.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::snapshot::{HistogramFigures, MetricsSnapshot, SecurityFigures, ShardFigures, TorrentFigures};

/// The `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The snapshot as Prometheus text.
pub fn encode(snapshot: MetricsSnapshot) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(snapshot)));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

#[derive(Debug)]
struct SnapshotCollector(MetricsSnapshot);

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = &self.0;
        session_families(&mut encoder, s)?;
        dht_families(&mut encoder, s)?;
        shard_families(&mut encoder, &s.shards)?;
        security_families(&mut encoder, &s.security)?;
        torrent_families(&mut encoder, &s.torrents, s.torrents_omitted)
    }
}

/// Labels of one sample, as `(name, value)` pairs.
type Labels<'a> = Vec<(&'static str, &'a str)>;

/// One family: its descriptor, then a sample per label set.
fn family<'a, V: Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels<'a>, V)>,
    write: impl Fn(&mut prometheus_client::encoding::MetricEncoder, V) -> fmt::Result,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        let mut sample = metric.encode_family(&labels)?;
        write(&mut sample, value)?;
    }
    Ok(())
}

/// A counter family; `name` without `_total` (the encoder adds it).
fn counter<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> fmt::Result {
    family(encoder, name, help, MetricType::Counter, samples, |m, v| {
        m.encode_counter::<NoLabelSet, _, u64>(&v, None)
    })
}

/// A counter of seconds (a float).
fn seconds_counter<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, f64)>,
) -> fmt::Result {
    family(encoder, name, help, MetricType::Counter, samples, |m, v| {
        m.encode_counter::<NoLabelSet, _, u64>(&v, None)
    })
}

fn gauge<'a, V: prometheus_client::encoding::EncodeGaugeValue + Copy>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, V)>,
) -> fmt::Result {
    family(encoder, name, help, MetricType::Gauge, samples, |m, v| {
        m.encode_gauge(&v)
    })
}

fn histogram<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, &'a HistogramFigures)>,
) -> fmt::Result {
    family(encoder, name, help, MetricType::Histogram, samples, |m, h| {
        // The encoder adds the buckets up itself: it takes each bucket's own count.
        let mut below = 0;
        let per_bucket: Vec<(f64, u64)> = h
            .buckets
            .iter()
            .map(|b| {
                let own = b.count.saturating_sub(below);
                below = b.count;
                (b.le_seconds, own)
            })
            .collect();
        m.encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &per_bucket, None)
    })
}

fn none() -> Labels<'static> {
    Vec::new()
}

fn security_families(e: &mut DescriptorEncoder, s: &SecurityFigures) -> fmt::Result {
    let blocked = &s.ip_filter_blocked;
    counter(
        e,
        "ccbt_ip_filter_blocked",
        "Connections the IP filter refused: incoming at accept, outgoing dials not made, \
         connections closed when a reload blocked their address.",
        [
            (vec![("direction", "incoming")], blocked.incoming),
            (vec![("direction", "outgoing")], blocked.outgoing),
            (vec![("direction", "disconnected")], blocked.disconnected),
        ],
    )?;
    counter(
        e,
        "ccbt_ip_filter_dropped_addresses",
        "Peer addresses the IP filter dropped before they reached a torrent, by where they came from.",
        blocked
            .by_source
            .iter()
            .map(|(source, n)| (vec![("source", source.as_str())], *n)),
    )?;
    let guard = &s.peer_guard;
    counter(
        e,
        "ccbt_peer_refusals",
        "Peer connections refused or dials not made by the connection limits and bans, by reason.",
        guard
            .refusals
            .iter()
            .map(|(reason, n)| (vec![("reason", reason.as_str())], *n)),
    )?;
    counter(
        e,
        "ccbt_peer_violations",
        "Peers cut off for breaking the protocol, by kind (floods by anomaly).",
        guard
            .violations
            .iter()
            .map(|(kind, n)| (vec![("kind", kind.as_str())], *n)),
    )?;
    gauge(
        e,
        "ccbt_bans_in_force",
        "Entries of the session's ban list now (ccbt_peer_bans_total counts the bans issued).",
        [(none(), guard.bans_in_force as u64)],
    )
}

fn session_families(e: &mut DescriptorEncoder, s: &MetricsSnapshot) -> fmt::Result {
    let t = &s.session;
    gauge(
        e,
        "ccbt_uptime_seconds",
        "Seconds since the daemon started.",
        [(none(), t.uptime_secs)],
    )?;
    gauge(
        e,
        "ccbt_torrents",
        "Torrents in the session, by state.",
        t.torrents_by_state
            .iter()
            .map(|(state, n)| (vec![("state", state.as_str())], *n)),
    )?;
    gauge(
        e,
        "ccbt_queue_length",
        "Queued torrents waiting for an active slot, by the slot (download or seed).",
        [
            (vec![("queue", "download")], t.queued_downloads),
            (vec![("queue", "seed")], t.queued_seeds),
        ],
    )?;
    gauge(
        e,
        "ccbt_peers",
        "Peers connected over all torrents.",
        [(none(), t.peers)],
    )?;
    gauge(
        e,
        "ccbt_payload_rate_bytes_per_second",
        "Payload bytes per second over the last seconds, by direction.",
        directions(t.download_rate, t.upload_rate),
    )?;
    counter(
        e,
        "ccbt_session_payload_bytes",
        "Payload bytes since the daemon started, by direction.",
        directions(t.session_downloaded, t.session_uploaded),
    )?;
    counter(
        e,
        "ccbt_lifetime_payload_bytes",
        "Payload bytes over the state dir's life (removed torrents included), by direction.",
        directions(t.total_downloaded, t.total_uploaded),
    )?;
    counter(
        e,
        "ccbt_api_events_dropped",
        "Events slow /api/v1/events readers missed.",
        [(none(), t.events_dropped)],
    )?;
    counter(
        e,
        "ccbt_connection_handovers",
        "Incoming connections handed from the accepting shard to the shard owning their torrent.",
        [(none(), t.handovers)],
    )?;
    counter(
        e,
        "ccbt_unroutable_connections",
        "Incoming connections for a torrent the session does not have or does not run yet.",
        [(none(), t.unroutable_connections)],
    )
}

fn directions(down: u64, up: u64) -> [(Labels<'static>, u64); 2] {
    [(vec![("direction", "down")], down), (vec![("direction", "up")], up)]
}

fn dht_families(e: &mut DescriptorEncoder, s: &MetricsSnapshot) -> fmt::Result {
    let Some(d) = &s.dht else { return Ok(()) };
    gauge(
        e,
        "ccbt_dht_nodes",
        "Nodes in the DHT routing table: all, and those that answered lately (good).",
        [(vec![("kind", "all")], d.nodes), (vec![("kind", "good")], d.good_nodes)],
    )?;
    counter(
        e,
        "ccbt_dht_queries",
        "DHT queries sent by this node and received from others.",
        [
            (vec![("direction", "sent")], d.queries_sent),
            (vec![("direction", "received")], d.queries_received),
        ],
    )?;
    counter(
        e,
        "ccbt_dht_replies",
        "DHT replies received to our queries and sent to others'.",
        [
            (vec![("direction", "received")], d.replies_received),
            (vec![("direction", "sent")], d.replies_sent),
        ],
    )?;
    counter(
        e,
        "ccbt_dht_query_timeouts",
        "DHT queries of ours that timed out.",
        [(none(), d.timeouts)],
    )?;
    counter(
        e,
        "ccbt_dht_errors_received",
        "KRPC errors received in answer to our queries.",
        [(none(), d.errors_received)],
    )?;
    counter(
        e,
        "ccbt_dht_dropped_datagrams",
        "DHT datagrams dropped: not KRPC, unmatched, from the wrong address, or over a limit.",
        [(none(), d.dropped)],
    )?;
    counter(
        e,
        "ccbt_dht_announces",
        "announce_peer messages sent and received.",
        [
            (vec![("direction", "sent")], d.announces_sent),
            (vec![("direction", "received")], d.announces_received),
        ],
    )?;
    counter(
        e,
        "ccbt_dht_lookups",
        "get_peers lookups completed.",
        [(none(), d.lookups_done)],
    )?;
    counter(
        e,
        "ccbt_dht_send_errors",
        "DHT datagrams the socket could not send.",
        [(none(), d.send_errors)],
    )?;
    gauge(
        e,
        "ccbt_dht_stored_peers",
        "Peers this node stores for others (announced to it).",
        [(none(), d.stored_peers)],
    )
}

fn shard_families(e: &mut DescriptorEncoder, shards: &[ShardFigures]) -> fmt::Result {
    let ids: Vec<String> = shards.iter().map(|s| s.shard.to_string()).collect();
    let per_shard = |extra: Vec<(&'static str, &'static str)>| {
        let ids = &ids;
        move |i: usize| -> Labels<'_> {
            let mut l = vec![("shard", ids[i].as_str())];
            l.extend(extra.iter().copied());
            l
        }
    };
    let plain = per_shard(Vec::new());
    let down = per_shard(vec![("direction", "down")]);
    let up = per_shard(vec![("direction", "up")]);
    let each = |f: &dyn Fn(&ShardFigures) -> u64| -> Vec<(Labels<'_>, u64)> {
        shards.iter().enumerate().map(|(i, s)| (plain(i), f(s))).collect()
    };
    let both = |d: &dyn Fn(&ShardFigures) -> u64, u: &dyn Fn(&ShardFigures) -> u64| -> Vec<(Labels<'_>, u64)> {
        shards
            .iter()
            .enumerate()
            .flat_map(|(i, s)| [(down(i), d(s)), (up(i), u(s))])
            .collect()
    };
    gauge(
        e,
        "ccbt_shard_busy_percent",
        "Share of the last second the shard's executor spent running tasks (0 to 100).",
        shards.iter().enumerate().map(|(i, s)| (plain(i), s.busy_percent)),
    )?;
    seconds_counter(
        e,
        "ccbt_shard_busy_seconds",
        "Seconds the shard's executor spent running tasks.",
        shards.iter().enumerate().map(|(i, s)| (plain(i), s.busy_seconds)),
    )?;
    gauge(
        e,
        "ccbt_shard_torrents",
        "Torrents the shard runs.",
        each(&|s| u64::from(s.torrents)),
    )?;
    gauge(
        e,
        "ccbt_shard_peers",
        "Peers connected on the shard.",
        each(&|s| s.peers as u64),
    )?;
    gauge(
        e,
        "ccbt_shard_payload_rate_bytes_per_second",
        "The shard's payload bytes per second, by direction.",
        both(&|s| s.download_rate, &|s| s.upload_rate),
    )?;
    counter(
        e,
        "ccbt_payload_bytes",
        "Block data of piece messages received from and sent to peers.",
        both(&|s| s.payload_bytes_down, &|s| s.payload_bytes_up),
    )?;
    counter(
        e,
        "ccbt_protocol_bytes",
        "Peer wire bytes other than block data: handshakes, framing, requests, haves, bitfields, extensions.",
        both(&|s| s.protocol_bytes_down, &|s| s.protocol_bytes_up),
    )?;
    counter(
        e,
        "ccbt_pieces_verified",
        "Pieces that passed their hash check and were written.",
        each(&|s| s.pieces_verified),
    )?;
    counter(
        e,
        "ccbt_piece_hash_failures",
        "Pieces that failed their hash check (discarded and fetched again).",
        each(&|s| s.hash_failures),
    )?;
    counter(
        e,
        "ccbt_piece_write_failures",
        "Verified pieces whose write failed (the torrent stops with the error).",
        each(&|s| s.piece_write_failures),
    )?;
    counter(
        e,
        "ccbt_peer_handshakes",
        "BitTorrent handshakes with peers of running torrents, by result.",
        shards.iter().enumerate().flat_map(|(i, s)| {
            let mut ok = plain(i);
            ok.push(("result", "ok"));
            let mut failed = plain(i);
            failed.push(("result", "failed"));
            [(ok, s.handshakes), (failed, s.handshake_failures)]
        }),
    )?;
    counter(
        e,
        "ccbt_peer_disconnects",
        "Peer connections that ended, by reason.",
        shards.iter().enumerate().flat_map(|(i, s)| {
            let plain = &plain;
            s.disconnects.iter().map(move |(reason, n)| {
                let mut l = plain(i);
                l.push(("reason", reason.as_str()));
                (l, *n)
            })
        }),
    )?;
    counter(
        e,
        "ccbt_peer_bans",
        "Addresses banned for corrupt data or hostile protocol.",
        each(&|s| s.peers_banned),
    )?;
    gauge(
        e,
        "ccbt_peer_connections",
        "Open peer connections.",
        each(&|s| s.open_connections as u64),
    )?;
    gauge(
        e,
        "ccbt_peer_half_open_connections",
        "Outgoing dials not answered yet.",
        each(&|s| s.half_open_connections as u64),
    )?;
    counter(
        e,
        "ccbt_tracker_announces",
        "Tracker announces sent.",
        each(&|s| s.tracker_announces),
    )?;
    counter(
        e,
        "ccbt_tracker_announce_errors",
        "Tracker announces that failed (no answer, an error, a failure reason).",
        each(&|s| s.tracker_announce_errors),
    )?;
    counter(e, "ccbt_disk_reads", "Storage reads.", each(&|s| s.disk_reads))?;
    counter(
        e,
        "ccbt_disk_read_bytes",
        "Bytes read from storage.",
        each(&|s| s.disk_read_bytes),
    )?;
    counter(
        e,
        "ccbt_disk_read_errors",
        "Storage reads that failed.",
        each(&|s| s.disk_read_errors),
    )?;
    counter(
        e,
        "ccbt_disk_writes",
        "Storage writes (one per piece).",
        each(&|s| s.disk_writes),
    )?;
    counter(
        e,
        "ccbt_disk_write_bytes",
        "Bytes written to storage.",
        each(&|s| s.disk_write_bytes),
    )?;
    counter(
        e,
        "ccbt_disk_write_errors",
        "Storage writes that failed.",
        each(&|s| s.disk_write_errors),
    )?;
    counter(
        e,
        "ccbt_read_cache_hits",
        "Block reads served from the shard's piece cache.",
        each(&|s| s.read_cache_hits),
    )?;
    counter(
        e,
        "ccbt_read_cache_misses",
        "Block reads that had to read the piece from storage.",
        each(&|s| s.read_cache_misses),
    )?;
    counter(
        e,
        "ccbt_read_cache_evictions",
        "Pieces dropped from the read cache to make room.",
        each(&|s| s.read_cache_evictions),
    )?;
    gauge(
        e,
        "ccbt_read_cache_bytes",
        "Bytes held in the shard's read cache (its buffer pool for seeding).",
        each(&|s| s.read_cache_bytes),
    )?;
    gauge(
        e,
        "ccbt_read_cache_capacity_bytes",
        "The read cache's bound.",
        each(&|s| s.read_cache_capacity_bytes),
    )?;
    gauge(
        e,
        "ccbt_open_files",
        "Files the shard holds open (one bounded pool for all its torrents).",
        each(&|s| s.open_files as u64),
    )?;
    let plain = &plain;
    let hist = |f: fn(&ShardFigures) -> &HistogramFigures| {
        shards
            .iter()
            .enumerate()
            .map(move |(i, s)| (plain(i), f(s)))
            .collect::<Vec<_>>()
    };
    histogram(
        e,
        "ccbt_block_request_seconds",
        "Time from a block request sent to the block's arrival.",
        hist(|s| &s.block_request_latency),
    )?;
    histogram(
        e,
        "ccbt_piece_hash_seconds",
        "Time to SHA-1 one piece.",
        hist(|s| &s.piece_hash_latency),
    )?;
    histogram(
        e,
        "ccbt_piece_write_seconds",
        "Time to write one verified piece to storage.",
        hist(|s| &s.piece_write_latency),
    )?;
    histogram(
        e,
        "ccbt_disk_read_seconds",
        "Time of one storage read.",
        hist(|s| &s.disk_read_latency),
    )
}

fn torrent_families(e: &mut DescriptorEncoder, torrents: &[TorrentFigures], omitted: u32) -> fmt::Result {
    gauge(
        e,
        "ccbt_torrent_series_omitted",
        "Torrents left out of the per-torrent series: more than [metrics] per_torrent_max.",
        [(none(), omitted)],
    )?;
    if torrents.is_empty() {
        return Ok(());
    }
    fn labels(t: &TorrentFigures) -> Labels<'_> {
        vec![("info_hash", t.info_hash.as_str()), ("name", t.name.as_str())]
    }
    fn with<'a>(t: &'a TorrentFigures, key: &'static str, value: &'static str) -> Labels<'a> {
        let mut l = labels(t);
        l.push((key, value));
        l
    }
    counter(
        e,
        "ccbt_torrent_payload_bytes",
        "A torrent's payload bytes over its life in this state dir, by direction.",
        torrents.iter().flat_map(|t| {
            [
                (with(t, "direction", "down"), t.downloaded),
                (with(t, "direction", "up"), t.uploaded),
            ]
        }),
    )?;
    gauge(
        e,
        "ccbt_torrent_payload_rate_bytes_per_second",
        "A torrent's payload bytes per second, by direction.",
        torrents.iter().flat_map(|t| {
            [
                (with(t, "direction", "down"), t.download_rate),
                (with(t, "direction", "up"), t.upload_rate),
            ]
        }),
    )?;
    gauge(
        e,
        "ccbt_torrent_peers",
        "A torrent's connected peers.",
        torrents.iter().map(|t| (labels(t), t.peers)),
    )?;
    gauge(
        e,
        "ccbt_torrent_progress_ratio",
        "Verified share of a torrent's wanted bytes (0 to 1).",
        torrents.iter().map(|t| (labels(t), t.progress)),
    )?;
    gauge(
        e,
        "ccbt_torrent_verified_bytes",
        "Bytes of a torrent's verified pieces.",
        torrents.iter().map(|t| (labels(t), t.verified_bytes)),
    )?;
    gauge(
        e,
        "ccbt_torrent_wanted_bytes",
        "Bytes of a torrent's files that are not skipped.",
        torrents.iter().map(|t| (labels(t), t.wanted_bytes)),
    )?;
    gauge(
        e,
        "ccbt_torrent_share_ratio",
        "A torrent's uploaded bytes over what it holds.",
        torrents.iter().map(|t| (labels(t), t.ratio)),
    )?;
    gauge(
        e,
        "ccbt_torrent_state",
        "1 for a torrent's current state (label state).",
        torrents.iter().map(|t| (with(t, "state", state_label(&t.state)), 1u32)),
    )
}

/// The state as a `'static` label value (states are a fixed set).
fn state_label(state: &str) -> &'static str {
    super::snapshot::TORRENT_STATES
        .iter()
        .map(|s| s.as_str())
        .find(|s| *s == state)
        .unwrap_or("unknown")
}

#[cfg(test)]
#[path = "exposition_tests.rs"]
mod tests;
