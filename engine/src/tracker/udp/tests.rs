use std::time::Instant;

use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;

fn request() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: InfoHash([0x11; 20]),
        peer_id: PeerId([0x22; 20]),
        port: 0x1AE1,
        uploaded: 0x0102_0304_0506_0708,
        downloaded: 0x1112_1314_1516_1718,
        left: 0x2122_2324_2526_2728,
        event: AnnounceEvent::Started,
        numwant: None,
        key: 0xCAFE_F00D,
        tracker_id: None,
    }
}

#[test]
fn connect_request_layout() {
    assert_eq!(
        connect_request(0x0A0B_0C0D),
        [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0x0A, 0x0B, 0x0C, 0x0D]
    );
}

#[test]
fn announce_request_layout() {
    let p = announce_request(0x8877_6655_4433_2211, 0xA1A2_A3A4, &request());
    assert_eq!(p.len(), 98);
    assert_eq!(p[0..8], 0x8877_6655_4433_2211u64.to_be_bytes());
    assert_eq!(p[8..12], [0, 0, 0, 1]);
    assert_eq!(p[12..16], [0xA1, 0xA2, 0xA3, 0xA4]);
    assert_eq!(p[16..36], [0x11; 20]);
    assert_eq!(p[36..56], [0x22; 20]);
    assert_eq!(
        p[56..64],
        [0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18],
        "downloaded"
    );
    assert_eq!(p[64..72], [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28], "left");
    assert_eq!(p[72..80], [1, 2, 3, 4, 5, 6, 7, 8], "uploaded");
    assert_eq!(p[80..84], [0, 0, 0, 2], "started");
    assert_eq!(p[84..88], [0, 0, 0, 0], "IP address");
    assert_eq!(p[88..92], [0xCA, 0xFE, 0xF0, 0x0D], "key");
    assert_eq!(p[92..96], [0xFF; 4], "num_want -1");
    assert_eq!(p[96..98], [0x1A, 0xE1], "port");

    let mut req = request();
    for (event, code) in [
        (AnnounceEvent::None, 0u8),
        (AnnounceEvent::Completed, 1),
        (AnnounceEvent::Stopped, 3),
    ] {
        req.event = event;
        assert_eq!(announce_request(0, 0, &req)[80..84], [0, 0, 0, code]);
    }
    req.numwant = Some(50);
    assert_eq!(announce_request(0, 0, &req)[92..96], [0, 0, 0, 50]);
    req.numwant = Some(u32::MAX);
    assert_eq!(announce_request(0, 0, &req)[92..96], i32::MAX.to_be_bytes());
}

#[test]
fn scrape_request_layout_and_cap() {
    let p = scrape_request(7, 9, &[InfoHash([1; 20]), InfoHash([2; 20])]);
    assert_eq!(p.len(), 56);
    assert_eq!(p[0..8], 7u64.to_be_bytes());
    assert_eq!(p[8..12], [0, 0, 0, 2]);
    assert_eq!(p[12..16], [0, 0, 0, 9]);
    assert_eq!(p[16..36], [1; 20]);
    assert_eq!(p[36..56], [2; 20]);
    let many = vec![InfoHash([3; 20]); 100];
    assert_eq!(scrape_request(0, 0, &many).len(), 16 + 20 * MAX_SCRAPE_HASHES);
}

#[test]
fn parses_responses() {
    let mut p = vec![0, 0, 0, 0, 0, 0, 0, 5];
    p.extend_from_slice(&0xDEAD_BEEF_0000_0001u64.to_be_bytes());
    assert_eq!(
        parse_response(&p, IpFamily::V4, 0).unwrap(),
        Response::Connect {
            transaction_id: 5,
            connection_id: 0xDEAD_BEEF_0000_0001
        }
    );
    let p = [
        &[0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 7, 8, 0, 0, 0, 3, 0, 0, 0, 4][..],
        &[127, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 1, 0, 0],
    ]
    .concat();
    let Response::Announce {
        transaction_id,
        response,
    } = parse_response(&p, IpFamily::V4, 0).unwrap()
    else {
        panic!("not an announce");
    };
    assert_eq!(transaction_id, 6);
    assert_eq!(response.interval, Some(Duration::from_secs(1800)));
    assert_eq!(response.leechers, Some(3));
    assert_eq!(response.seeders, Some(4));
    assert_eq!(
        response.peers,
        vec!["127.0.0.1:6881".parse().unwrap()],
        "port 0 dropped"
    );
    // The same bytes are ragged for an IPv6 socket.
    assert!(matches!(
        parse_response(&p, IpFamily::V6, 0),
        Err(TrackerError::BadPacket { .. })
    ));
    let v6 = [&p[..20], &[0u8; 15][..], &[1, 0x1F, 0x90]].concat();
    let Response::Announce { response, .. } = parse_response(&v6, IpFamily::V6, 0).unwrap() else {
        panic!("not an announce");
    };
    assert_eq!(response.peers, vec!["[::1]:8080".parse().unwrap()]);

    let p = [&[0, 0, 0, 2, 0, 0, 0, 7][..], &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]].concat();
    assert_eq!(
        parse_response(&p, IpFamily::V4, 1).unwrap(),
        Response::Scrape {
            transaction_id: 7,
            stats: vec![ScrapeStats {
                seeders: 1,
                completed: 2,
                leechers: 3
            }]
        }
    );
    assert!(parse_response(&p, IpFamily::V4, 2).is_err(), "one count for two hashes");
    let p = [&[0, 0, 0, 3, 0, 0, 0, 8][..], b"no such torrent"].concat();
    assert_eq!(
        parse_response(&p, IpFamily::V4, 0).unwrap(),
        Response::Error {
            transaction_id: 8,
            message: "no such torrent".into()
        }
    );
}

#[test]
fn refuses_short_and_unknown_packets() {
    for p in [
        &[][..],
        &[0, 0, 0, 0, 0, 0, 0],
        &[0, 0, 0, 0, 0, 0, 0, 1, 2],
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
    ] {
        assert!(
            matches!(parse_response(p, IpFamily::V4, 0), Err(TrackerError::BadPacket { .. })),
            "{p:?}"
        );
    }
    assert!(parse_response(&[0, 0, 0, 9, 0, 0, 0, 0], IpFamily::V4, 0).is_err());
    assert!(parse_request(&[0; 15]).is_err());
    assert!(parse_request(&[0; 16]).is_err(), "connect without the magic");
    assert!(parse_request(&announce_request(1, 2, &request())[..97]).is_err());
    assert!(parse_request(&scrape_request(1, 2, &[])).is_err());
}

#[test]
fn request_round_trips() {
    let req = request();
    assert_eq!(
        parse_request(&announce_request(3, 4, &req)).unwrap(),
        Request::Announce {
            connection_id: 3,
            transaction_id: 4,
            request: req
        }
    );
    assert_eq!(
        parse_request(&connect_request(9)).unwrap(),
        Request::Connect { transaction_id: 9 }
    );
    let hashes = vec![InfoHash([5; 20]), InfoHash([6; 20])];
    assert_eq!(
        parse_request(&scrape_request(1, 2, &hashes)).unwrap(),
        Request::Scrape {
            connection_id: 1,
            transaction_id: 2,
            info_hashes: hashes
        }
    );
}

// --- the exchange, on a fake clock ---

fn exchange() -> UdpTrackerExchange {
    UdpTrackerExchange::new(IpFamily::V4, &mut SmallRng::seed_from_u64(1))
}

fn tid(packet: &[u8]) -> u32 {
    u32::from_be_bytes(packet[12..16].try_into().unwrap())
}

fn connect_reply(tid: u32, cid: u64) -> Vec<u8> {
    encode_response(
        &Response::Connect {
            transaction_id: tid,
            connection_id: cid,
        },
        IpFamily::V4,
    )
}

fn announce_reply(tid: u32) -> Vec<u8> {
    encode_response(
        &Response::Announce {
            transaction_id: tid,
            response: AnnounceResponse {
                interval: Some(Duration::from_secs(900)),
                seeders: Some(2),
                leechers: Some(1),
                peers: vec!["1.2.3.4:5".parse().unwrap()],
                ..AnnounceResponse::default()
            },
        },
        IpFamily::V4,
    )
}

#[test]
fn connect_then_announce() {
    let t0 = Instant::now();
    let mut x = exchange();
    assert_eq!(x.poll_transmit(t0), None, "nothing to do before a request");
    x.start(UdpRequest::Announce(request()));
    let connect = x.poll_transmit(t0).unwrap();
    assert_eq!(connect.len(), 16);
    assert_eq!(x.poll_transmit(t0), None, "one packet in flight");
    assert_eq!(x.poll_timeout(), Some(t0 + Duration::from_secs(15)));
    // A reply with another transaction id is ignored.
    assert_eq!(
        x.handle_datagram(t0, &connect_reply(tid(&connect).wrapping_add(1), 1)),
        None
    );
    assert_eq!(x.handle_datagram(t0, &connect_reply(tid(&connect), 0xC1D)), None);
    let announce = x.poll_transmit(t0).unwrap();
    assert_eq!(announce.len(), 98);
    assert_eq!(announce[0..8], 0xC1Du64.to_be_bytes());
    assert_ne!(tid(&announce), tid(&connect));
    let event = x.handle_datagram(t0, &announce_reply(tid(&announce))).unwrap();
    let UdpEvent::Announced(r) = event else {
        panic!("{event:?}")
    };
    assert_eq!(
        (r.interval, r.seeders, r.leechers),
        (Some(Duration::from_secs(900)), Some(2), Some(1))
    );
    assert_eq!(r.peers, vec!["1.2.3.4:5".parse().unwrap()]);
    assert!(x.is_idle());
    assert_eq!(x.poll_timeout(), None);

    // A scrape within the minute reuses the connection id; after it, a connect again.
    x.start(UdpRequest::Scrape(vec![InfoHash([1; 20])]));
    let scrape = x.poll_transmit(t0 + Duration::from_secs(59)).unwrap();
    assert_eq!(scrape.len(), 36);
    let reply = encode_response(
        &Response::Scrape {
            transaction_id: tid(&scrape),
            stats: vec![ScrapeStats {
                seeders: 4,
                completed: 5,
                leechers: 6,
            }],
        },
        IpFamily::V4,
    );
    assert_eq!(
        x.handle_datagram(t0, &reply),
        Some(UdpEvent::Scraped(vec![ScrapeStats {
            seeders: 4,
            completed: 5,
            leechers: 6
        }]))
    );
    x.start(UdpRequest::Announce(request()));
    assert_eq!(x.poll_transmit(t0 + Duration::from_secs(60)).unwrap().len(), 16);
}

/// Drives `x` with no answers from `start` until it gives up; returns the times of
/// the transmissions and the packet sizes.
fn run_silent(x: &mut UdpTrackerExchange, start: Instant) -> (Vec<u64>, Vec<usize>, Option<UdpEvent>) {
    let (mut times, mut sizes) = (Vec::new(), Vec::new());
    let mut now = start;
    for _ in 0..100 {
        if let Some(p) = x.poll_transmit(now) {
            times.push((now - start).as_secs());
            sizes.push(p.len());
        }
        let Some(at) = x.poll_timeout() else { break };
        now = at;
        if let Some(e) = x.handle_timeout(now) {
            return (times, sizes, Some(e));
        }
    }
    (times, sizes, None)
}

#[test]
fn connect_retransmission_schedule_then_give_up() {
    let t0 = Instant::now();
    let mut x = exchange();
    x.start(UdpRequest::Announce(request()));
    let (times, sizes, event) = run_silent(&mut x, t0);
    // 15 * 2^n after each, n = 0..=8, as in BEP 15's "connect times out" example.
    assert_eq!(times, vec![0, 15, 45, 105, 225, 465, 945, 1905, 3825]);
    assert!(sizes.iter().all(|&s| s == 16));
    assert_eq!(event, Some(UdpEvent::Failed(TrackerError::TimedOut { attempts: 9 })));
    assert!(x.is_idle());
    assert_eq!(x.poll_timeout(), None);
}

#[test]
fn announce_retransmission_reconnects_when_the_id_expires() {
    // BEP 15's "announce times out" example: 0 connect, 1 reply, 2 announce, 17, 47,
    // then at 107 a connect because the id from t=1 expired at 61, then 227.
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut x = exchange();
    x.start(UdpRequest::Announce(request()));
    let connect = x.poll_transmit(at(0)).unwrap();
    assert_eq!(x.handle_datagram(at(1), &connect_reply(tid(&connect), 77)), None);
    // The caller sends at its own pace; the id was stamped at t=1.
    let first = x.poll_transmit(at(2)).unwrap();
    assert_eq!(first.len(), 98);
    let (times, sizes, event) = run_silent(&mut x, at(2));
    let times: Vec<u64> = times.iter().map(|t| t + 2).collect();
    assert_eq!(times, vec![17, 47, 107, 227, 467, 947, 1907, 3827]);
    assert_eq!(sizes, vec![98, 98, 16, 16, 16, 16, 16, 16]);
    assert_eq!(event, Some(UdpEvent::Failed(TrackerError::TimedOut { attempts: 10 })));
}

#[test]
fn a_late_reply_to_a_retransmitted_packet_is_accepted() {
    let t0 = Instant::now();
    let mut x = exchange();
    x.start(UdpRequest::Announce(request()));
    let first = x.poll_transmit(t0).unwrap();
    assert_eq!(x.handle_timeout(t0 + Duration::from_secs(15)), None);
    let second = x.poll_transmit(t0 + Duration::from_secs(15)).unwrap();
    assert_eq!(tid(&first), tid(&second));
    assert_eq!(x.poll_timeout(), Some(t0 + Duration::from_secs(45)));
    assert_eq!(x.handle_datagram(t0, &connect_reply(tid(&first), 3)), None);
    assert_eq!(x.poll_transmit(t0 + Duration::from_secs(16)).unwrap().len(), 98);
}

#[test]
fn errors_and_wrong_actions_end_the_request() {
    let t0 = Instant::now();
    let mut x = exchange();
    x.start(UdpRequest::Announce(request()));
    let connect = x.poll_transmit(t0).unwrap();
    let error = encode_response(
        &Response::Error {
            transaction_id: tid(&connect),
            message: "go away".into(),
        },
        IpFamily::V4,
    );
    assert_eq!(
        x.handle_datagram(t0, &error),
        Some(UdpEvent::Failed(TrackerError::Failure("go away".into())))
    );
    assert!(x.is_idle());

    x.start(UdpRequest::Announce(request()));
    let connect = x.poll_transmit(t0).unwrap();
    // An announce response while connecting: right id, wrong action.
    let event = x.handle_datagram(t0, &announce_reply(tid(&connect)));
    assert!(
        matches!(event, Some(UdpEvent::Failed(TrackerError::BadPacket { .. }))),
        "{event:?}"
    );

    x.start(UdpRequest::Announce(request()));
    let connect = x.poll_transmit(t0).unwrap();
    x.handle_datagram(t0, &connect_reply(tid(&connect), 1));
    let announce = x.poll_transmit(t0).unwrap();
    let mut ragged = announce_reply(tid(&announce));
    ragged.push(0);
    assert!(matches!(
        x.handle_datagram(t0, &ragged),
        Some(UdpEvent::Failed(TrackerError::BadPacket { .. }))
    ));
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), n in 0usize..100) {
        let _ = parse_request(&bytes);
        let _ = parse_response(&bytes, IpFamily::V4, n);
        let _ = parse_response(&bytes, IpFamily::V6, n);
    }

    #[test]
    fn exchange_never_panics(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
        let t0 = Instant::now();
        let mut x = exchange();
        x.start(UdpRequest::Scrape(vec![InfoHash([1; 20])]));
        let p = x.poll_transmit(t0).unwrap();
        for mut d in datagrams {
            // Give some of them the right transaction id.
            if d.len() >= 8 && d[0] % 2 == 0 {
                d[4..8].copy_from_slice(&p[12..16]);
            }
            let _ = x.handle_datagram(t0, &d);
            let _ = x.poll_transmit(t0);
        }
    }

    #[test]
    fn announce_request_round_trips(
        hash in any::<[u8; 20]>(), id in any::<[u8; 20]>(), port in any::<u16>(),
        up in any::<u64>(), down in any::<u64>(), left in any::<u64>(), key in any::<u32>(),
        numwant in proptest::option::of(0u32..=i32::MAX as u32), cid in any::<u64>(), tid in any::<u32>(),
    ) {
        let req = AnnounceRequest {
            info_hash: InfoHash(hash), peer_id: PeerId(id), port, uploaded: up, downloaded: down, left,
            event: AnnounceEvent::Completed, numwant, key, tracker_id: None,
        };
        let parsed = parse_request(&announce_request(cid, tid, &req)).unwrap();
        prop_assert_eq!(parsed, Request::Announce { connection_id: cid, transaction_id: tid, request: req });
    }

    #[test]
    fn announce_response_round_trips(
        peers in proptest::collection::vec((any::<[u8; 4]>(), 1u16..), 0..100),
        interval in 0u32..=i32::MAX as u32, seeders in 0u32..=i32::MAX as u32, tid in any::<u32>(),
    ) {
        let response = AnnounceResponse {
            interval: Some(Duration::from_secs(u64::from(interval))),
            seeders: Some(seeders),
            leechers: Some(0),
            peers: peers.iter().map(|(ip, port)| SocketAddr::from((*ip, *port))).collect(),
            ..AnnounceResponse::default()
        };
        let r = Response::Announce { transaction_id: tid, response };
        prop_assert_eq!(parse_response(&encode_response(&r, IpFamily::V4), IpFamily::V4, 0).unwrap(), r);
    }
}
