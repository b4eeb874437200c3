//! Torrents made by libtorrent 2.0's `create_torrent` with its defaults: hybrid
//! v1+v2, files aligned to pieces by BEP 47 padding files (`.pad/N`, several of one
//! size). ccbt loads their v1 part, downloads them from libtorrent and qBittorrent
//! (which keep no pad files on disk) and seeds them to both, byte-identical, and
//! never writes a pad file or a `.pad` folder. Peers are given directly: libtorrent
//! does not announce such a torrent to opentracker under its v1 info-hash here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ccbt_tests::clients::libtorrent::create_torrent_with_defaults;
use ccbt_tests::clients::{Kind, Swarm};
use ccbt_tests::{bin, lines_of, start_seeder, Downloader};

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One file of an odd size.
    OneFile,
    /// Files of odd sizes in nested folders: a pad after each, some of one size.
    ManyFiles,
}

/// A swarm whose torrent is re-made by libtorrent with defaults.
fn swarm(shape: Shape) -> (Swarm, PathBuf) {
    let s = match shape {
        Shape::OneFile => Swarm::single(5_000_017, 18),
        Shape::ManyFiles => {
            let names: Vec<(String, u64)> = (0..14u64)
                .map(|i| {
                    let dir = ["a", "a/b", "c"][i as usize % 3];
                    // Two files of each size: their pads share a size and a path.
                    (format!("{dir}/file{i:02}.bin"), 100_003 + (i / 2) * 77_777)
                })
                .collect();
            let files: Vec<(&str, u64)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
            Swarm::multi(&files, 18)
        }
    };
    let torrent = s.dir.path().join("libtorrent-defaults.torrent");
    let hash = create_torrent_with_defaults(&s.content(), &torrent, &s.tracker.announce_url());
    s.tracker.allow(&hash);
    let bytes = std::fs::read(&torrent).unwrap();
    let meta = ccbt_engine::metainfo::Metainfo::from_bytes(&bytes).unwrap();
    let pads = meta.info.files.iter().filter(|f| f.padding).count();
    match shape {
        Shape::OneFile => assert_eq!(pads, 0),
        Shape::ManyFiles => assert!(pads >= 13, "libtorrent padded the files: {pads} pads"),
    }
    (s, torrent)
}

/// No pad file and no `.pad` folder anywhere below `dir`.
fn assert_no_pads(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(name != ".pad", "ccbt created {}", entry.path().display());
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

fn client_seeds_ccbt_downloads(kind: Kind, shape: Shape) {
    let (swarm, torrent) = swarm(shape);
    let seeder = kind.start_seeder(&torrent, &swarm.seed_dir, &swarm.opts());
    let peer = seeder.listen_addr().to_string();
    let out = swarm.out_dir("ccbt");
    let mut ccbt = Downloader::new(&torrent, &out).peer(&peer).spawn();
    ccbt.wait_success(&format!("{} -> ccbt, {shape:?}", kind.name()), TIMEOUT);
    assert_eq!(lines_of(&ccbt, "complete").count(), 1);
    swarm.assert_copy(&out, Duration::from_secs(5));
    assert_no_pads(&out);
    // `btbt verify` reads pads as zeros too, and lists no pad as a file.
    let verify = std::process::Command::new(bin("btbt"))
        .args(["verify", torrent.to_str().unwrap(), "--data", out.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "btbt verify: {text}");
    assert!(!text.contains(".pad"), "{text}");
}

fn ccbt_seeds_client_downloads(kind: Kind, shape: Shape) {
    let (swarm, torrent) = swarm(shape);
    // The seed folder holds the real files only, as libtorrent made the torrent from it.
    let (_ccbt, addr) = start_seeder(&[&torrent], &swarm.seed_dir, &[]);
    assert_no_pads(&swarm.seed_dir);
    let out = swarm.out_dir(kind.name());
    let opts = swarm.opts().with_peer(addr.parse().unwrap());
    let downloader = kind.start_downloader(&torrent, &out, &opts);
    downloader.wait_complete(TIMEOUT);
    swarm.assert_copy(&out, Duration::from_secs(15));
}

mod from_libtorrent {
    use super::*;
    #[test]
    fn one_file() {
        client_seeds_ccbt_downloads(Kind::Libtorrent, Shape::OneFile)
    }
    #[test]
    fn many_files() {
        client_seeds_ccbt_downloads(Kind::Libtorrent, Shape::ManyFiles)
    }
}

mod from_qbittorrent {
    use super::*;
    #[test]
    fn many_files() {
        client_seeds_ccbt_downloads(Kind::QBittorrent, Shape::ManyFiles)
    }
}

mod to_libtorrent {
    use super::*;
    #[test]
    fn one_file() {
        ccbt_seeds_client_downloads(Kind::Libtorrent, Shape::OneFile)
    }
    #[test]
    fn many_files() {
        ccbt_seeds_client_downloads(Kind::Libtorrent, Shape::ManyFiles)
    }
}

mod to_qbittorrent {
    use super::*;
    #[test]
    fn many_files() {
        ccbt_seeds_client_downloads(Kind::QBittorrent, Shape::ManyFiles)
    }
}
