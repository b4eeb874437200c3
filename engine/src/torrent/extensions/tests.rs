use std::time::Duration;

use super::super::tests::driver::{addr, peer_id, Driver};
use super::super::{DisconnectReason, ProtocolViolation, TorrentConfig};
use super::*;
use crate::peer_session::Accepting;
use crate::pex::{PexMessage, FLAG_REACHABLE, FLAG_SEED};
use crate::wire::HANDSHAKE_ROUTING_LEN;

/// The extension handshake the original Python ccbt sends as a seed, as its own code
/// builds it (`XetExtension().encode_handshake()` merged into `{m, e}` and encoded by
/// its `BencodeEncoder`): Python's `True` is an `int`, so it is written `iTruee`.
const PYTHON_CCBT_HANDSHAKE: &[u8] = b"d1:e8:disabled1:md11:ut_metadatai1ee3:xetd14:hash_algorithm\
18:xet-hash:v1:blake322:supports_bloom_filtersiTruee23:supports_chunk_requestsiTruee\
23:supports_delete_updatesiTruee24:supports_discovery_hintsiTruee20:supports_folder_synciTruee\
26:supports_metadata_exchangeiTruee16:supports_p2p_casiTruee21:update_notify_versioni1e7:version3:1.0ee";

/// An info dictionary of `len` bytes (content does not matter to serving).
fn info_bytes(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

fn seeder_with_metadata(len: usize, private: bool, config: TorrentConfig) -> Driver {
    let mut d = Driver::new(4, true, config);
    d.torrent.set_info_dict(info_bytes(len), private);
    d
}

fn handshake_from(m: &[(&str, u8)], p: Option<u16>) -> Message {
    ExtensionHandshake {
        m: m.iter().map(|(n, i)| ((*n).to_owned(), *i)).collect(),
        p,
        ..ExtensionHandshake::default()
    }
    .to_message()
}

/// Extended messages sent to `key`, as (id, payload).
fn extended_to(actions: &[Action], key: PeerKey) -> Vec<(u8, Bytes)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                peer,
                message: Message::Extended { id, payload },
            } if *peer == key => Some((*id, payload.clone())),
            _ => None,
        })
        .collect()
}

fn our_handshake(d: &mut Driver, key: PeerKey) -> ExtensionHandshake {
    let actions = d.actions();
    let sent = extended_to(&actions, key);
    let (_, payload) = sent
        .iter()
        .find(|(id, _)| *id == EXTENDED_HANDSHAKE_ID)
        .expect("a handshake");
    ExtensionHandshake::decode(payload).unwrap()
}

fn request(piece: u32) -> Message {
    Message::Extended {
        id: OUR_UT_METADATA_ID,
        payload: Bytes::from(MetadataMessage::Request { piece }.encode()),
    }
}

#[test]
fn our_handshake_offers_metadata_and_pex_with_size_and_their_address() {
    let mut d = seeder_with_metadata(40_000, false, TorrentConfig::default());
    let key = d.connect(1);
    let hs = our_handshake(&mut d, key);
    assert_eq!(hs.m.get(UT_METADATA), Some(&OUR_UT_METADATA_ID));
    assert_eq!(hs.m.get(UT_PEX), Some(&OUR_UT_PEX_ID));
    assert_eq!(hs.metadata_size, Some(40_000));
    assert_eq!(hs.yourip, Some(vec![127, 0, 0, 1]));
    assert!(hs.v.unwrap().starts_with("ccbt "));
    assert_eq!(hs.reqq, Some(TorrentConfig::default().max_peer_requests as u32));
}

#[test]
fn private_or_pex_off_torrents_do_not_offer_pex() {
    let mut d = seeder_with_metadata(1000, true, TorrentConfig::default());
    let key = d.connect(1);
    let hs = our_handshake(&mut d, key);
    assert_eq!(hs.m.get(UT_PEX), None, "BEP 27: no PEX for a private torrent");
    assert_eq!(hs.m.get(UT_METADATA), Some(&OUR_UT_METADATA_ID));
    let config = TorrentConfig {
        pex: false,
        ..TorrentConfig::default()
    };
    let mut d = seeder_with_metadata(1000, false, config);
    let key = d.connect(1);
    assert_eq!(our_handshake(&mut d, key).m.get(UT_PEX), None);
    // Without an info dictionary there is nothing to serve.
    let mut d = Driver::new(4, true, TorrentConfig::default());
    let key = d.connect(1);
    let hs = our_handshake(&mut d, key);
    assert_eq!((hs.m.get(UT_METADATA), hs.metadata_size), (None, None));
}

#[test]
fn the_python_ccbt_handshake_is_tolerated_and_the_peer_stays_useful() {
    assert!(
        ExtensionHandshake::decode(PYTHON_CCBT_HANDSHAKE).is_err(),
        "our bencode refuses iTruee: the case this rule exists for"
    );
    let mut d = seeder_with_metadata(1000, false, TorrentConfig::default());
    let key = d.connect(1);
    d.actions();
    d.deliver(
        key,
        Message::Extended {
            id: 0,
            payload: Bytes::from_static(PYTHON_CCBT_HANDSHAKE),
        },
    );
    for garbage in [&b"i1e"[..], b"", b"\xff\x00", b"d1:m"] {
        d.deliver(
            key,
            Message::Extended {
                id: 0,
                payload: Bytes::copy_from_slice(garbage),
            },
        );
    }
    let actions = d.actions();
    assert_eq!(Driver::disconnect_reason(&actions, key), None, "{actions:?}");
    assert_eq!(d.torrent.peer_count(), 1);
    assert_eq!(d.torrent.stats(d.now).bad_extension_handshakes, 5);
    // Without extensions: no metadata for it (it named no id), but the base protocol works.
    d.deliver(key, request(0));
    assert!(extended_to(&d.actions(), key).is_empty());
    d.deliver(key, Message::Interested);
    d.advance(Duration::from_secs(11));
    d.torrent.handle_timeout(d.now);
    let actions = d.actions();
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Send { peer, message: Message::Unchoke } if *peer == key)),
        "{actions:?}"
    );
}

#[test]
fn metadata_is_served_piece_by_piece_under_the_peers_id() {
    let info = info_bytes(40_000);
    let mut d = seeder_with_metadata(info.len(), false, TorrentConfig::default());
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_METADATA, 7)], None));
    d.actions();
    let mut got = Vec::new();
    for piece in 0..3 {
        d.deliver(key, request(piece));
        let sent = extended_to(&d.actions(), key);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, 7, "sent under the id the peer chose");
        match MetadataMessage::decode(&sent[0].1).unwrap() {
            MetadataMessage::Data {
                piece: p,
                total_size,
                data,
            } => {
                assert_eq!((p, total_size), (piece, 40_000));
                got.extend_from_slice(&data);
            }
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert_eq!(got, info, "the pieces put together are the info dictionary");
    // Past the end: rejected.
    d.deliver(key, request(3));
    let sent = extended_to(&d.actions(), key);
    assert_eq!(
        MetadataMessage::decode(&sent[0].1).unwrap(),
        MetadataMessage::Reject { piece: 3 }
    );
    let stats = d.torrent.stats(d.now);
    assert_eq!((stats.metadata_pieces_served, stats.metadata_requests_rejected), (3, 1));
}

#[test]
fn metadata_requests_past_the_per_peer_rate_are_rejected_until_the_window_passes() {
    let mut d = seeder_with_metadata(1000, false, TorrentConfig::default());
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_METADATA, 2)], None));
    d.actions();
    let mut answers = Vec::new();
    for _ in 0..(MAX_SERVES_PER_PIECE + 2) {
        d.deliver(key, request(0));
        let sent = extended_to(&d.actions(), key);
        answers.push(MetadataMessage::decode(&sent[0].1).unwrap());
    }
    let data = answers
        .iter()
        .filter(|m| matches!(m, MetadataMessage::Data { .. }))
        .count();
    assert_eq!(data, MAX_SERVES_PER_PIECE as usize, "{answers:?}");
    assert!(matches!(answers.last(), Some(MetadataMessage::Reject { piece: 0 })));
    d.advance(METADATA_SERVE_WINDOW);
    d.deliver(key, request(0));
    let sent = extended_to(&d.actions(), key);
    assert!(matches!(
        MetadataMessage::decode(&sent[0].1).unwrap(),
        MetadataMessage::Data { .. }
    ));
    assert_eq!(d.torrent.peer_count(), 1, "asking too often is refused, not punished");
}

#[test]
fn a_peer_without_ut_metadata_gets_no_metadata() {
    let mut d = seeder_with_metadata(1000, false, TorrentConfig::default());
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_PEX, 3)], None));
    d.actions();
    d.deliver(key, request(0));
    assert!(extended_to(&d.actions(), key).is_empty());
}

#[test]
fn broken_metadata_or_pex_messages_drop_the_peer_and_stray_answers_do_not() {
    let mut d = seeder_with_metadata(1000, false, TorrentConfig::default());
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_METADATA, 2), (UT_PEX, 3)], None));
    // Data and rejects we never asked for: ignored.
    let stray = MetadataMessage::Data {
        piece: 0,
        total_size: 10,
        data: Bytes::from_static(b"0123456789"),
    };
    d.deliver(
        key,
        Message::Extended {
            id: OUR_UT_METADATA_ID,
            payload: Bytes::from(stray.encode()),
        },
    );
    d.deliver(
        key,
        Message::Extended {
            id: OUR_UT_METADATA_ID,
            payload: Bytes::from(MetadataMessage::Reject { piece: 0 }.encode()),
        },
    );
    // An id we never gave out: ignored.
    d.deliver(
        key,
        Message::Extended {
            id: 99,
            payload: Bytes::from_static(b"garbage"),
        },
    );
    assert_eq!(Driver::disconnect_reason(&d.actions(), key), None);
    d.deliver(
        key,
        Message::Extended {
            id: OUR_UT_METADATA_ID,
            payload: Bytes::from_static(b"d8:msg_typei9e5:piecei0ee"),
        },
    );
    let reason = Driver::disconnect_reason(&d.actions(), key);
    assert!(
        matches!(
            reason,
            Some(DisconnectReason::Protocol(ProtocolViolation::BadMetadataMessage(_)))
        ),
        "{reason:?}"
    );
    let key = d.connect(2);
    d.deliver(key, handshake_from(&[(UT_PEX, 3)], None));
    d.deliver(
        key,
        Message::Extended {
            id: OUR_UT_PEX_ID,
            payload: Bytes::from_static(b"d5:added5:12345e"),
        },
    );
    let reason = Driver::disconnect_reason(&d.actions(), key);
    assert!(
        matches!(
            reason,
            Some(DisconnectReason::Protocol(ProtocolViolation::BadPexMessage(_)))
        ),
        "{reason:?}"
    );
}

fn pex_message(added: &[SocketAddr]) -> Message {
    Message::Extended {
        id: OUR_UT_PEX_ID,
        payload: Bytes::from(
            PexMessage {
                added: added.iter().map(|a| (*a, 0)).collect(),
                dropped: vec![],
            }
            .encode(),
        ),
    }
}

#[test]
fn pex_addresses_become_peers_to_add_with_their_source() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_PEX, 5)], None));
    d.actions();
    let learned = [addr(20), addr(21)];
    d.deliver(key, pex_message(&learned));
    let actions = d.actions();
    let added: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::AddPeers { source, addrs } => Some((*source, addrs.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(added, vec![(PeerSource::Pex, learned.to_vec())]);
    assert_eq!(d.torrent.stats(d.now).pex_addresses_received, 2);
}

#[test]
fn a_private_torrent_ignores_pex() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    d.torrent.set_info_dict(info_bytes(100), true);
    let key = d.connect(1);
    d.deliver(key, handshake_from(&[(UT_PEX, 5)], None));
    d.deliver(key, pex_message(&[addr(20)]));
    // Even a broken one: we never offered the extension, so it is not ours to parse.
    d.deliver(
        key,
        Message::Extended {
            id: OUR_UT_PEX_ID,
            payload: Bytes::from_static(b"junk"),
        },
    );
    let actions = d.actions();
    assert!(
        !actions.iter().any(|a| matches!(a, Action::AddPeers { .. })),
        "{actions:?}"
    );
    assert_eq!(Driver::disconnect_reason(&actions, key), None);
    d.advance(Duration::from_secs(61));
    d.torrent.handle_timeout(d.now);
    assert!(extended_to(&d.actions(), key).is_empty(), "nothing is sent either");
}

fn pex_sent(actions: &[Action], key: PeerKey, id: u8) -> Vec<PexMessage> {
    extended_to(actions, key)
        .into_iter()
        .filter(|(i, _)| *i == id)
        .map(|(_, p)| PexMessage::decode(&p).unwrap())
        .collect()
}

#[test]
fn pex_tells_each_peer_about_the_others_then_only_changes_every_minute() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    let keys: Vec<PeerKey> = (1..=3).map(|i| d.connect(i)).collect();
    d.torrent.on_message(keys[2], Message::HaveAll, d.now);
    for k in &keys {
        d.deliver(*k, handshake_from(&[(UT_PEX, 9)], Some(6881)));
    }
    d.actions();
    d.advance(PEX_FIRST_DELAY);
    d.torrent.handle_timeout(d.now);
    let actions = d.actions();
    let to_first = pex_sent(&actions, keys[0], 9);
    assert_eq!(to_first.len(), 1, "{actions:?}");
    assert_eq!(
        to_first[0].added,
        vec![(addr(2), FLAG_REACHABLE), (addr(3), FLAG_REACHABLE | FLAG_SEED)],
        "the others, with their flags, never the receiver itself"
    );
    assert_eq!(pex_sent(&actions, keys[2], 9)[0].added.len(), 2);
    // Peer 3 leaves; nothing goes out before the minute is up.
    d.torrent.remove_peer(keys[2], d.now);
    d.advance(Duration::from_secs(30));
    d.torrent.handle_timeout(d.now);
    assert!(pex_sent(&d.actions(), keys[0], 9).is_empty());
    d.advance(PEX_INTERVAL);
    d.torrent.handle_timeout(d.now);
    let actions = d.actions();
    let to_first = pex_sent(&actions, keys[0], 9);
    assert_eq!(to_first.len(), 1);
    assert!(to_first[0].added.is_empty());
    assert_eq!(to_first[0].dropped, vec![addr(3)]);
    // Nothing changed since: no message at the next round.
    d.advance(PEX_INTERVAL);
    d.torrent.handle_timeout(d.now);
    assert!(pex_sent(&d.actions(), keys[0], 9).is_empty());
}

#[test]
fn an_incoming_peer_is_advertised_at_its_listen_port_or_not_at_all() {
    let mut d = Driver::new(4, false, TorrentConfig::default());
    let dialled = d.connect(1);
    d.deliver(dialled, handshake_from(&[(UT_PEX, 9)], None));
    // Two peers that connected to us, from ephemeral ports; one says where it listens.
    let mut prefix = [0u8; HANDSHAKE_ROUTING_LEN];
    let hs = crate::wire::Handshake {
        reserved: crate::wire::Reserved::ours(),
        info_hash: d.torrent.info_hash(),
        peer_id: peer_id(2),
    }
    .encode();
    prefix.copy_from_slice(&hs[..HANDSHAKE_ROUTING_LEN]);
    for (i, listen) in [(2u8, Some(7777u16)), (3, None)] {
        let session = Accepting::from_prefix(&prefix, d.torrent.info_hash(), d.torrent.our_id())
            .unwrap()
            .receive_peer_id(peer_id(i).0)
            .unwrap();
        let from = SocketAddr::from(([127, 0, 0, i], 40000 + u16::from(i)));
        d.torrent.add_peer(PeerKey(u64::from(i)), from, session, d.now).unwrap();
        d.deliver(PeerKey(u64::from(i)), handshake_from(&[(UT_PEX, 9)], listen));
    }
    d.actions();
    d.advance(PEX_FIRST_DELAY);
    d.torrent.handle_timeout(d.now);
    let to_dialled = pex_sent(&d.actions(), dialled, 9);
    assert_eq!(to_dialled[0].added, vec![(SocketAddr::from(([127, 0, 0, 2], 7777)), 0)]);
}
