//! The daemon's life as a process: `daemon start` prints where it listens,
//! `daemon status` and `daemon exit` reach it, SIGTERM ends it with exit 0 and the
//! session comes back on restart, a second daemon on one state dir is refused while
//! the first keeps answering, a detached start returns once the API answers, and a
//! client with no daemon to reach exits 1 naming the URL it tried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::bin;
use ccbt_tests::clients::free_port;
use ccbt_tests::daemon_runs::{
    payload_torrent, pid_alive, run_to_end, wait_until, DaemonOpts, DaemonUnderTest, DetachedPid, BTBT_TIMEOUT,
    EXIT_TIMEOUT,
};
use serde_json::Value;

#[test]
fn daemon_start_prints_its_addresses_and_daemon_exit_ends_it_with_0() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    let api_url = daemon.api_url();
    let listen = daemon.listen().to_string();
    let line = wait_until("the start line", Duration::from_secs(10), || {
        daemon.process.stdout_lines().into_iter().next()
    });
    assert!(
        line.contains(&api_url),
        "the start line names the API URL {api_url}: {line:?}"
    );
    assert!(
        line.contains(&listen),
        "the start line names the listen address {listen}: {line:?}"
    );

    let status = daemon.btbt(&["daemon", "status"]);
    let out = status.ok();
    assert!(
        out.contains(&daemon.pid().to_string()) || out.contains(&api_url),
        "daemon status names the running daemon (pid {} or {api_url}): {out}",
        daemon.pid()
    );
    let info = daemon.get("/api/v1/session").ok();
    assert_eq!(info["pid"], daemon.pid(), "{info}");
    assert_eq!(info["shards"], 1, "{info}");

    daemon.btbt(&["daemon", "exit"]).ok();
    daemon.wait_exit_success("btbt daemon exit");
    assert_eq!(daemon.health(), None, "nothing answers on {api_url} after exit");
}

#[test]
fn daemon_json_start_line_and_sigterm_keeps_the_session_for_the_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").json());
    let line = wait_until("the JSON start line", Duration::from_secs(10), || {
        daemon.process.stdout_lines().into_iter().next()
    });
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("--json start line is JSON ({e}): {line}"));
    assert_eq!(v["api"], daemon.api_url(), "{v}");
    assert_eq!(v["pid"], daemon.pid(), "{v}");
    assert_eq!(v["listen"], daemon.listen().to_string(), "{v}");

    // A paused torrent with a label, and one running, both from .torrent files.
    let (paused_torrent, paused_hash) = payload_torrent(tmp.path(), "kept.bin", 300_000, 1, 16384, &[]);
    let (running_torrent, running_hash) = payload_torrent(tmp.path(), "other.bin", 200_000, 2, 16384, &[]);
    let paused = daemon.add_torrent(&paused_torrent, &[("paused", "true"), ("label", "archive")]);
    let running = daemon.add_torrent(&running_torrent, &[]);
    assert_eq!(paused["info_hash"], paused_hash.as_str());
    assert_eq!(running["info_hash"], running_hash.as_str());
    let paused_id = paused["id"].to_string();
    daemon.wait_state(&paused_id, "paused", Duration::from_secs(20));

    daemon.terminate();
    daemon.restart();
    let list = daemon.list();
    assert_eq!(list.len(), 2, "both torrents are back: {list:?}");
    let back = daemon.torrent(&paused_id);
    assert_eq!(back["info_hash"], paused_hash.as_str());
    assert_eq!(back["name"], "kept.bin");
    assert_eq!(back["state"], "paused", "a paused torrent comes back paused: {back}");
    assert_eq!(back["labels"], serde_json::json!(["archive"]), "{back}");
    let other = daemon.torrent(&running["id"].to_string());
    assert_eq!(other["info_hash"], running_hash.as_str());
    assert_ne!(other["state"], "paused", "the other one was not paused: {other}");
    daemon.terminate();
}

#[test]
fn daemon_second_one_on_the_same_state_dir_is_refused_and_the_first_keeps_answering() {
    let tmp = tempfile::tempdir().unwrap();
    let mut first = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d"));
    let token_before = std::fs::read_to_string(first.opts.state_dir.join("api.token")).unwrap();
    let json_before = std::fs::read_to_string(first.opts.state_dir.join("daemon.json")).unwrap();

    // Same state dir, other ports: the lock file is what must stop it.
    let mut second_opts = first.opts.clone();
    second_opts.listen.set_port(free_port());
    second_opts.api_port = free_port();
    let mut second = second_opts.spawn();
    let status = second
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the second daemon still runs; stderr:\n{}", second.stderr()));
    assert!(!status.success(), "the second daemon must not start: {status}");
    let stderr = second.stderr();
    assert!(
        stderr.contains(&first.pid().to_string()),
        "the refusal names the running daemon's pid {}: {stderr}",
        first.pid()
    );

    assert!(first.process.is_running());
    let stats = first.get("/api/v1/stats").ok();
    assert_eq!(stats["torrents"], 0, "{stats}");
    assert_eq!(
        std::fs::read_to_string(first.opts.state_dir.join("api.token")).unwrap(),
        token_before,
        "the first daemon's token is untouched"
    );
    assert_eq!(
        std::fs::read_to_string(first.opts.state_dir.join("daemon.json")).unwrap(),
        json_before,
        "the first daemon's daemon.json is untouched"
    );
    first.btbt(&["daemon", "exit"]).ok();
    first.wait_exit_success("btbt daemon exit");
}

#[test]
fn daemon_detached_start_returns_once_the_api_answers_and_writes_pid_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = DaemonOpts::new(tmp.path(), "d");
    opts.listen.set_port(free_port());
    opts.api_port = free_port();
    opts.prepare();
    let start = run_to_end(
        &bin("btbt"),
        &opts.start_args(false),
        &opts.process_env(),
        &opts.root,
        BTBT_TIMEOUT,
    );
    // Whatever happens next, the detached daemon is stopped by its pid.
    let pid_file = opts.state_dir.join("daemon.pid");
    let pid: Option<u32> = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let _guard = pid.map(|p| DetachedPid::new(p, &opts.state_dir.display().to_string()));
    start.ok();
    let pid = pid.unwrap_or_else(|| panic!("{} holds the daemon's pid", pid_file.display()));
    assert!(pid_alive(pid), "the detached daemon (pid {pid}) runs");

    // It returned once the API answers: no waiting here.
    let health = minreq::get(format!("{}/api/v1/health", opts.api_url()))
        .with_timeout(5)
        .send()
        .unwrap_or_else(|e| panic!("the API answers as soon as start returned: {e}"));
    assert_eq!(health.status_code, 200);
    assert!(
        opts.state_dir.join("daemon.log").is_file(),
        "the log file is in the state dir"
    );
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(opts.state_dir.join("daemon.json")).unwrap()).unwrap();
    assert_eq!(info["pid"], pid, "{info}");
    assert_eq!(info["api_url"], opts.api_url(), "{info}");
    let token = std::fs::metadata(opts.state_dir.join("api.token")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(token.permissions().mode() & 0o777, 0o600, "the token file is private");

    let api = opts.api_url();
    let mut client = vec![
        "--api".to_string(),
        api.clone(),
        "--state-dir".into(),
        opts.state_dir.display().to_string(),
    ];
    client.extend(["daemon".into(), "exit".into()]);
    run_to_end(&bin("btbt"), &client, &opts.process_env(), &opts.root, BTBT_TIMEOUT).ok();
    let gone = DetachedPid::new(pid, &opts.state_dir.display().to_string());
    assert!(
        gone.wait_gone(EXIT_TIMEOUT),
        "the detached daemon (pid {pid}) exits after daemon exit"
    );
}

#[test]
fn daemon_client_without_a_daemon_exits_1_naming_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = DaemonOpts::new(tmp.path(), "none");
    opts.prepare();
    let url = format!("http://127.0.0.1:{}", free_port());
    let args: Vec<String> = ["--api", url.as_str(), "list"].iter().map(|s| s.to_string()).collect();
    let run = run_to_end(&bin("btbt"), &args, &opts.process_env(), &opts.root, BTBT_TIMEOUT);
    let stderr = run.expect_code(1);
    assert!(
        stderr.contains(&url),
        "the message names the URL tried ({url}): {stderr}"
    );
    assert!(
        stderr.contains("daemon start"),
        "the message says how to start the daemon: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
