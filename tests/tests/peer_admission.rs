//! Idle peers cannot lock a torrent: 150 connections from one address that
//! handshake and then only send keep-alives get at most the per-address cap, 150
//! more from as many addresses fill the rest of the slots, and an honest
//! downloader still gets in (an idle, uninterested peer is evicted for it) and
//! completes byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ccbt_engine::InfoHash;
use ccbt_tests::idle_flood::IdleFlood;
use ccbt_tests::{assert_same_tree, btbt_create, start_seeder, write_random_file, Downloader};

/// Connections one address may hold to one torrent (engine's DEFAULT_MAX_PER_IP).
const PER_IP: usize = 8;
/// Connections per torrent (engine's DEFAULT_MAX_PER_TORRENT).
const PER_TORRENT: usize = 100;

/// Waits until `open()` stays the same for a second (bounded), and returns it.
fn settled(open: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = open();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = open();
        if now == last && now != usize::MAX {
            return now;
        }
        last = now;
    }
    panic!("the flood's connection count never settled ({last})");
}

#[test]
fn idle_keepalive_flood_cannot_lock_out_an_honest_downloader() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("payload.bin");
    write_random_file(&content, 3_000_000, 11);
    let torrent = tmp.path().join("payload.torrent");
    let info_hash = InfoHash::from_hex(&btbt_create(&content, &torrent, &["--piece-size", "65536"])).unwrap();
    let (mut seeder, addr) = start_seeder(&[&torrent], &seed_dir, &[]);
    let target: SocketAddr = addr.parse().unwrap();

    let one_address = IdleFlood::start(target, info_hash, vec![IpAddr::from([127, 0, 0, 2]); 150]);
    let held_by_one = settled(|| one_address.open.load(Ordering::Relaxed));
    assert!(
        (1..=PER_IP).contains(&held_by_one),
        "one address holds {held_by_one} connections, at most {PER_IP}"
    );
    let many: Vec<IpAddr> = (0..150u8).map(|i| IpAddr::from([127, 0, 1, i])).collect();
    let many_addresses = IdleFlood::start(target, info_hash, many);
    let held_by_many = settled(|| many_addresses.open.load(Ordering::Relaxed));
    assert!(
        held_by_one + held_by_many <= PER_TORRENT,
        "{held_by_one} + {held_by_many} connections, at most {PER_TORRENT}"
    );
    assert_eq!(
        held_by_one + held_by_many,
        PER_TORRENT,
        "the flood fills the torrent ({held_by_one} + {held_by_many}), so the downloader needs an eviction"
    );

    let down_dir = tmp.path().join("down");
    // The flood's peers become evictable 20 s after their handshake.
    Downloader::new(&torrent, &down_dir)
        .peer(&addr)
        .env("CCBT_REDIAL_BASE_MS", "500")
        .env("CCBT_REDIAL_MAX_MS", "2000")
        .run(Duration::from_secs(120));
    assert_same_tree(&seed_dir, &down_dir);
    // The flood counts its open connections each round (250 ms; later on a loaded
    // machine): the download may end before it has seen the eviction's close.
    let held = held_by_one + held_by_many;
    let open_now = || one_address.open.load(Ordering::Relaxed) + many_addresses.open.load(Ordering::Relaxed);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while open_now() >= held && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = open_now();
    assert!(
        left < held,
        "an idle flooder was evicted to make room ({held_by_one} + {held_by_many} held, {left} left)"
    );
    drop(seeder.child.kill());
}
