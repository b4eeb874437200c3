//! `/transmission/rpc` over real HTTP against the fake core: the 409 handshake, both
//! request shapes, what reaches the core, and errors in the API's own shape.

use serde_json::{json, Value};

use super::fake_core::{Seen, INFO_HASH};
use super::harness::TestServer;
use crate::control::TorrentAction;
use crate::transmission_rpc::{RPC_PATH, RPC_VERSION_HEADER, SESSION_ID_HEADER};

/// The session id from the 409 answer to a first request.
fn session_id(server: &TestServer) -> String {
    let first = server
        .anonymous(minreq::Method::Post, RPC_PATH)
        .with_body(r#"{"method":"session-get"}"#)
        .send()
        .expect("first request");
    assert_eq!(first.status_code, 409, "{}", first.as_str().unwrap_or(""));
    assert_eq!(header(&first, RPC_VERSION_HEADER).as_deref(), Some("17"));
    header(&first, SESSION_ID_HEADER).expect("the 409 carries the session id")
}

fn header(response: &minreq::Response, name: &str) -> Option<String> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn rpc(server: &TestServer, id: &str, body: &Value) -> Value {
    let reply = server
        .anonymous(minreq::Method::Post, RPC_PATH)
        .with_header(SESSION_ID_HEADER, id)
        .with_body(body.to_string())
        .send()
        .expect("rpc request");
    assert_eq!(reply.status_code, 200, "{}", reply.as_str().unwrap_or(""));
    serde_json::from_slice(reply.as_bytes()).expect("a JSON answer")
}

#[test]
fn handshake_then_classic_calls() {
    let server = TestServer::start();
    let id = session_id(&server);
    let session = rpc(&server, &id, &json!({"method": "session-get", "tag": 5}));
    assert_eq!(session["result"], "success");
    assert_eq!(session["tag"], 5);
    let args = &session["arguments"];
    assert!(args["version"].as_str().unwrap().starts_with("4.0"), "{args}");
    assert_eq!(args["rpc-version"], 17);
    assert_eq!(args["rpc-version-semver"], "5.3.0");
    assert_eq!(args["session-id"], id.as_str());
    assert_eq!(args["download-dir"], "/srv/dl");

    let only = rpc(
        &server,
        &id,
        &json!({"method": "session-get", "arguments": {"fields": ["version", "peer-port"]}}),
    );
    let keys: Vec<&String> = only["arguments"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "fields is honoured: {only}");

    let got = rpc(
        &server,
        &id,
        &json!({"method": "torrent-get", "arguments": {"ids": [1], "fields": ["id", "hashString", "status", "isFinished", "file-count", "labels", "uploadRatio"]}}),
    );
    let t = &got["arguments"]["torrents"][0];
    assert_eq!(t["id"], 1);
    assert_eq!(t["hashString"], INFO_HASH);
    assert_eq!(t["status"], 6);
    assert_eq!(t["file-count"], 1);
    assert_eq!(t["labels"], json!(["linux"]));
    assert!(t["uploadRatio"].is_f64());
    let none = rpc(
        &server,
        &id,
        &json!({"method": "torrent-get", "arguments": {"ids": [7], "fields": ["id"]}}),
    );
    assert_eq!(none["arguments"]["torrents"], json!([]));
}

#[test]
fn jsonrpc_calls_answer_in_snake_case() {
    let server = TestServer::start();
    let id = session_id(&server);
    let got = rpc(
        &server,
        &id,
        &json!({"jsonrpc": "2.0", "method": "torrent_get", "params": {"fields": ["hash_string", "percent_done"]}, "id": 9}),
    );
    assert_eq!(got["jsonrpc"], "2.0");
    assert_eq!(got["id"], 9);
    assert_eq!(got["result"]["torrents"][0]["hash_string"], INFO_HASH);
    assert_eq!(got["result"]["torrents"][0]["percent_done"], 1.0);
    let table = rpc(
        &server,
        &id,
        &json!({"jsonrpc": "2.0", "method": "torrent_get", "params": {"fields": ["hashString"], "format": "table"}, "id": 10}),
    );
    assert_eq!(table["result"]["torrents"], json!([["hash_string"], [INFO_HASH]]));
    let unknown = rpc(&server, &id, &json!({"jsonrpc": "2.0", "method": "no_such", "id": 11}));
    assert_eq!(unknown["error"]["code"], -32601);
    // A notification runs and gets no body.
    let reply = server
        .anonymous(minreq::Method::Post, RPC_PATH)
        .with_header(SESSION_ID_HEADER, id.as_str())
        .with_body(r#"{"jsonrpc":"2.0","method":"torrent_stop","params":{"ids":[1]}}"#)
        .send()
        .unwrap();
    assert_eq!(reply.status_code, 204);
    assert!(server.take_seen().contains(&Seen::Action {
        id: "1".into(),
        action: TorrentAction::Pause
    }));
}

#[test]
fn calls_reach_the_core_with_their_arguments() {
    let server = TestServer::start();
    let id = session_id(&server);
    // "d1:ai1ee" in base64, wrapped as transmission-remote 3.00 wraps it.
    let added = rpc(
        &server,
        &id,
        &json!({"method": "torrent-add", "arguments": {"metainfo": "ZDE6YWkx\nZWU=", "paused": true, "download-dir": "/srv/tv", "labels": ["tv"]}}),
    );
    assert_eq!(added["result"], "success", "{added}");
    assert_eq!(added["arguments"]["torrent-added"]["id"], 2);
    assert_eq!(added["arguments"]["torrent-added"]["hashString"], "2".repeat(40));
    let remove = rpc(
        &server,
        &id,
        &json!({"method": "torrent-remove", "arguments": {"ids": [INFO_HASH], "delete-local-data": true}}),
    );
    assert_eq!(remove["result"], "success");
    let seen = server.take_seen();
    match &seen[0] {
        Seen::AddMetainfo { bytes, options } => {
            assert_eq!(bytes, b"d1:ai1ee");
            assert!(options.paused);
            assert_eq!(options.download_dir.as_deref(), Some("/srv/tv"));
            assert_eq!(options.labels, vec!["tv".to_string()]);
        }
        other => panic!("expected an add, got {other:?}"),
    }
    assert!(seen.contains(&Seen::Remove {
        id: "1".into(),
        delete_data: true
    }));
    let set = rpc(
        &server,
        &id,
        &json!({"method": "torrent-set", "arguments": {"ids": 1, "seedRatioMode": 1, "seedRatioLimit": 1.5, "labels": ["a", "b"], "uploadLimit": 50, "uploadLimited": true}}),
    );
    assert_eq!(set["result"], "success", "{set}");
    let Some(Seen::Patch { patch, .. }) = server.take_seen().into_iter().next() else {
        panic!("torrent-set patches the torrent");
    };
    assert_eq!(patch.ratio_limit, Some(crate::api_types::LimitSetting::Value(1.5)));
    assert_eq!(patch.upload_limit, Some(crate::api_types::LimitSetting::Value(50_000)));
    assert_eq!(patch.labels, Some(vec!["a".to_string(), "b".to_string()]));
}

#[test]
fn errors_come_in_the_apis_own_shape() {
    let server = TestServer::start();
    let id = session_id(&server);
    let unknown = rpc(&server, &id, &json!({"method": "torrent-explode", "tag": 3}));
    assert!(
        unknown["result"]
            .as_str()
            .unwrap()
            .starts_with("method name not recognized"),
        "{unknown}"
    );
    assert_eq!(unknown["tag"], 3);
    let wrong_type = rpc(
        &server,
        &id,
        &json!({"method": "torrent-remove", "arguments": {"delete-local-data": "maybe"}}),
    );
    assert!(
        wrong_type["result"].as_str().unwrap().contains("delete_local_data"),
        "{wrong_type}"
    );
    let bad_add = rpc(
        &server,
        &id,
        &json!({"method": "torrent-add", "arguments": {"metainfo": "bm90IGEgdG9ycmVudA=="}}),
    );
    assert_ne!(bad_add["result"], "success");
    let reply = server
        .anonymous(minreq::Method::Post, RPC_PATH)
        .with_header(SESSION_ID_HEADER, id.as_str())
        .with_body("{\"method\": ")
        .send()
        .unwrap();
    assert_eq!(reply.status_code, 200);
    let body: Value = serde_json::from_slice(reply.as_bytes()).unwrap();
    assert!(body["result"].as_str().unwrap().contains("not JSON"), "{body}");
    let get = server
        .anonymous(minreq::Method::Get, RPC_PATH)
        .with_header(SESSION_ID_HEADER, id.as_str())
        .send()
        .unwrap();
    assert_eq!(get.status_code, 405);
    // The native API's token is neither needed nor enough here.
    let with_token_only = server
        .request(minreq::Method::Post, RPC_PATH)
        .with_body("{}")
        .send()
        .unwrap();
    assert_eq!(with_token_only.status_code, 409);
}
