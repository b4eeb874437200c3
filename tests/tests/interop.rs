//! ccbt against the clients people run, both directions, over loopback, with
//! opentracker as the only way peers find each other (no `--peer`):
//!
//! - each of libtorrent, Transmission, qBittorrent, aria2 and rqbit seeds alone and
//!   ccbt downloads;
//! - ccbt seeds alone and each of them downloads;
//! - both torrent shapes: one large file with 1 MiB pieces (made by mktorrent), and
//!   many small files in nested folders with 256 KiB pieces and a short last piece
//!   (made by `btbt create`);
//! - a mixed swarm (ccbt seeding to libtorrent, Transmission and ccbt at once), and
//!   ccbt as one of three downloaders from a libtorrent seeder.
//!
//! Transmission never dials 127.0.0.x peers that a tracker returns; it is started
//! before ccbt seeds, so ccbt's first announce returns it and ccbt dials it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbt_tests::clients::{Client, Kind, Swarm};
use ccbt_tests::{btbt_create, lines_of, start_seeder, Downloader, Proc};

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One 24 MiB file, 1 MiB pieces, torrent by mktorrent.
    LargeFile,
    /// 30 files in nested folders, 256 KiB pieces, short last piece, torrent by `btbt create`.
    NestedFiles,
}

/// A swarm of the given shape; for `NestedFiles` the torrent is re-made by `btbt create`.
fn swarm(shape: Shape) -> (Swarm, PathBuf) {
    match shape {
        Shape::LargeFile => {
            let s = Swarm::single(24 * 1024 * 1024, 20);
            let t = s.torrent.clone();
            (s, t)
        }
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
            let s = Swarm::multi(&files, 18);
            let ours = s.dir.path().join("payload-btbt.torrent");
            let hash = btbt_create(
                &s.content(),
                &ours,
                &["--piece-size", "262144", "--tracker", &s.tracker.announce_url()],
            );
            s.tracker.allow(&hash);
            (s, ours)
        }
    }
}

/// ccbt downloading `torrent` into `out`, peers from the tracker only.
fn ccbt_downloader(torrent: &Path, out: &Path) -> Proc {
    Downloader::new(torrent, out).spawn()
}

/// ccbt seeding `torrent` from `data`; returns once it seeds.
fn ccbt_seeder(torrent: &Path, data: &Path) -> Proc {
    start_seeder(&[torrent], data, &[]).0
}

fn finish_ccbt(p: &mut Proc, what: &str) {
    let status = p.wait_exit(TIMEOUT);
    assert!(status.success(), "{what}: ccbt failed: {}", p.stderr());
    assert_eq!(lines_of(p, "complete").count(), 1, "{what}: one complete line");
}

fn wait_client(c: &dyn Client, what: &str) {
    c.wait_complete(TIMEOUT);
    assert!(c.status().complete, "{what}");
}

fn client_seeds_ccbt_downloads(kind: Kind, shape: Shape) {
    let (swarm, torrent) = swarm(shape);
    let seeder = kind.start_seeder(&torrent, &swarm.seed_dir, &swarm.opts());
    swarm.wait_seeders(1, Duration::from_secs(30));
    let out = swarm.out_dir("ccbt");
    let mut ccbt = ccbt_downloader(&torrent, &out);
    finish_ccbt(&mut ccbt, &format!("{} -> ccbt, {shape:?}", kind.name()));
    swarm.assert_copy(&out, Duration::from_secs(5));
    assert!(seeder.is_running(), "{} still runs", kind.name());
    let status = ccbt.last_of("status").expect("status lines").clone();
    let tracker = &status["trackers"][0];
    assert!(
        tracker["peers_received"].as_u64().unwrap() >= 1,
        "peers came from the tracker: {status}"
    );
    let scrape = swarm.tracker.scrape(&swarm.info_hash);
    assert!(scrape.downloaded >= 1, "ccbt told the tracker it completed: {scrape:?}");
    assert_eq!(
        scrape.incomplete, 0,
        "ccbt's stopped announce removed it as a leecher: {scrape:?}"
    );
}

fn ccbt_seeds_client_downloads(kind: Kind, shape: Shape) {
    let (swarm, torrent) = swarm(shape);
    let out = swarm.out_dir(kind.name());
    let (downloader, _ccbt) = if kind.dials_tracker_peers() {
        let ccbt = ccbt_seeder(&torrent, &swarm.seed_dir);
        swarm.wait_seeders(1, Duration::from_secs(30));
        (kind.start_downloader(&torrent, &out, &swarm.opts()), ccbt)
    } else {
        // It will not dial us: it announces first, and our first announce returns it.
        let d = kind.start_downloader(&torrent, &out, &swarm.opts());
        swarm
            .tracker
            .wait_leechers(&swarm.info_hash, 1, Duration::from_secs(30));
        (d, ccbt_seeder(&torrent, &swarm.seed_dir))
    };
    wait_client(downloader.as_ref(), &format!("ccbt -> {}, {shape:?}", kind.name()));
    swarm.assert_copy(&out, Duration::from_secs(15));
}

macro_rules! matrix {
    ($($name:ident: $kind:expr;)*) => {
        mod from_client {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    #[test]
                    fn large_file() { client_seeds_ccbt_downloads($kind, Shape::LargeFile) }
                    #[test]
                    fn nested_files() { client_seeds_ccbt_downloads($kind, Shape::NestedFiles) }
                }
            )*
        }
        mod to_client {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    #[test]
                    fn large_file() { ccbt_seeds_client_downloads($kind, Shape::LargeFile) }
                    #[test]
                    fn nested_files() { ccbt_seeds_client_downloads($kind, Shape::NestedFiles) }
                }
            )*
        }
    };
}

matrix! {
    libtorrent: Kind::Libtorrent;
    transmission: Kind::Transmission;
    qbittorrent: Kind::QBittorrent;
    aria2: Kind::Aria2;
    rqbit: Kind::Rqbit;
}

#[test]
fn mixed_swarm_ccbt_seeds_libtorrent_transmission_and_ccbt_at_once() {
    let (swarm, torrent) = swarm(Shape::NestedFiles);
    let t_out = swarm.out_dir("transmission");
    let transmission = Kind::Transmission.start_downloader(&torrent, &t_out, &swarm.opts());
    swarm
        .tracker
        .wait_leechers(&swarm.info_hash, 1, Duration::from_secs(30));
    let _seeder = ccbt_seeder(&torrent, &swarm.seed_dir);
    let l_out = swarm.out_dir("libtorrent");
    let libtorrent = Kind::Libtorrent.start_downloader(&torrent, &l_out, &swarm.opts());
    let c_out = swarm.out_dir("ccbt");
    let mut ccbt = ccbt_downloader(&torrent, &c_out);
    finish_ccbt(&mut ccbt, "mixed swarm");
    wait_client(libtorrent.as_ref(), "libtorrent in the mixed swarm");
    wait_client(transmission.as_ref(), "Transmission in the mixed swarm");
    for out in [&t_out, &l_out, &c_out] {
        swarm.assert_copy(out, Duration::from_secs(15));
    }
}

#[test]
fn ccbt_is_one_of_three_downloaders_from_libtorrent() {
    let (swarm, torrent) = swarm(Shape::LargeFile);
    let _seeder = Kind::Libtorrent.start_seeder(&torrent, &swarm.seed_dir, &swarm.opts());
    swarm.wait_seeders(1, Duration::from_secs(30));
    let a_out = swarm.out_dir("aria2");
    let aria2 = Kind::Aria2.start_downloader(&torrent, &a_out, &swarm.opts());
    let r_out = swarm.out_dir("rqbit");
    let rqbit = Kind::Rqbit.start_downloader(&torrent, &r_out, &swarm.opts());
    let c_out = swarm.out_dir("ccbt");
    let mut ccbt = ccbt_downloader(&torrent, &c_out);
    finish_ccbt(&mut ccbt, "three downloaders");
    wait_client(aria2.as_ref(), "aria2 next to ccbt");
    wait_client(rqbit.as_ref(), "rqbit next to ccbt");
    for out in [&a_out, &r_out, &c_out] {
        swarm.assert_copy(out, Duration::from_secs(15));
    }
}

/// A swarm whose torrent (made by `btbt create`) announces over UDP (BEP 15) to the
/// same opentracker, optionally private (BEP 27).
fn udp_swarm(private: bool) -> (Swarm, PathBuf, String) {
    let swarm = Swarm::single(8 * 1024 * 1024, 18);
    let torrent = swarm.dir.path().join("udp.torrent");
    let url = format!("udp://{}", swarm.tracker.addr());
    let mut args = vec!["--piece-size", "262144", "--tracker", url.as_str()];
    if private {
        args.push("--private");
    }
    let hash = btbt_create(&swarm.content(), &torrent, &args);
    swarm.tracker.allow(&hash);
    (swarm, torrent, hash)
}

#[test]
fn udp_tracker_libtorrent_seeds_ccbt_downloads() {
    let (swarm, torrent, hash) = udp_swarm(false);
    let _seeder = Kind::Libtorrent.start_seeder(&torrent, &swarm.seed_dir, &swarm.opts());
    swarm.tracker.wait_seeders(&hash, 1, Duration::from_secs(30));
    let out = swarm.out_dir("ccbt");
    let mut ccbt = ccbt_downloader(&torrent, &out);
    finish_ccbt(&mut ccbt, "libtorrent -> ccbt over a UDP tracker");
    swarm.assert_copy(&out, Duration::from_secs(5));
    let status = ccbt.last_of("status").expect("status").clone();
    assert!(
        status["trackers"][0]["url"].as_str().unwrap().starts_with("udp://"),
        "{status}"
    );
    assert!(
        status["trackers"][0]["peers_received"].as_u64().unwrap() >= 1,
        "{status}"
    );
}

#[test]
fn private_torrent_over_udp_ccbt_seeds_libtorrent_downloads() {
    let (swarm, torrent, hash) = udp_swarm(true);
    assert_ne!(hash, swarm.info_hash, "the private flag is part of the info-hash");
    let _seeder = ccbt_seeder(&torrent, &swarm.seed_dir);
    swarm.tracker.wait_seeders(&hash, 1, Duration::from_secs(30));
    let out = swarm.out_dir("libtorrent");
    let downloader = Kind::Libtorrent.start_downloader(&torrent, &out, &swarm.opts());
    wait_client(downloader.as_ref(), "libtorrent from ccbt, private torrent");
    swarm.assert_copy(&out, Duration::from_secs(15));
}
