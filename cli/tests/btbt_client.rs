//! The real `btbt` binary against a tiny fake API (`fake_api`): the request it
//! sends, what it prints, its exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_api;

use std::net::TcpStream;

use fake_api::{btbt, fake_api, free_port, summary_json, text};

#[test]
fn list_json_prints_the_api_array_and_sends_the_token() {
    let list = serde_json::json!([
        summary_json(1, "alpha", "downloading"),
        summary_json(2, "beta", "paused")
    ]);
    let canned = list.to_string();
    let (addr, server) = fake_api(1, move |_| (200, canned.clone()));
    let api = format!("http://{addr}");
    let out = btbt(&["--api", &api, "list", "--json"], &[("CCBT_API_TOKEN", "tok-123")]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("GET", "/api/v1/torrents")
    );
    assert_eq!(got[0].header("authorization"), Some("Bearer tok-123"));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON array on one line: {stdout}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, list);
}

#[test]
fn list_without_json_is_a_table_and_the_token_comes_from_the_state_dir() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("api.token"), "file-token\n").unwrap();
    let canned = serde_json::json!([summary_json(7, "gamma", "seeding")]).to_string();
    let (addr, server) = fake_api(1, move |_| (200, canned.clone()));
    let state_dir = state.path().to_str().unwrap();
    let out = btbt(&["list", "--api", &addr.to_string(), "--state-dir", state_dir], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(got[0].header("authorization"), Some("Bearer file-token"));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert!(lines.next().unwrap().starts_with("ID  NAME"), "{stdout}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(" 7  gamma  seeding") || row.starts_with("7  gamma  seeding"),
        "{row}"
    );
    assert!(row.contains("50.0%"), "{row}");
}

#[test]
fn torrent_pause_posts_to_the_action_route() {
    let canned = summary_json(1, "alpha", "paused").to_string();
    let (addr, server) = fake_api(1, move |_| (200, canned.clone()));
    let out = btbt(&["--api", &format!("http://{addr}"), "torrent", "pause", "1"], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/api/v1/torrents/1/pause")
    );
    assert_eq!(text(&out.stdout), "1  alpha: paused\n");
}

#[test]
fn unknown_id_exits_2_with_the_daemons_message_verbatim() {
    let (addr, server) = fake_api(1, |_| {
        (
            404,
            r#"{"error":{"code":"not_found","message":"no torrent matches 'dead'"}}"#.to_string(),
        )
    });
    let out = btbt(&["--api", &addr.to_string(), "show", "dead"], &[]);
    let got = server.join().unwrap();
    assert_eq!(got[0].target, "/api/v1/torrents/dead");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "btbt: error: no torrent matches 'dead'\n");
}

#[test]
fn download_uploads_the_torrent_bytes_with_options_in_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let torrent = dir.path().join("x.torrent");
    let bytes = b"d4:infod4:name1:xee".to_vec();
    std::fs::write(&torrent, &bytes).unwrap();
    let canned = serde_json::json!({"id": 3, "info_hash": "ab".repeat(20), "name": "x"}).to_string();
    let (addr, server) = fake_api(1, move |_| (200, canned.clone()));
    let out = btbt(
        &[
            "--api",
            &addr.to_string(),
            "download",
            dir.path().to_str().unwrap(),
            "--paused",
            "--label",
            "a b",
            "-o",
            "/srv/dl",
            "--peer",
            "127.0.0.1:7000",
        ],
        &[],
    );
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(got[0].method, "POST");
    assert_eq!(
        got[0].target,
        "/api/v1/torrents?download_dir=%2Fsrv%2Fdl&paused=true&label=a%20b&peer=127.0.0.1%3A7000"
    );
    assert_eq!(got[0].header("content-type"), Some("application/x-bittorrent"));
    assert_eq!(got[0].body, bytes);
    assert_eq!(text(&out.stdout), format!("added 3  x  {}\n", "ab".repeat(20)));
}

#[test]
fn limits_patch_sends_only_what_changes() {
    let session = serde_json::json!({
        "version": "0.1.0", "api_version": 1, "pid": 1, "api_url": "u", "listen": "l",
        "state_dir": "s", "download_dir": "d", "shards": 1, "uptime_secs": 1,
        "download_limit": 1048576, "upload_limit": null, "alt_download_limit": null,
        "alt_upload_limit": null, "alt_speed_enabled": false, "alt_speed_schedule": null,
        "alt_speed_active": false, "max_active_downloads": 3, "max_active_seeds": 100,
        "max_active_checks": 1, "ratio_limit": null, "seed_time_limit_secs": null, "watch_dir": null
    })
    .to_string();
    let (addr, server) = fake_api(1, move |_| (200, session.clone()));
    let out = btbt(&["--api", &addr.to_string(), "limits", "--down", "1M"], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("PATCH", "/api/v1/session")
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"download_limit": 1048576}));
    assert_eq!(text(&out.stdout), "download  1.0 MB/s\nupload    unlimited\n");
}

#[test]
fn daemon_exit_waits_until_the_api_is_gone() {
    // The fake serves the shutdown, then closes its port as a stopping daemon does.
    let (addr, server) = fake_api(1, |_| (200, "{}".to_string()));
    let out = btbt(&["--api", &addr.to_string(), "daemon", "exit"], &[]);
    let got = server.join().unwrap();
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/api/v1/shutdown")
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "daemon stopped\n");
}

#[test]
fn unreachable_daemon_exits_1_naming_the_url() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [
        vec!["list"],
        vec!["torrent", "resume", "--all"],
        vec!["daemon", "status"],
    ] {
        let mut full = vec!["--api", url.as_str()];
        full.extend(args.iter().copied());
        let out = btbt(&full, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(&url), "{stderr}");
        assert!(stderr.contains("btbt daemon start"), "{stderr}");
    }
}

#[test]
fn download_with_an_explicit_api_never_falls_back_to_the_foreground() {
    let dir = tempfile::tempdir().unwrap();
    let torrent = dir.path().join("x.torrent");
    std::fs::write(&torrent, b"not a torrent").unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = btbt(&["download", torrent.to_str().unwrap()], &[("CCBT_API", &url)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&url), "{}", text(&out.stderr));
}

#[test]
fn download_without_a_daemon_runs_in_the_foreground() {
    if TcpStream::connect(("127.0.0.1", 64124)).is_ok() {
        eprintln!("skipped: something answers on the default API port");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let torrent = dir.path().join("broken.torrent");
    std::fs::write(&torrent, b"not a torrent").unwrap();
    let out = btbt(&["download", torrent.to_str().unwrap()], &[]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("downloading in the foreground"), "{stderr}");
    // The foreground run loads the file as `ccbt` does: a broken one is bad input naming it.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.torrent"), "{stderr}");
}

#[test]
fn bad_ids_and_values_are_refused_before_any_request() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [
        vec!["show", "not-an-id"],
        vec!["torrent", "set", "1", "--down", "fast"],
        vec!["queue", "reorder", "1", "sideways"],
        vec!["files", "priority", "1", "0", "urgent"],
        vec!["magnet", "magnet:?dn=no-hash"],
    ] {
        let mut full = vec!["--api", url.as_str()];
        full.extend(args.iter().copied());
        let out = btbt(&full, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn show_prints_head_files_peers_trackers_and_the_piece_bar() {
    let mut detail = summary_json(4, "delta", "downloading");
    let extra = serde_json::json!({
        "piece_length": 16384, "num_pieces": 4, "pieces_have": 2,
        "files": [{"index": 0, "path": "delta/a.bin", "length": 65536, "verified_bytes": 32768,
                   "progress": 0.5, "priority": "normal", "padding": false}],
        "peers_list": [], "trackers": [], "last_check": null
    });
    for (k, v) in extra.as_object().unwrap() {
        detail[k] = v.clone();
    }
    let detail = detail.to_string();
    let pieces = serde_json::json!({"num_pieces": 4, "have": 2, "bitfield_hex": "c0"}).to_string();
    let (addr, server) = fake_api(2, move |req| match req.target.as_str() {
        "/api/v1/torrents/4" => (200, detail.clone()),
        "/api/v1/torrents/4/pieces" => (200, pieces.clone()),
        _ => (404, r#"{"error":{"code":"not_found","message":"no route"}}"#.into()),
    });
    let out = btbt(&["--api", &addr.to_string(), "show", "4"], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(got.len(), 2);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("delta\n  id           4\n"), "{stdout}");
    assert!(
        stdout.contains("0  normal       50.0%  65.5 kB  delta/a.bin\n"),
        "{stdout}"
    );
    assert!(stdout.contains("PEERS (0)\n"), "{stdout}");
    assert!(
        stdout.ends_with("PIECES  2 of 4 verified, 16 KiB each\n[##..]\n"),
        "{stdout}"
    );
}

#[test]
fn files_select_queue_reorder_and_torrent_set_send_the_contract_bodies() {
    let files = serde_json::json!([]).to_string();
    let (addr, server) = fake_api(1, move |_| (200, files.clone()));
    let out = btbt(&["--api", &addr.to_string(), "files", "select", "9", "0", "2"], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("PATCH", "/api/v1/torrents/9/files")
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"files": [0, 2], "priority": "normal"}));

    let queue = serde_json::json!([summary_json(9, "q", "queued")]).to_string();
    let (addr, server) = fake_api(1, move |_| (200, queue.clone()));
    let out = btbt(&["--api", &addr.to_string(), "queue", "reorder", "9", "3"], &[]);
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/api/v1/torrents/9/queue")
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"position": 2}),
        "positions count from 1 on the command line"
    );

    let summary = summary_json(9, "q", "seeding").to_string();
    let (addr, server) = fake_api(1, move |_| (200, summary.clone()));
    let out = btbt(
        &[
            "--api",
            &addr.to_string(),
            "torrent",
            "set",
            "9",
            "--up",
            "none",
            "--seed-time-limit",
            "2h",
        ],
        &[],
    );
    let got = server.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("PATCH", "/api/v1/torrents/9")
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["upload_limit"], "none");
    assert_eq!(body["seed_time_limit_secs"], 7200);
    assert!(body["download_limit"].is_null());
}

#[test]
fn remove_of_several_goes_on_past_a_failure_and_exits_2() {
    let (addr, server) = fake_api(2, |req| {
        if req.target.starts_with("/api/v1/torrents/1?") {
            (
                404,
                r#"{"error":{"code":"not_found","message":"no torrent with id 1"}}"#.into(),
            )
        } else {
            (204, String::new())
        }
    });
    let out = btbt(
        &[
            "--api",
            &addr.to_string(),
            "torrent",
            "remove",
            "1",
            "2",
            "--delete-data",
        ],
        &[],
    );
    let got = server.join().unwrap();
    let targets: Vec<&str> = got.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v1/torrents/1?delete_data=true",
            "/api/v1/torrents/2?delete_data=true"
        ]
    );
    assert!(got.iter().all(|r| r.method == "DELETE"));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "removed 2 and its data\n");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("btbt: error: 1: no torrent with id 1\n"), "{stderr}");
    assert!(stderr.ends_with("btbt: error: 1 of 2 failed\n"), "{stderr}");
}

#[test]
fn a_refused_token_says_where_it_was_looked_for() {
    let (addr, server) = fake_api(1, |_| {
        (
            401,
            r#"{"error":{"code":"unauthorized","message":"missing or wrong API token"}}"#.into(),
        )
    });
    let state = tempfile::tempdir().unwrap();
    let out = btbt(
        &[
            "--api",
            &addr.to_string(),
            "--state-dir",
            state.path().to_str().unwrap(),
            "status",
        ],
        &[],
    );
    let got = server.join().unwrap();
    assert_eq!(got[0].header("authorization"), None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("btbt: error: missing or wrong API token (no token found: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&state.path().join("api.token").display().to_string()),
        "{stderr}"
    );
}
