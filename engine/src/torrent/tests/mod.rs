//! Whole transfers between engine torrents in one process: a simulated network,
//! a fake clock, no sockets (the quinn-proto way).

use std::time::Duration;

use super::*;
use sim::{payload, Net, PIECE_LEN};

pub(crate) mod driver;
mod faults;
mod live_settings;
mod rules;
mod sim;
mod timers;

#[test]
fn two_peer_transfer_with_short_last_piece() {
    let data = payload(PIECE_LEN as usize * 9 + 1234, 1);
    let mut net = Net::new(&data, &[(true, false), (false, false)]);
    net.connect(0, 1);
    net.run_until_complete(1);
    assert_eq!(net.nodes[1].disk, data);
    let stats = net.nodes[1].torrent.stats(net.now);
    assert!(stats.complete);
    assert_eq!(stats.verified_bytes, data.len() as u64);
    assert_eq!(stats.hash_failures, 0);
    assert_eq!(net.nodes[0].torrent.stats(net.now).uploaded, data.len() as u64);
    // One latency sample per block that arrived while requested: 9 full pieces of 4 blocks and a short one.
    assert_eq!(stats.block_latency.count, 37, "{stats:?}");
}

#[test]
fn block_latency_measures_request_to_arrival_time() {
    let data = payload(PIECE_LEN as usize * 6 + 100, 11);
    let mut net = Net::new(&data, &[(true, false), (false, false)]);
    net.step_delay = Duration::from_millis(5);
    net.connect(0, 1);
    net.run_until_complete(1);
    assert_eq!(net.nodes[1].disk, data);
    let stats = net.nodes[1].torrent.stats(net.now);
    let blocks = data.len().div_ceil(crate::BLOCK_SIZE as usize) as u64;
    let lat = stats.block_latency;
    assert_eq!(lat.count, blocks, "{stats:?}");
    // A request goes out one step after it is made and its piece comes back a step later: >= 5 ms each.
    assert!(lat.p50_us >= 5_000, "{lat:?}");
    assert!(lat.p99_us >= lat.p50_us && lat.max_us >= lat.p99_us, "{lat:?}");
    assert!(lat.max_us < 1_000_000, "no request should wait for a tick: {lat:?}");
    // The seed requested nothing.
    assert_eq!(net.nodes[0].torrent.stats(net.now).block_latency.count, 0);
    // Hash and write times belong to the io layer.
    assert_eq!(stats.hash_latency, LatencySummary::default());
}

#[test]
fn three_way_swarm_completes_from_two_seeds() {
    let data = payload(PIECE_LEN as usize * 20, 2);
    let mut net = Net::new(&data, &[(true, false), (true, false), (false, false), (false, false)]);
    net.connect(0, 2);
    net.connect(1, 2);
    net.connect(0, 3);
    net.connect(2, 3);
    net.run_until_complete(2);
    net.run_until_complete(3);
    assert_eq!(net.nodes[2].disk, data);
    assert_eq!(net.nodes[3].disk, data);
}

#[test]
fn corrupt_peer_is_banned_and_download_completes() {
    let data = payload(PIECE_LEN as usize * 30, 3);
    let mut net = Net::new(&data, &[(true, false), (true, true), (false, false)]);
    net.connect(0, 2);
    net.connect(1, 2);
    net.run_until_complete(2);
    assert_eq!(net.nodes[2].disk, data);
    let stats = net.nodes[2].torrent.stats(net.now);
    assert!(
        stats.hash_failures > 0,
        "the corrupt peer's data should have failed: {stats:?}"
    );
    assert_eq!(net.nodes[2].banned, vec![PeerKey(1)], "only the corrupt peer is banned");
    assert!(net.nodes[2].torrent.is_banned(net.nodes[1].addr.ip(), net.now));
    assert!(!net.nodes[2].torrent.is_banned(net.nodes[0].addr.ip(), net.now));
}

#[test]
fn bitfield_with_spare_bits_disconnects() {
    let data = payload(PIECE_LEN as usize * 3, 4);
    let mut net = Net::new(&data, &[(false, false), (false, false)]);
    net.connect(0, 1);
    net.step();
    net.nodes[1]
        .torrent
        .on_message(PeerKey(0), Message::Bitfield(vec![0xff].into()), net.now);
    let mut saw = false;
    while let Some(a) = net.nodes[1].torrent.poll_action() {
        if matches!(
            a,
            Action::Disconnect {
                peer: PeerKey(0),
                reason: DisconnectReason::Protocol(_)
            }
        ) {
            saw = true;
        }
    }
    assert!(saw);
    assert_eq!(net.nodes[1].torrent.peer_count(), 0);
}

#[test]
fn request_for_missing_piece_is_rejected_not_served() {
    let data = payload(PIECE_LEN as usize * 3, 5);
    let mut net = Net::new(&data, &[(false, false), (false, false)]);
    net.connect(0, 1);
    while net.step() {}
    let block = BlockRef {
        piece: PieceIndex(0),
        offset: 0,
        length: 16384,
    };
    net.nodes[1]
        .torrent
        .on_message(PeerKey(0), Message::Request(block), net.now);
    let actions: Vec<Action> = std::iter::from_fn(|| net.nodes[1].torrent.poll_action()).collect();
    assert!(
        actions.contains(&Action::Send {
            peer: PeerKey(0),
            message: Message::Reject(block)
        }),
        "{actions:?}"
    );
    assert!(!actions.iter().any(|a| matches!(a, Action::ServeBlock { .. })));
}

#[test]
fn late_bitfield_is_an_update_not_a_violation() {
    // aria2 sends HAVE NONE first and a BITFIELD once it has pieces.
    let data = payload(PIECE_LEN as usize * 10, 6);
    let mut net = Net::new(&data, &[(false, false), (false, false)]);
    net.connect(0, 1);
    while net.step() {}
    let mut bits = Bitfield::new(10);
    bits.set(3);
    net.nodes[1]
        .torrent
        .on_message(PeerKey(0), Message::Have(PieceIndex(7)), net.now);
    net.nodes[1]
        .torrent
        .on_message(PeerKey(0), Message::Bitfield(bits.as_bytes().to_vec().into()), net.now);
    let actions: Vec<Action> = std::iter::from_fn(|| net.nodes[1].torrent.poll_action()).collect();
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Disconnect { .. })),
        "{actions:?}"
    );
    assert!(
        actions.contains(&Action::Send {
            peer: PeerKey(0),
            message: Message::Interested
        }),
        "{actions:?}"
    );
    assert_eq!(net.nodes[1].torrent.peer_count(), 1);
}
