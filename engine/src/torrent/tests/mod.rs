//! Whole transfers between engine torrents in one process: a simulated network,
//! a fake clock, no sockets (the quinn-proto way).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::{RngCore, SeedableRng};
use sha1::{Digest, Sha1};

use super::*;
use crate::peer_session::{Accepting, Dialing};
use crate::wire::{MessageDecoder, WireLimits, HANDSHAKE_ROUTING_LEN};

const PIECE_LEN: u32 = 64 * 1024;

struct Node {
    torrent: Torrent,
    addr: SocketAddr,
    /// Verified pieces written "to disk".
    disk: Vec<u8>,
    /// Flip bits in every block this node serves.
    corrupt_uploads: bool,
    completed: bool,
    banned: Vec<PeerKey>,
}

/// A link is (node index, peer key at that node); `links[(a, key)] = (b, key_at_b)`.
struct Net {
    nodes: Vec<Node>,
    links: HashMap<(usize, PeerKey), (usize, PeerKey)>,
    in_flight: VecDeque<(usize, PeerKey, Message)>,
    hashes: Vec<[u8; 20]>,
    now: Instant,
    /// Simulated time that passes at the start of every `step` (zero: messages arrive instantly).
    step_delay: Duration,
}

fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    data
}

fn hashes_of(data: &[u8]) -> Vec<[u8; 20]> {
    data.chunks(PIECE_LEN as usize)
        .map(|c| Sha1::digest(c).into())
        .collect()
}

impl Net {
    fn new(data: &[u8], roles: &[(bool, bool)]) -> Net {
        let now = Instant::now();
        let hashes = hashes_of(data);
        let params = TorrentParams {
            info_hash: InfoHash([7; 20]),
            num_pieces: hashes.len() as u32,
            piece_length: PIECE_LEN,
            total_length: data.len() as u64,
            piece_hashes: hashes.clone().into(),
        };
        let nodes = roles
            .iter()
            .enumerate()
            .map(|(i, &(seed, corrupt))| {
                let have = if seed {
                    Bitfield::full(params.num_pieces)
                } else {
                    Bitfield::new(params.num_pieces)
                };
                let mut id = [b'x'; 20];
                id[0] = i as u8;
                Node {
                    torrent: Torrent::new(
                        params.clone(),
                        &have,
                        TorrentConfig::default(),
                        PeerId(id),
                        i as u64,
                        now,
                    ),
                    // One address per node: bans are by IP.
                    addr: SocketAddr::from(([127, 0, 0, 1 + i as u8], 6000 + i as u16)),
                    disk: if seed { data.to_vec() } else { vec![0; data.len()] },
                    corrupt_uploads: corrupt,
                    completed: seed,
                    banned: Vec::new(),
                }
            })
            .collect();
        Net {
            nodes,
            links: HashMap::new(),
            in_flight: VecDeque::new(),
            hashes,
            now,
            step_delay: Duration::ZERO,
        }
    }

    fn connect(&mut self, a: usize, b: usize) {
        let ka = PeerKey(b as u64);
        let kb = PeerKey(a as u64);
        self.links.insert((a, ka), (b, kb));
        self.links.insert((b, kb), (a, ka));
        // `a` dials `b`: the handshake bytes go through both session state machines.
        let (ta, tb) = (&self.nodes[a].torrent, &self.nodes[b].torrent);
        let dialing = Dialing::new(ta.info_hash(), ta.our_id());
        let hello = dialing.handshake_bytes();
        let accepting = Accepting::from_prefix(&hello[..HANDSHAKE_ROUTING_LEN], tb.info_hash(), tb.our_id()).unwrap();
        let reply = accepting.handshake_bytes();
        let at_b = accepting
            .receive_peer_id(hello[HANDSHAKE_ROUTING_LEN..].try_into().unwrap())
            .unwrap();
        let at_a = dialing.receive(&reply).unwrap();
        let (addr_a, addr_b) = (self.nodes[a].addr, self.nodes[b].addr);
        self.nodes[a].torrent.add_peer(ka, addr_b, at_a, self.now).unwrap();
        self.nodes[b].torrent.add_peer(kb, addr_a, at_b, self.now).unwrap();
    }

    /// Drains every node's actions once; returns whether anything happened.
    fn step(&mut self) -> bool {
        self.now += self.step_delay;
        let mut busy = false;
        for i in 0..self.nodes.len() {
            while let Some(action) = self.nodes[i].torrent.poll_action() {
                busy = true;
                self.perform(i, action);
            }
        }
        while let Some((to, key, msg)) = self.in_flight.pop_front() {
            busy = true;
            // Through the real codec, so framing is exercised too.
            let mut buf = BytesMut::new();
            msg.encode(&mut buf);
            let mut dec = MessageDecoder::new(WireLimits::default());
            let decoded = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(decoded, msg);
            self.nodes[to].torrent.on_message(key, decoded, self.now);
        }
        busy
    }

    fn perform(&mut self, i: usize, action: Action) {
        match action {
            Action::Send { peer, message } => {
                if let Some(&(to, key)) = self.links.get(&(i, peer)) {
                    self.in_flight.push_back((to, key, message));
                }
            }
            Action::ServeBlock { peer, block } => {
                let node = &mut self.nodes[i];
                if !node.torrent.take_serve(peer, block) {
                    return;
                }
                let start = block.piece.0 as usize * PIECE_LEN as usize + block.offset as usize;
                let mut data = node.disk[start..start + block.length as usize].to_vec();
                if node.corrupt_uploads {
                    data.iter_mut().for_each(|b| *b ^= 0x5a);
                }
                node.torrent.block_sent(peer, block.length, self.now);
                if let Some(&(to, key)) = self.links.get(&(i, peer)) {
                    let message = Message::Piece {
                        piece: block.piece,
                        offset: block.offset,
                        data: data.into(),
                    };
                    self.in_flight.push_back((to, key, message));
                }
            }
            Action::WritePiece { piece, data } => {
                assert_eq!(
                    <[u8; 20]>::from(Sha1::digest(&data)),
                    self.hashes[piece.0 as usize],
                    "piece {piece}: only good pieces are written"
                );
                let start = piece.0 as usize * PIECE_LEN as usize;
                self.nodes[i].disk[start..start + data.len()].copy_from_slice(&data);
                let torrent = &mut self.nodes[i].torrent;
                torrent.piece_written(piece, true, self.now);
                torrent.recycle_piece_buffer(data);
            }
            Action::Disconnect { peer, reason } => {
                if reason == DisconnectReason::Banned {
                    self.nodes[i].banned.push(peer);
                }
                if let Some((to, key)) = self.links.remove(&(i, peer)) {
                    self.links.remove(&(to, key));
                    self.nodes[to].torrent.remove_peer(key, self.now);
                }
                self.nodes[i].torrent.remove_peer(peer, self.now);
            }
            Action::Completed => self.nodes[i].completed = true,
        }
    }

    fn run_until_complete(&mut self, node: usize) {
        for _ in 0..10_000 {
            if self.nodes[node].completed {
                return;
            }
            if !self.step() {
                // Nothing in flight: jump the clock to the next deadline.
                let next = self.nodes.iter().filter_map(|n| n.torrent.poll_timeout()).min();
                let Some(next) = next else {
                    panic!("stalled: nothing in flight and no deadline");
                };
                self.now = self.now.max(next);
                for n in &mut self.nodes {
                    if n.torrent.poll_timeout().is_some_and(|t| t <= self.now) {
                        n.torrent.handle_timeout(self.now);
                    }
                }
            }
        }
        panic!(
            "node {node} did not complete: {:?}",
            self.nodes[node].torrent.stats(self.now)
        );
    }
}

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

pub(crate) mod driver;
mod rules;
mod timers;
