//! The real-client harness (`ccbt_tests::clients`) among real clients only: every
//! client seeds to another and downloads from another through opentracker on
//! loopback, and the copy is byte-identical. The pairs respect what each client can
//! do on 127.0.0.1 (docs/interop-notes.md):
//!
//! | seeder       | downloader   | who dials                                        |
//! |--------------|--------------|--------------------------------------------------|
//! | libtorrent   | aria2        | aria2, from the tracker's answer (no hint)       |
//! | aria2        | rqbit        | rqbit (`initial_peers`)                          |
//! | rqbit        | qBittorrent  | qBittorrent (`addPeers`)                         |
//! | qBittorrent  | Transmission | qBittorrent (Transmission never dials 127.0.0.x) |
//! | Transmission | libtorrent,  | libtorrent (`connect_peer`) from 127.0.0.1, then |
//! |              | qBittorrent  | qBittorrent (`addPeers`) from 127.0.0.2          |

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ccbt_tests::clients::{Kind, Opentracker, Swarm};

const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dial {
    /// The downloader is started with the seeder's address.
    DownloaderDialsSeeder,
    /// The seeder is told to dial the downloader once it runs.
    SeederDialsDownloader,
    /// Nobody is told anything: the downloader finds the seeder in the tracker's reply.
    TrackerOnly,
}

fn transfer(swarm: &Swarm, from: Kind, to: Kind, dial: Dial) {
    let start = Instant::now();
    let seeder = from.start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts());
    assert!(seeder.is_complete());
    // The seeder's announce reached the tracker: a later announce gets it back.
    swarm.wait_seeders(1, Duration::from_secs(30));
    let seeded = start.elapsed();

    let out = swarm.out_dir(to.name());
    let mut opts = swarm.opts();
    if dial == Dial::DownloaderDialsSeeder {
        assert!(to.can_add_peer());
        opts.peers.push(seeder.listen_addr());
    }
    let downloader = to.start_downloader(&swarm.torrent, &out, &opts);
    assert_ne!(downloader.listen_port(), seeder.listen_port());
    if !to.can_add_peer() {
        assert!(downloader.add_peer(seeder.listen_addr()).is_err());
    }
    if dial == Dial::SeederDialsDownloader {
        seeder.add_peer(downloader.listen_addr()).expect("the seeder can dial");
    }
    downloader.wait_complete(DOWNLOAD_TIMEOUT);
    let files = swarm.assert_copy(&out, Duration::from_secs(15));
    assert!(seeder.is_running(), "the seeder is still up");
    eprintln!(
        "{} ({}) -> {} ({}) by {dial:?}: {files} file(s) in {:.1?} (seeder ready after {:.1?})",
        from.name(),
        seeder.version(),
        to.name(),
        downloader.version(),
        start.elapsed(),
        seeded
    );
}

#[test]
fn libtorrent_seeds_aria2_downloads_via_tracker() {
    // aria2 cannot be told to dial: it must find the seeder in the tracker's reply.
    let swarm = Swarm::single(6 * 1024 * 1024 + 12_345, 18);
    transfer(&swarm, Kind::Libtorrent, Kind::Aria2, Dial::TrackerOnly);
}

#[test]
fn aria2_seeds_rqbit_downloads_multi_file() {
    let swarm = Swarm::multi(
        &[
            ("a.bin", 3 * 1024 * 1024 + 1),
            ("empty-ish.txt", 1),
            ("sub/b.bin", 2 * 1024 * 1024 - 7),
            ("sub/deeper/c.bin", 777_777),
        ],
        20,
    );
    transfer(&swarm, Kind::Aria2, Kind::Rqbit, Dial::DownloaderDialsSeeder);
}

#[test]
fn rqbit_seeds_qbittorrent_downloads() {
    let swarm = Swarm::single(5 * 1024 * 1024 + 999, 20);
    transfer(&swarm, Kind::Rqbit, Kind::QBittorrent, Dial::DownloaderDialsSeeder);
}

#[test]
fn qbittorrent_seeds_transmission_downloads_multi_file() {
    // Transmission never dials a 127.0.0.x peer from the tracker: the seeder dials it.
    let swarm = Swarm::multi(
        &[("one.bin", 4 * 1024 * 1024 + 4321), ("two/three.bin", 1024 * 1024 + 17)],
        18,
    );
    transfer(
        &swarm,
        Kind::QBittorrent,
        Kind::Transmission,
        Dial::SeederDialsDownloader,
    );
}

#[test]
fn opentracker_whitelist_and_scrape() {
    let tracker = Opentracker::start();
    assert!(tracker.announce_url().starts_with("http://127.0.0.1:"));
    let hash = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(tracker.scrape(hash).complete, 0);
    tracker.allow(hash);
    // The probe announce of allow() leaves no peer behind.
    let s = tracker.scrape(hash);
    assert_eq!((s.complete, s.incomplete), (0, 0), "{s:?}");
    // Allowing a second hash keeps the first.
    tracker.allow("fedcba9876543210fedcba9876543210fedcba98");
    tracker.allow(hash);
}

#[test]
fn every_client_reports_a_version() {
    for kind in Kind::ALL {
        let v = kind.version();
        assert!(v.chars().any(|c| c.is_ascii_digit()), "{}: version {v:?}", kind.name());
        eprintln!("{}: {v}", kind.name());
    }
}

#[test]
fn transmission_seeds_libtorrent_then_qbittorrent_from_another_loopback_ip() {
    // Transmission keys peers by IP: once a 127.0.0.1 downloader finished, it refuses
    // the next one from 127.0.0.1. libtorrent dials from 127.0.0.1, then (libtorrent
    // gone) qBittorrent from 127.0.0.2 (Opts::listen_ip); both get every byte from
    // the seeder.
    let swarm = Swarm::single(3 * 1024 * 1024 + 100, 18);
    let start = Instant::now();
    let seeder = Kind::Transmission.start_seeder(&swarm.torrent, &swarm.seed_dir, &swarm.opts());
    assert!(
        seeder.add_peer(swarm.tracker.addr()).is_err(),
        "Transmission cannot be told to dial"
    );
    let size = seeder.status().total_bytes;
    for (n, (kind, host)) in [(Kind::Libtorrent, 1), (Kind::QBittorrent, 2)].into_iter().enumerate() {
        let ip = Ipv4Addr::new(127, 0, 0, host);
        let out = swarm.out_dir(kind.name());
        let opts = swarm.opts().with_listen_ip(ip).with_peer(seeder.listen_addr());
        let downloader = kind.start_downloader(&swarm.torrent, &out, &opts);
        assert_eq!(downloader.listen_addr().ip(), ip);
        downloader.wait_complete(DOWNLOAD_TIMEOUT);
        swarm.assert_copy(&out, Duration::from_secs(15));
        let uploaded = ccbt_tests::clients::poll(Duration::from_secs(10), Duration::from_millis(200), || {
            let up = seeder.status().uploaded_bytes;
            (up >= (n as u64 + 1) * size).then_some(up)
        });
        assert!(
            uploaded.is_some(),
            "{} got its data from the seeder: {:?}",
            kind.name(),
            seeder.status()
        );
        eprintln!(
            "transmission -> {}@{ip} complete after {:.1?}",
            kind.name(),
            start.elapsed()
        );
    }
}
