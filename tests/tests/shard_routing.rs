//! One ccbt process seeding three torrents on two shards behind one port serves three
//! downloaders at once; connections that land on the wrong shard are handed over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::{assert_same_tree, btbt_create, lines_of, start_seeder, write_random_file, Proc};

#[test]
fn three_torrents_two_shards_one_port_three_downloaders() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let mut torrents = Vec::new();
    for i in 0..3u64 {
        let content = seed_dir.join(format!("t{i}"));
        write_random_file(&content.join("data.bin"), 3_000_000 + i * 1000, 100 + i);
        write_random_file(&content.join("extra/small.bin"), 5_000 + i, 200 + i);
        let torrent = tmp.path().join(format!("t{i}.torrent"));
        btbt_create(&content, &torrent, &["--piece-size", "65536"]);
        torrents.push(torrent);
    }
    let refs: Vec<&std::path::Path> = torrents.iter().map(|t| t.as_path()).collect();
    let (mut seeder, addr) = start_seeder(&refs, &seed_dir, &["--shards", "2"]);

    let mut downloaders = Vec::new();
    for d in 0..3 {
        let out = tmp.path().join(format!("down{d}"));
        let mut args: Vec<String> = torrents.iter().map(|t| t.display().to_string()).collect();
        args.extend([
            "-o".into(),
            out.display().to_string(),
            "--peer".into(),
            addr.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--json".into(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        downloaders.push((Proc::spawn("ccbt", &refs), out));
    }
    for (p, out) in &mut downloaders {
        let status = p.wait_exit(Duration::from_secs(180));
        assert!(status.success(), "downloader failed: {}", p.stderr());
        assert_eq!(lines_of(p, "complete").count(), 3);
        for i in 0..3 {
            assert_same_tree(&seed_dir.join(format!("t{i}")), &out.join(format!("t{i}")));
        }
    }

    seeder.signal(15);
    let status = seeder.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "seeder exits 0 on SIGTERM: {}", seeder.stderr());
    let summary = seeder.last_of("summary").expect("seeder summary").clone();
    let shards: std::collections::HashSet<u64> = lines_of(&seeder, "status")
        .filter_map(|v| v["shard"].as_u64())
        .collect();
    assert_eq!(shards.len(), 2, "torrents are spread over both shards");
    // Shard 0 accepts all 9 connections; every downloader needs the torrent(s) on
    // shard 1 too, so at least 3 connections are handed over.
    assert!(
        summary["handovers"].as_u64().unwrap() >= 3,
        "connections for shard 1's torrent are handed over ({summary})"
    );
    let uploaded: u64 = {
        let mut last = std::collections::HashMap::new();
        for v in lines_of(&seeder, "status") {
            last.insert(
                v["info_hash"].as_str().unwrap().to_string(),
                v["uploaded"].as_u64().unwrap(),
            );
        }
        last.values().sum()
    };
    assert!(
        uploaded >= 3 * 3 * 3_000_000,
        "seeder uploaded every torrent to every downloader ({uploaded})"
    );
}
