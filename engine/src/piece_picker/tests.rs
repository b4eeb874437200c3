//! Unit tests, one per picker rule.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;

const B: u32 = BLOCK_SIZE;

fn none(_: BlockRef) -> bool {
    false
}

/// `num_pieces` pieces of `blocks` full blocks each.
fn picker(num_pieces: u32, blocks: u32) -> PiecePicker {
    let pl = blocks * B;
    PiecePicker::new(num_pieces, pl, u64::from(num_pieces) * u64::from(pl))
}

fn bf(len: u32, ones: impl IntoIterator<Item = u32>) -> Bitfield {
    let mut b = Bitfield::new(len);
    for i in ones {
        b.set(i);
    }
    b
}

fn pick(p: &mut PiecePicker, has: &Bitfield, max: usize) -> Vec<BlockRef> {
    let mut out = Vec::new();
    p.pick_blocks(has, max, &none, None, &mut out);
    p.check_invariants();
    out
}

fn pieces(blocks: &[BlockRef]) -> Vec<u32> {
    let mut v: Vec<u32> = blocks.iter().map(|b| b.piece.0).collect();
    v.dedup();
    v
}

fn block(piece: u32, index: u32) -> BlockRef {
    BlockRef {
        piece: PieceIndex(piece),
        offset: index * B,
        length: B,
    }
}

/// Receives every block and verifies each completed piece as good.
fn deliver(p: &mut PiecePicker, blocks: &[BlockRef]) {
    for &b in blocks {
        if let BlockOutcome::Accepted { piece_complete: true } = p.block_received(b) {
            p.piece_verified(b.piece, true);
        }
    }
    p.check_invariants();
}

#[test]
fn geometry_last_piece_and_block_short() {
    let p = PiecePicker::new(3, 2 * B, u64::from(2 * B) * 2 + 20_000);
    assert_eq!(p.num_pieces(), 3);
    assert_eq!(p.piece_size(PieceIndex(0)), 2 * B);
    assert_eq!(p.piece_size(PieceIndex(2)), 20_000);
    assert_eq!(p.piece_size(PieceIndex(3)), 0);
    assert_eq!(p.blocks_in_piece(PieceIndex(1)), 2);
    assert_eq!(p.blocks_in_piece(PieceIndex(2)), 2);
    assert_eq!(p.blocks_in_piece(PieceIndex(9)), 0);
    assert_eq!(p.bytes_left_wanted(), u64::from(4 * B) + 20_000);

    let mut p = p;
    let seed = Bitfield::full(3);
    p.peer_has_bitfield(&seed);
    p.set_sequential(true);
    let got = pick(&mut p, &seed, 10);
    let last: Vec<_> = got.iter().filter(|b| b.piece.0 == 2).collect();
    assert_eq!(last.len(), 2);
    assert_eq!((last[1].offset, last[1].length), (B, 20_000 - B));
}

#[test]
fn degenerate_geometry_does_not_panic() {
    for (n, pl, total) in [(0, 0, 0), (0, B, 5), (2, 0, 5), (3, B, 1), (2, B, u64::MAX)] {
        let mut p = PiecePicker::new(n, pl, total);
        let seed = Bitfield::full(n);
        p.peer_has_bitfield(&seed);
        let got = pick(&mut p, &seed, 100);
        deliver(&mut p, &got);
        assert!(p.is_wanted_complete(), "{n} {pl} {total}");
    }
}

#[test]
fn rarest_first() {
    let mut p = picker(10, 1);
    let all = Bitfield::full(10);
    p.peer_has_bitfield(&all);
    p.peer_has_bitfield(&bf(10, 0..5));
    p.peer_has_bitfield(&bf(10, 0..3));
    let got: HashSet<u32> = pieces(&pick(&mut p, &all, 5)).into_iter().collect();
    assert_eq!(got, (5..10).collect());
    let got: HashSet<u32> = pieces(&pick(&mut p, &all, 2)).into_iter().collect();
    assert_eq!(got, HashSet::from([3, 4]));
    let got: HashSet<u32> = pieces(&pick(&mut p, &all, 9)).into_iter().collect();
    assert_eq!(got, (0..3).collect());
}

#[test]
fn ties_break_in_seeded_shuffled_order() {
    let first_picks = |seed: u64| {
        let mut p = PiecePicker::with_seed(1000, B, 1000 * u64::from(B), seed);
        let all = Bitfield::full(1000);
        p.peer_has_bitfield(&all);
        pieces(&pick(&mut p, &all, 20))
    };
    let a = first_picks(1);
    assert_eq!(a.len(), 20);
    assert_ne!(a, (0..20).collect::<Vec<_>>(), "not index order");
    assert_eq!(a, first_picks(1), "deterministic");
    assert_ne!(a, first_picks(2), "seed matters");
}

#[test]
fn never_lacking_skip_or_had_pieces() {
    let mut p = picker(6, 2);
    let has = bf(6, [1, 2, 3]);
    p.peer_has_bitfield(&has);
    p.mark_have(PieceIndex(1));
    p.set_piece_priority(PieceIndex(2), PiecePriority::Skip);
    let got = pick(&mut p, &has, 100);
    assert_eq!(pieces(&got), vec![3]);
    assert_eq!(got.len(), 2);
    assert!(pick(&mut p, &has, 100).is_empty());
}

#[test]
fn high_before_normal() {
    let mut p = picker(10, 1);
    let all = Bitfield::full(10);
    for _ in 0..3 {
        p.peer_has_bitfield(&all);
    }
    p.peer_has_bitfield(&bf(10, [0]));
    p.peer_has_bitfield(&bf(10, [7]));
    p.peer_has_bitfield(&bf(10, [7]));
    p.set_piece_priority(PieceIndex(7), PiecePriority::High);
    p.set_piece_priority(PieceIndex(0), PiecePriority::High);
    assert_eq!(pieces(&pick(&mut p, &all, 1)), vec![0], "rarest High first");
    assert_eq!(pieces(&pick(&mut p, &all, 1)), vec![7], "then common High");
    p.set_piece_priority(PieceIndex(7), PiecePriority::Normal);
    p.check_invariants();
}

#[test]
fn low_only_after_normal_and_high() {
    let mut p = picker(6, 1);
    let all = Bitfield::full(6);
    p.peer_has_bitfield(&all);
    // The rarest piece is Low: rarity does not lift it above a common Normal one.
    p.peer_has_bitfield(&bf(6, [1, 2, 3, 4, 5]));
    p.set_piece_priority(PieceIndex(0), PiecePriority::Low);
    p.set_piece_priority(PieceIndex(5), PiecePriority::High);
    let first = pieces(&pick(&mut p, &all, 1));
    assert_eq!(first, vec![5], "High first");
    let normal = pieces(&pick(&mut p, &all, 4));
    assert_eq!(normal.len(), 4);
    assert!(!normal.contains(&0), "Normal before Low: {normal:?}");
    assert_eq!(pieces(&pick(&mut p, &all, 1)), vec![0], "Low last");
    p.check_invariants();
}

#[test]
fn in_progress_pieces_are_finished_first() {
    let mut p = picker(10, 4);
    let all = Bitfield::full(10);
    let x = bf(10, [5]);
    p.peer_has_bitfield(&all);
    p.peer_has_bitfield(&x);
    assert_eq!(pick(&mut p, &x, 1), vec![block(5, 0)]);
    // Piece 5 is the most common, but it is in flight.
    assert_eq!(pick(&mut p, &all, 3), vec![block(5, 1), block(5, 2), block(5, 3)]);
    let next = pick(&mut p, &all, 1);
    assert_ne!(next[0].piece.0, 5);
}

#[test]
fn max_in_flight_limits_new_pieces() {
    let mut p = picker(4, 2);
    let all = Bitfield::full(4);
    p.peer_has_bitfield(&all);
    p.set_max_in_flight_pieces(1);
    let first = pick(&mut p, &all, 1);
    let a = first[0].piece.0;
    let lacks_a = bf(4, (0..4).filter(|&i| i != a));
    p.peer_has_bitfield(&lacks_a);
    assert!(pick(&mut p, &lacks_a, 10).is_empty(), "cannot start a second piece");
    let rest = pick(&mut p, &all, 10);
    assert_eq!(rest, vec![block(a, 1)], "only the in-flight piece");
    deliver(&mut p, &first);
    deliver(&mut p, &rest);
    assert!(p.have().get(a));
    assert_eq!(pick(&mut p, &lacks_a, 10).len(), 2);
}

#[test]
fn sequential_picks_lowest_index_high_first() {
    let mut p = picker(8, 2);
    let all = Bitfield::full(8);
    p.peer_has_bitfield(&all);
    p.peer_has_bitfield(&bf(8, [6]));
    p.set_sequential(true);
    p.mark_have(PieceIndex(0));
    p.set_piece_priority(PieceIndex(6), PiecePriority::High);
    p.set_piece_priority(PieceIndex(4), PiecePriority::High);
    let got = pick(&mut p, &all, 7);
    assert_eq!(pieces(&got), vec![4, 6, 1, 2]);
    assert_eq!(got.len(), 7);
    // The half-picked piece 2 continues before piece 3.
    assert_eq!(pick(&mut p, &all, 2), vec![block(2, 1), block(3, 0)]);
}

#[test]
fn endgame_duplicates_but_never_pending() {
    let mut p = picker(2, 2);
    let all = Bitfield::full(2);
    p.peer_has_bitfield(&all);
    p.peer_has_bitfield(&all);
    assert!(!p.in_endgame());
    let a = pick(&mut p, &all, 10);
    assert_eq!(a.len(), 4);
    assert!(p.in_endgame());

    let a_set: HashSet<BlockRef> = a.iter().copied().collect();
    let a_pending = |b: BlockRef| a_set.contains(&b);
    let mut again = Vec::new();
    p.pick_blocks(&all, 10, &a_pending, None, &mut again);
    assert!(again.is_empty(), "everything is pending to this peer");

    let mut b = Vec::new();
    p.pick_blocks(&all, 3, &none, None, &mut b);
    assert_eq!(b.len(), 3);
    assert!(b.iter().all(|x| a_set.contains(x)));
    // Fewest requests first: the one block B skipped is the next one offered.
    let mut c = Vec::new();
    p.pick_blocks(&all, 1, &none, None, &mut c);
    assert!(!b.contains(&c[0]));
    p.check_invariants();

    assert_eq!(p.block_received(a[0]), BlockOutcome::Accepted { piece_complete: false });
    assert_eq!(p.block_received(a[0]), BlockOutcome::Duplicate);
    // Duplicates are bounded per block.
    for _ in 0..50 {
        let mut d = Vec::new();
        p.pick_blocks(&all, 10, &none, None, &mut d);
        assert!(!d.contains(&a[0]), "received blocks are not requested again");
    }
    p.check_invariants();
}

#[test]
fn endgame_request_count_caps_duplicates() {
    let mut p = picker(1, 1);
    let all = Bitfield::full(1);
    p.peer_has_bitfield(&all);
    let mut total = 0;
    for _ in 0..50 {
        total += pick(&mut p, &all, 4).len();
    }
    assert_eq!(total, usize::from(ENDGAME_MAX_REQUESTS_PER_BLOCK));
}

#[test]
fn abandoned_blocks_are_pickable_again() {
    let mut p = picker(1, 1);
    let all = Bitfield::full(1);
    p.peer_has_bitfield(&all);
    let a = pick(&mut p, &all, 1);
    let b = pick(&mut p, &all, 1);
    assert_eq!(a, b, "end-game duplicate");
    p.request_abandoned(a[0]);
    assert!(p.in_endgame(), "still requested from the other peer");
    p.request_abandoned(b[0]);
    assert!(!p.in_endgame());
    assert_eq!(p.block_received(a[0]), BlockOutcome::Unexpected, "nothing in flight");
    assert_eq!(pick(&mut p, &all, 1), a);
}

#[test]
fn late_reply_after_abandon_is_accepted() {
    let mut p = picker(1, 2);
    let all = Bitfield::full(1);
    p.peer_has_bitfield(&all);
    let got = pick(&mut p, &all, 2);
    p.request_abandoned(got[1]);
    p.check_invariants();
    assert_eq!(
        p.block_received(got[1]),
        BlockOutcome::Accepted { piece_complete: false }
    );
    assert_eq!(
        p.block_received(got[0]),
        BlockOutcome::Accepted { piece_complete: true }
    );
    p.check_invariants();
}

#[test]
fn failed_hash_makes_blocks_pickable() {
    let mut p = picker(2, 3);
    let all = Bitfield::full(2);
    p.peer_has_bitfield(&all);
    p.set_sequential(true);
    let got = pick(&mut p, &all, 3);
    assert_eq!(pieces(&got), vec![0]);
    let outcomes: Vec<_> = got.iter().map(|&b| p.block_received(b)).collect();
    assert_eq!(
        outcomes,
        vec![
            BlockOutcome::Accepted { piece_complete: false },
            BlockOutcome::Accepted { piece_complete: false },
            BlockOutcome::Accepted { piece_complete: true },
        ]
    );
    p.piece_verified(PieceIndex(0), false);
    p.check_invariants();
    assert!(!p.have().get(0));
    assert_eq!(pick(&mut p, &all, 3), got);
    deliver(&mut p, &got);
    assert!(p.have().get(0));
    assert_eq!(p.block_received(got[0]), BlockOutcome::Duplicate, "piece is had");
    assert_eq!(p.bytes_left_wanted(), u64::from(3 * B));
}

#[test]
fn failed_hash_keeps_blocks_still_on_the_wire_requested() {
    let mut p = picker(1, 2);
    let all = Bitfield::full(1);
    p.peer_has_bitfield(&all);
    let a = pick(&mut p, &all, 2);
    let b = pick(&mut p, &all, 1); // end-game duplicate of one block
    for &x in &a {
        let _ = p.block_received(x);
    }
    p.piece_verified(PieceIndex(0), false);
    p.check_invariants();
    let fresh = pick(&mut p, &all, 2);
    assert!(!fresh.contains(&b[0]), "still outstanding at the other peer");
    assert_eq!(fresh.len(), 1);
}

#[test]
fn block_validation() {
    let mut p = PiecePicker::new(2, 2 * B, u64::from(3 * B) + 100);
    let all = Bitfield::full(2);
    p.peer_has_bitfield(&all);
    let got = pick(&mut p, &all, 10);
    assert_eq!(got.len(), 4);
    let bad = [
        BlockRef {
            piece: PieceIndex(0),
            offset: 1,
            length: B,
        },
        BlockRef {
            piece: PieceIndex(0),
            offset: 2 * B,
            length: B,
        },
        BlockRef {
            piece: PieceIndex(0),
            offset: 0,
            length: B - 1,
        },
        BlockRef {
            piece: PieceIndex(1),
            offset: B,
            length: B,
        },
        BlockRef {
            piece: PieceIndex(1),
            offset: B,
            length: 99,
        },
        BlockRef {
            piece: PieceIndex(2),
            offset: 0,
            length: B,
        },
        BlockRef {
            piece: PieceIndex(u32::MAX),
            offset: u32::MAX,
            length: u32::MAX,
        },
    ];
    for b in bad {
        assert_eq!(p.block_received(b), BlockOutcome::Unexpected, "{b:?}");
        p.request_abandoned(b);
    }
    let last = BlockRef {
        piece: PieceIndex(1),
        offset: B,
        length: 100,
    };
    assert!(got.contains(&last));
    assert_eq!(p.block_received(last), BlockOutcome::Accepted { piece_complete: false });
    p.check_invariants();
}

#[test]
fn unstarted_piece_block_is_unexpected() {
    let mut p = picker(3, 1);
    assert_eq!(p.block_received(block(1, 0)), BlockOutcome::Unexpected);
    p.mark_have(PieceIndex(1));
    assert_eq!(p.block_received(block(1, 0)), BlockOutcome::Duplicate);
}

#[test]
fn interest_and_bytes_left() {
    let mut p = picker(20, 1);
    let has = bf(20, [3, 17]);
    assert!(p.is_interesting(&has));
    p.mark_have(PieceIndex(3));
    assert!(p.is_interesting(&has));
    p.set_piece_priority(PieceIndex(17), PiecePriority::Skip);
    assert!(!p.is_interesting(&has));
    assert!(!p.is_interesting(&Bitfield::new(0)), "short bitfield");
    assert_eq!(p.bytes_left_wanted(), u64::from(18 * B));
    for i in 0..20 {
        p.mark_have(PieceIndex(i));
    }
    assert!(p.is_wanted_complete());
    assert_eq!(p.bytes_left_wanted(), 0);
    p.set_piece_priority(PieceIndex(17), PiecePriority::High);
    assert!(p.is_wanted_complete());
    p.check_invariants();
}

#[test]
fn skipping_everything_missing_completes() {
    let mut p = picker(4, 1);
    p.mark_have(PieceIndex(0));
    for i in 1..4 {
        p.set_piece_priority(PieceIndex(i), PiecePriority::Skip);
    }
    assert!(p.is_wanted_complete());
    assert!(!p.in_endgame());
    p.set_piece_priority(PieceIndex(2), PiecePriority::Normal);
    assert!(!p.is_wanted_complete());
    p.check_invariants();
}

#[test]
fn peer_lost_updates_rarity() {
    let mut p = picker(4, 1);
    let all = Bitfield::full(4);
    let some = bf(4, [0, 1, 2]);
    p.peer_has_bitfield(&all);
    p.peer_has_bitfield(&some);
    assert_eq!(pieces(&pick(&mut p, &all, 1)), vec![3]);
    p.peer_lost(&some);
    p.check_invariants();
    p.peer_has_piece(PieceIndex(1));
    p.peer_has_piece(PieceIndex(1));
    let got: HashSet<u32> = pieces(&pick(&mut p, &all, 2)).into_iter().collect();
    assert_eq!(got, HashSet::from([0, 2]));

    // Losing a peer that was never registered saturates instead of wrapping.
    let mut p = picker(4, 1);
    p.peer_lost(&all);
    p.check_invariants();
    p.peer_has_bitfield(&all);
    assert_eq!(pick(&mut p, &all, 4).len(), 4);
}

#[test]
fn allowed_fast_only() {
    let mut p = picker(10, 2);
    let all = Bitfield::full(10);
    p.peer_has_bitfield(&all);
    let allowed = [PieceIndex(4), PieceIndex(99), PieceIndex(8), PieceIndex(4)];
    let mut out = Vec::new();
    p.pick_blocks(&all, 10, &none, Some(&allowed), &mut out);
    assert_eq!(pieces(&out), vec![4, 8]);
    assert_eq!(out.len(), 4);
    out.clear();
    p.pick_blocks(&all, 10, &none, Some(&allowed[1..2]), &mut out);
    assert!(out.is_empty());
    p.check_invariants();
}

#[test]
fn out_of_range_inputs_are_ignored() {
    let mut p = picker(10, 1);
    p.peer_has_piece(PieceIndex(10));
    p.peer_has_piece(PieceIndex(u32::MAX));
    p.mark_have(PieceIndex(10));
    p.set_piece_priority(PieceIndex(10), PiecePriority::High);
    p.piece_verified(PieceIndex(10), true);
    p.piece_verified(PieceIndex(10), false);
    let long = Bitfield::full(100);
    p.peer_has_bitfield(&long);
    p.peer_lost(&long);
    p.peer_has_bitfield(&long);
    let got = pick(&mut p, &long, 100);
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|b| b.piece.0 < 10));
    let short = Bitfield::full(3);
    p.peer_has_bitfield(&short);
    p.check_invariants();
}

#[test]
fn skipped_partial_does_not_hold_an_in_flight_slot() {
    let mut p = picker(3, 2);
    let all = Bitfield::full(3);
    p.peer_has_bitfield(&all);
    p.set_max_in_flight_pieces(1);
    p.set_sequential(true);
    let got = pick(&mut p, &all, 1);
    assert_eq!(got, vec![block(0, 0)]);
    let _ = p.block_received(got[0]);
    p.set_piece_priority(PieceIndex(0), PiecePriority::Skip);
    assert_eq!(pick(&mut p, &all, 1), vec![block(1, 0)]);
}

/// 100k pieces, 50 peers, the whole download. No timing assertion: it is here so a
/// pathological (quadratic) picker shows up as a slow suite.
#[test]
fn large_swarm_completes() {
    const PIECES: u32 = 100_000;
    const PEERS: usize = 50;
    let mut rng = SmallRng::seed_from_u64(42);
    let mut p = PiecePicker::with_seed(PIECES, 2 * B, u64::from(PIECES) * u64::from(2 * B), 7);
    let peers: Vec<Bitfield> = (0..PEERS)
        .map(|i| {
            let density = if i == 0 { 1.0 } else { rng.gen_range(0.05..1.0) };
            bf(PIECES, (0..PIECES).filter(|_| rng.gen_bool(density)))
        })
        .collect();
    for peer in &peers {
        p.peer_has_bitfield(peer);
    }
    for i in (0..PIECES).step_by(97) {
        p.set_piece_priority(PieceIndex(i), PiecePriority::Skip);
    }
    let mut out = Vec::new();
    let mut calls = 0u32;
    while !p.is_wanted_complete() {
        calls += 1;
        assert!(calls < 1_000_000, "no progress");
        let peer = &peers[rng.gen_range(0..PEERS)];
        out.clear();
        p.pick_blocks(peer, 64, &none, None, &mut out);
        for (k, &b) in out.iter().enumerate() {
            assert!(peer.get(b.piece.0));
            if k % 16 == 15 {
                p.request_abandoned(b);
            } else if let BlockOutcome::Accepted { piece_complete: true } = p.block_received(b) {
                p.piece_verified(b.piece, true);
            }
        }
    }
    assert_eq!(p.have().count_ones(), PIECES - PIECES.div_ceil(97));
}
