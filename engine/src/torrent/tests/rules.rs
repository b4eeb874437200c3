//! One protocol rule per test, on a torrent driven by hand.

use std::net::SocketAddr;
use std::time::Duration;

use super::super::*;
use super::driver::{Driver, BLOCKS_PER_PIECE, PIECE};

fn block(piece: u32, index: u32) -> BlockRef {
    BlockRef {
        piece: PieceIndex(piece),
        offset: index * crate::BLOCK_SIZE,
        length: crate::BLOCK_SIZE,
    }
}

#[test]
fn unrequested_blocks_are_dropped_and_an_injector_is_cut_off() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    let honest = d.connect_seed(1);
    let requested = Driver::requests_to(&d.actions(), honest);
    assert_eq!(requested.len(), 16, "the honest seed is asked for every block");
    // The injector has everything but never unchoked us: we asked it for nothing.
    let injector = d.connect(2);
    d.deliver(injector, Message::HaveAll);
    d.actions();
    // It sends corrupt copies of the very blocks we asked the honest peer for.
    for (n, b) in requested.iter().chain(&requested[..1]).enumerate() {
        let m = d.piece_message(*b, true);
        d.deliver(injector, m);
        let actions = d.actions();
        let reason = Driver::disconnect_reason(&actions, injector);
        if n < 16 {
            assert_eq!(reason, None, "block {n} is forgiven");
        } else {
            assert_eq!(
                reason,
                Some(DisconnectReason::Protocol(ProtocolViolation::UnrequestedBlocks {
                    count: 17
                }))
            );
        }
    }
    let stats = d.torrent.stats(d.now);
    assert_eq!(stats.violations.get(ViolationKind::UnrequestedBlock), 17);
    assert_eq!(stats.wasted, 17 * crate::BLOCK_SIZE as u64);
    assert_eq!(d.torrent.peer_count(), 1);
    // None of the injected bytes entered a piece: the honest blocks complete every piece.
    for b in &requested {
        let m = d.piece_message(*b, false);
        d.deliver(honest, m);
    }
    d.actions();
    let stats = d.torrent.stats(d.now);
    assert!(stats.complete, "{stats:?}");
    assert_eq!(stats.hash_failures, 0);
    for (piece, bytes) in &d.written {
        let start = (piece.0 * PIECE) as usize;
        assert_eq!(bytes[..], d.data[start..start + PIECE as usize]);
    }
}

#[test]
fn a_block_arriving_after_we_cancelled_it_is_not_punished() {
    let mut d = Driver::new(1, false, TorrentConfig::default());
    let slow = d.connect(1);
    d.deliver(slow, Message::HaveAll);
    d.deliver(slow, Message::Unchoke);
    let to_slow = Driver::requests_to(&d.actions(), slow);
    assert_eq!(to_slow.len(), BLOCKS_PER_PIECE as usize);
    // A second seed joins in end-game, gets duplicates and answers first.
    let fast = d.connect_seed(2);
    let to_fast = Driver::requests_to(&d.actions(), fast);
    assert_eq!(to_fast.len(), BLOCKS_PER_PIECE as usize, "end-game duplicates");
    for b in &to_fast {
        let m = d.piece_message(*b, false);
        d.deliver(fast, m);
    }
    let actions = d.actions();
    let cancels = actions
        .iter()
        .filter(|a| matches!(a, Action::Send { peer, message: Message::Cancel(_) } if *peer == slow))
        .count();
    assert_eq!(cancels, BLOCKS_PER_PIECE as usize);
    // The slow seed's answers were already on the wire.
    for b in &to_slow {
        let m = d.piece_message(*b, false);
        d.deliver(slow, m);
    }
    let actions = d.actions();
    assert_eq!(Driver::disconnect_reason(&actions, slow), None);
    let stats = d.torrent.stats(d.now);
    assert_eq!(stats.violations.total(), 0, "{stats:?}");
    assert!(stats.complete);
}

#[test]
fn a_block_after_a_request_timed_out_completes_its_piece() {
    let mut d = Driver::new(1, false, TorrentConfig::default());
    let seed = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), seed);
    d.advance(TorrentConfig::default().request_timeout + Duration::from_secs(1));
    d.torrent.handle_timeout(d.now);
    d.actions();
    for b in &asked {
        let m = d.piece_message(*b, false);
        d.deliver(seed, m);
    }
    d.actions();
    let stats = d.torrent.stats(d.now);
    assert_eq!(stats.violations.total(), 0, "{stats:?}");
    assert!(stats.complete, "{stats:?}");
}

#[test]
fn a_block_after_its_reject_is_unrequested() {
    let mut d = Driver::new(2, false, TorrentConfig::default());
    let seed = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), seed);
    // Choked (Fast: requests stay queued), then rejected: nothing is owed any more.
    d.deliver(seed, Message::Choke);
    d.deliver(seed, Message::Reject(asked[0]));
    assert!(Driver::requests_to(&d.actions(), seed).is_empty());
    let m = d.piece_message(asked[0], false);
    d.deliver(seed, m);
    let actions = d.actions();
    assert_eq!(Driver::disconnect_reason(&actions, seed), None, "one is forgiven");
    let stats = d.torrent.stats(d.now);
    assert_eq!(stats.violations.get(ViolationKind::UnrequestedBlock), 1);
}

#[test]
fn a_peer_queueing_past_our_advertised_limit_is_cut_off() {
    let config = TorrentConfig {
        max_peer_requests: 4,
        ..TorrentConfig::default()
    };
    let mut d = Driver::new(4, true, config);
    let leech = d.connect(1);
    d.deliver(leech, Message::Interested);
    let actions = d.actions();
    assert!(actions.contains(&Action::Send {
        peer: leech,
        message: Message::Unchoke
    }));
    let mut reason = None;
    for i in 0..9 {
        d.deliver(leech, Message::Request(block(i / 4, i % 4)));
        reason = reason.or(Driver::disconnect_reason(&d.actions(), leech));
        if i < 8 {
            assert_eq!(reason, None, "request {i}");
        }
    }
    assert_eq!(
        reason,
        Some(DisconnectReason::Protocol(ProtocolViolation::TooManyRequests {
            refused: 5,
            limit: 4
        }))
    );
    assert_eq!(d.torrent.stats(d.now).violations.get(ViolationKind::TooManyRequests), 1);
}

#[test]
fn violations_are_typed_and_counted_by_kind() {
    let mut d = Driver::new(4, true, TorrentConfig::default());
    let cases: Vec<(Message, ProtocolViolation)> = vec![
        (
            Message::Have(PieceIndex(4)),
            ProtocolViolation::PieceIndexOutOfRange {
                message: "HAVE",
                index: 4,
                num_pieces: 4,
            },
        ),
        (
            Message::Request(BlockRef {
                piece: PieceIndex(1),
                offset: PIECE - 10,
                length: 16384,
            }),
            ProtocolViolation::RequestOutOfRange {
                block: BlockRef {
                    piece: PieceIndex(1),
                    offset: PIECE - 10,
                    length: 16384,
                },
                piece_size: PIECE,
            },
        ),
        (
            Message::Bitfield(vec![0xff].into()),
            ProtocolViolation::BadBitfield(crate::bitfield::BitfieldError::SpareBitsSet { pieces: 4 }),
        ),
    ];
    for (i, (message, expected)) in cases.into_iter().enumerate() {
        let key = d.connect(10 + i as u8);
        d.deliver(key, message);
        let actions = d.actions();
        assert_eq!(
            Driver::disconnect_reason(&actions, key),
            Some(DisconnectReason::Protocol(expected))
        );
    }
    // HAVE NONE is only valid as the first message.
    let key = d.connect(20);
    d.deliver(key, Message::Have(PieceIndex(1)));
    d.deliver(key, Message::HaveNone);
    assert_eq!(
        Driver::disconnect_reason(&d.actions(), key),
        Some(DisconnectReason::Protocol(ProtocolViolation::LateHaveNone))
    );
    // A frame the io layer's decoder refused is counted with the rest.
    let key = d.connect(21);
    let malformed = crate::wire::WireError::UnknownMessageId(99);
    d.torrent
        .protocol_violation(key, ProtocolViolation::Malformed(malformed.clone()), d.now);
    assert_eq!(
        Driver::disconnect_reason(&d.actions(), key),
        Some(DisconnectReason::Protocol(ProtocolViolation::Malformed(malformed)))
    );
    let v = d.torrent.stats(d.now).violations;
    assert_eq!(v.get(ViolationKind::Malformed), 1);
    assert_eq!(v.get(ViolationKind::PieceIndexOutOfRange), 1);
    assert_eq!(v.get(ViolationKind::RequestOutOfRange), 1);
    assert_eq!(v.get(ViolationKind::BadBitfield), 1);
    assert_eq!(v.get(ViolationKind::LateHaveNone), 1);
    assert_eq!(v.total(), 5);
}

#[test]
fn a_bad_piece_is_never_handed_out_for_writing() {
    let mut d = Driver::new(2, false, TorrentConfig::default());
    let seed = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), seed);
    for b in &asked {
        let m = d.piece_message(*b, b.piece.0 == 0 && b.offset == 0);
        d.deliver(seed, m);
    }
    d.actions();
    let written: Vec<PieceIndex> = d.written.iter().map(|(p, _)| *p).collect();
    assert_eq!(written, vec![PieceIndex(1)]);
    let stats = d.torrent.stats(d.now);
    assert_eq!(stats.hash_failures, 1);
    assert_eq!(stats.pieces_have, 1);
    assert!(stats.wasted >= PIECE as u64);
}

#[test]
fn a_good_copy_blames_only_the_peer_whose_blocks_differed() {
    let config = TorrentConfig {
        max_hash_failures: 1,
        ..TorrentConfig::default()
    };
    let mut d = Driver::new(1, false, config);
    let bad = d.connect(1);
    d.deliver(bad, Message::HaveAll);
    let good = d.connect(2);
    d.deliver(good, Message::HaveAll);
    d.deliver(bad, Message::Unchoke);
    let to_bad = Driver::requests_to(&d.actions(), bad);
    d.deliver(good, Message::Unchoke);
    let to_good = Driver::requests_to(&d.actions(), good);
    assert_eq!((to_bad.len(), to_good.len()), (4, 4), "end-game duplicates");
    // Blocks 0 and 1 from the bad peer (block 0 corrupt), 2 and 3 from the good one.
    for b in &to_bad[..2] {
        let m = d.piece_message(*b, b.offset == 0);
        d.deliver(bad, m);
    }
    for b in &to_good[2..] {
        let m = d.piece_message(*b, false);
        d.deliver(good, m);
    }
    let actions = d.actions();
    assert_eq!(d.torrent.stats(d.now).hash_failures, 1);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Disconnect { .. })),
        "two peers sent the piece: nobody is blamed yet: {actions:?}"
    );
    assert!(d.written.is_empty());
    // The piece is fetched again: the bad peer chokes us and rejects what it was
    // asked, so the good peer answers every block.
    let re_bad = Driver::requests_to(&actions, bad);
    let mut all = Driver::requests_to(&actions, good);
    d.deliver(bad, Message::Choke);
    for b in re_bad {
        d.deliver(bad, Message::Reject(b));
    }
    all.extend(Driver::requests_to(&d.actions(), good));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), BLOCKS_PER_PIECE as usize);
    for b in &all {
        let m = d.piece_message(*b, false);
        d.deliver(good, m);
    }
    let actions = d.actions();
    assert_eq!(d.written.len(), 1, "{actions:?}");
    assert_eq!(Driver::disconnect_reason(&actions, bad), Some(DisconnectReason::Banned));
    assert_ne!(
        Driver::disconnect_reason(&actions, good),
        Some(DisconnectReason::Banned)
    );
    // The session's list hears of the proven liar, once, and of nobody else.
    assert_eq!(
        d.torrent.take_bans(),
        vec![crate::torrent::BanNotice {
            ip: super::driver::addr(1).ip(),
            reason: crate::torrent::BanReason::ProvenCorruptBlock,
        }]
    );
    assert!(d.torrent.take_bans().is_empty());
    assert!(!d.torrent.is_banned(super::driver::addr(2).ip(), d.now));
}

#[test]
fn a_failed_write_puts_the_piece_back_among_the_missing() {
    let mut d = Driver::new(1, false, TorrentConfig::default());
    d.auto_write = false;
    let seed = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), seed);
    for b in &asked {
        let m = d.piece_message(*b, false);
        d.deliver(seed, m);
    }
    d.actions();
    assert_eq!(d.written.len(), 1);
    d.torrent.piece_written(PieceIndex(0), false, d.now);
    let again = Driver::requests_to(&d.actions(), seed);
    assert_eq!(again.len(), BLOCKS_PER_PIECE as usize, "the piece is fetched again");
    let stats = d.torrent.stats(d.now);
    assert_eq!(
        (stats.pieces_have, stats.verified_bytes, stats.hash_failures),
        (0, 0, 0)
    );
}

#[test]
fn a_banned_address_is_refused_from_any_port_with_any_id_until_the_ban_ends() {
    let config = TorrentConfig {
        max_hash_failures: 1,
        ban_duration: Duration::from_secs(3600),
        ..TorrentConfig::default()
    };
    let mut d = Driver::new(2, false, config);
    let poisoner = d.connect_seed(1);
    let asked = Driver::requests_to(&d.actions(), poisoner);
    for b in asked.iter().filter(|b| b.piece.0 == 0) {
        let m = d.piece_message(*b, true);
        d.deliver(poisoner, m);
    }
    let actions = d.actions();
    assert_eq!(
        Driver::disconnect_reason(&actions, poisoner),
        Some(DisconnectReason::Banned)
    );
    let ip = super::driver::addr(1).ip();
    assert!(d.torrent.is_banned(ip, d.now));
    let stats = d.torrent.stats(d.now);
    assert_eq!(
        (stats.peers_banned, stats.last_banned),
        (1, Some(ip)),
        "the ban is counted"
    );
    // Back from a new port with a new peer id: still the same host.
    let hs = super::driver::established(d.torrent.info_hash(), d.torrent.our_id(), PeerId([b'n'; 20]));
    let new_port = SocketAddr::new(ip, 40000);
    assert_eq!(
        d.torrent.add_peer(PeerKey(50), new_port, hs.clone(), d.now),
        Err(AddPeerError::Banned(new_port))
    );
    // Another host is not affected.
    let other = SocketAddr::new("127.0.0.9".parse().unwrap(), 40000);
    assert!(d.torrent.add_peer(PeerKey(51), other, hs.clone(), d.now).is_ok());
    d.advance(Duration::from_secs(3600));
    assert!(!d.torrent.is_banned(ip, d.now), "the ban ends");
    // The id of the other host is now taken; the poisoner comes back with it later.
    d.torrent.remove_peer(PeerKey(51), d.now);
    assert!(d.torrent.add_peer(PeerKey(52), new_port, hs, d.now).is_ok());
}

#[test]
fn an_injector_that_keeps_coming_back_is_banned_by_address() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    let honest = d.connect_seed(1);
    let requested = Driver::requests_to(&d.actions(), honest);
    let strikes = TorrentConfig::default().max_hash_failures;
    for round in 0..strikes {
        // The same host, a new connection (new key, new port, new id) each time.
        let key = PeerKey(100 + round as u64);
        let addr = SocketAddr::new(super::driver::addr(2).ip(), 50000 + round as u16);
        let id = PeerId([b'0' + round as u8; 20]);
        let session = super::driver::established(d.torrent.info_hash(), d.torrent.our_id(), id);
        d.torrent.add_peer(key, addr, session, d.now).unwrap();
        for b in requested.iter().chain(&requested[..1]) {
            let m = d.piece_message(*b, true);
            d.deliver(key, m);
        }
        let reason = Driver::disconnect_reason(&d.actions(), key);
        if round + 1 < strikes {
            assert!(matches!(
                reason,
                Some(DisconnectReason::Protocol(ProtocolViolation::UnrequestedBlocks { .. }))
            ));
            assert!(!d.torrent.is_banned(addr.ip(), d.now), "round {round}");
        } else {
            assert!(d.torrent.is_banned(addr.ip(), d.now), "banned after {strikes} cut-offs");
        }
    }
    assert!(
        !d.torrent.is_banned(super::driver::addr(1).ip(), d.now),
        "the honest seed is not"
    );
    assert_eq!(d.torrent.peer_count(), 1);
}

#[test]
fn blocks_sent_before_a_plain_peer_choked_us_are_not_unrequested() {
    let mut d = Driver::new(2, false, TorrentConfig::default());
    let plain = d.connect_plain(1);
    d.deliver(plain, Message::Bitfield(Bitfield::full(2).as_bytes().to_vec().into()));
    d.deliver(plain, Message::Unchoke);
    let asked = Driver::requests_to(&d.actions(), plain);
    assert_eq!(asked.len(), 8);
    // BEP 3: a choke drops our requests, but what it had already sent may follow.
    d.deliver(plain, Message::Choke);
    for b in &asked {
        let m = d.piece_message(*b, false);
        d.deliver(plain, m);
    }
    let actions = d.actions();
    assert_eq!(Driver::disconnect_reason(&actions, plain), None);
    assert_eq!(d.torrent.stats(d.now).violations.total(), 0);
    // A block it was never asked for still is.
    let never = BlockRef {
        piece: PieceIndex(1),
        offset: 0,
        length: 100,
    };
    d.deliver(
        plain,
        Message::Piece {
            piece: never.piece,
            offset: 0,
            data: vec![0; 100].into(),
        },
    );
    d.actions();
    assert_eq!(
        d.torrent.stats(d.now).violations.get(ViolationKind::UnrequestedBlock),
        1
    );
}

#[test]
fn a_keepalive_storm_is_cut_off_counted_by_kind_and_struck() {
    let mut d = Driver::new(2, true, TorrentConfig::default());
    let storm = d.connect(1);
    let calm = d.connect(2);
    d.actions();
    let limit = FloodAnomaly::KeepAliveStorm.limit();
    for _ in 0..limit {
        d.deliver(storm, Message::KeepAlive);
        d.deliver(calm, Message::KeepAlive);
        d.now += Duration::from_micros(10);
    }
    assert!(
        Driver::disconnect_reason(&d.actions(), storm).is_none(),
        "{limit} keep-alives within a second are still tolerated"
    );
    d.deliver(storm, Message::KeepAlive);
    let actions = d.actions();
    match Driver::disconnect_reason(&actions, storm) {
        Some(DisconnectReason::Protocol(ProtocolViolation::Flood { anomaly, count })) => {
            assert_eq!((anomaly, count), (FloodAnomaly::KeepAliveStorm, limit + 1));
        }
        other => panic!("expected a flood disconnect, got {other:?}"),
    }
    assert!(Driver::disconnect_reason(&actions, calm).is_none());
    let v = d.torrent.stats(d.now).violations;
    assert_eq!(v.get(ViolationKind::Flood(FloodAnomaly::KeepAliveStorm)), 1);
    assert_eq!(v.total(), 1);
}

#[test]
fn a_repeated_have_flood_is_cut_off_and_fresh_haves_are_not() {
    let mut d = Driver::new(2, true, TorrentConfig::default());
    let peer = d.connect(1);
    d.actions();
    d.deliver(peer, Message::Have(PieceIndex(0)));
    for _ in 0..FloodAnomaly::RepeatedHave.limit() {
        d.deliver(peer, Message::Have(PieceIndex(0)));
    }
    assert!(Driver::disconnect_reason(&d.actions(), peer).is_none());
    d.deliver(peer, Message::Have(PieceIndex(0)));
    assert!(matches!(
        Driver::disconnect_reason(&d.actions(), peer),
        Some(DisconnectReason::Protocol(ProtocolViolation::Flood {
            anomaly: FloodAnomaly::RepeatedHave,
            ..
        }))
    ));
}

/// aria2 sends a BITFIELD in place of many HAVEs when it finished many pieces at
/// once; under load those come in bursts. Each adds pieces, so none is a repeat;
/// the same bitfield again and again is.
#[test]
fn late_bitfields_that_add_pieces_are_updates_and_identical_ones_a_flood() {
    let pieces = 32u32;
    let mut d = Driver::new(pieces, true, TorrentConfig::default());
    let peer = d.connect(1);
    d.actions();
    d.deliver(peer, Message::HaveNone);
    d.deliver(peer, Message::Interested);
    let mut bits = Bitfield::new(pieces);
    for i in 0..20 {
        bits.set(i);
        d.deliver(peer, Message::Bitfield(bytes::Bytes::copy_from_slice(bits.as_bytes())));
    }
    assert!(Driver::disconnect_reason(&d.actions(), peer).is_none());
    for _ in 0..FloodAnomaly::RepeatedBitfield.limit() {
        d.deliver(peer, Message::Bitfield(bytes::Bytes::copy_from_slice(bits.as_bytes())));
    }
    assert!(Driver::disconnect_reason(&d.actions(), peer).is_none());
    d.deliver(peer, Message::Bitfield(bytes::Bytes::copy_from_slice(bits.as_bytes())));
    assert!(matches!(
        Driver::disconnect_reason(&d.actions(), peer),
        Some(DisconnectReason::Protocol(ProtocolViolation::Flood {
            anomaly: FloodAnomaly::RepeatedBitfield,
            ..
        }))
    ));
}
