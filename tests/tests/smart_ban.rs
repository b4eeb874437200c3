//! A peer that serves corrupt blocks beside an honest seeder, both asked for blocks
//! of the same pieces: the daemon's download completes byte-identical, the liar's
//! address is banned (listed by `btbt peers bans`, still after a restart), the honest
//! seeder is not, and `btbt peers unban` lifts the ban.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ccbt_engine::InfoHash;
use ccbt_tests::assert_same_file;
use ccbt_tests::ccbt_runs::start_seeder;
use ccbt_tests::daemon_runs::{payload_torrent, wait_until, DaemonOpts, DaemonUnderTest};
use ccbt_tests::evil_peer::EvilPeer;
use serde_json::Value;

const LEN: u64 = 4 << 20;
const PIECE: u64 = 64 * 1024;
const LEECHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);

fn banned_ips(daemon: &DaemonUnderTest) -> Vec<String> {
    let bans = daemon.btbt(&["peers", "bans", "--json"]).json();
    bans.as_array()
        .expect("peers bans --json prints an array")
        .iter()
        .map(|b| b["ip"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_liar_beside_an_honest_seeder_is_banned_persistently_and_the_download_is_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let (torrent, hash) = payload_torrent(&seed_dir, "payload.bin", LEN, 5, PIECE, &[]);
    // Slowed, so the liar (which answers at once) gets a share of every piece's blocks.
    let (_honest, honest_addr) = start_seeder(&[&torrent], &seed_dir, &["--upload-limit", "1M"]);
    let liar = EvilPeer::start(InfoHash::from_hex(&hash).unwrap(), (LEN / PIECE) as u32);

    let opts = DaemonOpts::new(tmp.path(), "leecher").listen_ip(LEECHER_IP);
    let download_dir = opts.download_dir.clone();
    let mut daemon = DaemonUnderTest::start(opts);
    let liar_addr = liar.addr.to_string();
    let added = daemon.add_torrent(
        &torrent,
        &[("peer", liar_addr.as_str()), ("peer", honest_addr.as_str())],
    );
    let id = added["id"].to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(180));
    assert_same_file(&seed_dir.join("payload.bin"), &download_dir.join("payload.bin"));
    assert!(
        liar.stats.blocks_served.load(Ordering::Relaxed) > 0,
        "the liar was asked for blocks"
    );

    let liar_ip = liar.addr.ip().to_string();
    let honest_ip = honest_addr.rsplit_once(':').unwrap().0.to_string();
    let bans = banned_ips(&daemon);
    assert!(bans.contains(&liar_ip), "the liar {liar_ip} is banned: {bans:?}");
    assert!(
        !bans.contains(&honest_ip),
        "the honest seeder {honest_ip} is not: {bans:?}"
    );
    let stats: Value = daemon.get("/api/v1/stats").ok();
    assert!(stats["peer_guard"]["bans_issued"].as_u64().unwrap_or(0) >= 1, "{stats}");

    // The list was written when the ban came: a kill -9 does not lose it.
    daemon.kill9();
    daemon.restart();
    let bans = wait_until("the ban list after a restart", Duration::from_secs(30), || {
        let bans = banned_ips(&daemon);
        (!bans.is_empty()).then_some(bans)
    });
    assert_eq!(bans, vec![liar_ip.clone()], "the ban survives a restart");

    let lifted = daemon.btbt(&["peers", "unban", &liar_ip]);
    assert!(lifted.ok().contains(&liar_ip), "{}", lifted.ok());
    assert!(banned_ips(&daemon).is_empty());
    let again = daemon.btbt(&["peers", "unban", &liar_ip]);
    assert_ne!(again.code, 0, "unbanning twice is an error");
}
