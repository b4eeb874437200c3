//! A seeding daemon under connection and message floods: 2,000 connections opened at
//! once keep to its `[peers]` limits (refusals counted by reason in its stats), its
//! API answers and a real download from it completes meanwhile, its memory stays
//! bounded; a keep-alive storm is cut off and counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ccbt_engine::wire::{Handshake, Reserved};
use ccbt_engine::{InfoHash, PeerId};
use ccbt_tests::assert_same_file;
use ccbt_tests::ccbt_runs::Downloader;
use ccbt_tests::daemon_runs::{payload_torrent, wait_until, DaemonOpts, DaemonUnderTest};
use serde_json::Value;

const LEN: u64 = 4 << 20;
const PIECE: u64 = 64 * 1024;
const SEEDER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);
const FLOOD: usize = 2000;
const CONFIG: &str = "[peers]\nhandshakes_per_sec = 50\nmax_per_torrent = 40\n";

fn seeding_daemon(root: &std::path::Path) -> (DaemonUnderTest, std::path::PathBuf, String, std::path::PathBuf) {
    let opts = DaemonOpts::new(root, "seeder").listen_ip(SEEDER_IP).config(CONFIG);
    let (torrent, hash) = payload_torrent(&opts.download_dir, "payload.bin", LEN, 9, PIECE, &[]);
    let source = opts.download_dir.join("payload.bin");
    let mut daemon = DaemonUnderTest::start(opts);
    let id = daemon.add_torrent(&torrent, &[])["id"].to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(60));
    (daemon, torrent, hash, source)
}

fn stats(daemon: &DaemonUnderTest) -> Value {
    daemon.get("/api/v1/stats").ok()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn handshake(info_hash: InfoHash, n: u32) -> Vec<u8> {
    let mut id = *b"-FL0001-000000000000";
    id[8..20].copy_from_slice(format!("{n:012}").as_bytes());
    Handshake {
        reserved: Reserved([0; 8]),
        info_hash,
        peer_id: PeerId(id),
    }
    .encode()
    .to_vec()
}

#[test]
fn two_thousand_connections_at_once_keep_to_the_limits_and_a_real_download_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (daemon, torrent, hash, source) = seeding_daemon(tmp.path());
    let info_hash = InfoHash::from_hex(&hash).unwrap();
    let target = daemon.listen();
    let rss_before = rss_kib(daemon.pid());

    // Non-blocking connects from many loopback sources, all at once, each sending a
    // handshake as soon as it is up; held until the end of the test.
    let mut flood: Vec<socket2::Socket> = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let source = IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250) as u8 + 1));
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(source, 0).into()).unwrap();
        socket.set_nonblocking(true).unwrap();
        let _ = socket.connect(&target.into());
        flood.push(socket);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sent = vec![false; FLOOD];
    while Instant::now() < deadline && sent.iter().any(|s| !s) {
        for (i, socket) in flood.iter().enumerate() {
            if !sent[i] && socket.send(&handshake(info_hash, i as u32)).is_ok() {
                sent[i] = true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    // A real client downloads from the daemon meanwhile.
    let out = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &out).peer(target).spawn();
    assert_eq!(daemon.health(), Some(200), "the API answers under the flood");
    leecher.wait_success("a download from the flooded daemon", Duration::from_secs(120));
    assert_same_file(&source, &out.join("payload.bin"));

    let s = stats(&daemon);
    let refused = |k: &str| s["peer_guard"]["refusals"][k].as_u64().unwrap_or(0);
    assert!(
        refused("handshake_rate") > 0,
        "over-rate connections are refused and counted: {s}"
    );
    let peers = daemon.list()[0]["peers"].as_u64().unwrap();
    assert!(peers <= 40, "the torrent keeps to max_per_torrent = 40: {peers} peers");
    let rss_after = rss_kib(daemon.pid());
    assert!(
        rss_after < rss_before + 256 * 1024,
        "memory stays bounded: {rss_before} KiB before, {rss_after} KiB after"
    );
    drop(flood);
}

#[test]
fn a_keepalive_storm_is_cut_off_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let (daemon, _torrent, hash, _source) = seeding_daemon(tmp.path());
    let mut stream = TcpStream::connect_timeout(&daemon.listen(), Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(&handshake(InfoHash::from_hex(&hash).unwrap(), 1))
        .unwrap();
    let mut theirs = [0u8; 68];
    stream.read_exact(&mut theirs).unwrap();
    // 200 keep-alives at once: ten times the limit a second.
    let _ = stream.write_all(&[0u8; 4 * 200]);
    let mut buf = [0u8; 65536];
    let closed_at = Instant::now() + Duration::from_secs(10);
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < closed_at, "the storm was not cut off"),
        }
    }
    let counted = wait_until("the storm counted in the stats", Duration::from_secs(10), || {
        let n = stats(&daemon)["peer_guard"]["violations"]["keepalive_storm"]
            .as_u64()
            .unwrap_or(0);
        (n >= 1).then_some(n)
    });
    assert_eq!(counted, 1);
}
