//! Each route's good case: the server passes the request on as the right
//! `ControlRequest` and answers the core's reply as JSON.

use base64::Engine as _;
use minreq::Method;

use super::fake_core::{Seen, INFO_HASH, NAME};
use super::harness::{json, TestServer};
use crate::api_types::{
    AddRequest, FilePriorityName, FilesPatch, LimitKeyword, LimitSetting, QueueMove, SessionPatch, TorrentDetail,
    TorrentPatch, TorrentSummary,
};
use crate::control::TorrentAction;

const TORRENT: &[u8] = b"d4:infod6:lengthi4096e4:name10:ubuntu.isoee";

#[test]
fn list_answers_the_cores_torrents() {
    let server = TestServer::start();
    let response = server.get("/api/v1/torrents");
    assert_eq!(response.status_code, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let list: Vec<TorrentSummary> = serde_json::from_slice(response.as_bytes()).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].info_hash, INFO_HASH);
    let raw = json(&response);
    assert_eq!(raw[0]["state"], "seeding");
    assert_eq!(raw[0]["id"], 1);
}

#[test]
fn raw_torrent_upload_takes_its_options_from_the_query() {
    let server = TestServer::start();
    let response = server
        .request(
            Method::Post,
            "/api/v1/torrents?download_dir=%2Fsrv%2Fnew&paused=true&sequential=1&label=a&label=b&peer=127.0.0.1:6881",
        )
        .with_header("Content-Type", "application/x-bittorrent")
        .with_body(TORRENT)
        .send()
        .unwrap();
    assert_eq!(response.status_code, 201);
    assert_eq!(json(&response)["id"], 2);
    let expected = AddRequest {
        download_dir: Some("/srv/new".to_string()),
        paused: true,
        sequential: true,
        labels: vec!["a".to_string(), "b".to_string()],
        peers: vec!["127.0.0.1:6881".to_string()],
        ..AddRequest::default()
    };
    assert_eq!(
        server.take_seen(),
        vec![Seen::AddMetainfo {
            bytes: TORRENT.to_vec(),
            options: expected
        }]
    );
}

#[test]
fn json_add_decodes_metainfo_base64() {
    let server = TestServer::start();
    let encoded = base64::engine::general_purpose::STANDARD.encode(TORRENT);
    let body = format!(r#"{{"metainfo_base64":"{encoded}","labels":["x"],"skip_files":[1]}}"#);
    let response = server.send_json(Method::Post, "/api/v1/torrents", &body);
    assert_eq!(response.status_code, 201);
    let expected = AddRequest {
        labels: vec!["x".to_string()],
        skip_files: vec![1],
        ..AddRequest::default()
    };
    assert_eq!(
        server.take_seen(),
        vec![Seen::AddMetainfo {
            bytes: TORRENT.to_vec(),
            options: expected
        }]
    );
}

#[test]
fn json_add_by_path_without_content_type() {
    let server = TestServer::start();
    // curl -d sends a form type; a body starting with `{` is still JSON.
    let response = server
        .request(Method::Post, "/api/v1/torrents")
        .with_header("Content-Type", "application/x-www-form-urlencoded")
        .with_body(r#" {"path":"/srv/t/a.torrent","paused":true}"#)
        .send()
        .unwrap();
    assert_eq!(response.status_code, 201, "{}", response.as_str().unwrap());
    match &server.take_seen()[..] {
        [Seen::AddPath { path, options }] => {
            assert_eq!(path, "/srv/t/a.torrent");
            assert!(options.paused);
        }
        other => panic!("core saw {other:?}"),
    }
}

#[test]
fn detail_by_id_and_by_hash_prefix() {
    let server = TestServer::start();
    for id in ["1", "1111", INFO_HASH] {
        let response = server.get(&format!("/api/v1/torrents/{id}"));
        assert_eq!(response.status_code, 200, "id {id}");
        let detail: TorrentDetail = serde_json::from_slice(response.as_bytes()).unwrap();
        assert_eq!(detail.summary.name, NAME);
        assert_eq!(detail.piece_length, 16384);
        // The summary is flattened into the detail.
        assert_eq!(json(&response)["info_hash"], INFO_HASH);
    }
}

#[test]
fn patch_torrent_passes_the_patch_on() {
    let server = TestServer::start();
    let response = server.send_json(
        Method::Patch,
        "/api/v1/torrents/1",
        r#"{"download_limit":1000,"ratio_limit":"none","sequential":true,"move_to":"/srv/b"}"#,
    );
    assert_eq!(response.status_code, 200);
    assert_eq!(json(&response)["id"], 1);
    let expected = TorrentPatch {
        download_limit: Some(LimitSetting::Value(1000)),
        ratio_limit: Some(LimitSetting::Keyword(LimitKeyword::None)),
        sequential: Some(true),
        move_to: Some("/srv/b".to_string()),
        ..TorrentPatch::default()
    };
    assert_eq!(
        server.take_seen(),
        vec![Seen::Patch {
            id: "1".to_string(),
            patch: expected
        }]
    );
}

#[test]
fn delete_passes_delete_data() {
    let server = TestServer::start();
    let response = server.request(Method::Delete, "/api/v1/torrents/1").send().unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(json(&response)["ok"], true);
    let response = server
        .request(Method::Delete, "/api/v1/torrents/1111?delete_data=true")
        .send()
        .unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(
        server.take_seen(),
        vec![
            Seen::Remove {
                id: "1".to_string(),
                delete_data: false
            },
            Seen::Remove {
                id: "1111".to_string(),
                delete_data: true
            },
        ]
    );
}

#[test]
fn each_action_reaches_the_core() {
    let server = TestServer::start();
    let actions = [
        ("pause", TorrentAction::Pause),
        ("resume", TorrentAction::Resume),
        ("force-start", TorrentAction::ForceStart),
        ("verify", TorrentAction::Verify),
        ("reannounce", TorrentAction::Reannounce),
    ];
    for (name, _) in actions {
        let response = server
            .request(Method::Post, &format!("/api/v1/torrents/1/{name}"))
            .send()
            .unwrap();
        assert_eq!(response.status_code, 200, "{name}");
        assert_eq!(json(&response)["id"], 1);
    }
    let expected: Vec<Seen> = actions
        .iter()
        .map(|(_, action)| Seen::Action {
            id: "1".to_string(),
            action: *action,
        })
        .collect();
    assert_eq!(server.take_seen(), expected);
}

#[test]
fn queue_list_and_moves() {
    let server = TestServer::start();
    let response = server.get("/api/v1/queue");
    assert_eq!(response.status_code, 200);
    assert_eq!(json(&response)[0]["queue_position"], 0);
    for body in [r#""top""#, r#"{"position":3}"#] {
        let response = server.send_json(Method::Post, "/api/v1/torrents/1/queue", body);
        assert_eq!(response.status_code, 200, "{body}");
    }
    assert_eq!(
        server.take_seen(),
        vec![
            Seen::Move {
                id: "1".to_string(),
                to: QueueMove::Top
            },
            Seen::Move {
                id: "1".to_string(),
                to: QueueMove::Position(3)
            },
        ]
    );
}

#[test]
fn files_peers_trackers_pieces() {
    let server = TestServer::start();
    let files = json(&server.get("/api/v1/torrents/1/files"));
    assert_eq!(files[0]["path"], "ubuntu.iso");
    assert_eq!(files[0]["priority"], "normal");
    let peers = json(&server.get("/api/v1/torrents/1/peers"));
    assert_eq!(peers[0]["addr"], "127.0.0.1:6881");
    let trackers = json(&server.get("/api/v1/torrents/1/trackers"));
    assert_eq!(trackers[0]["status"], "working");
    let pieces = json(&server.get("/api/v1/torrents/1/pieces"));
    assert_eq!(pieces["bitfield_hex"], "80");

    let response = server.send_json(
        Method::Patch,
        "/api/v1/torrents/1/files",
        r#"{"files":[0,2],"priority":"skip"}"#,
    );
    assert_eq!(response.status_code, 200);
    assert_eq!(
        server.take_seen(),
        vec![Seen::PatchFiles {
            id: "1".to_string(),
            patch: FilesPatch {
                files: vec![0, 2],
                priority: FilePriorityName::Skip
            }
        }]
    );
}

#[test]
fn session_get_patch_and_stats() {
    let server = TestServer::start();
    let session = json(&server.get("/api/v1/session"));
    assert_eq!(session["api_version"], 1);
    // The settings are flattened into the session.
    assert_eq!(session["max_active_seeds"], 2000);

    let response = server.send_json(
        Method::Patch,
        "/api/v1/session",
        r#"{"download_limit":5000,"upload_limit":"none","alt_speed_schedule":null}"#,
    );
    assert_eq!(response.status_code, 200);
    let expected = SessionPatch {
        download_limit: Some(LimitSetting::Value(5000)),
        upload_limit: Some(LimitSetting::Keyword(LimitKeyword::None)),
        alt_speed_schedule: Some(None),
        ..SessionPatch::default()
    };
    assert_eq!(server.take_seen(), vec![Seen::PatchSession { patch: expected }]);

    let stats = json(&server.get("/api/v1/stats"));
    assert_eq!(stats["by_state"]["seeding"], 1);
    assert_eq!(stats["shards"][0]["upload_share"], 500_000);
}

#[test]
fn shutdown_is_passed_to_the_core() {
    let server = TestServer::start();
    let response = server.request(Method::Post, "/api/v1/shutdown").send().unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(json(&response)["ok"], true);
    assert_eq!(server.take_seen(), vec![Seen::Shutdown]);
}

#[test]
fn health_needs_no_token() {
    let server = TestServer::start();
    let response = server.anonymous(Method::Get, "/api/v1/health").send().unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(json(&response), serde_json::json!({"ok": true}));
}

#[test]
fn stop_returns_ok() {
    let server = TestServer::start();
    assert_eq!(server.get("/api/v1/health").status_code, 200);
    server
        .stop()
        .expect("serve returns Ok after its shutdown future completes");
}
