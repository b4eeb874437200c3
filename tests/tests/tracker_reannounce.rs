//! A torrent with too few peers asks its tracker again soon, not after the
//! tracker's 30-minute interval: the seeder registers only after the downloader's
//! first announce, and the downloader still finds it within seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccbt_tests::{assert_same_tree, btbt_create, start_seeder, write_random_file, Downloader};

/// An HTTP tracker that gives a 30-minute interval and the peers set so far.
struct LateTracker {
    url: String,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    announces: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for LateTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn compact(peers: &[SocketAddr]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in peers {
        if let SocketAddr::V4(v4) = p {
            out.extend_from_slice(&v4.ip().octets());
            out.extend_from_slice(&v4.port().to_be_bytes());
        }
    }
    out
}

impl LateTracker {
    fn start() -> LateTracker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/announce", listener.local_addr().unwrap());
        let peers: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let announces = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, a, s) = (peers.clone(), announces.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: until dropped, or five minutes.
            for _ in 0..(5 * 60 * 50) {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).ok();
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                if !head.starts_with(b"GET /announce") {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    continue;
                }
                a.fetch_add(1, Ordering::Relaxed);
                let list = compact(&p.lock().unwrap());
                let mut body = format!("d8:intervali1800e5:peers{}:", list.len()).into_bytes();
                body.extend_from_slice(&list);
                body.push(b'e');
                let mut reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                reply.extend_from_slice(&body);
                let _ = stream.write_all(&reply);
            }
        });
        LateTracker {
            url,
            peers,
            announces,
            stop,
        }
    }
}

#[test]
fn a_downloader_finds_a_seeder_that_registered_after_its_first_announce() {
    let tracker = LateTracker::start();
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let content = seed_dir.join("late.bin");
    write_random_file(&content, 1_000_000, 13);
    let torrent = tmp.path().join("late.torrent");
    btbt_create(
        &content,
        &torrent,
        &["--piece-size", "65536", "--tracker", &tracker.url],
    );

    let down_dir = tmp.path().join("down");
    let mut leecher = Downloader::new(&torrent, &down_dir).spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tracker.announces.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the downloader never announced");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Only now does the seeder exist, and the tracker list it.
    let (mut seeder, addr) = start_seeder(&[&torrent], &seed_dir, &[]);
    tracker.peers.lock().unwrap().push(addr.parse().unwrap());

    // The early re-announce comes 15 s after the first; the tracker's interval is 1800 s.
    leecher.wait_success("downloader", Duration::from_secs(90));
    assert_same_tree(&seed_dir, &down_dir);
    assert!(tracker.announces.load(Ordering::Relaxed) >= 2);
    drop(seeder.child.kill());
}
