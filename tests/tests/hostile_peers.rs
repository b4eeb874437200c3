//! Hand-made hostile peers against a real downloader over loopback: blocks nobody
//! asked for never enter a piece, and a poisoner that re-dials under new identities
//! stays banned by its address. Honest peers live on 127.0.0.3, the hostile ones on
//! other loopback addresses (bans are by IP).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ccbt_engine::InfoHash;
use ccbt_tests::hostile_peer::HostilePeer;
use ccbt_tests::{assert_same_file, btbt_create, lines_of, start_seeder_on, write_random_file, Downloader, Proc};

const TOTAL: u64 = 8 * 1024 * 1024;
const PIECE: u64 = 64 * 1024;

/// A `ccbt --seed` on 127.0.0.3, slowed so the hostile peer has its chance.
fn slow_seeder(torrent: &Path, data: &Path, rate: &str) -> (Proc, String) {
    start_seeder_on(&[torrent], data, "127.0.0.3:0", &["--upload-limit", rate])
}

/// Waits (bounded) for the downloader to exit 0 and checks the copy byte for byte.
fn finish(leecher: &mut Proc, content: &Path, copy: &Path) {
    leecher.wait_success("downloader", Duration::from_secs(120));
    assert_same_file(content, copy);
}

fn max_of(p: &Proc, field: &str) -> u64 {
    lines_of(p, "status")
        .filter_map(|v| v[field].as_u64())
        .max()
        .unwrap_or(0)
}

fn payload(tmp: &Path) -> (std::path::PathBuf, std::path::PathBuf, InfoHash) {
    let content = tmp.join("seed").join("payload.bin");
    write_random_file(&content, TOTAL, 21);
    let torrent = tmp.join("payload.torrent");
    let hex = btbt_create(&content, &torrent, &["--piece-size", &PIECE.to_string()]);
    (content, torrent, InfoHash::from_hex(&hex).unwrap())
}

#[test]
fn an_unrequested_block_injector_is_cut_off_and_the_download_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = payload(tmp.path());
    let (_seeder, good) = slow_seeder(&torrent, &tmp.path().join("seed"), "2M");
    let injector = HostilePeer::injector(info_hash, (TOTAL / PIECE) as u32, PIECE as u32);
    let down = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &down).peer(injector.addr).peer(&good).spawn();
    finish(&mut leecher, &content, &down.join("payload.bin"));
    let stats = &injector.stats;
    eprintln!(
        "injector: {stats:?}; downloader wasted {} bytes",
        max_of(&leecher, "wasted")
    );
    assert!(stats.handshakes_answered.load(Ordering::Relaxed) >= 1, "{stats:?}");
    assert!(
        stats.closed_by_peer.load(Ordering::Relaxed) >= 1,
        "the injector was disconnected: {stats:?}"
    );
    // Its garbage never entered a piece: nothing failed its hash.
    assert_eq!(max_of(&leecher, "hash_failures"), 0, "{:?}", leecher.last_of("status"));
    // 16 unrequested blocks are forgiven per connection; the 17th ends it.
    let wasted = max_of(&leecher, "wasted");
    let connections = stats.connections.load(Ordering::Relaxed);
    assert!(
        wasted >= 17 * 16 * 1024,
        "the injected blocks are counted as wasted: {wasted}"
    );
    assert!(
        wasted <= (17 * connections + 16) * 16 * 1024,
        "{wasted} bytes wasted over {connections} connection(s): the injector was not cut off"
    );
}

#[test]
fn a_banned_poisoner_redialing_with_new_ports_and_ids_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = payload(tmp.path());
    let (_seeder, good) = slow_seeder(&torrent, &tmp.path().join("seed"), "1M");
    let down = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &down).peer(&good).spawn();
    let target: SocketAddr = leecher.listen_addr().parse().unwrap();
    leecher.wait_json("started", Duration::from_secs(30), |v| v["type"] == "started");
    let poisoner = HostilePeer::poisoner(target, info_hash, (TOTAL / PIECE) as u32, 40);
    // Let it re-dial a few times while the download still runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while poisoner.stats.connections.load(Ordering::Relaxed) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    finish(&mut leecher, &content, &down.join("payload.bin"));
    let stats = &poisoner.stats;
    let connections = stats.connections.load(Ordering::Relaxed);
    let answered = stats.handshakes_answered.load(Ordering::Relaxed);
    let blocks = stats.blocks_sent.load(Ordering::Relaxed);
    eprintln!("poisoner: {stats:?}");
    assert!(connections >= 4, "the poisoner re-dialed: {stats:?}");
    assert_eq!(
        answered, 1,
        "let in once, refused at every re-dial after its ban: {stats:?}"
    );
    assert!(
        max_of(&leecher, "hash_failures") >= 3,
        "{:?}",
        leecher.last_of("status")
    );
    // Three strikes of 4-block pieces, plus what was already requested when the ban fell.
    assert!(blocks <= 64, "corrupt blocks accepted before the ban: {blocks}");
}
