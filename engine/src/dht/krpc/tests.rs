use super::*;
use proptest::prelude::*;

fn node(b: u8, v6: bool) -> NodeInfo {
    let addr = if v6 {
        SocketAddr::new(
            std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(b)).into(),
            1000 + u16::from(b),
        )
    } else {
        SocketAddr::from(([10, 0, 0, b], 1000 + u16::from(b)))
    };
    NodeInfo {
        id: NodeId([b; 20]),
        addr,
    }
}

#[test]
fn decodes_the_bep5_examples() {
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    let m = Message::decode(ping).unwrap();
    assert_eq!(m.tid, b"aa");
    assert_eq!(
        m.body,
        Body::Query {
            id: NodeId(*b"abcdefghij0123456789"),
            query: Query::Ping,
            read_only: false
        }
    );
    let get_peers = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe";
    match Message::decode(get_peers).unwrap().body {
        Body::Query {
            query: Query::GetPeers { info_hash, want: None },
            ..
        } => assert_eq!(&info_hash.0, b"mnopqrstuvwxyz123456"),
        other => panic!("{other:?}"),
    }
    let values = b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re";
    match Message::decode(values).unwrap().body {
        Body::Response(r) => {
            assert_eq!(r.token.as_deref(), Some(&b"aoeusnth"[..]));
            assert_eq!(r.values.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
    assert_eq!(
        Message::decode(err).unwrap().body,
        Body::Error {
            code: 201,
            message: "A Generic Error Ocurred".into()
        }
    );
}

#[test]
fn accepts_keys_in_any_order_and_ignores_unknown_ones() {
    let m = b"d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij01234567895:extrai1ee1:zi9ee";
    assert!(matches!(
        Message::decode(m).unwrap().body,
        Body::Query { query: Query::Ping, .. }
    ));
}

#[test]
fn refuses_hostile_shapes() {
    assert!(matches!(
        Message::decode(&vec![b'x'; MAX_PACKET + 1]),
        Err(KrpcError::TooLarge { .. })
    ));
    assert!(matches!(Message::decode(b"i5e"), Err(KrpcError::NotADict)));
    assert!(matches!(
        Message::decode(b"d1:t2:aa1:y1:xe"),
        Err(KrpcError::UnknownType)
    ));
    assert!(matches!(Message::decode(b"d1:y1:re"), Err(KrpcError::BadField("t"))));
    // A reply without an id, with a short id, with a ragged nodes string.
    assert!(Message::decode(b"d1:rd1:xi1ee1:t2:aa1:y1:re").is_err());
    assert!(Message::decode(b"d1:rd2:id3:abce1:t2:aa1:y1:re").is_err());
    assert!(matches!(
        Message::decode(b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re"),
        Err(KrpcError::BadField("nodes"))
    ));
    // Deep nesting is refused even within the size cap.
    let mut deep = b"d1:t2:aa1:y1:r1:rd2:id20:abcdefghij01234567891:x".to_vec();
    deep.extend(std::iter::repeat(b'l').take(10));
    deep.extend(std::iter::repeat(b'e').take(10));
    deep.extend(b"ee");
    assert_eq!(Message::decode(&deep), Err(KrpcError::TooDeep));
    // A query we can name but not use: the querier learns which field.
    assert_eq!(
        Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe"),
        Err(KrpcError::BadQuery {
            tid: b"aa".to_vec(),
            field: "info_hash"
        })
    );
}

#[test]
fn long_lists_are_read_up_to_their_bound() {
    let r = Response {
        id: NodeId([1; 20]),
        nodes: (0..40).map(|b| node(b, false)).collect(),
        values: (0..150u16).map(|p| SocketAddr::from(([1, 2, 3, 4], 1 + p))).collect(),
        ..Default::default()
    };
    let packet = Message {
        tid: b"xy".to_vec(),
        body: Body::Response(r),
        ip: None,
    }
    .encode();
    // Over the size cap as a whole...
    assert!(Message::decode(&packet).is_err());
    // ...and within it the lists are cut at their bounds.
    let r = Response {
        id: NodeId([1; 20]),
        nodes: (0..20).map(|b| node(b, false)).collect(),
        ..Default::default()
    };
    let packet = Message {
        tid: b"xy".to_vec(),
        body: Body::Response(r),
        ip: None,
    }
    .encode();
    match Message::decode(&packet).unwrap().body {
        Body::Response(r) => assert_eq!(r.nodes.len(), MAX_NODES),
        other => panic!("{other:?}"),
    }
}

fn arb_want() -> impl Strategy<Value = Option<Want>> {
    prop::option::of((any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| Want { v4, v6 }))
}

fn arb_query() -> impl Strategy<Value = Query> {
    prop_oneof![
        Just(Query::Ping),
        (any::<[u8; 20]>(), arb_want()).prop_map(|(t, want)| Query::FindNode {
            target: NodeId(t),
            want
        }),
        (any::<[u8; 20]>(), arb_want()).prop_map(|(h, want)| Query::GetPeers {
            info_hash: InfoHash(h),
            want
        }),
        (
            any::<[u8; 20]>(),
            1u16..,
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..MAX_TOKEN_LEN)
        )
            .prop_map(|(h, port, implied_port, token)| Query::AnnouncePeer {
                info_hash: InfoHash(h),
                port,
                implied_port,
                token
            }),
        (any::<[u8; 20]>(), arb_want()).prop_map(|(t, want)| Query::SampleInfohashes {
            target: NodeId(t),
            want
        }),
        "[a-z_]{1,20}"
            .prop_filter("not a known method", |m| ![
                "ping",
                "find_node",
                "get_peers",
                "announce_peer",
                "sample_infohashes"
            ]
            .contains(&m.as_str()))
            .prop_map(|method| Query::Unknown { method }),
    ]
}

fn arb_node() -> impl Strategy<Value = NodeInfo> {
    (any::<u8>(), any::<bool>()).prop_map(|(b, v6)| node(b.max(1), v6))
}

fn arb_response() -> impl Strategy<Value = Response> {
    (
        any::<[u8; 20]>(),
        prop::collection::vec(arb_node(), 0..8),
        prop::collection::vec((any::<[u8; 4]>(), 1u16..), 0..30),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..20)),
        prop::collection::vec(any::<[u8; 20]>(), 0..5),
    )
        .prop_map(|(id, nodes, values, token, samples)| {
            let (nodes6, nodes): (Vec<_>, Vec<_>) = nodes.into_iter().partition(|n| n.addr.is_ipv6());
            Response {
                id: NodeId(id),
                nodes,
                nodes6,
                values: values.into_iter().map(|(ip, p)| SocketAddr::from((ip, p))).collect(),
                token,
                interval: (!samples.is_empty()).then_some(60),
                num: (!samples.is_empty()).then_some(samples.len() as i64),
                samples: samples.into_iter().map(InfoHash).collect(),
            }
        })
}

fn arb_message() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        (any::<[u8; 20]>(), arb_query(), any::<bool>()).prop_map(|(id, query, read_only)| Body::Query {
            id: NodeId(id),
            query,
            read_only
        }),
        arb_response().prop_map(Body::Response),
        (200i64..210, "[ -~]{0,40}").prop_map(|(code, message)| Body::Error { code, message }),
    ];
    (
        prop::collection::vec(any::<u8>(), 1..MAX_TID_LEN),
        body,
        prop::option::of((any::<[u8; 4]>(), 1u16..)),
    )
        .prop_map(|(tid, body, ip)| Message {
            tid,
            body,
            ip: ip.map(|(ip, p)| SocketAddr::from((ip, p))),
        })
}

proptest! {
    #[test]
    fn every_message_round_trips(m in arb_message()) {
        let bytes = m.encode();
        prop_assert!(bytes.len() <= MAX_PACKET);
        prop_assert_eq!(Message::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(m in arb_message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = m.encode();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let _ = Message::decode(&bytes);
        let _ = Message::decode(&bytes[..bytes.len() / 2]);
    }
}
