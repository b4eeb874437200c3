//! A tiny fake of the daemon's API for the `btbt` tests: a std TcpListener thread
//! answering canned JSON and recording each request, and the helpers that run the
//! real binary against it.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a fake server waits for the requests it expects.
pub const SERVER_DEADLINE: Duration = Duration::from_secs(20);

/// One request as the fake server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves `expected` requests (or until the deadline), answering each with
/// `answer(request) -> (status, body)`, then closes its port and hands back what it got.
pub fn fake_api(
    expected: usize,
    answer: impl Fn(&Request) -> (u16, String) + Send + 'static,
) -> (SocketAddr, JoinHandle<Vec<Request>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + SERVER_DEADLINE;
        let mut got = Vec::new();
        while got.len() < expected && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Some(req) = serve_one(stream, &answer) {
                        got.push(req);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        got
    });
    (addr, handle)
}

fn serve_one(stream: TcpStream, answer: &impl Fn(&Request) -> (u16, String)) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    for _ in 0..100 {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    let req = Request {
        method,
        target,
        headers,
        body,
    };
    let (status, text) = answer(&req);
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = out.flush();
    Some(req)
}

/// `btbt ARGS` with a clean environment for the API settings.
pub fn btbt(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_btbt"));
    cmd.args(args)
        .env_remove("CCBT_API")
        .env_remove("CCBT_API_TOKEN")
        .env("HOME", "/nonexistent-home")
        .env_remove("XDG_DATA_HOME");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn summary_json(id: u32, name: &str, state: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "info_hash": format!("{id:040x}"), "name": name, "state": state,
        "progress": 0.5, "verified_bytes": 500, "total_bytes": 1000, "wanted_bytes": 1000,
        "download_rate": 0, "upload_rate": 0, "downloaded": 500, "uploaded": 0, "ratio": 0.0,
        "peers": 0, "eta_secs": null, "labels": [], "download_dir": "/d", "error": null,
        "queue_position": null, "shard": 0, "added_at": 1, "completed_at": null,
        "seconds_downloading": 1, "seconds_seeding": 0, "sequential": false,
        "force_started": false, "download_limit": null, "upload_limit": null,
        "ratio_limit": null, "seed_time_limit_secs": null, "private": false
    })
}

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
