//! TrackerTask against fake HTTP and UDP trackers on 127.0.0.1.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use ccbt_engine::bencode::{encode, Value};
use ccbt_engine::tracker::tiers::AnnouncePolicy;
use ccbt_engine::tracker::udp::{UdpEvent, UdpRequest};
use ccbt_engine::tracker::AnnounceEvent;
use ccbt_engine::{InfoHash, PeerId};

use super::fake::{ok, FakeHttp, FakeUdp, Reply};
use super::*;

const HASH: InfoHash = InfoHash([0xAB; 20]);
const PEER_ID: PeerId = PeerId(*b"-CB0100-testtesttest");

use crate::test_executor::run;

/// Intervals of a second so the test sees a re-announce.
fn fast_options() -> TrackerOptions {
    TrackerOptions {
        policy: AnnouncePolicy {
            min_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(1),
            ..AnnouncePolicy::default()
        },
        http_timeout: Duration::from_millis(500),
        udp_timeout: Duration::from_secs(2),
        stop_timeout: Duration::from_secs(2),
        ..TrackerOptions::default()
    }
}

fn config(tiers: Vec<Vec<String>>) -> TrackerConfig {
    TrackerConfig {
        info_hash: HASH,
        peer_id: PEER_ID,
        port: 6881,
        tiers,
        numwant: 50,
    }
}

type Peers = Rc<RefCell<Vec<SocketAddr>>>;

fn start(tiers: Vec<Vec<String>>, left: u64) -> (Rc<TrackerTask>, Peers) {
    let peers: Peers = Rc::default();
    let sink = peers.clone();
    let task = TrackerTask::start_with(
        config(tiers),
        fast_options(),
        Rc::new(move || AnnounceProgress {
            uploaded: 1,
            downloaded: 2,
            left,
        }),
        Rc::new(move |p| sink.borrow_mut().extend(p)),
    );
    (task, peers)
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
}

fn announce_body(interval: i64) -> Vec<u8> {
    encode(&Value::dict([
        ("complete", Value::Int(4)),
        ("incomplete", Value::Int(5)),
        ("interval", Value::Int(interval)),
        ("peers", Value::Bytes(vec![10, 0, 0, 1, 0x1A, 0xE2])),
    ]))
}

fn scrape_body() -> Vec<u8> {
    let stats = Value::dict([
        ("complete", Value::Int(3)),
        ("downloaded", Value::Int(9)),
        ("incomplete", Value::Int(4)),
    ]);
    let mut files = std::collections::BTreeMap::new();
    files.insert(HASH.0.to_vec(), stats);
    encode(&Value::dict([("files", Value::Dict(files))]))
}

/// The query string of each announce the fake HTTP tracker saw.
fn announces(server: &FakeHttp) -> Vec<String> {
    server
        .heads()
        .iter()
        .filter_map(|h| {
            h.split(' ')
                .nth(1)
                .and_then(|t| t.strip_prefix("/announce?"))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn http_tracker_full_cycle() {
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = times.clone();
    let server = FakeHttp::start(false, move |target| {
        if target.starts_with("/scrape") {
            return ok(&scrape_body());
        }
        seen.lock().unwrap().push(Instant::now());
        ok(&announce_body(1))
    });
    let url = server.url("/announce");
    let heads = server.requests.clone();
    run(move || async move {
        let http = |q: &str| heads.lock().unwrap().iter().filter(|h| h.contains(q)).count();
        let (task, peers) = start(vec![vec![url.clone()]], 100);
        wait_until("the started announce", || http("event=started") == 1).await;
        wait_until("peers", || !peers.borrow().is_empty()).await;
        assert_eq!(peers.borrow()[0], "10.0.0.1:6882".parse::<SocketAddr>().unwrap());
        wait_until("the scrape", || http("GET /scrape?info_hash=") >= 1).await;
        // The scrape (3 seeders) follows the first announce; the re-announce brings 4 again.
        wait_until("a regular re-announce", || {
            http("GET /announce?") >= 2 && task.status()[0].seeders == Some(4)
        })
        .await;
        let status = task.status();
        assert_eq!(status.len(), 1);
        let s = &status[0];
        assert_eq!((s.url.as_str(), s.tier), (url.as_str(), 0));
        assert!(s.last_announce_secs_ago.is_some() && s.peers_received >= 1);
        // Counts from the latest answer: the re-announce (4, 5) came after the scrape (3, 4, 9).
        assert_eq!((s.seeders, s.leechers, s.downloaded), (Some(4), Some(5), Some(9)));
        assert_eq!(s.last_error, None);
        task.completed();
        wait_until("the completed announce", || http("event=completed") == 1).await;
        task.stop().await;
        assert_eq!(http("event=stopped"), 1);
        assert_eq!(http("event=started"), 1);
    });
    let queries = announces(&server);
    let first = &queries[0];
    for param in [
        format!("info_hash={}", "%AB".repeat(20)),
        "peer_id=-CB0100-testtesttest".to_string(),
        "port=6881".into(),
        "uploaded=1".into(),
        "downloaded=2".into(),
        "left=100".into(),
        "compact=1".into(),
        "event=started".into(),
        "numwant=50".into(),
    ] {
        assert!(first.split('&').any(|p| p == param), "{param} missing from {first}");
    }
    let key = first.split('&').find(|p| p.starts_with("key=")).unwrap();
    assert!(queries.iter().all(|q| q.contains(key)), "one key for the session");
    assert!(
        !queries[1].contains("event="),
        "a regular announce has no event: {}",
        queries[1]
    );
    assert!(
        queries.last().unwrap().contains("numwant=0"),
        "stopped asks for no peers"
    );
    let t = times.lock().unwrap();
    assert!(
        t[1] - t[0] >= Duration::from_millis(900),
        "the 1 s interval is honoured: {:?}",
        t[1] - t[0]
    );
}

#[test]
fn failure_reason_is_surfaced_and_the_next_tier_is_used() {
    let refusing = FakeHttp::start(false, |_| ok(b"d14:failure reason11:not allowede"));
    let udp = FakeUdp::start(1, vec!["10.0.0.7:7000".parse().unwrap()]);
    let tiers = vec![vec![refusing.url("/announce")], vec![udp.url()]];
    let announced = udp.announces.clone();
    let scrapes = udp.scrapes.clone();
    run(move || async move {
        let (task, peers) = start(tiers, 0);
        wait_until("the UDP announce", || !announced.lock().unwrap().is_empty()).await;
        wait_until("peers from UDP", || !peers.borrow().is_empty()).await;
        assert_eq!(peers.borrow()[0], "10.0.0.7:7000".parse::<SocketAddr>().unwrap());
        wait_until("the UDP scrape", || *scrapes.lock().unwrap() >= 1).await;
        wait_until("scrape counts", || task.status()[1].downloaded == Some(7)).await;
        let status = task.status();
        let err = status[0].last_error.clone().unwrap();
        assert!(err.contains("not allowed") && err.contains("127.0.0.1"), "{err}");
        assert_eq!(status[0].peers_received, 0);
        assert_eq!((status[1].tier, status[1].last_error.as_ref()), (1, None));
        assert!(status[1].peers_received >= 1);
        task.stop().await;
    });
    let sent = udp.announced();
    let first = &sent[0];
    assert_eq!((first.info_hash, first.peer_id, first.port), (HASH, PEER_ID, 6881));
    assert_eq!((first.uploaded, first.downloaded, first.left), (1, 2, 0));
    assert_eq!((first.event, first.numwant), (AnnounceEvent::Started, Some(50)));
    let last = sent.last().unwrap();
    assert_eq!(
        (last.event, last.numwant, last.key),
        (AnnounceEvent::Stopped, Some(0), first.key)
    );
    assert!(
        refusing.heads().iter().all(|h| !h.contains("event=stopped")),
        "never started there"
    );
}

#[test]
fn a_hung_tracker_times_out_and_does_not_stall_the_next() {
    let hung = FakeHttp::start(false, |_| Reply::Hang(Duration::from_secs(5)));
    let udp = FakeUdp::start(1800, vec!["10.0.0.8:8000".parse().unwrap()]);
    let tiers = vec![vec![hung.url("/announce")], vec![udp.url()]];
    let announced = udp.announces.clone();
    run(move || async move {
        let start_at = Instant::now();
        let (task, _peers) = start(tiers, 5);
        wait_until("the UDP announce", || !announced.lock().unwrap().is_empty()).await;
        assert!(start_at.elapsed() < Duration::from_secs(3), "{:?}", start_at.elapsed());
        let status = task.status();
        assert!(
            status[0].last_error.as_deref().unwrap_or("").contains("timed out"),
            "{status:?}"
        );
        // BEP 12: the next round, after UDP's 1800 s interval, starts with tier 0 again.
        assert!(status[0].next_announce_in_secs.unwrap() > 1700, "{status:?}");
        assert_eq!(status[1].next_announce_in_secs, None);
        task.announce_now();
        glommio::timer::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            announced.lock().unwrap().len(),
            1,
            "min interval respected by announce_now"
        );
        task.stop().await;
    });
}

#[test]
fn no_trackers_and_a_dropped_handle() {
    run(|| async {
        let (task, _) = start(vec![vec!["wss://unsupported".into()]], 0);
        assert!(task.status().is_empty());
        task.stop().await;
        let (task, _) = start(Vec::new(), 0);
        drop(task);
        glommio::timer::sleep(Duration::from_millis(50)).await;
    });
}

#[test]
fn a_closed_udp_port_fails_fast() {
    // Bind and drop to find a port nobody listens on; ICMP port unreachable comes back.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    run(move || async move {
        let url = format!("udp://127.0.0.1:{port}");
        let mut rng = rand::rngs::mock::StepRng::new(1, 1);
        let mut client = udp_client::UdpTrackerClient::connect(&url, &mut rng).await.unwrap();
        let started = Instant::now();
        let err = client
            .request(UdpRequest::Scrape(vec![HASH]), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, TrackerIoError::Io { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn a_silent_udp_tracker_times_out() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("udp://{}", silent.local_addr().unwrap());
    run(move || async move {
        let mut rng = rand::rngs::mock::StepRng::new(1, 1);
        let mut client = udp_client::UdpTrackerClient::connect(&url, &mut rng).await.unwrap();
        let err = client
            .request(UdpRequest::Scrape(vec![HASH]), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, TrackerIoError::Timeout { .. }), "{err}");
    });
    let mut buf = [0u8; 64];
    silent.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert_eq!(silent.recv(&mut buf).unwrap(), 16, "a connect request was sent");
    drop(silent);
}

#[test]
fn a_stray_datagram_keeps_the_receive_posted_for_the_answer() {
    // The tracker first sends a datagram of another transaction, then the answers:
    // the client must skip it and still read the real answer with its receive.
    let tracker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tracker.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let url = format!("udp://{}", tracker.local_addr().unwrap());
    let serve = std::thread::spawn(move || {
        let mut buf = [0u8; 128];
        let (n, from) = tracker.recv_from(&mut buf).unwrap();
        assert_eq!(n, 16, "a connect request");
        let tid = &buf[12..16];
        let mut stray = vec![0, 0, 0, 0];
        stray.extend_from_slice(&[0xEE; 4]);
        stray.extend_from_slice(&[0x11; 8]);
        tracker.send_to(&stray, from).unwrap();
        let mut connected = vec![0, 0, 0, 0];
        connected.extend_from_slice(tid);
        connected.extend_from_slice(&[0x22; 8]);
        tracker.send_to(&connected, from).unwrap();
        let (n, from) = tracker.recv_from(&mut buf).unwrap();
        assert_eq!(n, 16 + 20, "one scrape request");
        assert_eq!(&buf[..8], &[0x22; 8], "the connection id was used");
        let mut scraped = vec![0, 0, 0, 2];
        scraped.extend_from_slice(&buf[12..16]);
        scraped.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 5]);
        tracker.send_to(&scraped, from).unwrap();
    });
    run(move || async move {
        let mut rng = rand::rngs::mock::StepRng::new(1, 1);
        let mut client = udp_client::UdpTrackerClient::connect(&url, &mut rng).await.unwrap();
        let event = client
            .request(UdpRequest::Scrape(vec![HASH]), Duration::from_secs(5))
            .await
            .unwrap();
        let UdpEvent::Scraped(stats) = event else {
            panic!("{event:?}")
        };
        assert_eq!((stats[0].seeders, stats[0].completed, stats[0].leechers), (7, 3, 5));
    });
    serve.join().unwrap();
}

#[test]
fn udp_urls_and_host_ports() {
    assert_eq!(
        udp_client::parse_udp_url("udp://t.example:6969/announce").unwrap(),
        ("t.example".into(), 6969)
    );
    assert_eq!(udp_client::parse_udp_url("UDP://[::1]:80").unwrap(), ("::1".into(), 80));
    for bad in [
        "udp://t.example",
        "udp://:80",
        "http://t:80",
        "udp://t:0",
        "udp://t:65536",
    ] {
        assert!(udp_client::parse_udp_url(bad).is_err(), "{bad}");
    }
    assert_eq!(display_url("http://t/a?passkey=1#x"), "http://t/a");
}

/// Interop with Debian's `opentracker` (whitelist-only build), HTTP and UDP. Needs
/// `/usr/bin/opentracker` (installed by scripts/install-interop-deps.sh) and root (it chroots).
#[test]
fn opentracker_interop() {
    let dir = tempfile::tempdir().unwrap();
    // The whitelist path is relative to the chroot (-d); one hex info-hash per line.
    std::fs::write(dir.path().join("whitelist.txt"), format!("{}\n", HASH.to_hex())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new("/usr/bin/opentracker")
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-P",
            &port.to_string(),
            "-w",
            "whitelist.txt",
        ])
        .arg("-d")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn /usr/bin/opentracker");
    let launched = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(launched.elapsed() < Duration::from_secs(5), "opentracker did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = format!("http://127.0.0.1:{port}/announce");
    let udp = format!("udp://127.0.0.1:{port}/announce");
    let result = std::panic::catch_unwind(move || {
        run(move || async move {
            for url in [http, udp] {
                let (task, peers) = start(vec![vec![url.clone()]], 0);
                wait_until("opentracker peers", || !peers.borrow().is_empty()).await;
                // It lists the announcing peer itself.
                assert!(peers.borrow().contains(&"127.0.0.1:6881".parse().unwrap()), "{url}");
                wait_until("opentracker scrape", || task.status()[0].downloaded.is_some()).await;
                let s = task.status().remove(0);
                assert_eq!((s.seeders, s.last_error.as_ref()), (Some(1), None), "{url}: {s:?}");
                // Its interval is about 1800 s, with jitter.
                assert!(s.next_announce_in_secs.unwrap() >= 1500, "{url}: {s:?}");
                task.stop().await;

                // A hash not on the whitelist is refused: over HTTP with a failure reason,
                // over UDP with a bare 8-byte announce header, which we refuse as too short.
                let refused = TrackerTask::start_with(
                    TrackerConfig {
                        info_hash: InfoHash([0x01; 20]),
                        ..config(vec![vec![url.clone()]])
                    },
                    fast_options(),
                    Rc::new(AnnounceProgress::default),
                    Rc::new(|_| {}),
                );
                wait_until("the refusal", || refused.status()[0].last_error.is_some()).await;
                let err = refused.status()[0].last_error.clone().unwrap();
                let expected = if url.starts_with("udp") {
                    "8 bytes"
                } else {
                    "not authorized"
                };
                assert!(err.contains(expected), "{url}: {err}");
                refused.stop().await;
            }
        });
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A tracker that knows no peer at the first announce and one afterwards (the
/// seeder registered a moment after us), with opentracker's 30 min interval.
fn late_seeder_tracker() -> FakeHttp {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    FakeHttp::start(false, move |target| {
        if target.starts_with("/scrape") {
            return ok(&scrape_body());
        }
        if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            let none = Value::dict([("interval", Value::Int(1800)), ("peers", Value::Bytes(Vec::new()))]);
            return ok(&encode(&none));
        }
        ok(&announce_body(1800))
    })
}

fn starved_options() -> TrackerOptions {
    TrackerOptions {
        policy: AnnouncePolicy {
            starved_retry_base: Duration::from_secs(1),
            ..AnnouncePolicy::default()
        },
        ..fast_options()
    }
}

#[test]
fn a_starved_torrent_finds_a_seeder_that_registered_after_its_first_announce() {
    let server = late_seeder_tracker();
    let url = server.url("/announce");
    run(move || async move {
        let peers: Peers = Rc::default();
        let sink = peers.clone();
        let task = TrackerTask::start_with(
            config(vec![vec![url]]),
            starved_options(),
            Rc::new(|| AnnounceProgress {
                left: 100,
                ..AnnounceProgress::default()
            }),
            Rc::new(move |p| sink.borrow_mut().extend(p)),
        );
        let start = Instant::now();
        task.set_starved(true);
        wait_until("peers from an early re-announce", || !peers.borrow().is_empty()).await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "found within seconds, not the 30 min interval: {:?}",
            start.elapsed()
        );
        task.stop().await;
    });
    assert_eq!(
        announces(&server)
            .iter()
            .filter(|q| !q.contains("event=stopped"))
            .count(),
        2
    );
}

#[test]
fn a_torrent_with_peers_waits_the_trackers_interval() {
    let server = late_seeder_tracker();
    let url = server.url("/announce");
    run(move || async move {
        let task = TrackerTask::start_with(
            config(vec![vec![url]]),
            starved_options(),
            Rc::new(AnnounceProgress::default),
            Rc::new(|_| {}),
        );
        task.set_starved(false);
        glommio::timer::sleep(Duration::from_secs(3)).await;
        task.stop().await;
    });
    let regular = announces(&server)
        .iter()
        .filter(|q| !q.contains("event=stopped"))
        .count();
    assert_eq!(regular, 1, "one announce, then the interval");
}

#[test]
fn tracker_urls_are_checked_and_the_bad_one_is_named() {
    for good in [
        "http://127.0.0.1:6969/announce",
        "HTTPS://tracker.example/announce?x=1",
        "udp://tracker.example:1337/announce",
        "udp://[::1]:80",
    ] {
        assert!(super::check_tracker_url(good).is_ok(), "{good}");
    }
    for bad in [
        "ftp://tracker.example/announce",
        "udp://tracker.example/announce",
        "http://",
        "tracker.example:80",
        "http://user@tracker.example/announce",
    ] {
        let err = super::check_tracker_url(bad).unwrap_err().to_string();
        let shown = bad.split(['?', '#']).next().unwrap();
        assert!(err.contains(shown), "{bad}: {err}");
        assert!(err.contains("bad URL"), "{bad}: {err}");
    }
}
