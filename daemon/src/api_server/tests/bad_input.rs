//! Bad requests get a 4xx in the API's error shape, naming what was wrong, and the
//! server goes on answering.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use minreq::Method;

use super::harness::{assert_alive, error_of, TestServer, TOKEN};
use crate::api_server::{MAX_JSON_BODY_BYTES, MAX_TORRENT_BODY_BYTES};

#[test]
fn unknown_id_passes_the_cores_404_through() {
    let server = TestServer::start();
    let cases = [
        (Method::Get, "/api/v1/torrents/99"),
        (Method::Delete, "/api/v1/torrents/99"),
        (Method::Post, "/api/v1/torrents/99/pause"),
        (Method::Get, "/api/v1/torrents/99/files"),
        (Method::Get, "/api/v1/torrents/abcdef/pieces"),
    ];
    for (method, path) in cases {
        let response = server.request(method, path).send().unwrap();
        let (status, code, message) = error_of(&response);
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
        let id = path.split('/').nth(4).unwrap();
        assert!(message.contains(id), "{path}: {message}");
    }
    assert_alive(&server);
}

#[test]
fn broken_torrent_body_gets_the_cores_400() {
    let server = TestServer::start();
    let response = server
        .request(Method::Post, "/api/v1/torrents")
        .with_header("Content-Type", "application/x-bittorrent")
        .with_body(&b"this is no torrent"[..])
        .send()
        .unwrap();
    let (status, code, message) = error_of(&response);
    assert_eq!((status, code.as_str()), (400, "invalid_torrent"));
    assert!(message.contains("bencoded"), "{message}");

    let response = server
        .request(Method::Post, "/api/v1/torrents")
        .with_header("Content-Type", "application/x-bittorrent")
        .send()
        .unwrap();
    let (status, code, _) = error_of(&response);
    assert_eq!((status, code.as_str()), (400, "invalid_torrent"));
    assert_alive(&server);
}

#[test]
fn oversized_bodies_get_413() {
    let server = TestServer::start();
    let response = server
        .request(Method::Post, "/api/v1/torrents")
        .with_header("Content-Type", "application/x-bittorrent")
        .with_body(vec![b'd'; MAX_TORRENT_BODY_BYTES + 1])
        .send()
        .unwrap();
    let (status, code, message) = error_of(&response);
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    assert!(message.contains(&MAX_TORRENT_BODY_BYTES.to_string()), "{message}");

    let mut patch = br#"{"labels":[""#.to_vec();
    patch.resize(MAX_JSON_BODY_BYTES + 10, b'a');
    patch.extend_from_slice(br#""]}"#);
    let response = server
        .request(Method::Patch, "/api/v1/torrents/1")
        .with_header("Content-Type", "application/json")
        .with_body(patch)
        .send()
        .unwrap();
    let (status, code, _) = error_of(&response);
    assert_eq!((status, code.as_str()), (413, "body_too_large"));
    assert_alive(&server);
}

/// A chunked body declares no length: it is cut off once it passes the limit.
#[test]
fn oversized_chunked_body_gets_413() {
    let server = TestServer::start();
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "PATCH /api/v1/session HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 64 * 1024];
    // Twice the limit; the server may stop reading (and close) before the end.
    for _ in 0..(2 * MAX_JSON_BODY_BYTES / chunk.len()) {
        let sent = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"));
        if sent.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"body_too_large""#), "{answer}");
    assert_alive(&server);
}

#[test]
fn bad_json_names_the_field() {
    let server = TestServer::start();
    let cases = [
        (
            "/api/v1/torrents/1",
            Method::Patch,
            r#"{"sequential":"yes"}"#,
            "sequential",
        ),
        (
            "/api/v1/torrents/1",
            Method::Patch,
            r#"{"download_limt":5}"#,
            "download_limt",
        ),
        (
            "/api/v1/torrents/1",
            Method::Patch,
            r#"{"download_limit":-5}"#,
            "download_limit",
        ),
        ("/api/v1/torrents/1", Method::Patch, r#"{"labels":"#, "torrent patch"),
        ("/api/v1/torrents/1", Method::Patch, "", "empty"),
        (
            "/api/v1/session",
            Method::Patch,
            r#"{"max_active_seeds":"lots"}"#,
            "max_active_seeds",
        ),
        (
            "/api/v1/torrents/1/files",
            Method::Patch,
            r#"{"files":[0],"priority":"urgent"}"#,
            "priority",
        ),
        ("/api/v1/torrents/1/queue", Method::Post, r#""sideways""#, "sideways"),
        (
            "/api/v1/torrents",
            Method::Post,
            r#"{"path":"/a.torrent","paused":"no"}"#,
            "paused",
        ),
    ];
    for (path, method, body, named) in cases {
        let response = server.send_json(method, path, body);
        let (status, code, message) = error_of(&response);
        assert_eq!((status, code.as_str()), (400, "bad_json"), "{path} {body}");
        assert!(message.contains(named), "{path} {body}: {message}");
    }
    assert!(server.take_seen().is_empty(), "a bad body reached the core");
    assert_alive(&server);
}

#[test]
fn add_requests_with_bad_sources_or_options() {
    let server = TestServer::start();
    let cases = [
        (r#"{"paused":true}"#, "exactly one"),
        (
            r#"{"path":"/a.torrent","magnet":"magnet:?xt=urn:btih:00"}"#,
            "exactly one",
        ),
        (r#"{"metainfo_base64":"not base64!"}"#, "metainfo_base64"),
    ];
    for (body, named) in cases {
        let response = server.send_json(Method::Post, "/api/v1/torrents", body);
        let (status, code, message) = error_of(&response);
        assert_eq!((status, code.as_str()), (400, "bad_request"), "{body}");
        assert!(message.contains(named), "{body}: {message}");
    }
    let response = server.send_json(Method::Post, "/api/v1/torrents?paused=true", r#"{"path":"/a.torrent"}"#);
    let (status, _, message) = error_of(&response);
    assert_eq!(status, 400);
    assert!(message.contains("query string"), "{message}");

    let response = server
        .request(Method::Post, "/api/v1/torrents?labels=x")
        .with_header("Content-Type", "application/x-bittorrent")
        .with_body(&b"d4:infodee"[..])
        .send()
        .unwrap();
    let (status, _, message) = error_of(&response);
    assert_eq!(status, 400);
    assert!(message.contains("`labels`"), "{message}");

    let response = server
        .request(Method::Delete, "/api/v1/torrents/1?delete_data=perhaps")
        .send()
        .unwrap();
    let (status, _, message) = error_of(&response);
    assert_eq!(status, 400);
    assert!(message.contains("delete_data"), "{message}");

    // The core's own refusals pass through with their code.
    let response = server.send_json(
        Method::Post,
        "/api/v1/torrents",
        r#"{"magnet":"magnet:?xt=urn:btih:00"}"#,
    );
    let (status, code, _) = error_of(&response);
    assert_eq!((status, code.as_str()), (400, "unsupported"));
    assert_alive(&server);
}

#[test]
fn missing_or_wrong_token_gets_401() {
    let server = TestServer::start();
    let requests = [
        server.anonymous(Method::Get, "/api/v1/torrents"),
        server
            .anonymous(Method::Get, "/api/v1/torrents")
            .with_header("Authorization", "Bearer wrong-token"),
        server
            .anonymous(Method::Get, "/api/v1/stats")
            .with_header("Authorization", format!("Basic {TOKEN}")),
        server
            .anonymous(Method::Get, "/api/v1/events")
            .with_header("Authorization", format!("Bearer {TOKEN}x")),
        server.anonymous(Method::Post, "/api/v1/shutdown"),
    ];
    for request in requests {
        let response = request.send().unwrap();
        let (status, code, message) = error_of(&response);
        assert_eq!((status, code.as_str()), (401, "unauthorized"));
        assert!(message.contains("token"), "{message}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
    assert!(
        server.take_seen().is_empty(),
        "an unauthorized request reached the core"
    );
    assert_alive(&server);
}

#[test]
fn unknown_route_and_wrong_method_answer_json() {
    let server = TestServer::start();
    let response = server.get("/api/v1/nothing-here");
    let (status, code, message) = error_of(&response);
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert!(message.contains("/api/v1/nothing-here"), "{message}");

    let response = server.get("/api/v1/torrents/1/explode");
    assert_eq!(error_of(&response).0, 404);

    let response = server.request(Method::Delete, "/api/v1/stats").send().unwrap();
    let (status, code, message) = error_of(&response);
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    assert!(message.contains("DELETE"), "{message}");
    assert!(response.header("allow").is_some_and(|allow| allow.contains("GET")));

    let response = server.get("/api/v1/torrents/1/pause");
    assert_eq!(error_of(&response).0, 405);
    assert_alive(&server);
}

#[test]
fn a_path_id_that_is_not_utf8_is_refused() {
    let server = TestServer::start();
    let response = server.get("/api/v1/torrents/%FF%FE");
    let (status, code, _) = error_of(&response);
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    assert_alive(&server);
}

/// A client that waits for `100 Continue` (curl does, for large bodies) gets the 413
/// at once and never sends the body.
#[test]
fn oversized_declared_length_is_refused_before_the_body() {
    let server = TestServer::start();
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /api/v1/torrents HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/x-bittorrent\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        100 * MAX_TORRENT_BODY_BYTES
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains(r#""code":"body_too_large""#), "{answer}");
    assert_alive(&server);
}
