//! The text each family encodes to, from a snapshot with a figure in every family.

use super::*;
use crate::daemon_config::metrics::MetricsConfig;
use crate::metrics::snapshot::{for_tests::sample, per_torrent};

fn text() -> String {
    encode(sample()).unwrap()
}

/// The sample lines of one family (name followed by `{` or a space).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .collect()
}

#[test]
fn every_family_has_help_and_type() {
    let text = text();
    let mut helps = 0;
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(name.starts_with("ccbt_"), "{line}");
        assert!(text.contains(&format!("# HELP {name} ")), "no help for {name}");
        helps += 1;
    }
    assert!(helps >= 50, "{helps} families");
}

#[test]
fn counters_end_in_total_and_carry_their_labels() {
    let text = text();
    assert!(text.contains("# TYPE ccbt_payload_bytes_total counter"), "{text}");
    let payload = samples(&text, "ccbt_payload_bytes_total");
    assert!(
        payload.contains(&"ccbt_payload_bytes_total{shard=\"0\",direction=\"down\"} 1048576"),
        "{payload:?}"
    );
    assert!(
        payload.contains(&"ccbt_payload_bytes_total{shard=\"1\",direction=\"up\"} 0"),
        "{payload:?}"
    );
    let disconnects = samples(&text, "ccbt_peer_disconnects_total");
    assert_eq!(disconnects.len(), 16, "eight reasons on two shards: {disconnects:?}");
    assert!(disconnects.contains(&"ccbt_peer_disconnects_total{shard=\"0\",reason=\"peer_closed\"} 2"));
    let handshakes = samples(&text, "ccbt_peer_handshakes_total");
    assert!(
        handshakes.contains(&"ccbt_peer_handshakes_total{shard=\"0\",result=\"ok\"} 5"),
        "{handshakes:?}"
    );
    assert_eq!(
        samples(&text, "ccbt_piece_hash_failures_total")[0],
        "ccbt_piece_hash_failures_total{shard=\"0\"} 1"
    );
    assert_eq!(
        samples(&text, "ccbt_shard_busy_seconds_total")[0],
        "ccbt_shard_busy_seconds_total{shard=\"0\"} 1.5"
    );
}

#[test]
fn gauges_cover_every_state_and_the_busy_share() {
    let text = text();
    let states = samples(&text, "ccbt_torrents");
    assert_eq!(states.len(), 8, "{states:?}");
    assert!(states.contains(&"ccbt_torrents{state=\"downloading\"} 1"));
    assert!(states.contains(&"ccbt_torrents{state=\"paused\"} 0"));
    assert!(samples(&text, "ccbt_queue_length").contains(&"ccbt_queue_length{queue=\"download\"} 1"));
    assert_eq!(
        samples(&text, "ccbt_shard_busy_percent")[1],
        "ccbt_shard_busy_percent{shard=\"1\"} 12.5"
    );
    assert!(samples(&text, "ccbt_dht_nodes").contains(&"ccbt_dht_nodes{kind=\"good\"} 5"));
    assert_eq!(samples(&text, "ccbt_uptime_seconds"), vec!["ccbt_uptime_seconds 30"]);
}

#[test]
fn histograms_are_cumulative_with_inf_sum_and_count() {
    let text = text();
    assert!(text.contains("# TYPE ccbt_block_request_seconds histogram"));
    let buckets = samples(&text, "ccbt_block_request_seconds_bucket");
    let shard0: Vec<&str> = buckets.iter().copied().filter(|l| l.contains("shard=\"0\"")).collect();
    assert_eq!(shard0.len(), 19, "18 bounds and +Inf: {shard0:?}");
    // 3 ms lands in le=0.005, 70 ms in le=0.1; the counts add up from there.
    assert!(
        shard0.contains(&"ccbt_block_request_seconds_bucket{shard=\"0\",le=\"0.0025\"} 0"),
        "{shard0:?}"
    );
    assert!(
        shard0.contains(&"ccbt_block_request_seconds_bucket{shard=\"0\",le=\"0.005\"} 1"),
        "{shard0:?}"
    );
    assert!(
        shard0.contains(&"ccbt_block_request_seconds_bucket{shard=\"0\",le=\"0.05\"} 1"),
        "{shard0:?}"
    );
    assert!(
        shard0.contains(&"ccbt_block_request_seconds_bucket{shard=\"0\",le=\"0.1\"} 2"),
        "{shard0:?}"
    );
    assert!(
        shard0.contains(&"ccbt_block_request_seconds_bucket{shard=\"0\",le=\"+Inf\"} 2"),
        "{shard0:?}"
    );
    assert!(
        samples(&text, "ccbt_block_request_seconds_sum").contains(&"ccbt_block_request_seconds_sum{shard=\"0\"} 0.073")
    );
    assert!(
        samples(&text, "ccbt_block_request_seconds_count").contains(&"ccbt_block_request_seconds_count{shard=\"0\"} 2")
    );
    let empty = samples(&text, "ccbt_disk_read_seconds_count");
    assert!(
        empty.contains(&"ccbt_disk_read_seconds_count{shard=\"1\"} 0"),
        "{empty:?}"
    );
}

#[test]
fn torrent_names_are_escaped_in_labels() {
    let text = text();
    let peers = samples(&text, "ccbt_torrent_peers");
    assert_eq!(
        peers,
        vec![
            "ccbt_torrent_peers{info_hash=\"0123456789abcdef0123456789abcdef01234567\",name=\"a \\\"quoted\\\" name\\nwith a newline\"} 3"
        ]
    );
    assert!(samples(&text, "ccbt_torrent_state")[0].contains("state=\"downloading\"} 1"));
    assert_eq!(
        samples(&text, "ccbt_torrent_series_omitted"),
        vec!["ccbt_torrent_series_omitted 0"]
    );
}

#[test]
fn per_torrent_series_are_off_by_default_and_capped() {
    let all = || sample_summaries(3);
    let off = MetricsConfig::default();
    assert_eq!(per_torrent(&off, 3, all), (Vec::new(), 0));
    let on = MetricsConfig {
        per_torrent: true,
        per_torrent_max: 3,
        ..off
    };
    let (figures, omitted) = per_torrent(&on, 3, all);
    assert_eq!((figures.len(), omitted), (3, 0));
    let capped = MetricsConfig {
        per_torrent_max: 2,
        ..on
    };
    let (figures, omitted) = per_torrent(&capped, 3, || panic!("no summaries are built over the cap"));
    assert_eq!((figures.len(), omitted), (0, 3));

    let mut snapshot = sample();
    snapshot.torrents = Vec::new();
    snapshot.torrents_omitted = 3;
    let text = encode(snapshot).unwrap();
    assert_eq!(
        samples(&text, "ccbt_torrent_series_omitted"),
        vec!["ccbt_torrent_series_omitted 3"]
    );
    assert!(!text.contains("info_hash="), "no per-torrent series over the cap");
}

fn sample_summaries(n: u32) -> Vec<crate::api_types::TorrentSummary> {
    let base: crate::api_types::TorrentSummary = serde_json::from_value(serde_json::json!({
        "id": 1, "info_hash": "00", "name": "t", "state": "seeding", "progress": 1.0,
        "verified_bytes": 1, "total_bytes": 1, "wanted_bytes": 1, "download_rate": 0,
        "upload_rate": 0, "downloaded": 0, "uploaded": 0, "ratio": 0.0, "peers": 0,
        "eta_secs": null, "labels": [], "download_dir": "/d", "error": null,
        "queue_position": null, "shard": 0, "added_at": 0, "completed_at": null,
        "seconds_downloading": 0, "seconds_seeding": 0, "sequential": false,
        "force_started": false, "download_limit": null, "upload_limit": null,
        "ratio_limit": null, "seed_time_limit_secs": null, "private": false
    }))
    .unwrap();
    (0..n)
        .map(|i| crate::api_types::TorrentSummary { id: i, ..base.clone() })
        .collect()
}

#[test]
fn the_ip_filter_and_the_peer_defences_are_counted() {
    let text = text();
    assert_eq!(
        samples(&text, "ccbt_ip_filter_blocked_total"),
        vec![
            "ccbt_ip_filter_blocked_total{direction=\"incoming\"} 2",
            "ccbt_ip_filter_blocked_total{direction=\"outgoing\"} 1",
            "ccbt_ip_filter_blocked_total{direction=\"disconnected\"} 0",
        ]
    );
    assert!(samples(&text, "ccbt_ip_filter_dropped_addresses_total")
        .contains(&"ccbt_ip_filter_dropped_addresses_total{source=\"tracker\"} 4"));
    assert!(samples(&text, "ccbt_peer_refusals_total").contains(&"ccbt_peer_refusals_total{reason=\"per_ip\"} 7"));
    assert!(
        samples(&text, "ccbt_peer_violations_total").contains(&"ccbt_peer_violations_total{kind=\"request_flood\"} 1")
    );
    assert_eq!(samples(&text, "ccbt_bans_in_force"), vec!["ccbt_bans_in_force 1"]);
}
