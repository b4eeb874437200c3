//! A reader of `GET /api/v1/events` (Server-Sent Events): one connection, read by
//! a thread that decodes the chunked body and hands each event's JSON over.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The events a daemon published since the reader connected.
pub struct EventReader {
    events: Receiver<Value>,
    stream: TcpStream,
    /// Every event received so far, for failure messages.
    pub seen: Vec<Value>,
}

impl EventReader {
    /// Connects to `127.0.0.1:api_port` and checks the answer is a 200 event stream.
    pub fn connect(api_port: u16, token: &str) -> EventReader {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, api_port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the API");
        stream
            .write_all(
                format!(
                    "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
                )
                .as_bytes(),
            )
            .expect("send the events request");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().expect("clone the events socket"));
        let mut head = String::new();
        let mut chunked = false;
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read the events answer's head");
            assert!(n > 0, "the events stream closed in its head: {head}");
            if line.to_ascii_lowercase().starts_with("transfer-encoding:")
                && line.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "GET /api/v1/events: {head}");
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "an event stream: {head}"
        );
        stream.set_read_timeout(None).unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            let mut body = Vec::new();
            let mut buf = Vec::new();
            loop {
                let ok = if chunked {
                    read_chunk(&mut reader, &mut body)
                } else {
                    let mut piece = [0u8; 4096];
                    match reader.read(&mut piece) {
                        Ok(0) | Err(_) => false,
                        Ok(n) => {
                            body.extend_from_slice(&piece[..n]);
                            true
                        }
                    }
                };
                if !ok {
                    return;
                }
                buf.append(&mut body);
                // One event ends with an empty line; take each data line's JSON.
                while let Some(end) = find(&buf, b"\n\n") {
                    let event: Vec<u8> = buf.drain(..end + 2).collect();
                    for line in String::from_utf8_lossy(&event).lines() {
                        if let Some(data) = line.strip_prefix("data:") {
                            if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
                                if tx.send(v).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        });
        EventReader {
            events,
            stream,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `timeout`) for an event matching `pred`; panics naming
    /// `what` with the events seen.
    pub fn wait(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no event {what} within {timeout:?}; seen: {:?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the event stream ended before {what}; seen: {:?}", self.seen)
                }
            }
        }
    }
}

impl Drop for EventReader {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads one chunk of a chunked body into `out`; false at the end or on an error.
fn read_chunk(reader: &mut impl BufRead, out: &mut Vec<u8>) -> bool {
    let mut size_line = String::new();
    match reader.read_line(&mut size_line) {
        Ok(0) | Err(_) => return false,
        Ok(_) => {}
    }
    let hex = size_line.trim().split(';').next().unwrap_or("");
    let Ok(size) = usize::from_str_radix(hex, 16) else {
        return false;
    };
    if size == 0 {
        return false;
    }
    let mut data = vec![0u8; size + 2];
    if reader.read_exact(&mut data).is_err() {
        return false;
    }
    data.truncate(size);
    out.extend_from_slice(&data);
    true
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
