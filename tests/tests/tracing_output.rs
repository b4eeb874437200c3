//! Log output: JSON lines that parse, a Chrome trace of a real download that is
//! valid JSON with the data path's spans and stays under its cap, and a default
//! run that logs little.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ccbt_tests::daemon_runs::{num, payload_torrent, DaemonOpts, DaemonUnderTest};
use ccbt_tests::{start_seeder, Downloader};
use serde_json::Value;

const LEN: u64 = 2 << 20;

/// Every non-empty line of `text`, as JSON (panics naming the line that is not).
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn ccbt_log_format_json_writes_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, _) = payload_torrent(&seed, "payload.bin", LEN, 91, 65536, &[]);
    let (_seeder, peer) = start_seeder(&[&torrent], &seed, &[]);
    let out = tmp.path().join("out");
    let done = Downloader::new(&torrent, &out)
        .peer(&peer)
        .args(&["--log-format", "json", "--no-dht"])
        .env("RUST_LOG", "ccbt_io=debug")
        .run(Duration::from_secs(60));
    let lines = json_lines(&done.stderr());
    assert!(!lines.is_empty(), "ccbt_io=debug logs something during a download");
    for l in &lines {
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(!l[key].is_null(), "`{key}` in {l}");
        }
    }
    // Events inside a peer connection carry its span and fields.
    let in_peer = lines
        .iter()
        .find(|l| l["span"]["name"] == "peer")
        .unwrap_or_else(|| panic!("no line inside a `peer` span: {lines:?}"));
    assert!(
        in_peer["span"]["torrent"].as_str().is_some_and(|t| t.len() == 40),
        "{in_peer}"
    );
    assert!(in_peer["span"]["peer"].as_str().is_some(), "{in_peer}");
    assert_eq!(
        std::fs::read(out.join("payload.bin")).unwrap(),
        std::fs::read(seed.join("payload.bin")).unwrap()
    );
}

/// Starts a daemon with `--trace`, downloads the payload into it from a `ccbt`
/// seeder, stops it, and returns the trace's events and the daemon's stderr.
fn traced_download(cap: &str) -> (Vec<Value>, u64, String) {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, _) = payload_torrent(&seed, "payload.bin", LEN, 92, 16384, &[]);
    let (_seeder, peer) = start_seeder(&[&torrent], &seed, &[]);
    let trace = tmp.path().join("trace.json");
    let trace_arg = trace.display().to_string();
    let opts =
        DaemonOpts::new(tmp.path(), "d")
            .env("RUST_LOG", "")
            .args(&["--trace", &trace_arg, "--trace-max-size", cap]);
    let mut daemon = DaemonUnderTest::start(opts);
    let id = num(&daemon.add_torrent(&torrent, &[("peer", peer.as_str())]), "id").to_string();
    daemon.wait_state(&id, "seeding", Duration::from_secs(60));
    daemon.terminate();
    let bytes = std::fs::read(&trace).unwrap();
    let events: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("the trace is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    let events = events.as_array().expect("a JSON array of events").clone();
    (events, bytes.len() as u64, daemon.process.stderr())
}

#[test]
fn daemon_trace_records_the_data_path_and_the_default_log_is_quiet() {
    let (events, size, stderr) = traced_download("64M");
    assert!(size < 64 << 20);
    let spans: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let named = |name: &str| spans.iter().filter(|e| e["name"] == name).count();
    assert!(named("piece_write") > 0, "piece writes in the trace");
    assert!(named("peer") > 0, "a peer connection in the trace");
    assert!(named("torrent_start") > 0, "the torrent's start in the trace");
    let write = spans.iter().find(|e| e["name"] == "piece_write").unwrap();
    assert!(write["args"]["piece"].as_u64().is_some(), "{write}");
    assert!(
        write["args"]["torrent"].as_str().is_some_and(|t| t.len() == 40),
        "{write}"
    );
    for e in &spans {
        assert!(e["ts"].as_f64().is_some() && e["dur"].as_f64().is_some(), "{e}");
        assert!(e["tid"].as_u64().is_some(), "{e}");
    }
    assert!(
        events.iter().any(|e| e["ph"] == "M" && e["name"] == "thread_name"),
        "threads are named"
    );
    // The default level says what the daemon does, not what each peer does.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() <= 12,
        "a default run logs a few lines, not {}:\n{stderr}",
        lines.len()
    );
    assert!(
        !lines.iter().any(|l| l.contains("DEBUG") || l.contains("TRACE")),
        "{stderr}"
    );
}

#[test]
fn daemon_trace_stops_at_its_cap_and_stays_valid_json() {
    let (events, size, stderr) = traced_download("8K");
    assert!(size <= 8 * 1024, "{size} bytes, over the 8 KiB cap");
    assert!(!events.is_empty());
    assert!(
        stderr.contains("trace file reached its size cap"),
        "{size} bytes, {} events; stderr:\n{stderr}",
        events.len()
    );
}
