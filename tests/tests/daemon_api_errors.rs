//! Bad requests to the control API get a 4xx with `{"error":{"code","message"}}`
//! naming what was wrong, and the daemon keeps answering: an unknown id, a broken
//! torrent, a duplicate, an oversized body, bad JSON, a missing or wrong token.
//! `btbt` turns the daemon's refusal into exit 2 with its message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ccbt_tests::daemon_runs::{payload_torrent, ApiReply, DaemonOpts, DaemonUnderTest};
use serde_json::json;

/// Asserts the daemon still runs and answers `GET /api/v1/stats` after `case`.
fn still_answers(daemon: &mut DaemonUnderTest, case: &str) {
    assert!(
        daemon.process.is_running(),
        "the daemon died after {case}; stderr:\n{}",
        daemon.process.stderr()
    );
    let stats = daemon.get("/api/v1/stats");
    assert_eq!(stats.status, 200, "GET /api/v1/stats after {case}: {}", stats.text);
}

#[test]
fn daemon_bad_requests_get_4xx_naming_the_problem_and_the_daemon_stays_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    let (torrent, hash) = payload_torrent(tmp.path(), "one.bin", 100_000, 7, 16384, &[]);
    let added = daemon.add_torrent(&torrent, &[("paused", "true")]);
    assert_eq!(added["info_hash"], hash.as_str());

    // Unknown ids, in each form an id takes.
    for path in [
        "/api/v1/torrents/999".to_string(),
        format!("/api/v1/torrents/{}", "0".repeat(40)),
        "/api/v1/torrents/999/files".to_string(),
        "/api/v1/torrents/999/peers".to_string(),
    ] {
        let message = daemon.get(&path).expect_error(404, "not_found");
        assert!(
            message.contains("999") || message.contains("0000"),
            "GET {path}: names the id: {message}"
        );
        still_answers(&mut daemon, &format!("GET {path}"));
    }
    daemon
        .request("POST", "/api/v1/torrents/999/pause", None, &[])
        .expect_error(404, "not_found");
    daemon.delete("/api/v1/torrents/999").expect_error(404, "not_found");
    still_answers(&mut daemon, "an action and a remove on an unknown id");

    // A broken .torrent body.
    let broken = daemon.request(
        "POST",
        "/api/v1/torrents",
        Some("application/x-bittorrent"),
        b"d8:announce22:http://127.0.0.1:1/ann4:infod4:name",
    );
    broken.expect_error(400, "invalid_torrent");
    still_answers(&mut daemon, "a broken torrent");

    // A path that does not exist: the message names it.
    let missing = tmp.path().join("no-such.torrent");
    let reply = daemon.post("/api/v1/torrents", &json!({ "path": missing.display().to_string() }));
    assert!(
        (400..500).contains(&reply.status),
        "a missing path is bad input: {}",
        reply.text
    );
    assert!(reply.text.contains("no-such.torrent"), "names the path: {}", reply.text);
    still_answers(&mut daemon, "a missing torrent path");

    // The same torrent twice.
    let dup = daemon.request(
        "POST",
        "/api/v1/torrents",
        Some("application/x-bittorrent"),
        &std::fs::read(&torrent).unwrap(),
    );
    dup.expect_error(409, "duplicate");
    still_answers(&mut daemon, "a duplicate");

    // Bad JSON, a field of the wrong type, an unknown field.
    daemon
        .request("POST", "/api/v1/torrents", Some("application/json"), b"{\"path\": ")
        .expect_error(400, "bad_json");
    let wrong_type = daemon.patch("/api/v1/session", &json!({ "max_active_downloads": "many" }));
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.text);
    assert!(
        wrong_type.text.contains("max_active_downloads"),
        "names the field: {}",
        wrong_type.text
    );
    let unknown_field = daemon.post("/api/v1/torrents", &json!({ "path": "x.torrent", "colour": "red" }));
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.text);
    assert!(
        unknown_field.text.contains("colour"),
        "names the field: {}",
        unknown_field.text
    );
    still_answers(&mut daemon, "bad JSON");

    // No token, a wrong one, a prefix of the right one.
    let no_token = daemon.raw("GET", "/api/v1/torrents", &[], &[]).unwrap();
    no_token.expect_error(401, "unauthorized");
    let wrong = daemon
        .raw(
            "GET",
            "/api/v1/torrents",
            &[("Authorization", "Bearer not-the-token")],
            &[],
        )
        .unwrap();
    wrong.expect_error(401, "unauthorized");
    let prefix = format!("Bearer {}", &daemon.token[..daemon.token.len() / 2]);
    let half = daemon
        .raw(
            "DELETE",
            &format!("/api/v1/torrents/{hash}"),
            &[("Authorization", prefix.as_str())],
            &[],
        )
        .unwrap();
    half.expect_error(401, "unauthorized");
    assert_eq!(daemon.list().len(), 1, "a refused DELETE removed nothing");
    still_answers(&mut daemon, "missing and wrong tokens");

    // Oversized bodies: a .torrent over 16 MiB, a JSON patch over 1 MiB.
    let too_big = oversized(
        &daemon,
        "POST",
        "/api/v1/torrents",
        "application/x-bittorrent",
        20 << 20,
    );
    too_big.expect_error(413, "body_too_large");
    still_answers(&mut daemon, "an oversized torrent body");
    let too_big = oversized(&daemon, "PATCH", "/api/v1/session", "application/json", 2 << 20);
    too_big.expect_error(413, "body_too_large");
    still_answers(&mut daemon, "an oversized JSON body");

    // btbt reports the daemon's refusal verbatim with exit 2.
    let show = daemon.btbt(&["show", "999"]);
    let api_message = daemon.get("/api/v1/torrents/999").expect_error(404, "not_found");
    let stderr = show.expect_code(2);
    assert!(
        stderr.contains(&api_message),
        "btbt prints the daemon's error ({api_message}): {stderr}"
    );
    std::fs::write(tmp.path().join("broken.torrent"), b"d4:infod4:name").unwrap();
    let download = daemon.btbt(&["download", tmp.path().join("broken.torrent").to_str().unwrap()]);
    download.expect_code(2);
    still_answers(&mut daemon, "btbt's bad input");
    daemon.terminate();
}

/// Sends a body of `len` bytes over a raw connection, writing from a thread while
/// the answer is read here: the server may answer 413 and close before it has
/// read the whole body.
fn oversized(daemon: &DaemonUnderTest, method: &str, path: &str, content_type: &str, len: usize) -> ApiReply {
    let addr = format!("127.0.0.1:{}", daemon.opts.api_port);
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n",
        daemon.token
    );
    let mut writer = stream.try_clone().unwrap();
    writer.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let sender = std::thread::spawn(move || {
        writer.write_all(head.as_bytes())?;
        let chunk = vec![b'x'; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // Read until the headers and the body they announce are in (or the server closes).
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if answer.is_empty() => panic!("no answer to an oversized body: {e}"),
            Err(_) => break,
        }
        if let Some(end) = find(&answer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let body_len = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + body_len {
                break;
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body_start = find(&answer, b"\r\n\r\n").map(|e| e + 4).unwrap_or(answer.len());
    ApiReply::new(
        format!("POST /api/v1/torrents ({len} bytes)"),
        status,
        &answer[body_start..],
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
