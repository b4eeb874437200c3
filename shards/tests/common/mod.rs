//! Helpers shared by the shards' integration tests (each `tests/*.rs` is its own
//! crate and includes this with `mod common;`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP tracker on loopback that records each announce's `event` ("" for a
/// plain re-announce) and answers with no peers.
pub struct RecordingTracker {
    pub url: String,
    events: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for RecordingTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl RecordingTracker {
    pub fn start() -> RecordingTracker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/announce", listener.local_addr().unwrap());
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (e, s) = (events.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded: until dropped, or two minutes.
            for _ in 0..(2 * 60 * 50) {
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
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
                if !line.starts_with("GET /announce") {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    continue;
                }
                let event = line
                    .split(['?', '&', ' '])
                    .find_map(|kv| kv.strip_prefix("event="))
                    .unwrap_or("")
                    .to_string();
                e.lock().unwrap().push(event);
                let body = b"d8:intervali1800e5:peers0:e";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        RecordingTracker { url, events, stop }
    }

    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// Waits (bounded) until `event` was announced `times` times.
    pub fn wait_for_event(&self, event: &str, times: usize) {
        for _ in 0..200 {
            if self.events().iter().filter(|e| *e == event).count() >= times {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("not {times} {event:?} announces at {}: {:?}", self.url, self.events());
    }
}
