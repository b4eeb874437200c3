use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::wire::{METADATA_PIECE_SIZE, OUR_UT_METADATA_ID};

/// A single-file info dictionary with `hashes` piece hashes (20 bytes each), so its
/// size (and metadata piece count) is chosen by the test.
fn info_bytes(hashes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("d6:lengthi{}e4:name4:file", hashes as u64 * 16384).as_bytes());
    out.extend_from_slice(format!("12:piece lengthi16384e6:pieces{}:", hashes * 20).as_bytes());
    for i in 0..hashes {
        out.extend_from_slice(&[(i % 251) as u8; 20]);
    }
    out.push(b'e');
    out
}

fn hash_of(bytes: &[u8]) -> InfoHash {
    InfoHash(Sha1::digest(bytes).into())
}

fn t0() -> Instant {
    Instant::now()
}

fn handshake(their_id: Option<u8>, size: Option<u64>) -> ExtensionHandshake {
    ExtensionHandshake {
        m: their_id
            .map(|id| BTreeMap::from([(UT_METADATA.to_owned(), id)]))
            .unwrap_or_default(),
        metadata_size: size,
        ..Default::default()
    }
}

/// Which piece a `Send` asks for, if it is a request under `their_id`.
fn requested_piece(action: &FetchAction) -> Option<(PeerKey, u32)> {
    let FetchAction::Send {
        peer,
        message: Message::Extended { payload, .. },
    } = action
    else {
        return None;
    };
    match MetadataMessage::decode(payload) {
        Ok(MetadataMessage::Request { piece }) => Some((*peer, piece)),
        _ => None,
    }
}

fn data(info: &[u8], piece: u32) -> Bytes {
    let size = info.len() as u64;
    let start = piece as usize * METADATA_PIECE_SIZE;
    let len = metadata_piece_len(size, piece).unwrap();
    Bytes::from(
        MetadataMessage::Data {
            piece,
            total_size: size,
            data: Bytes::copy_from_slice(&info[start..start + len]),
        }
        .encode(),
    )
}

fn drain(f: &mut MetadataFetch) -> Vec<FetchAction> {
    std::iter::from_fn(|| f.poll_action()).collect()
}

fn requests(actions: &[FetchAction]) -> Vec<(PeerKey, u32)> {
    actions.iter().filter_map(requested_piece).collect()
}

fn drops(actions: &[FetchAction]) -> Vec<(PeerKey, DropReason)> {
    actions
        .iter()
        .filter_map(|a| match a {
            FetchAction::Disconnect { peer, reason } => Some((*peer, reason.clone())),
            FetchAction::Send { .. } => None,
        })
        .collect()
}

fn join(f: &mut MetadataFetch, key: u64, size: u64, now: Instant) {
    f.peer_connected(PeerKey(key), true, now);
    f.extension_handshake(PeerKey(key), &handshake(Some(3), Some(size)), now);
}

/// Answers every request in `pending` from `info` until the fetch is done, in the
/// order `order` picks (an index into the pending list), peers in `liars` answering
/// with `lie` instead. Returns the drops seen.
fn serve_until_done(
    f: &mut MetadataFetch,
    info: &[u8],
    lie: &[u8],
    liars: &[u64],
    now: Instant,
    mut order: impl FnMut(usize) -> usize,
) -> Vec<(PeerKey, DropReason)> {
    let mut pending: Vec<(PeerKey, u32)> = Vec::new();
    let mut dropped = Vec::new();
    for _ in 0..10_000 {
        let actions = drain(f);
        dropped.extend(drops(&actions));
        pending.extend(requests(&actions));
        pending.retain(|(p, _)| !dropped.iter().any(|(d, _)| d == p));
        if f.is_done() || pending.is_empty() {
            break;
        }
        let (peer, piece) = pending.remove(order(pending.len()) % pending.len());
        let source = if liars.contains(&peer.0) { lie } else { info };
        f.metadata_message(peer, &data(source, piece), now);
    }
    dropped
}

#[test]
fn fetches_from_several_peers_out_of_order() {
    let info = info_bytes(5000); // 100 KB: 7 pieces
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    for k in 1..=3 {
        join(&mut f, k, info.len() as u64, now);
    }
    let first = drain(&mut f);
    let asked: Vec<_> = requests(&first);
    assert_eq!(asked.len(), 7, "{first:?}");
    let per_peer = |k| asked.iter().filter(|(p, _)| *p == PeerKey(k)).count();
    assert_eq!(
        (per_peer(1), per_peer(2), per_peer(3)),
        (MAX_OUTSTANDING_PER_PEER, 7 - MAX_OUTSTANDING_PER_PEER, 0),
        "the first peer's requests fill up, then the next's: {asked:?}"
    );
    // Answers in reverse order.
    for (peer, piece) in asked.iter().rev() {
        f.metadata_message(*peer, &data(&info, *piece), now);
    }
    let meta = f.outcome().unwrap().as_ref().unwrap();
    assert_eq!(meta.info_hash, hash_of(&info));
    assert_eq!(meta.info_bytes, info);
    assert_eq!(meta.info.name, "file");
    let progress = f.progress();
    assert_eq!(progress.peers_asked, 2);
    assert!(f.poll_timeout().is_none());
}

#[test]
fn requests_use_their_id_and_bep9_form() {
    let info = info_bytes(10);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    f.peer_connected(PeerKey(1), true, now);
    f.extension_handshake(PeerKey(1), &handshake(Some(9), Some(info.len() as u64)), now);
    let actions = drain(&mut f);
    assert_eq!(
        actions,
        vec![FetchAction::Send {
            peer: PeerKey(1),
            message: Message::Extended {
                id: 9,
                payload: Bytes::from_static(b"d8:msg_typei0e5:piecei0ee"),
            },
        }]
    );
    assert_eq!(
        f.progress(),
        FetchProgress {
            peers_asked: 1,
            peers_with_metadata: 1,
            pieces_have: 0,
            pieces_total: 1
        }
    );
}

#[test]
fn a_reject_sends_the_piece_elsewhere_and_strikes_add_up() {
    let info = info_bytes(10);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, info.len() as u64, now);
    assert_eq!(requests(&drain(&mut f)), vec![(PeerKey(1), 0)]);
    join(&mut f, 2, info.len() as u64, now);
    assert!(requests(&drain(&mut f)).is_empty(), "the only piece is in flight");
    let reject = Bytes::from(MetadataMessage::Reject { piece: 0 }.encode());
    f.metadata_message(PeerKey(1), &reject, now);
    assert_eq!(requests(&drain(&mut f)), vec![(PeerKey(2), 0)]);
    // Peer 2 rejects too; peer 1 is backing off until REJECT_BACKOFF has passed.
    f.metadata_message(PeerKey(2), &reject, now);
    assert!(requests(&drain(&mut f)).is_empty());
    assert_eq!(f.poll_timeout(), Some(now + REJECT_BACKOFF));
    f.handle_timeout(now + REJECT_BACKOFF);
    let again = requests(&drain(&mut f));
    assert_eq!(again.len(), 1);
    // Three rejects from one peer and it is let go.
    let mut t = now + REJECT_BACKOFF;
    let mut dropped = Vec::new();
    for _ in 0..10 {
        let reqs = requests(&drain(&mut f));
        for (p, piece) in reqs.iter().chain(again.iter()) {
            if *p == PeerKey(1) {
                f.metadata_message(*p, &Bytes::from(MetadataMessage::Reject { piece: *piece }.encode()), t);
            }
        }
        dropped.extend(drops(&drain(&mut f)));
        t += REJECT_BACKOFF;
        f.handle_timeout(t);
        if !dropped.is_empty() {
            break;
        }
    }
    assert_eq!(dropped, vec![(PeerKey(1), DropReason::TooManyStrikes)]);
}

#[test]
fn a_lone_liar_is_dropped_and_the_honest_peer_finishes() {
    let info = info_bytes(2000);
    let mut lie = info.clone();
    lie[100] ^= 1;
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, info.len() as u64, now);
    // The liar alone is asked for every piece first.
    let dropped = serve_until_done(&mut f, &info, &lie, &[1], now, |_| 0);
    assert_eq!(dropped, vec![(PeerKey(1), DropReason::WrongMetadata)]);
    assert_eq!(f.failed_attempts(), 1);
    assert!(!f.is_done());
    join(&mut f, 2, info.len() as u64, now);
    let dropped = serve_until_done(&mut f, &info, &lie, &[1], now, |_| 0);
    assert!(dropped.is_empty(), "{dropped:?}");
    assert_eq!(f.outcome().unwrap().as_ref().unwrap().info_hash, hash_of(&info));
}

#[test]
fn a_liar_among_several_is_found_one_source_at_a_time() {
    let info = info_bytes(4000); // 5 pieces
    let mut lie = info.clone();
    // Wrong in every piece, so whichever pieces it sends spoil the attempt.
    for at in (5..lie.len()).step_by(METADATA_PIECE_SIZE) {
        lie[at] ^= 0xff;
    }
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    // The liar joins first, so it is the first single source too.
    for k in 1..=3 {
        join(&mut f, k, info.len() as u64, now);
    }
    let dropped = serve_until_done(&mut f, &info, &lie, &[1], now, |_| 0);
    assert_eq!(dropped, vec![(PeerKey(1), DropReason::WrongMetadata)]);
    assert!(f.failed_attempts() >= 1);
    assert_eq!(f.outcome().unwrap().as_ref().unwrap().info_bytes, info);
}

#[test]
fn a_liar_with_another_size_is_outvoted_or_dropped() {
    let info = info_bytes(2000);
    let mut lie = info_bytes(2100);
    lie[50] ^= 1;
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, lie.len() as u64, now);
    let early = requests(&drain(&mut f));
    assert_eq!(early.len(), 3, "alone, its size is the one fetched");
    join(&mut f, 2, info.len() as u64, now);
    join(&mut f, 3, info.len() as u64, now);
    // Two of three say the real size: the liar is not asked again, and its
    // answers to the old requests are ignored.
    for (p, piece) in early {
        f.metadata_message(p, &data(&lie, piece), now);
    }
    let asked = requests(&drain(&mut f));
    assert!(asked.iter().all(|(p, _)| *p != PeerKey(1)), "{asked:?}");
    assert_eq!(f.progress().pieces_total, 3);
    for (p, piece) in asked {
        f.metadata_message(p, &data(&info, piece), now);
    }
    let dropped = serve_until_done(&mut f, &info, &lie, &[1], now, |_| 0);
    assert!(dropped.is_empty());
    assert!(f.outcome().unwrap().is_ok());

    // On a tie the first peer's size wins; its lie drops it and the other size is fetched.
    let mut f = MetadataFetch::new(hash_of(&info));
    join(&mut f, 1, lie.len() as u64, now);
    join(&mut f, 2, info.len() as u64, now);
    let dropped = serve_until_done(&mut f, &info, &lie, &[1], now, |_| 0);
    assert_eq!(dropped, vec![(PeerKey(1), DropReason::WrongMetadata)]);
    assert_eq!(f.outcome().unwrap().as_ref().unwrap().info_bytes, info);
}

#[test]
fn hostile_handshakes_are_let_go() {
    let info = info_bytes(10);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    f.peer_connected(PeerKey(1), false, now);
    f.peer_connected(PeerKey(2), true, now);
    f.extension_handshake(PeerKey(2), &handshake(None, Some(100)), now);
    f.peer_connected(PeerKey(3), true, now);
    f.extension_handshake(PeerKey(3), &handshake(Some(1), None), now);
    f.peer_connected(PeerKey(4), true, now);
    f.extension_handshake(PeerKey(4), &handshake(Some(1), Some(0)), now);
    f.peer_connected(PeerKey(5), true, now);
    f.extension_handshake(PeerKey(5), &handshake(Some(1), Some(MAX_METADATA_SIZE + 1)), now);
    f.peer_connected(PeerKey(6), true, now);
    f.bad_extension_handshake(PeerKey(6), now);
    assert_eq!(
        drops(&drain(&mut f)),
        vec![
            (PeerKey(1), DropReason::NoExtensions),
            (PeerKey(2), DropReason::NoMetadataSupport),
            (PeerKey(3), DropReason::NoMetadata),
            (PeerKey(4), DropReason::BadSize(0)),
            (PeerKey(5), DropReason::BadSize(MAX_METADATA_SIZE + 1)),
            (PeerKey(6), DropReason::NoMetadataSupport),
        ]
    );
    assert_eq!(f.peer_count(), 0);
    assert_eq!(f.progress().pieces_total, 0, "no size was accepted");
}

#[test]
fn hostile_messages_drop_the_sender() {
    let info = info_bytes(2000);
    let size = info.len() as u64;
    let now = t0();
    let mut f = MetadataFetch::new(hash_of(&info));
    join(&mut f, 1, size, now);
    join(&mut f, 2, size, now);
    join(&mut f, 3, size, now);
    let asked = requests(&drain(&mut f));
    // Garbage, then a piece index past the end, then a size that contradicts the handshake.
    f.metadata_message(PeerKey(1), &Bytes::from_static(b"garbage"), now);
    let past_end = b"d8:msg_typei1e5:piecei9e10:total_sizei100ee".to_vec();
    f.metadata_message(PeerKey(2), &Bytes::from(past_end), now);
    let other_size = Bytes::from(
        MetadataMessage::Data {
            piece: 0,
            total_size: 10,
            data: Bytes::from_static(&[0; 10]),
        }
        .encode(),
    );
    f.metadata_message(PeerKey(3), &other_size, now);
    let dropped = drops(&drain(&mut f));
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    assert!(matches!(dropped[0], (PeerKey(1), DropReason::BadMessage(_))));
    assert!(matches!(
        dropped[1],
        (PeerKey(2), DropReason::BadMessage(MetadataMessageError::BadPiece(9)))
    ));
    assert_eq!(
        dropped[2],
        (
            PeerKey(3),
            DropReason::SizeContradiction {
                announced: size,
                got: 10
            }
        )
    );
    assert_eq!(asked.len(), 3);
    // Data nobody asked for is ignored, not stored.
    join(&mut f, 4, size, now);
    drain(&mut f);
    f.metadata_message(PeerKey(4), &data(&info, 2), now);
    f.metadata_message(PeerKey(4), &data(&info, 2), now);
    assert!(f.progress().pieces_have <= 1);
    assert!(drops(&drain(&mut f)).is_empty());
}

#[test]
fn requests_from_peers_are_rejected_and_a_flood_is_let_go() {
    let info = info_bytes(10);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, info.len() as u64, now);
    drain(&mut f);
    let req = Bytes::from(MetadataMessage::Request { piece: 0 }.encode());
    f.metadata_message(PeerKey(1), &req, now);
    assert_eq!(
        drain(&mut f),
        vec![FetchAction::Send {
            peer: PeerKey(1),
            message: Message::Extended {
                id: 3,
                payload: Bytes::from(MetadataMessage::Reject { piece: 0 }.encode()),
            },
        }]
    );
    for _ in 0..MAX_REQUESTS_FROM_PEER {
        f.metadata_message(PeerKey(1), &req, now);
    }
    let actions = drain(&mut f);
    assert_eq!(drops(&actions), vec![(PeerKey(1), DropReason::RequestFlood)]);
    assert_eq!(actions.len(), MAX_REQUESTS_FROM_PEER as usize);
}

#[test]
fn timeouts_move_requests_and_let_silent_peers_go() {
    let info = info_bytes(10);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    f.peer_connected(PeerKey(9), true, now);
    join(&mut f, 1, info.len() as u64, now);
    assert_eq!(requests(&drain(&mut f)), vec![(PeerKey(1), 0)]);
    join(&mut f, 2, info.len() as u64, now + Duration::from_secs(1));
    assert_eq!(f.poll_timeout(), Some(now + EXTENSION_HANDSHAKE_TIMEOUT));
    f.handle_timeout(now + REQUEST_TIMEOUT - Duration::from_millis(1));
    assert!(drain(&mut f).is_empty());
    f.handle_timeout(now + REQUEST_TIMEOUT);
    let actions = drain(&mut f);
    assert_eq!(drops(&actions), vec![(PeerKey(9), DropReason::NoExtensionHandshake)]);
    assert_eq!(requests(&actions), vec![(PeerKey(2), 0)]);
    // The late answer from peer 1 is ignored; peer 2's completes it.
    f.metadata_message(PeerKey(1), &data(&info, 0), now + REQUEST_TIMEOUT);
    assert!(!f.is_done());
    f.metadata_message(PeerKey(2), &data(&info, 0), now + REQUEST_TIMEOUT);
    assert!(f.outcome().unwrap().is_ok());
}

#[test]
fn a_departure_sends_its_pieces_elsewhere() {
    let info = info_bytes(2000);
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, info.len() as u64, now);
    let first = requests(&drain(&mut f));
    assert_eq!(first.len(), 3);
    join(&mut f, 2, info.len() as u64, now);
    assert!(requests(&drain(&mut f)).is_empty());
    f.metadata_message(PeerKey(1), &data(&info, first[0].1), now);
    f.peer_disconnected(PeerKey(1), now);
    let moved = requests(&drain(&mut f));
    assert_eq!(moved.len(), 2);
    assert!(moved.iter().all(|(p, _)| *p == PeerKey(2)));
    for (p, piece) in moved {
        f.metadata_message(p, &data(&info, piece), now);
    }
    assert!(f.outcome().unwrap().is_ok());
}

#[test]
fn metadata_that_hashes_right_but_does_not_parse_fails_the_fetch() {
    let info = b"d4:name1:xe".to_vec();
    let mut f = MetadataFetch::new(hash_of(&info));
    let now = t0();
    join(&mut f, 1, info.len() as u64, now);
    drain(&mut f);
    f.metadata_message(PeerKey(1), &data(&info, 0), now);
    assert!(matches!(f.outcome(), Some(Err(MetadataFetchError::BadInfo { .. }))));
    // Nothing more happens once done.
    f.metadata_message(PeerKey(1), &data(&info, 0), now);
    f.handle_timeout(now + REQUEST_TIMEOUT);
    assert!(drain(&mut f).is_empty());
}

#[test]
fn the_peer_count_is_bounded() {
    let mut f = MetadataFetch::new(InfoHash([1; 20]));
    let now = t0();
    for k in 0..=MAX_FETCH_PEERS as u64 {
        f.peer_connected(PeerKey(k), true, now);
    }
    assert_eq!(f.peer_count(), MAX_FETCH_PEERS);
    assert_eq!(
        drops(&drain(&mut f)),
        vec![(PeerKey(MAX_FETCH_PEERS as u64), DropReason::TooManyPeers)]
    );
}

#[test]
fn our_id_is_not_used_for_their_messages() {
    // The requests go out under the id the peer chose, whatever ours is.
    assert_ne!(OUR_UT_METADATA_ID, 3);
}

proptest! {
    #[test]
    fn any_answer_order_and_peer_count_completes(
        hashes in 1usize..4000,
        peers in 1u64..6,
        liar in proptest::option::of(0u64..6),
        seed in proptest::collection::vec(any::<usize>(), 1..64),
    ) {
        let info = info_bytes(hashes);
        let mut lie = info.clone();
        for at in (20..lie.len()).step_by(METADATA_PIECE_SIZE) {
            lie[at] ^= 1;
        }
        let mut f = MetadataFetch::new(hash_of(&info));
        let now = t0();
        for k in 0..peers {
            join(&mut f, k, info.len() as u64, now);
        }
        let liars: Vec<u64> = liar.into_iter().filter(|l| *l < peers).collect();
        let mut i = 0;
        let dropped = serve_until_done(&mut f, &info, &lie, &liars, now, |_| {
            i += 1;
            seed[i % seed.len()]
        });
        // Only a liar is ever dropped, and only for its lie.
        for (p, reason) in &dropped {
            prop_assert!(liars.contains(&p.0), "{p:?} {reason:?}");
            prop_assert_eq!(reason, &DropReason::WrongMetadata);
        }
        if liars.len() as u64 == peers {
            prop_assert!(!f.is_done());
        } else {
            prop_assert_eq!(&f.outcome().unwrap().as_ref().unwrap().info_bytes, &info);
        }
    }
}
