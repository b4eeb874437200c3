use super::*;
use crate::bencode::encode;
use crate::tracker::AnnounceEvent;
use crate::types::PeerId;
use proptest::prelude::*;

fn request(event: AnnounceEvent) -> AnnounceRequest {
    let mut hash = [0u8; 20];
    for (i, b) in hash.iter_mut().enumerate() {
        *b = (i as u8) * 13;
    }
    AnnounceRequest {
        info_hash: InfoHash(hash),
        peer_id: PeerId(*b"-CB0100-abcdefghij~ "),
        port: 6881,
        uploaded: 10,
        downloaded: 20,
        left: 30,
        event,
        numwant: Some(50),
        key: 0xDEAD_BEEF,
        tracker_id: None,
    }
}

#[test]
fn percent_encodes_binary_bytewise() {
    let mut s = String::new();
    percent_encode(
        &[0x00, 0x12, b'a', b'Z', b'-', b'.', b'_', b'~', b' ', 0xff, b'/'],
        &mut s,
    );
    assert_eq!(s, "%00%12aZ-._~%20%FF%2F");
}

#[test]
fn announce_url_has_every_parameter() {
    let url = announce_url("http://t.example:8080/announce", &request(AnnounceEvent::Started));
    assert_eq!(
        url,
        "http://t.example:8080/announce?info_hash=%00%0D%1A%274AN%5Bhu%82%8F%9C%A9%B6%C3%D0%DD%EA%F7\
         &peer_id=-CB0100-abcdefghij~%20&port=6881&uploaded=10&downloaded=20&left=30&compact=1\
         &event=started&numwant=50&key=DEADBEEF"
    );
}

#[test]
fn announce_url_keeps_query_and_drops_fragment() {
    let mut req = request(AnnounceEvent::None);
    req.numwant = None;
    req.tracker_id = Some(b"id 1".to_vec());
    let url = announce_url("https://t/a?passkey=abc#frag", &req);
    assert!(url.starts_with("https://t/a?passkey=abc&info_hash="), "{url}");
    assert!(!url.contains("event="), "a regular announce omits event: {url}");
    assert!(!url.contains("numwant"));
    assert!(url.ends_with("&trackerid=id%201"), "{url}");
    assert!(!url.contains('#'));
    for (base, prefix) in [
        ("http://t/a?", "http://t/a?info_hash="),
        ("http://t/a?x=1&", "http://t/a?x=1&info_hash="),
    ] {
        assert!(announce_url(base, &req).starts_with(prefix));
    }
    for (event, name) in [
        (AnnounceEvent::Completed, "completed"),
        (AnnounceEvent::Stopped, "stopped"),
    ] {
        assert!(announce_url("http://t/a", &request(event)).contains(&format!("&event={name}&")));
    }
}

#[test]
fn scrape_url_per_bep48() {
    assert_eq!(
        scrape_url("http://example.com/announce").as_deref(),
        Some("http://example.com/scrape")
    );
    assert_eq!(
        scrape_url("http://example.com/x/announce").as_deref(),
        Some("http://example.com/x/scrape")
    );
    assert_eq!(
        scrape_url("http://example.com/announce.php").as_deref(),
        Some("http://example.com/scrape.php")
    );
    assert_eq!(
        scrape_url("http://example.com/announce?x2%0644").as_deref(),
        Some("http://example.com/scrape?x2%0644")
    );
    assert_eq!(scrape_url("http://example.com/a"), None);
    assert_eq!(scrape_url("http://example.com/announce/x"), None);
    assert_eq!(scrape_url("http://example.com/x%064announce"), None);
    assert_eq!(scrape_url("http://announce"), None);
    assert_eq!(scrape_url("nonsense"), None);
}

#[test]
fn scrape_request_url_repeats_info_hash() {
    let a = InfoHash([0xaa; 20]);
    let b = InfoHash([b'b'; 20]);
    let url = scrape_request_url("http://t/scrape?k=1", &[a, b]);
    assert_eq!(
        url,
        format!(
            "http://t/scrape?k=1&info_hash={}&info_hash={}",
            "%AA".repeat(20),
            "b".repeat(20)
        )
    );
    assert_eq!(
        scrape_request_url("http://t/scrape", &[b]),
        format!("http://t/scrape?info_hash={}", "b".repeat(20))
    );
}

#[test]
fn parses_compact_response_with_unsorted_keys() {
    let body = b"d8:intervali1800e12:min intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x50\
8:completei5e10:incompletei7e10:tracker id3:abc15:warning message4:slow6:peers618:\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1f\x90e";
    let r = parse_announce_response(body).unwrap();
    assert_eq!(r.interval, Some(Duration::from_secs(1800)));
    assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
    assert_eq!(r.seeders, Some(5));
    assert_eq!(r.leechers, Some(7));
    assert_eq!(r.tracker_id.as_deref(), Some(&b"abc"[..]));
    assert_eq!(r.warning.as_deref(), Some("slow"));
    let want: Vec<SocketAddr> = vec![
        "127.0.0.1:6881".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        "[::1]:8080".parse().unwrap(),
    ];
    assert_eq!(r.peers, want);
}

#[test]
fn parses_dictionary_model_peers() {
    let peer = |ip: &str, port: i64| {
        Value::dict([
            ("ip", Value::string(ip)),
            ("peer id", Value::Bytes(vec![1; 20])),
            ("port", Value::Int(port)),
        ])
    };
    let body = encode(&Value::dict([
        ("interval", Value::Int(900)),
        (
            "peers",
            Value::List(vec![
                peer("1.2.3.4", 1000),
                peer("::2", 2000),
                peer("tracker.example", 3000),
                peer("5.6.7.8", 0),
                peer("5.6.7.8", 70000),
                Value::Int(3),
            ]),
        ),
    ]));
    let r = parse_announce_response(&body).unwrap();
    assert_eq!(
        r.peers,
        vec!["1.2.3.4:1000".parse().unwrap(), "[::2]:2000".parse().unwrap()]
    );
    assert_eq!(r.seeders, None);
}

#[test]
fn failure_reason_is_an_error_naming_it() {
    let err = parse_announce_response(b"d14:failure reason24:torrent not on whiteliste").unwrap_err();
    assert_eq!(err, TrackerError::Failure("torrent not on whitelist".into()));
    assert!(err.to_string().contains("torrent not on whitelist"));
    let err = parse_scrape_response(b"d14:failure reason4:nopee").unwrap_err();
    assert_eq!(err, TrackerError::Failure("nope".into()));
}

#[test]
fn malformed_responses_are_errors() {
    assert_eq!(parse_announce_response(b"le").unwrap_err(), TrackerError::NotADict);
    assert!(matches!(
        parse_announce_response(b"<html>"),
        Err(TrackerError::Bencode(_))
    ));
    assert!(matches!(
        parse_announce_response(b"d5:peers5:abcdee"),
        Err(TrackerError::BadField { field: "peers", .. })
    ));
    assert!(matches!(
        parse_announce_response(b"d6:peers65:abcdee"),
        Err(TrackerError::BadField { field: "peers6", .. })
    ));
    assert!(matches!(
        parse_announce_response(b"d8:intervali-1ee"),
        Err(TrackerError::BadField { field: "interval", .. })
    ));
    assert!(matches!(
        parse_announce_response(b"d8:interval2:10e"),
        Err(TrackerError::BadField { field: "interval", .. })
    ));
    assert!(matches!(
        parse_announce_response(b"d5:peersi1ee"),
        Err(TrackerError::BadField { field: "peers", .. })
    ));
    // Duplicate keys are still refused even though order is not checked.
    assert!(matches!(
        parse_announce_response(b"d1:ai1e1:ai2ee"),
        Err(TrackerError::Bencode(_))
    ));
}

#[test]
fn peers_are_capped() {
    let compact: Vec<u8> = (0..MAX_PEERS_PER_RESPONSE + 100)
        .flat_map(|i| {
            let i = i as u32;
            let mut p = i.to_be_bytes().to_vec();
            p.extend_from_slice(&[0x1a, 0xe1]);
            p
        })
        .collect();
    let body = encode(&Value::dict([
        ("peers", Value::Bytes(compact)),
        ("peers6", Value::Bytes(vec![1; 18 * 10])),
    ]));
    let r = parse_announce_response(&body).unwrap();
    assert_eq!(r.peers.len(), MAX_PEERS_PER_RESPONSE);
}

#[test]
fn parses_scrape_response() {
    let body = b"d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei11e10:downloadedi13772e10:incompletei19ee\
20:yyyyyyyyyyyyyyyyyyyyd8:completei21e10:downloadedi206e10:incompletei20ee3:badd8:completei1eeee";
    let r = parse_scrape_response(body).unwrap();
    assert_eq!(
        r,
        vec![
            (
                InfoHash([b'x'; 20]),
                ScrapeStats {
                    seeders: 11,
                    completed: 13772,
                    leechers: 19
                }
            ),
            (
                InfoHash([b'y'; 20]),
                ScrapeStats {
                    seeders: 21,
                    completed: 206,
                    leechers: 20
                }
            ),
        ]
    );
    assert!(matches!(
        parse_scrape_response(b"de"),
        Err(TrackerError::BadField { field: "files", .. })
    ));
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_announce_response(&bytes);
        let _ = parse_scrape_response(&bytes);
    }

    #[test]
    fn parsers_never_panic_on_tracker_shaped_input(
        peers in proptest::collection::vec(any::<u8>(), 0..64),
        interval in any::<i64>(),
        complete in any::<i64>(),
    ) {
        let body = encode(&Value::dict([
            ("complete", Value::Int(complete)),
            ("interval", Value::Int(interval)),
            ("peers", Value::Bytes(peers.clone())),
            ("peers6", Value::Bytes(peers)),
        ]));
        let _ = parse_announce_response(&body);
    }

    #[test]
    fn compact_peers_round_trip(addrs in proptest::collection::vec((any::<[u8; 4]>(), 1u16..), 0..50)) {
        let mut compact = Vec::new();
        for (ip, port) in &addrs {
            compact.extend_from_slice(ip);
            compact.extend_from_slice(&port.to_be_bytes());
        }
        let r = parse_announce_response(&encode(&Value::dict([("peers", Value::Bytes(compact))]))).unwrap();
        let want: Vec<SocketAddr> = addrs.iter().map(|(ip, port)| SocketAddr::from((*ip, *port))).collect();
        prop_assert_eq!(r.peers, want);
    }

    #[test]
    fn info_hash_survives_percent_encoding(hash in any::<[u8; 20]>()) {
        let mut s = String::new();
        percent_encode(&hash, &mut s);
        let mut decoded = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                decoded.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                decoded.push(b[i]);
                i += 1;
            }
        }
        prop_assert_eq!(decoded, hash.to_vec());
    }
}
