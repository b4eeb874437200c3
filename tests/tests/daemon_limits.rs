//! A global download limit set at run time holds a daemon's two shards together:
//! two torrents, one per shard, download from one seeder at about the limit in all
//! (not the limit each), and `/api/v1/stats` shows the shares adding up to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ccbt_tests::daemon_runs::{num, payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::start_seeder;

const LEN: u64 = 3 << 20;
const LIMIT: u64 = 512 * 1024;

#[test]
fn daemon_global_download_limit_is_shared_by_its_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (a, _) = payload_torrent(&seed, "a.bin", LEN, 61, 65536, &[]);
    let (b, _) = payload_torrent(&seed, "b.bin", LEN, 62, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&a, &b], &seed, &[]);
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").shards(2));
    daemon.btbt(&["limits", "--down", "512K"]).ok();
    let session = daemon.get("/api/v1/session").ok();
    assert_eq!(num(&session, "download_limit"), LIMIT, "{session}");

    let started = Instant::now();
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|t| daemon.add_torrent(t, &[("peer", peer.as_str())])["id"].to_string())
        .collect();
    let shards: Vec<u64> = ids.iter().map(|id| num(&daemon.torrent(id), "shard")).collect();
    assert_ne!(shards[0], shards[1], "one torrent per shard: {shards:?}");
    let mut shares_seen = false;
    for id in &ids {
        daemon.wait_torrent(id, "complete under the limit", Duration::from_secs(90), |t| {
            t["state"] == "seeding"
        });
        let stats = daemon.get("/api/v1/stats").ok();
        let shares: Vec<u64> = stats["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| num(s, "download_share"))
            .collect();
        shares_seen |= shares.iter().sum::<u64>() == LIMIT;
    }
    let took = started.elapsed().as_secs_f64();
    let rate = (2 * LEN) as f64 / took;
    assert!(shares_seen, "the shards' shares add up to the global limit");
    // Unlimited, 6 MiB over loopback takes well under a second; the limit each
    // shard would have without sharing allows twice the rate.
    assert!(
        rate < 1.6 * LIMIT as f64,
        "{:.0} KiB/s over both shards: more than the 512 KiB/s limit allows ({took:.1} s)",
        rate / 1024.0
    );
    daemon.btbt(&["limits", "--down", "none"]).ok();
    let session = daemon.get("/api/v1/session").ok();
    assert!(session["download_limit"].is_null(), "{session}");
    daemon.terminate();
}

/// The alternative limits replace the normal ones by hand and on a schedule, and
/// the shards' shares follow within a tick.
#[test]
fn daemon_alternative_limits_apply_by_hand_and_by_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").shards(2));
    let shares_sum = |daemon: &DaemonUnderTest| -> u64 {
        let stats = daemon.get("/api/v1/stats").ok();
        stats["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| num(s, "download_share"))
            .sum()
    };
    let wait_shares = |daemon: &DaemonUnderTest, want: u64| {
        ccbt_tests::daemon_runs::wait_until(
            &format!("the shards' shares to add up to {want}"),
            Duration::from_secs(10),
            || (shares_sum(daemon) == want).then_some(()),
        )
    };
    daemon
        .patch(
            "/api/v1/session",
            &serde_json::json!({ "download_limit": 1 << 20, "alt_download_limit": 256 * 1024 }),
        )
        .ok();
    wait_shares(&daemon, 1 << 20);

    let on = daemon
        .patch("/api/v1/session", &serde_json::json!({ "alt_speed_enabled": true }))
        .ok();
    assert_eq!(on["alt_speed_active"], true, "{on}");
    wait_shares(&daemon, 256 * 1024);

    // Off by hand, on by a schedule covering the whole day (begin == end).
    daemon
        .patch(
            "/api/v1/session",
            &serde_json::json!({
                "alt_speed_enabled": false,
                "alt_speed_schedule": { "begin": "00:00", "end": "00:00" }
            }),
        )
        .ok();
    let by_schedule = daemon.get("/api/v1/session").ok();
    assert_eq!(by_schedule["alt_speed_active"], true, "{by_schedule}");
    wait_shares(&daemon, 256 * 1024);

    // A bad schedule is refused, naming the field; the running one stays.
    daemon
        .patch(
            "/api/v1/session",
            &serde_json::json!({ "alt_speed_schedule": { "begin": "25:00", "end": "07:00" } }),
        )
        .expect_error(400, "bad_request");
    daemon
        .patch("/api/v1/session", &serde_json::json!({ "alt_speed_schedule": null }))
        .ok();
    wait_shares(&daemon, 1 << 20);
    daemon.terminate();
}
