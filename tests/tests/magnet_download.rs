//! `ccbt MAGNET`: the metadata comes from peers (BEP 9), then the download runs as
//! for a `.torrent`.
//!
//! - libtorrent seeds and serves the metadata; ccbt finds it through opentracker
//!   (`tr`), and again through `x.pe` alone; both torrent shapes (one large file,
//!   many small files in folders); the copy is byte-identical;
//! - a peer that sends wrong metadata is dropped and the download completes from
//!   the honest one;
//! - a bad magnet exits 2 and names the parameter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::InfoHash;
use ccbt_tests::clients::{Kind, Swarm};
use ccbt_tests::metadata_liar::MetadataLiar;
use ccbt_tests::{lines_of, Downloader, Proc};

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One 24 MiB file, 1 MiB pieces.
    LargeFile,
    /// 30 files in nested folders, 256 KiB pieces.
    NestedFiles,
}

fn swarm(shape: Shape) -> Swarm {
    match shape {
        Shape::LargeFile => Swarm::single(24 * 1024 * 1024, 20),
        Shape::NestedFiles => {
            let names: Vec<(String, u64)> = (0..30u64)
                .map(|i| {
                    let dir = match i % 3 {
                        0 => "a",
                        1 => "a/b",
                        _ => "c/d/e",
                    };
                    (format!("{dir}/file{i:02}.bin"), 17_000 + i * 23_456)
                })
                .collect();
            let files: Vec<(&str, u64)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
            Swarm::multi(&files, 18)
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs `ccbt MAGNET`, expects exit 0, one `metadata` line with the torrent's size
/// and one `complete` line.
fn fetch(swarm: &Swarm, magnet: &str, label: &str) -> Proc {
    let out = swarm.out_dir(label);
    let mut ccbt = Downloader::source(magnet, &out).spawn();
    let status = ccbt.wait_exit(TIMEOUT);
    assert!(status.success(), "{label}: ccbt failed ({status}): {}", ccbt.stderr());
    let meta = Metainfo::from_bytes(&std::fs::read(&swarm.torrent).unwrap()).unwrap();
    let metadata: Vec<_> = lines_of(&ccbt, "metadata").collect();
    assert_eq!(metadata.len(), 1, "{label}: one metadata line: {:?}", ccbt.seen);
    assert_eq!(metadata[0]["total_bytes"], meta.info.total_length, "{label}");
    assert_eq!(metadata[0]["name"], meta.info.name, "{label}");
    assert_eq!(lines_of(&ccbt, "complete").count(), 1, "{label}");
    swarm.assert_copy(&out, Duration::from_secs(5));
    ccbt
}

fn through_tracker(shape: Shape) {
    let swarm = swarm(shape);
    let _seeder = Kind::Libtorrent.start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts());
    swarm.wait_seeders(1, Duration::from_secs(30));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn={}&tr={}",
        swarm.info_hash,
        swarm.name,
        percent_encode(&swarm.tracker.announce_url())
    );
    let ccbt = fetch(&swarm, &magnet, "tracker");
    let status = ccbt.last_of("status").expect("status lines");
    assert!(
        status["trackers"][0]["peers_received"].as_u64().unwrap() >= 1,
        "the seeder came from the magnet's tracker: {status}"
    );
}

fn through_x_pe(shape: Shape) {
    let swarm = swarm(shape);
    let seeder = Kind::Libtorrent.start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts());
    // No `tr`: the only way to the seeder is the peer address in the link.
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&x.pe={}",
        swarm.info_hash,
        percent_encode(&seeder.listen_addr().to_string())
    );
    let ccbt = fetch(&swarm, &magnet, "x.pe");
    let status = ccbt.last_of("status").expect("status lines");
    assert_eq!(status["trackers"].as_array().map(Vec::len), Some(0), "{status}");
}

#[test]
fn libtorrent_serves_metadata_through_the_tracker_large_file() {
    through_tracker(Shape::LargeFile);
}

#[test]
fn libtorrent_serves_metadata_through_the_tracker_nested_files() {
    through_tracker(Shape::NestedFiles);
}

#[test]
fn libtorrent_serves_metadata_through_x_pe_large_file() {
    through_x_pe(Shape::LargeFile);
}

#[test]
fn libtorrent_serves_metadata_through_x_pe_nested_files() {
    through_x_pe(Shape::NestedFiles);
}

/// The liar is the only peer the link names, so it is asked first and lies; only
/// then does the honest seeder connect (to ccbt, through its listener).
#[test]
fn a_peer_with_wrong_metadata_is_dropped_and_the_honest_one_serves() {
    let swarm = Swarm::single(3 * 1024 * 1024, 16);
    let meta = Metainfo::from_bytes(&std::fs::read(&swarm.torrent).unwrap()).unwrap();
    let liar = MetadataLiar::start(meta.info_hash, meta.info_bytes.len() as u64);
    let seeder = Kind::Libtorrent.start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts());
    let magnet = format!("magnet:?xt=urn:btih:{}&x.pe={}", swarm.info_hash, liar.addr);
    let out = swarm.out_dir("liar");
    let mut ccbt = Downloader::source(&magnet, &out).spawn();
    let ccbt_addr: std::net::SocketAddr = ccbt.listen_addr().parse().unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while liar.stats.closed_after_lie.load(Ordering::Relaxed) == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        liar.stats.closed_after_lie.load(Ordering::Relaxed),
        1,
        "ccbt closed the liar after its wrong metadata: {:?}; {}",
        liar.stats,
        ccbt.stderr()
    );
    assert!(ccbt.is_running(), "still fetching: {}", ccbt.stderr());
    seeder.add_peer(ccbt_addr).unwrap();
    let status = ccbt.wait_exit(TIMEOUT);
    assert!(status.success(), "ccbt failed ({status}): {}", ccbt.stderr());
    assert_eq!(lines_of(&ccbt, "metadata").count(), 1);
    swarm.assert_copy(&out, Duration::from_secs(5));
    assert_eq!(
        liar.stats.connections.load(Ordering::Relaxed),
        1,
        "never redialled: {:?}",
        liar.stats
    );
}

#[test]
fn bad_magnets_exit_2_naming_the_parameter() {
    let out = tempfile::tempdir().unwrap();
    let hash = InfoHash([0xab; 20]).to_hex();
    let cases = [
        (
            "magnet:?xt=urn:btmh:1220abcdef&dn=v2",
            "v2-only magnets (urn:btmh) are not supported",
        ),
        ("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1", "`xt`"),
        ("magnet:?dn=nothing&tr=http://127.0.0.1:1/announce", "`xt`"),
        (&*format!("magnet:?xt=urn:btih:{hash}&so=3-1"), "`so`"),
    ];
    for (magnet, names) in cases {
        let mut p = Downloader::source(magnet, out.path()).spawn();
        let status = p.wait_exit(Duration::from_secs(20));
        assert_eq!(status.code(), Some(2), "{magnet}: {}", p.stderr());
        let stderr = p.stderr();
        assert!(
            stderr.contains("bad magnet link") && stderr.contains(names),
            "{magnet}: {stderr}"
        );
    }
}
