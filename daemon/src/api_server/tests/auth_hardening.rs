//! The native API's defences over real HTTP: failed authentications are limited per
//! address (429 once too many, the right token included, until the block ends),
//! CORS headers go only to configured origins, and the ban routes answer.

use super::harness::{error_of, json, TestServer, CORS_ORIGIN, TOKEN};
use crate::api_server::auth_failures::MAX_FAILURES;

fn header<'r>(response: &'r minreq::Response, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn too_many_wrong_tokens_from_one_address_are_answered_429_even_with_the_right_token() {
    let server = TestServer::start();
    for i in 0..MAX_FAILURES {
        let response = server
            .anonymous(minreq::Method::Get, "/api/v1/torrents")
            .with_header("Authorization", format!("Bearer wrong-{i}"))
            .send()
            .unwrap();
        assert_eq!(error_of(&response).0, 401, "failure {i} is a plain 401");
    }
    let blocked = server.get("/api/v1/torrents");
    let (status, code, message) = error_of(&blocked);
    assert_eq!((status, code.as_str()), (429, "too_many_failures"), "{message}");
    let retry: u64 = header(&blocked, "retry-after").unwrap_or_default().parse().unwrap();
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    // The health check needs no token and stays open.
    assert_eq!(
        server
            .anonymous(minreq::Method::Get, "/api/v1/health")
            .send()
            .unwrap()
            .status_code,
        200
    );
}

#[test]
fn the_right_token_never_counts_as_a_failure() {
    let server = TestServer::start();
    for _ in 0..(3 * MAX_FAILURES) {
        assert_eq!(server.get("/api/v1/torrents").status_code, 200);
    }
    let wrong = server
        .anonymous(minreq::Method::Get, "/api/v1/torrents")
        .with_header("Authorization", format!("Bearer {TOKEN}x"))
        .send()
        .unwrap();
    assert_eq!(error_of(&wrong).0, 401, "a token with a suffix is wrong");
}

#[test]
fn cors_headers_go_only_to_the_configured_origin_and_preflights_are_answered() {
    let server = TestServer::start();
    let allowed = server
        .request(minreq::Method::Get, "/api/v1/stats")
        .with_header("Origin", CORS_ORIGIN)
        .send()
        .unwrap();
    assert_eq!(allowed.status_code, 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin").unwrap_or_default(),
        CORS_ORIGIN
    );

    let other = server
        .request(minreq::Method::Get, "/api/v1/stats")
        .with_header("Origin", "https://evil.example")
        .send()
        .unwrap();
    assert_eq!(other.status_code, 200);
    assert!(header(&other, "access-control-allow-origin").is_none());
    let none = server.get("/api/v1/stats");
    assert!(header(&none, "access-control-allow-origin").is_none());

    // A preflight carries no token: answered before the token is asked for.
    let preflight = server
        .anonymous(minreq::Method::Options, "/api/v1/torrents/1/pause")
        .with_header("Origin", CORS_ORIGIN)
        .with_header("Access-Control-Request-Method", "POST")
        .with_header("Access-Control-Request-Headers", "authorization")
        .send()
        .unwrap();
    assert_eq!(preflight.status_code, 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").unwrap_or_default(),
        CORS_ORIGIN
    );
    assert!(header(&preflight, "access-control-allow-methods")
        .unwrap_or_default()
        .contains("POST"));
    assert!(header(&preflight, "access-control-allow-headers")
        .unwrap_or_default()
        .contains("authorization"));
    let foreign_preflight = server
        .anonymous(minreq::Method::Options, "/api/v1/torrents/1/pause")
        .with_header("Origin", "https://evil.example")
        .with_header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_ne!(foreign_preflight.status_code, 204);
    assert!(header(&foreign_preflight, "access-control-allow-origin").is_none());
}

#[test]
fn the_ban_routes_list_and_lift_bans() {
    let server = TestServer::start();
    let list = json(&server.get("/api/v1/bans"));
    assert_eq!(list[0]["ip"], "192.0.2.7");
    assert_eq!(list[0]["reason"], "proven_corrupt_block");
    let lifted = server
        .request(minreq::Method::Delete, "/api/v1/bans/192.0.2.7")
        .send()
        .unwrap();
    assert_eq!(lifted.status_code, 200);
    assert_eq!(json(&lifted)["ip"], "192.0.2.7");
    let missing = server
        .request(minreq::Method::Delete, "/api/v1/bans/192.0.2.8")
        .send()
        .unwrap();
    assert_eq!(error_of(&missing).0, 404);
    let stats = json(&server.get("/api/v1/stats"));
    assert_eq!(stats["peer_guard"]["refusals"]["handshake_rate"], 2);
}
