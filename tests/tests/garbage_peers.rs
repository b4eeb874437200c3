//! A seeder that hears every kind of garbage from hostile connections stays up,
//! hangs up on the ones that break the protocol, keeps its memory bounded, and still
//! serves an honest downloader byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use ccbt_engine::InfoHash;
use ccbt_tests::garbage_peer::{run_script, Garbage};
use ccbt_tests::{assert_same_file, btbt_create, start_seeder_on, write_random_file, Downloader};

const TOTAL: u64 = 6 * 1024 * 1024;
const PIECE: u64 = 64 * 1024;
/// Generous: the seeder's read cache is 64 MiB; garbage must not add to it.
const MAX_SEEDER_RSS_KIB: u64 = 400 * 1024;

/// Peak resident memory of a process, from /proc.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn garbage_from_peers_never_stops_a_seeder_serving_an_honest_one() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("seed").join("payload.bin");
    write_random_file(&content, TOTAL, 33);
    let torrent = tmp.path().join("payload.torrent");
    let hex = btbt_create(&content, &torrent, &["--piece-size", &PIECE.to_string()]);
    let info_hash = InfoHash::from_hex(&hex).unwrap();
    let num_pieces = (TOTAL / PIECE) as u32;

    let (mut seeder, addr) = start_seeder_on(&[&torrent], &tmp.path().join("seed"), "127.0.0.3:0", &[]);
    let addr: SocketAddr = addr.parse().unwrap();

    // Every script twice, the rounds on threads of their own so slow ones overlap.
    let rounds: Vec<_> = (0..2u64)
        .map(|round| {
            std::thread::spawn(move || {
                Garbage::ALL
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        run_script(
                            *s,
                            addr,
                            info_hash,
                            num_pieces,
                            round * 100 + i as u64,
                            Duration::from_secs(15),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<_> = rounds.into_iter().flat_map(|r| r.join().unwrap()).collect();
    for o in &outcomes {
        assert!(o.sent, "could not deliver {:?} to the seeder", o.script);
        if o.script.must_be_dropped() {
            assert!(
                o.closed_by_peer,
                "the seeder kept a connection that sent {:?}",
                o.script
            );
        }
    }
    assert!(seeder.is_running(), "the seeder died of garbage: {}", seeder.stderr());
    // Breaches are counted by kind in the status: a frame the decoder refuses
    // (the huge length, the noise) and a HAVE or REQUEST for a piece that does not exist.
    let counted = ["malformed", "piece_index_out_of_range"];
    seeder.wait_json("violations counted by kind", Duration::from_secs(15), |v| {
        v["type"] == "status" && counted.iter().all(|k| v["violations"][k].as_u64().unwrap_or(0) >= 1)
    });

    // An honest downloader on another address is served in full.
    let down = tmp.path().join("down");
    Downloader::new(&torrent, &down)
        .peer(addr)
        .listen("127.0.0.4:0")
        .without_json()
        .run(Duration::from_secs(120));
    assert_same_file(&content, &down.join("payload.bin"));
    let rss = peak_rss_kib(seeder.pid());
    assert!(rss < MAX_SEEDER_RSS_KIB, "seeder peak RSS {rss} KiB");
    assert!(seeder.is_running(), "{}", seeder.stderr());
}
