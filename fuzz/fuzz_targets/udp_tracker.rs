//! UDP tracker protocol (BEP 15): response and request packets, and the client's
//! request/retransmission state machine fed hostile datagrams.
//!
//! Input layout: byte 0 picks options (bit 0: IPv6; bit 1: a scrape rather than an
//! announce; bit 2: stamp each datagram with the outstanding transaction id so it
//! reaches the state machine's deeper states), byte 1 the scrape count; the rest is a
//! packet for the parsers and, cut at length bytes, a sequence of datagrams.
//!
//! Properties: nothing panics; no allocation is sized by a claimed length; bounds hold
//! (peer and scrape counts, message length); a parsed packet, re-encoded and parsed
//! again, is stable; every packet the client sends parses as a valid request; the
//! exchange ends each request at most once and is idle after it ends.

#![no_main]

use std::time::{Duration, Instant};

use ccbt_engine::tracker::udp::{
    announce_request, connect_request, encode_response, parse_request, parse_response, scrape_request, IpFamily,
    Request, Response, UdpEvent, UdpRequest, UdpTrackerExchange, MAX_SCRAPE_HASHES,
};
use ccbt_engine::tracker::{AnnounceEvent, AnnounceRequest, MAX_MESSAGE_LEN, MAX_PEERS_PER_RESPONSE};
use ccbt_engine::{InfoHash, PeerId};
use ccbt_fuzz::assert_bounded_allocation;
use libfuzzer_sys::fuzz_target;
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn check_response(r: &Response, scrape_count: usize) {
    match r {
        Response::Announce { response, .. } => {
            assert!(response.peers.len() <= MAX_PEERS_PER_RESPONSE);
            assert!(response.peers.iter().all(|p| p.port() != 0));
        }
        Response::Scrape { stats, .. } => {
            assert!(stats.len() <= MAX_SCRAPE_HASHES);
            assert!(
                stats.len() >= scrape_count.min(MAX_SCRAPE_HASHES),
                "fewer counts than asked"
            );
        }
        Response::Error { message, .. } => assert!(message.len() <= 3 * MAX_MESSAGE_LEN),
        Response::Connect { .. } => {}
    }
}

fn encode_request(r: &Request) -> Vec<u8> {
    match r {
        Request::Connect { transaction_id } => connect_request(*transaction_id).to_vec(),
        Request::Announce {
            connection_id,
            transaction_id,
            request,
        } => announce_request(*connection_id, *transaction_id, request).to_vec(),
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => scrape_request(*connection_id, *transaction_id, info_hashes),
    }
}

fn check_codecs(packet: &[u8], family: IpFamily, scrape_count: usize) {
    let parsed = assert_bounded_allocation("udp::parse_response", packet.len(), || {
        parse_response(packet, family, scrape_count)
    });
    if let Ok(r1) = parsed {
        check_response(&r1, scrape_count);
        // The first re-encoding normalises (negative counts become 0, text is cut);
        // from then on a parse/encode cycle must change nothing.
        let r2 = parse_response(&encode_response(&r1, family), family, scrape_count).expect("re-encoded response");
        let r3 = parse_response(&encode_response(&r2, family), family, scrape_count).expect("re-encoded twice");
        assert_eq!(r2, r3, "response parse/encode is stable");
    }
    if let Ok(req) = assert_bounded_allocation("udp::parse_request", packet.len(), || parse_request(packet)) {
        let again = parse_request(&encode_request(&req)).expect("re-encoded request");
        let stable = parse_request(&encode_request(&again)).expect("re-encoded request twice");
        assert_eq!(again, stable, "request parse/encode is stable");
    }
}

fn announce() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: InfoHash([7; 20]),
        peer_id: PeerId([9; 20]),
        downloaded: 1,
        left: 2,
        uploaded: 3,
        event: AnnounceEvent::Started,
        key: 4,
        numwant: Some(50),
        port: 6881,
        tracker_id: None,
    }
}

/// Runs one request against `datagrams`, timing out whenever a datagram's first byte
/// says so, and checks the exchange's contract.
fn check_exchange(datagrams: &[u8], family: IpFamily, scrape: Option<usize>, stamp: bool) {
    let mut rng = SmallRng::seed_from_u64(1);
    let mut exchange = UdpTrackerExchange::new(family, &mut rng);
    let request = match scrape {
        Some(n) => UdpRequest::Scrape((0..n).map(|i| InfoHash([i as u8; 20])).collect()),
        None => UdpRequest::Announce(announce()),
    };
    exchange.start(request);
    let start = Instant::now();
    let mut now = start;
    let mut transaction = None;
    let mut rest = datagrams;
    // Each round consumes at least one byte, so this bounds the loop.
    for _ in 0..=datagrams.len() {
        if let Some(packet) = exchange.poll_transmit(now) {
            let parsed = parse_request(&packet).expect("the client sends valid requests");
            transaction = Some(match parsed {
                Request::Connect { transaction_id }
                | Request::Announce { transaction_id, .. }
                | Request::Scrape { transaction_id, .. } => transaction_id,
            });
            assert!(
                exchange.poll_timeout().is_some_and(|t| t > now),
                "a sent packet arms a timer"
            );
        }
        let Some((&len, tail)) = rest.split_first() else {
            break;
        };
        let (datagram, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let event = if len == 0 {
            let deadline = exchange.poll_timeout();
            now = deadline.unwrap_or(now + Duration::from_secs(1));
            exchange.handle_timeout(now)
        } else {
            let mut datagram = datagram.to_vec();
            if let (true, Some(tid), Some(slot)) = (stamp, transaction, datagram.get_mut(4..8)) {
                slot.copy_from_slice(&tid.to_be_bytes());
            }
            exchange.handle_datagram(now, &datagram)
        };
        match &event {
            None => {}
            Some(UdpEvent::Announced(r)) => assert!(scrape.is_none() && r.peers.len() <= MAX_PEERS_PER_RESPONSE),
            Some(UdpEvent::Scraped(stats)) => assert!(scrape.is_some_and(|n| stats.len() <= n)),
            Some(UdpEvent::Failed(_)) => {}
        }
        if event.is_some() {
            assert!(exchange.is_idle(), "a request that ended leaves the exchange idle");
            assert!(exchange.poll_transmit(now).is_none() && exchange.poll_timeout().is_none());
            break;
        }
    }
    assert!(
        now.duration_since(start) < Duration::from_secs(24 * 3600),
        "the schedule is bounded"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&[options, count], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let family = if options & 1 == 1 { IpFamily::V6 } else { IpFamily::V4 };
    let scrape_count = usize::from(count) % (MAX_SCRAPE_HASHES + 8);
    check_codecs(rest, family, scrape_count);
    let scrape = (options & 2 == 2).then_some(scrape_count.max(1));
    check_exchange(rest, family, scrape, options & 4 == 4);
});
