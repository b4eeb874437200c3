//! One node against crafted datagrams: what it answers, what it refuses.

use super::*;
use crate::dht::krpc::{Body, Message, Query, Response};
use crate::dht::tokens::ROTATE_EVERY;

fn me() -> (DhtNode, Instant) {
    let now = Instant::now();
    (DhtNode::new(DhtConfig::default(), 1, now), now)
}

fn query(id: u8, tid: &[u8], q: Query) -> Vec<u8> {
    Message {
        tid: tid.to_vec(),
        body: Body::Query {
            id: NodeId([id; 20]),
            query: q,
            read_only: true,
        },
        ip: None,
    }
    .encode()
}

fn sent(node: &mut DhtNode) -> Vec<(SocketAddr, Message)> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|(to, b)| (to, Message::decode(&b).unwrap()))
        .collect()
}

fn only_reply(node: &mut DhtNode) -> Body {
    let mut out = sent(node);
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0).1.body
}

#[test]
fn tokens_gate_announces_and_expire() {
    let (mut node, t0) = me();
    let peer: SocketAddr = "192.0.2.7:5000".parse().unwrap();
    let h = InfoHash([3; 20]);
    node.handle_packet(
        t0,
        peer,
        &query(
            9,
            b"g1",
            Query::GetPeers {
                info_hash: h,
                want: None,
            },
        ),
    );
    let Body::Response(r) = only_reply(&mut node) else {
        panic!()
    };
    let token = r.token.unwrap();
    let announce = |token: Vec<u8>| {
        query(
            9,
            b"a1",
            Query::AnnouncePeer {
                info_hash: h,
                port: 6000,
                implied_port: false,
                token,
            },
        )
    };
    // A token given to another address is refused.
    node.handle_packet(t0, "192.0.2.8:5000".parse().unwrap(), &announce(token.clone()));
    assert!(matches!(only_reply(&mut node), Body::Error { code: 203, .. }));
    assert_eq!(node.stats(t0).stored_peers, 0);
    // Still good after one rotation...
    let t1 = t0 + ROTATE_EVERY + Duration::from_secs(1);
    node.handle_timeout(t1);
    sent(&mut node);
    node.handle_packet(t1, peer, &announce(token.clone()));
    assert!(matches!(only_reply(&mut node), Body::Response(_)));
    assert_eq!(node.stats(t1).stored_peers, 1);
    // ...expired after two.
    let t2 = t0 + ROTATE_EVERY * 2 + Duration::from_secs(2);
    node.handle_timeout(t2);
    sent(&mut node);
    node.handle_packet(t2, peer, &announce(token));
    assert!(matches!(only_reply(&mut node), Body::Error { code: 203, .. }));
    // The stored peer is served under its announced port.
    node.handle_packet(
        t2,
        peer,
        &query(
            9,
            b"g2",
            Query::GetPeers {
                info_hash: h,
                want: None,
            },
        ),
    );
    let Body::Response(r) = only_reply(&mut node) else {
        panic!()
    };
    assert_eq!(r.values, vec!["192.0.2.7:6000".parse::<SocketAddr>().unwrap()]);
}

#[test]
fn unknown_methods_and_bad_arguments_get_krpc_errors() {
    let (mut node, now) = me();
    let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
    node.handle_packet(now, from, &query(9, b"u1", Query::Unknown { method: "vote".into() }));
    assert!(matches!(only_reply(&mut node), Body::Error { code: 204, .. }));
    node.handle_packet(
        now,
        from,
        b"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:xx1:y1:qe",
    );
    let out = sent(&mut node);
    assert_eq!(out[0].1.tid, b"xx");
    assert!(matches!(out[0].1.body, Body::Error { code: 203, .. }));
    // Our own id coming back is not answered.
    let own = node.id();
    let mut q = query(0, b"o1", Query::Ping);
    if let Ok(Message {
        body: Body::Query { .. },
        ..
    }) = Message::decode(&q)
    {
        q = Message {
            tid: b"o1".to_vec(),
            body: Body::Query {
                id: own,
                query: Query::Ping,
                read_only: true,
            },
            ip: None,
        }
        .encode();
    }
    node.handle_packet(now, from, &q);
    assert!(sent(&mut node).is_empty());
}

/// Starts a lookup through one router and returns the query it sent.
fn lookup_through(node: &mut DhtNode, now: Instant, router: SocketAddr) -> (LookupId, Vec<u8>) {
    node.bootstrap(now, &[router], &[]);
    let mut out = sent(node);
    assert_eq!(out.len(), 1);
    let (to, m) = out.remove(0);
    assert_eq!(to, router);
    (LookupId(1), m.tid)
}

fn reply(tid: &[u8], r: Response) -> Vec<u8> {
    Message {
        tid: tid.to_vec(),
        body: Body::Response(r),
        ip: None,
    }
    .encode()
}

#[test]
fn hostile_replies_are_ignored_and_the_real_one_counts() {
    let (mut node, now) = me();
    let router: SocketAddr = "198.51.100.1:6881".parse().unwrap();
    let (_, tid) = lookup_through(&mut node, now, router);
    let good = Response {
        id: NodeId([5; 20]),
        ..Default::default()
    };
    // Wrong transaction id, right address.
    node.handle_packet(now, router, &reply(b"zz", good.clone()));
    // Right transaction id, wrong address.
    node.handle_packet(now, "198.51.100.2:6881".parse().unwrap(), &reply(&tid, good.clone()));
    // Garbage and a truncated reply.
    node.handle_packet(now, router, b"\x00\xffgarbage");
    let full = reply(&tid, good.clone());
    node.handle_packet(now, router, &full[..full.len() - 3]);
    let s = node.stats(now);
    assert_eq!(s.dropped, 4);
    assert_eq!(s.replies_received, 0);
    assert_eq!(s.nodes, 0);
    // The real answer is still awaited and accepted.
    node.handle_packet(now, router, &full);
    let s = node.stats(now);
    assert_eq!(s.replies_received, 1);
    assert_eq!(s.nodes, 1);
    // A second copy of it matches nothing any more.
    node.handle_packet(now, router, &full);
    assert_eq!(node.stats(now).dropped, 5);
}

#[test]
fn a_flood_of_nodes_is_bounded() {
    let (mut node, now) = me();
    let router: SocketAddr = "198.51.100.1:6881".parse().unwrap();
    let (_, tid) = lookup_through(&mut node, now, router);
    // As many nodes as fit in one datagram: only MAX_NODES are read, and the lookup
    // asks at most ALPHA of them at once.
    let nodes = (0..70u8)
        .map(|b| NodeInfo {
            id: NodeId([b; 20]),
            addr: SocketAddr::from(([203, 0, 113, b], 1000)),
        })
        .collect();
    let flood = reply(
        &tid,
        Response {
            id: NodeId([5; 20]),
            nodes,
            ..Default::default()
        },
    );
    assert!(flood.len() <= crate::dht::krpc::MAX_PACKET);
    node.handle_packet(now, router, &flood);
    let out = sent(&mut node);
    assert_eq!(out.len(), crate::dht::lookup::ALPHA);
    // Nothing answers: after the timeouts the lookup moves on, then ends.
    let mut t = now;
    for _ in 0..40 {
        t += QUERY_TIMEOUT;
        node.handle_timeout(t);
        sent(&mut node);
    }
    // (Maintenance starts new bootstrap lookups meanwhile: the table is nearly empty.)
    let done = std::iter::from_fn(|| node.poll_event()).any(|e| {
        matches!(
            e,
            DhtEvent::LookupDone {
                lookup: LookupId(1),
                ..
            }
        )
    });
    assert!(done);
    assert!(node.stats(t).active_lookups <= 1);
}

#[test]
fn the_query_rate_is_limited() {
    let now = Instant::now();
    let mut node = DhtNode::new(
        DhtConfig {
            query_rate: 10,
            ..Default::default()
        },
        1,
        now,
    );
    let routers: Vec<SocketAddr> = (1..=30u16).map(|p| SocketAddr::from(([198, 51, 100, 1], p))).collect();
    node.bootstrap(now, &routers, &[]);
    for i in 0..20u8 {
        node.get_peers(now, InfoHash([i; 20]), None);
    }
    assert_eq!(sent(&mut node).len(), 10, "one second's burst");
    let later = now + Duration::from_millis(500);
    assert!(node.poll_timeout().unwrap() <= later);
    node.handle_timeout(later);
    assert_eq!(sent(&mut node).len(), 5);
}

#[test]
fn bep42_id_from_a_known_external_ip() {
    let ip: std::net::IpAddr = "203.0.113.50".parse().unwrap();
    let node = DhtNode::new(
        DhtConfig {
            external_ip: Some(ip),
            ..Default::default()
        },
        9,
        Instant::now(),
    );
    assert!(node.id().is_bep42_for(ip));
}

#[test]
fn an_empty_table_asks_the_routers_again_soon() {
    let (mut node, t0) = me();
    let router: SocketAddr = "198.51.100.1:6881".parse().unwrap();
    node.bootstrap(t0, &[router], &[]);
    assert_eq!(sent(&mut node).len(), 1);
    // The router never answers: the lookup ends after its timeout...
    let t1 = t0 + QUERY_TIMEOUT;
    node.handle_timeout(t1);
    assert!(sent(&mut node).is_empty());
    // ...and the routers are asked again well before the maintenance period.
    let retry = node.poll_timeout().unwrap();
    assert!(retry <= t0 + EMPTY_TABLE_RETRY, "{:?}", retry - t0);
    node.handle_timeout(retry);
    let again = sent(&mut node);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0, router);
}
