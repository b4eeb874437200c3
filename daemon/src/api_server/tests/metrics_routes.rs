//! `/metrics` and `/api/v1/metrics` over HTTP: behind the token, the Prometheus
//! text type, the core's snapshot in both.

use minreq::Method;

use super::harness::{error_of, json, TestServer};

#[test]
fn metrics_answers_prometheus_text_with_the_token_only() {
    let server = TestServer::start();
    let response = server.get("/metrics");
    assert_eq!(response.status_code, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.as_str().unwrap();
    assert!(text.contains("# TYPE ccbt_payload_bytes_total counter"), "{text}");
    assert!(text.contains("ccbt_shard_busy_percent{shard=\"0\"} 12.5"), "{text}");

    let anonymous = server.anonymous(Method::Get, "/metrics").send().unwrap();
    let (status, code, _) = error_of(&anonymous);
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
}

#[test]
fn api_metrics_is_the_same_snapshot_as_json() {
    let server = TestServer::start();
    let body = json(&server.get("/api/v1/metrics"));
    assert_eq!(body["shards"][0]["busy_percent"], 12.5);
    assert_eq!(body["shards"][0]["pieces_verified"], 64);
    assert_eq!(body["session"]["torrents_by_state"]["downloading"], 1);
    assert_eq!(body["shards"][0]["block_request_latency"]["count"], 2);
    let anonymous = server.anonymous(Method::Get, "/api/v1/metrics").send().unwrap();
    assert_eq!(anonymous.status_code, 401);
}
