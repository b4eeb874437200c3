use super::*;
use proptest::prelude::*;

fn v4(a: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, a], port))
}

fn v6(a: u16, port: u16) -> SocketAddr {
    SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, a], port))
}

fn decode(bytes: &[u8]) -> Result<PexMessage, PexError> {
    PexMessage::decode(&Bytes::copy_from_slice(bytes))
}

#[test]
fn encodes_the_bep11_keys_with_compact_entries() {
    let msg = PexMessage {
        added: vec![(v4(1, 6881), FLAG_SEED | FLAG_REACHABLE), (v6(2, 51413), 0)],
        dropped: vec![v4(3, 80)],
    };
    let wire = msg.encode();
    let want: &[u8] = b"d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f1:\x126:added618:\
        \x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\xc8\xd5\
        8:added6.f1:\x007:dropped6:\x0a\x00\x00\x03\x00\x508:dropped60:e";
    assert_eq!(wire, want);
    assert_eq!(decode(&wire), Ok(msg));
}

#[test]
fn libtorrent_style_message_without_flags_decodes_with_zero_flags() {
    let msg = decode(b"d5:added12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe2e").unwrap();
    assert_eq!(
        msg.added,
        vec![
            (SocketAddr::from(([127, 0, 0, 1], 6881)), 0),
            (SocketAddr::from(([127, 0, 0, 2], 6882)), 0)
        ]
    );
    // A flags list of the wrong length is ignored, not trusted.
    let msg = decode(b"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f3:\x02\x02\x02e").unwrap();
    assert_eq!(msg.added[0].1, 0);
    assert_eq!(decode(b"de"), Ok(PexMessage::default()));
}

#[test]
fn hostile_payloads_are_refused_or_bounded() {
    assert!(matches!(decode(b""), Err(PexError::NotADict(_))));
    assert!(matches!(decode(b"li1ee"), Err(PexError::NotADict(_))));
    assert!(matches!(
        decode(b"d5:addedi1ee"),
        Err(PexError::NotAString { key: "added" })
    ));
    assert_eq!(
        decode(b"d7:dropped5:abcdee"),
        Err(PexError::BadLength {
            key: "dropped",
            len: 5,
            entry: 6
        })
    );
    assert!(matches!(
        decode(b"d6:added67:1234567e"),
        Err(PexError::BadLength { .. })
    ));
    // Port 0 and 0.0.0.0 are skipped.
    let msg = decode(b"d5:added12:\x7f\x00\x00\x01\x00\x00\x00\x00\x00\x00\x1a\xe1e").unwrap();
    assert!(msg.added.is_empty(), "{msg:?}");
    // A list longer than the bound is cut.
    let mut many = Vec::new();
    for i in 0..(MAX_DECODED_PER_LIST + 50) {
        many.extend_from_slice(&[10, 1, (i / 256) as u8, (i % 256) as u8, 0x1a, 0xe1]);
    }
    let mut payload = format!("d5:added{}:", many.len()).into_bytes();
    payload.extend_from_slice(&many);
    payload.push(b'e');
    assert_eq!(decode(&payload).unwrap().added.len(), MAX_DECODED_PER_LIST);
}

#[test]
fn send_state_sends_only_the_difference_and_at_most_fifty() {
    let mut state = PexSendState::default();
    let mut current: BTreeMap<SocketAddr, u8> = (0..60u8).map(|i| (v4(i, 7000), FLAG_REACHABLE)).collect();
    let first = state.next_message(&current).unwrap();
    assert_eq!(first.added.len(), MAX_SENT_PER_MESSAGE);
    assert!(first.dropped.is_empty());
    let second = state.next_message(&current).unwrap();
    assert_eq!(second.added.len(), 10, "the rest comes next round");
    assert_eq!(state.next_message(&current), None, "nothing changed");
    current.remove(&v4(5, 7000));
    current.insert(v6(1, 7000), 0);
    let third = state.next_message(&current).unwrap();
    assert_eq!(third.added, vec![(v6(1, 7000), 0)]);
    assert_eq!(third.dropped, vec![v4(5, 7000)]);
    assert_eq!(state.told_count(), 60);
}

#[test]
fn intake_caps_addresses_per_peer_per_interval() {
    let now = Instant::now();
    let mut intake = PexIntake::default();
    let msg = PexMessage {
        added: (0..MAX_DECODED_PER_LIST as u8).map(|i| (v4(i, 7000), 0)).collect(),
        dropped: vec![],
    };
    assert_eq!(intake.accept(&msg, now).len(), 100);
    assert_eq!(intake.accept(&msg, now + Duration::from_secs(1)).len(), 100);
    assert_eq!(
        intake.accept(&msg, now + Duration::from_secs(2)).len(),
        0,
        "over the allowance"
    );
    assert_eq!(intake.ignored, 100);
    assert_eq!(intake.accept(&msg, now + PEX_INTERVAL).len(), 100, "a new interval");
}

fn any_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), 1u16..).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), 1u16..).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
    .prop_filter("specified", |a| !a.ip().is_unspecified())
}

proptest! {
    #[test]
    fn round_trips(
        added in proptest::collection::vec((any_addr(), any::<u8>()), 0..40),
        dropped in proptest::collection::vec(any_addr(), 0..40),
    ) {
        let msg = PexMessage { added, dropped };
        let back = PexMessage::decode(&Bytes::from(msg.encode())).unwrap();
        // Encoding groups IPv4 before IPv6.
        let mut want = msg.clone();
        want.added.sort_by_key(|(a, _)| a.is_ipv6());
        want.dropped.sort_by_key(|a| a.is_ipv6());
        prop_assert_eq!(back, want);
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
        let mut wrapped = b"d5:added".to_vec();
        wrapped.extend_from_slice(&bytes);
        let _ = decode(&wrapped);
    }
}
