//! A simulated network of engine torrents: messages go through the real codec,
//! time is a fake clock that jumps to the next deadline, and seeded faults can drop
//! messages, reorder them and flip bits in served blocks. Every node's
//! [`Torrent::check_invariants`] runs after every delivered message and every step.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use sha1::{Digest, Sha1};

use super::super::*;
use crate::peer_session::{Accepting, Dialing};
use crate::wire::{MessageDecoder, WireLimits, HANDSHAKE_ROUTING_LEN};

pub const PIECE_LEN: u32 = 64 * 1024;

/// Seeded misbehaviour of the network.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub seed: u64,
    /// Chance that a REQUEST, PIECE or CANCEL is lost (its sender's request then
    /// times out).
    pub loss: f64,
    /// Deliver from a random link each time, and let PIECE messages overtake each
    /// other on one link (peers answer requests in any order); other messages keep
    /// their order on their link, as on TCP.
    pub reorder: bool,
    /// Chance that a block served by a node marked `flaky` has one bit flipped.
    pub bit_flip: f64,
}

pub struct Node {
    pub torrent: Torrent,
    pub addr: SocketAddr,
    /// Verified pieces written "to disk".
    pub disk: Vec<u8>,
    /// Flip bits in every block this node serves.
    pub corrupt_uploads: bool,
    /// Flip a bit in a served block now and then (see [`Faults::bit_flip`]).
    pub flaky: bool,
    pub completed: bool,
    pub banned: Vec<PeerKey>,
}

/// A link is (node index, peer key at that node); `links[(a, key)] = (b, key_at_b)`.
pub struct Net {
    pub nodes: Vec<Node>,
    links: HashMap<(usize, PeerKey), (usize, PeerKey)>,
    in_flight: VecDeque<(usize, PeerKey, Message)>,
    hashes: Vec<[u8; 20]>,
    pub now: Instant,
    /// Simulated time that passes at the start of every `step` (zero: messages arrive instantly).
    pub step_delay: Duration,
    pub faults: Faults,
    rng: SmallRng,
    /// Messages lost and blocks corrupted by the faults.
    pub lost: u64,
    pub flipped: u64,
}

pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
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
    /// One node per role: (is a seed, corrupts every block it serves).
    pub fn new(data: &[u8], roles: &[(bool, bool)]) -> Net {
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
                    flaky: false,
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
            faults: Faults::default(),
            rng: SmallRng::seed_from_u64(0),
            lost: 0,
            flipped: 0,
        }
    }

    pub fn with_faults(mut self, faults: Faults) -> Net {
        self.rng = SmallRng::seed_from_u64(faults.seed);
        self.faults = faults;
        self
    }

    pub fn connect(&mut self, a: usize, b: usize) {
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

    fn check_all(&self) {
        for n in &self.nodes {
            n.torrent.check_invariants();
        }
    }

    /// Drains every node's actions once, then delivers what is in flight; returns
    /// whether anything happened.
    pub fn step(&mut self) -> bool {
        self.now += self.step_delay;
        let mut busy = false;
        for i in 0..self.nodes.len() {
            while let Some(action) = self.nodes[i].torrent.poll_action() {
                busy = true;
                self.perform(i, action);
            }
        }
        while let Some((to, key, msg)) = self.next_delivery() {
            busy = true;
            // Through the real codec, so framing is exercised too.
            let mut buf = BytesMut::new();
            msg.encode(&mut buf);
            let mut dec = MessageDecoder::new(WireLimits::default());
            let decoded = dec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(decoded, msg);
            self.nodes[to].torrent.on_message(key, decoded, self.now);
            self.nodes[to].torrent.check_invariants();
        }
        self.check_all();
        busy
    }

    /// The next message to deliver: the oldest, or with reordering a random one
    /// that may go first (see [`Faults::reorder`]).
    fn next_delivery(&mut self) -> Option<(usize, PeerKey, Message)> {
        if !self.faults.reorder || self.in_flight.len() < 2 {
            return self.in_flight.pop_front();
        }
        let pick = self.rng.gen_range(0..self.in_flight.len());
        let (to, key, _) = &self.in_flight[pick];
        let link = (*to, *key);
        let first_on_link = self
            .in_flight
            .iter()
            .position(|(t, k, _)| (*t, *k) == link)
            .unwrap_or(pick);
        let is_piece = |m: &Message| matches!(m, Message::Piece { .. });
        let pieces_only = self
            .in_flight
            .range(first_on_link..=pick)
            .filter(|(t, k, _)| (*t, *k) == link)
            .all(|(_, _, m)| is_piece(m));
        let index = if pieces_only { pick } else { first_on_link };
        self.in_flight.remove(index)
    }

    /// Queues a message on a link, unless the faults lose it.
    fn transmit(&mut self, to: usize, key: PeerKey, message: Message) {
        let losable = matches!(
            message,
            Message::Request(_) | Message::Piece { .. } | Message::Cancel(_)
        );
        if losable && self.faults.loss > 0.0 && self.rng.gen_bool(self.faults.loss) {
            self.lost += 1;
            return;
        }
        self.in_flight.push_back((to, key, message));
    }

    fn perform(&mut self, i: usize, action: Action) {
        match action {
            Action::Send { peer, message } => {
                if let Some(&(to, key)) = self.links.get(&(i, peer)) {
                    self.transmit(to, key, message);
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
                if node.flaky && self.faults.bit_flip > 0.0 && self.rng.gen_bool(self.faults.bit_flip) {
                    let bit = self.rng.gen_range(0..data.len() * 8);
                    data[bit / 8] ^= 1 << (bit % 8);
                    self.flipped += 1;
                }
                node.torrent.block_sent(peer, block.length, self.now);
                if let Some(&(to, key)) = self.links.get(&(i, peer)) {
                    let message = Message::Piece {
                        piece: block.piece,
                        offset: block.offset,
                        data: data.into(),
                    };
                    self.transmit(to, key, message);
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
                // Messages still on a closed link are lost with it.
                let links = &self.links;
                self.in_flight.retain(|(t, k, _)| links.contains_key(&(*t, *k)));
            }
            Action::Completed => self.nodes[i].completed = true,
            // The simulated swarm is wired by hand; learned addresses are not dialled.
            Action::AddPeers { .. } => {}
        }
    }

    /// Steps until `node` completes; with nothing in flight the clock jumps to the
    /// next deadline. Panics after a bounded number of rounds.
    pub fn run_until_complete(&mut self, node: usize) {
        for _ in 0..20_000 {
            if self.nodes[node].completed {
                return;
            }
            if !self.step() {
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
                self.check_all();
            }
        }
        panic!(
            "node {node} did not complete: {:?}",
            self.nodes[node].torrent.stats(self.now)
        );
    }
}
