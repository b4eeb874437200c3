use super::*;
use proptest::prelude::*;

const HOST: &str = "239.192.152.143:6771";

fn hash(i: u8) -> InfoHash {
    InfoHash([i; 20])
}

#[test]
fn encodes_the_bep14_form() {
    let a = LsdAnnounce {
        port: 6881,
        info_hashes: vec![hash(0xab)],
        cookie: Some("c00k1e".to_owned()),
    };
    let text = String::from_utf8(a.encode(HOST)).unwrap();
    assert_eq!(
        text,
        "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\
         Infohash: abababababababababababababababababababab\r\ncookie: c00k1e\r\n\r\n\r\n"
    );
    assert_eq!(LsdAnnounce::decode(text.as_bytes()), Ok(a));
}

#[test]
fn decodes_libtorrent_style_announces_with_several_hashes() {
    // libtorrent writes upper-case hex and capitalised header names.
    let datagram = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\n\
        Infohash: ABABABABABABABABABABABABABABABABABABABAB\r\n\
        INFOHASH: 0101010101010101010101010101010101010101\r\n\
        X-Other: whatever\r\ncookie: 4242\r\n\r\n\r\n";
    let a = LsdAnnounce::decode(datagram).unwrap();
    assert_eq!(a.port, 51413);
    assert_eq!(a.info_hashes, vec![hash(0xab), hash(1)]);
    assert_eq!(a.cookie.as_deref(), Some("4242"));
}

#[test]
fn hostile_datagrams_are_refused_with_a_reason() {
    let ok_hash = "Infohash: 0101010101010101010101010101010101010101\r\n";
    let dg = |body: &str| format!("BT-SEARCH * HTTP/1.1\r\n{body}\r\n\r\n");
    assert_eq!(
        LsdAnnounce::decode(&[b'x'; MAX_DATAGRAM + 1]),
        Err(LsdError::TooLarge(1401))
    );
    assert_eq!(LsdAnnounce::decode(b"\xff\xfe"), Err(LsdError::NotText));
    assert_eq!(
        LsdAnnounce::decode(b"GET / HTTP/1.1\r\n\r\n"),
        Err(LsdError::NotBtSearch)
    );
    assert_eq!(LsdAnnounce::decode(b""), Err(LsdError::NotBtSearch));
    assert_eq!(LsdAnnounce::decode(dg(ok_hash).as_bytes()), Err(LsdError::BadPort));
    assert_eq!(
        LsdAnnounce::decode(dg(&format!("Port: 0\r\n{ok_hash}")).as_bytes()),
        Err(LsdError::BadPort)
    );
    assert_eq!(
        LsdAnnounce::decode(dg(&format!("Port: 99999\r\n{ok_hash}")).as_bytes()),
        Err(LsdError::BadPort)
    );
    assert_eq!(
        LsdAnnounce::decode(dg("Port: 1\r\n").as_bytes()),
        Err(LsdError::NoInfoHash)
    );
    assert!(matches!(
        LsdAnnounce::decode(dg("Port: 1\r\nInfohash: xyz\r\n").as_bytes()),
        Err(LsdError::BadInfoHash(_))
    ));
    assert!(matches!(
        LsdAnnounce::decode(dg(&format!("Port: 1\r\nInfohash: {}\r\n", "g".repeat(40))).as_bytes()),
        Err(LsdError::BadInfoHash(_))
    ));
    let many_lines = "X: y\r\n".repeat(MAX_LINES + 1);
    assert_eq!(
        LsdAnnounce::decode(dg(&format!("Port: 1\r\n{ok_hash}{many_lines}")).as_bytes()),
        Err(LsdError::TooManyLines)
    );
    // Hashes past the bound are ignored, not an error (25 lines fit in a datagram).
    let hashes: String = (0..25).map(|_| ok_hash).collect();
    let a = LsdAnnounce::decode(dg(&format!("Port: 1\r\n{hashes}")).as_bytes()).unwrap();
    assert_eq!(a.info_hashes.len(), 25);
}

#[test]
fn schedule_batches_announces_and_repeats_them_every_interval() {
    let now = Instant::now();
    let mut s = LsdSchedule::new();
    let torrents: Vec<InfoHash> = (0..30).map(hash).collect();
    let first = s.due(&torrents, 6881, "ck", now);
    assert_eq!(first.len(), 2, "30 hashes in batches of 20");
    assert_eq!(first[0].info_hashes.len(), MAX_HASHES_PER_ANNOUNCE);
    assert_eq!(first[1].info_hashes.len(), 10);
    assert!(first.iter().all(|a| a.encode(HOST).len() <= MAX_DATAGRAM));
    assert!(s.due(&torrents, 6881, "ck", now + Duration::from_secs(60)).is_empty());
    // A new torrent is announced at once, alone.
    let mut more = torrents.clone();
    more.push(hash(200));
    let second = s.due(&more, 6881, "ck", now + Duration::from_secs(61));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].info_hashes, vec![hash(200)]);
    let again = s.due(&more, 6881, "ck", now + ANNOUNCE_INTERVAL);
    assert_eq!(again.iter().map(|a| a.info_hashes.len()).sum::<usize>(), 30);
}

#[test]
fn schedule_spreads_thousands_of_torrents_over_rounds() {
    let now = Instant::now();
    let mut s = LsdSchedule::new();
    let torrents: Vec<InfoHash> = (0..500u32)
        .map(|i| {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            InfoHash(h)
        })
        .collect();
    let mut announced = 0;
    for round in 0..10 {
        let due = s.due(&torrents, 1, "c", now + Duration::from_secs(round));
        assert!(due.len() <= MAX_DATAGRAMS_PER_ROUND);
        announced += due.iter().map(|a| a.info_hashes.len()).sum::<usize>();
    }
    assert_eq!(announced, 500, "every torrent announced once over the rounds");
}

proptest! {
    #[test]
    fn round_trips(port in 1u16.., hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..20), cookie in "[a-z0-9]{0,16}") {
        let a = LsdAnnounce {
            port,
            info_hashes: hashes.into_iter().map(InfoHash).collect(),
            cookie: (!cookie.is_empty()).then_some(cookie),
        };
        prop_assert_eq!(LsdAnnounce::decode(&a.encode(HOST)), Ok(a));
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = LsdAnnounce::decode(&bytes);
        let mut wrapped = b"BT-SEARCH * HTTP/1.1\r\n".to_vec();
        wrapped.extend_from_slice(&bytes);
        let _ = LsdAnnounce::decode(&wrapped);
    }
}

#[test]
fn intake_hands_on_new_peers_within_a_rate_and_skips_repeats() {
    let now = Instant::now();
    let mut intake = LsdIntake::new();
    let peer = |i: u16| std::net::SocketAddr::from(([192, 168, 1, 2], 6000 + i));
    assert!(intake.accept(peer(1), hash(1), now));
    assert!(
        !intake.accept(peer(1), hash(1), now + Duration::from_secs(2)),
        "a repeat"
    );
    assert!(
        intake.accept(peer(1), hash(2), now + Duration::from_secs(2)),
        "another torrent"
    );
    assert!(
        intake.accept(peer(1), hash(1), now + REPEAT_WINDOW),
        "the window passed"
    );
    let later = now + Duration::from_secs(600);
    let taken = (0..100)
        .filter(|i| intake.accept(peer(100 + i), hash(1), later))
        .count();
    assert_eq!(taken, MAX_ACCEPTED_PER_SECOND as usize, "a flood is cut at the rate");
    assert!(intake.accept(peer(500), hash(1), later + Duration::from_secs(1)));
    assert_eq!(intake.ignored, 1 + 100 - MAX_ACCEPTED_PER_SECOND as u64);
}
