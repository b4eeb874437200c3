//! Property tests: random swarms and random event sequences against a model of
//! what each peer has outstanding.

use super::*;
use proptest::prelude::*;

const MAX_PIECES: u32 = 24;
const MAX_BLOCKS_PER_PIECE: u32 = 4;
const MAX_PEERS: usize = 5;
const MAX_OPS: usize = 150;
/// Upper bound on drain rounds; each round completes at least one block.
const MAX_DRAIN_ROUNDS: usize = 10_000;

#[derive(Clone, Debug)]
enum Op {
    Pick {
        peer: usize,
        max: usize,
        allowed_only: bool,
    },
    Receive {
        peer: usize,
        nth: usize,
        hash_ok: bool,
    },
    Abandon {
        peer: usize,
        nth: usize,
    },
    PeerGains {
        peer: usize,
        piece: u32,
    },
    Priority {
        piece: u32,
        prio: PiecePriority,
    },
    Sequential(bool),
}

fn prio() -> impl Strategy<Value = PiecePriority> {
    prop_oneof![
        Just(PiecePriority::Skip),
        Just(PiecePriority::Normal),
        Just(PiecePriority::High),
        Just(PiecePriority::Low)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 0..MAX_PEERS;
    prop_oneof![
        4 => (peer.clone(), 1usize..12, proptest::bool::weighted(0.15))
            .prop_map(|(peer, max, allowed_only)| Op::Pick { peer, max, allowed_only }),
        4 => (peer.clone(), any::<usize>(), proptest::bool::weighted(0.8))
            .prop_map(|(peer, nth, hash_ok)| Op::Receive { peer, nth, hash_ok }),
        2 => (peer.clone(), any::<usize>()).prop_map(|(peer, nth)| Op::Abandon { peer, nth }),
        1 => (peer, 0..MAX_PIECES).prop_map(|(peer, piece)| Op::PeerGains { peer, piece }),
        1 => (0..MAX_PIECES, prio()).prop_map(|(piece, prio)| Op::Priority { piece, prio }),
        1 => any::<bool>().prop_map(Op::Sequential),
    ]
}

#[derive(Clone, Debug)]
struct Swarm {
    num_pieces: u32,
    blocks_per_piece: u32,
    last_piece_bytes: u32,
    peers: Vec<Vec<bool>>,
    priorities: Vec<PiecePriority>,
    max_in_flight: u32,
    seed: u64,
}

fn swarm() -> impl Strategy<Value = Swarm> {
    (
        1..=MAX_PIECES,
        1..=MAX_BLOCKS_PER_PIECE,
        1..MAX_PEERS + 1,
        0u32..3,
        any::<u64>(),
    )
        .prop_flat_map(|(n, bpp, peers, max_in_flight, seed)| {
            let pl = bpp * BLOCK_SIZE;
            (
                Just(n),
                Just(bpp),
                1..=pl,
                proptest::collection::vec(proptest::collection::vec(any::<bool>(), n as usize), peers),
                proptest::collection::vec(prio(), n as usize),
                Just(max_in_flight),
                Just(seed),
            )
        })
        .prop_map(
            |(num_pieces, blocks_per_piece, last_piece_bytes, peers, priorities, max_in_flight, seed)| Swarm {
                num_pieces,
                blocks_per_piece,
                last_piece_bytes,
                peers,
                priorities,
                max_in_flight,
                seed,
            },
        )
}

struct Harness {
    picker: PiecePicker,
    peers: Vec<Bitfield>,
    /// Per peer, the requests it has outstanding (what a caller tracks).
    outstanding: Vec<Vec<BlockRef>>,
    allowed: Vec<PieceIndex>,
}

impl Harness {
    fn new(s: &Swarm) -> Self {
        let pl = s.blocks_per_piece * BLOCK_SIZE;
        let total = u64::from(s.num_pieces - 1) * u64::from(pl) + u64::from(s.last_piece_bytes);
        let mut picker = PiecePicker::with_seed(s.num_pieces, pl, total, s.seed);
        picker.set_max_in_flight_pieces(s.max_in_flight);
        for (i, &prio) in s.priorities.iter().enumerate() {
            picker.set_piece_priority(PieceIndex(i as u32), prio);
        }
        let mut peers = Vec::new();
        for bits in &s.peers {
            let mut bf = Bitfield::new(s.num_pieces);
            for (i, &b) in bits.iter().enumerate() {
                if b {
                    bf.set(i as u32);
                }
            }
            picker.peer_has_bitfield(&bf);
            peers.push(bf);
        }
        let allowed = [0, s.num_pieces / 2, s.num_pieces + 3].map(PieceIndex).to_vec();
        let outstanding = vec![Vec::new(); peers.len()];
        Harness {
            picker,
            peers,
            outstanding,
            allowed,
        }
    }

    fn pick(&mut self, peer: usize, max: usize, allowed_only: bool) -> Result<(), TestCaseError> {
        let endgame_before = self.picker.in_endgame();
        let mine = self.outstanding[peer].clone();
        let pending = move |b: BlockRef| mine.contains(&b);
        let allowed = allowed_only.then_some(self.allowed.as_slice());
        let mut out = Vec::new();
        self.picker
            .pick_blocks(&self.peers[peer], max, &pending, allowed, &mut out);
        prop_assert!(out.len() <= max);
        for (k, &b) in out.iter().enumerate() {
            let p = b.piece;
            prop_assert!(self.peers[peer].get(p.0), "(a) peer lacks {b:?}");
            prop_assert!(self.picker.priority[p.0 as usize] != PiecePriority::Skip, "(d) {b:?}");
            prop_assert!(!self.picker.have().get(p.0), "had piece {b:?}");
            prop_assert!(!self.outstanding[peer].contains(&b), "pending to this peer {b:?}");
            prop_assert!(!out[..k].contains(&b), "picked twice in one call {b:?}");
            if !endgame_before {
                let anywhere = self.outstanding.iter().any(|o| o.contains(&b));
                prop_assert!(!anywhere, "(b) already requested outside end-game {b:?}");
            }
            if allowed_only {
                prop_assert!(self.allowed.contains(&p));
            }
        }
        self.outstanding[peer].extend(out);
        Ok(())
    }

    fn receive(&mut self, peer: usize, nth: usize, hash_ok: bool) -> Result<(), TestCaseError> {
        if self.outstanding[peer].is_empty() {
            return Ok(());
        }
        let i = nth % self.outstanding[peer].len();
        let b = self.outstanding[peer].swap_remove(i);
        match self.picker.block_received(b) {
            BlockOutcome::Unexpected => prop_assert!(false, "outstanding block unexpected {b:?}"),
            BlockOutcome::Duplicate => {}
            BlockOutcome::Accepted { piece_complete } => {
                if piece_complete {
                    self.picker.piece_verified(b.piece, hash_ok);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let peers = self.peers.len();
        match *op {
            Op::Pick {
                peer,
                max,
                allowed_only,
            } => self.pick(peer % peers, max, allowed_only)?,
            Op::Receive { peer, nth, hash_ok } => self.receive(peer % peers, nth, hash_ok)?,
            Op::Abandon { peer, nth } => {
                let o = &mut self.outstanding[peer % peers];
                if !o.is_empty() {
                    let b = o.swap_remove(nth % o.len());
                    self.picker.request_abandoned(b);
                }
            }
            Op::PeerGains { peer, piece } => {
                let piece = piece % self.picker.num_pieces();
                if self.peers[peer % peers].set(piece) {
                    self.picker.peer_has_piece(PieceIndex(piece));
                }
            }
            Op::Priority { piece, prio } => {
                self.picker.set_piece_priority(PieceIndex(piece), prio);
            }
            Op::Sequential(on) => self.picker.set_sequential(on),
        }
        self.picker.check_invariants();
        Ok(())
    }

    /// Delivers everything outstanding, then downloads the rest from a seed.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        for peer in 0..self.peers.len() {
            while !self.outstanding[peer].is_empty() {
                self.receive(peer, 0, true)?;
            }
        }
        let seed = Bitfield::full(self.picker.num_pieces());
        self.picker.peer_has_bitfield(&seed);
        self.peers.push(seed);
        self.outstanding.push(Vec::new());
        let seed = self.peers.len() - 1;
        for _ in 0..MAX_DRAIN_ROUNDS {
            if self.picker.is_wanted_complete() {
                break;
            }
            self.pick(seed, 16, false)?;
            prop_assert!(!self.outstanding[seed].is_empty(), "stalled");
            while !self.outstanding[seed].is_empty() {
                self.receive(seed, 0, true)?;
            }
            self.picker.check_invariants();
        }
        prop_assert!(self.picker.is_wanted_complete(), "(c) did not complete");
        prop_assert_eq!(self.picker.bytes_left_wanted(), 0);
        for p in 0..self.picker.num_pieces() {
            let wanted = self.picker.priority[p as usize] != PiecePriority::Skip;
            prop_assert!(!wanted || self.picker.have().get(p), "(c) piece {p} missing");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_swarm_follows_the_rules(s in swarm(), ops in proptest::collection::vec(op(), 0..MAX_OPS)) {
        let mut h = Harness::new(&s);
        h.picker.check_invariants();
        for op in &ops {
            h.apply(op)?;
        }
        h.drain()?;
    }
}
