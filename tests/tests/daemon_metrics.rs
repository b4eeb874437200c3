//! `/metrics` of a real daemon: checked by Prometheus' own `promtool` while the
//! daemon downloads from python3-libtorrent, scraped by a real Prometheus server
//! started here on loopback, and printed by `btbt metrics` in both formats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ccbt_tests::clients::http;
use ccbt_tests::clients::{free_port, Client, Libtorrent, Opts, Swarm};
use ccbt_tests::daemon_runs::{num, wait_until, DaemonOpts, DaemonProcess, DaemonUnderTest};
use serde_json::Value;

const SEEDER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const LEECHER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const LEN: u64 = 6_000_000;

/// The value of the sample `line_start` (a name with its labels) in `text`.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

/// `promtool check metrics` on `text` (it reads stdin); its verdict and output.
fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/install-test-deps.sh)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn scrape(daemon: &DaemonUnderTest) -> String {
    let reply = daemon.get("/metrics");
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.text
}

#[test]
fn metrics_follow_a_real_download_and_promtool_accepts_them() {
    let swarm = Swarm::single(LEN, 16);
    let lt = Libtorrent::start_seeder(
        &swarm.torrent,
        &swarm.seed_dir,
        &Opts {
            work_root: Some(swarm.dir.path().join("work")),
            ..Opts::default()
        }
        .with_listen_ip(SEEDER_IP),
    );
    // Slowed so the scrape below sees it downloading; per-torrent series on.
    let opts = DaemonOpts::new(swarm.dir.path(), "d")
        .listen_ip(LEECHER_IP)
        .shards(2)
        .config("[limits]\ndownload = \"1M\"\n[metrics]\nper_torrent = true\n");
    let mut daemon = DaemonUnderTest::start(opts);
    let peer = lt.listen_addr().to_string();
    let id = daemon.add_torrent(&swarm.torrent, &[("peer", peer.as_str())])["id"].to_string();
    daemon.wait_torrent(&id, "bytes verified", Duration::from_secs(60), |t| {
        t["state"] == "downloading" && num(t, "verified_bytes") > 0
    });
    // The shards publish once a second: wait for a published verified piece.
    let during = wait_until("a scrape with a verified piece", Duration::from_secs(10), || {
        let text = scrape(&daemon);
        let verified: f64 = (0..2)
            .filter_map(|s| sample(&text, &format!("ccbt_pieces_verified_total{{shard=\"{s}\"}}")))
            .sum();
        (verified > 0.0).then_some(text)
    });
    let (ok, said) = promtool_check(&during);
    assert!(ok, "promtool check metrics refused the scrape: {said}\n{during}");
    assert!(
        sample(&during, "ccbt_torrents{state=\"downloading\"}") == Some(1.0),
        "{during}"
    );
    let hash = swarm.info_hash.as_str();
    assert!(
        during.contains(&format!(
            "ccbt_torrent_peers{{info_hash=\"{hash}\",name=\"payload.bin\"}} "
        )),
        "per-torrent series: {during}"
    );
    assert_eq!(sample(&during, "ccbt_torrent_series_omitted"), Some(0.0));

    daemon.wait_state(&id, "seeding", Duration::from_secs(90));
    swarm.assert_copy(&daemon.opts.download_dir, Duration::from_secs(5));
    // The last pieces reach the counters with the next publication.
    let pieces = LEN.div_ceil(1 << 16) as f64;
    let after = wait_until("every piece counted", Duration::from_secs(10), || {
        let text = scrape(&daemon);
        let sum = |family: &str| -> f64 {
            (0..2)
                .filter_map(|s| sample(&text, &format!("{family}{{shard=\"{s}\"}}")))
                .sum()
        };
        (sum("ccbt_pieces_verified_total") == pieces).then(|| (text.clone(), sum("ccbt_disk_write_bytes_total")))
    });
    let (text, written) = after;
    assert_eq!(written, LEN as f64, "every byte written once: {text}");
    let sum_over_shards = |prefix: &str, suffix: &str| -> f64 {
        (0..2)
            .filter_map(|s| sample(&text, &format!("{prefix}{{shard=\"{s}\"{suffix}}}")))
            .sum()
    };
    let payload = sum_over_shards("ccbt_payload_bytes_total", ",direction=\"down\"");
    assert!(payload >= LEN as f64, "payload received {payload}: {text}");
    assert!(sum_over_shards("ccbt_protocol_bytes_total", ",direction=\"down\"") > 0.0);
    assert!(sum_over_shards("ccbt_peer_handshakes_total", ",result=\"ok\"") >= 1.0);
    // Every 16 KiB block was requested and arrived once (no loss on loopback).
    let blocks = LEN.div_ceil(16 << 10) as f64;
    assert!(
        sum_over_shards("ccbt_block_request_seconds_count", "") >= blocks,
        "{text}"
    );
    assert_eq!(sum_over_shards("ccbt_piece_hash_seconds_count", ""), pieces, "{text}");
    assert_eq!(sum_over_shards("ccbt_piece_write_seconds_count", ""), pieces, "{text}");
    assert_eq!(sum_over_shards("ccbt_piece_hash_failures_total", ""), 0.0);
    assert!(sum_over_shards("ccbt_shard_busy_seconds_total", "") > 0.0, "{text}");
    let (ok, said) = promtool_check(&text);
    assert!(ok, "promtool check metrics refused the scrape: {said}");

    // The busy figure is in /api/v1/stats as well, per shard.
    let stats = daemon.get("/api/v1/stats").ok();
    let shards = stats["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    for s in shards {
        let busy = s["busy_percent"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&busy), "{stats}");
    }

    // Without the token: refused, as the native API is.
    let anonymous = daemon.raw("GET", "/metrics", &[], &[]).unwrap();
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);

    // btbt metrics: the same figures in both formats.
    let json = daemon.btbt(&["metrics", "--format", "json"]).json();
    let shard_rows = json["shards"].as_array().unwrap();
    let verified: u64 = shard_rows.iter().map(|s| num(s, "pieces_verified")).sum();
    assert_eq!(verified as f64, pieces, "{json}");
    assert_eq!(json["session"]["torrents_by_state"]["seeding"], 1, "{json}");
    assert_eq!(json["torrents"][0]["info_hash"], hash, "{json}");
    assert_eq!(json["torrents"][0]["state"], "seeding", "{json}");
    let block = &shard_rows[0]["block_request_latency"];
    assert_eq!(block["buckets"].as_array().unwrap().len(), 18, "{block}");
    let run = daemon.btbt(&["metrics"]);
    let text = run.ok();
    assert!(text.contains("# TYPE ccbt_pieces_verified_total counter"), "{text}");
    let printed: f64 = (0..2)
        .filter_map(|s| sample(text, &format!("ccbt_pieces_verified_total{{shard=\"{s}\"}}")))
        .sum();
    assert_eq!(printed, pieces);
    let (ok, said) = promtool_check(text);
    assert!(ok, "btbt metrics output refused: {said}");
    assert!(lt.is_running());
    daemon.terminate();
}

#[test]
fn per_torrent_series_stop_at_the_cap_and_metrics_can_be_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let capped = DaemonUnderTest::start(
        DaemonOpts::new(tmp.path(), "capped").config("[metrics]\nper_torrent = true\nper_torrent_max = 1\n"),
    );
    for (i, name) in ["one.bin", "two.bin"].iter().enumerate() {
        let (torrent, _) = ccbt_tests::daemon_runs::payload_torrent(
            &capped.opts.download_dir,
            name,
            100_000,
            i as u64 + 1,
            16_384,
            &[],
        );
        capped.add_torrent(&torrent, &[]);
    }
    let text = scrape(&capped);
    assert_eq!(sample(&text, "ccbt_torrent_series_omitted"), Some(2.0), "{text}");
    assert!(!text.contains("info_hash="), "{text}");
    let json = capped.btbt(&["metrics", "-f", "json"]).json();
    assert_eq!(json["torrents_omitted"], 2, "{json}");
    assert_eq!(json["torrents"].as_array().map(Vec::len), Some(0), "{json}");

    let off = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "off").config("[metrics]\nenabled = false\n"));
    let message = off.get("/metrics").expect_error(404, "not_found");
    assert!(message.contains("[metrics] enabled = false"), "{message}");
    let run = off.btbt(&["metrics"]);
    // The API's 404, as for any refused request.
    let said = run.expect_code(2);
    assert!(said.contains("metrics are turned off"), "{said}");
}

#[test]
fn a_real_prometheus_server_scrapes_the_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").shards(2));
    let api: SocketAddr = daemon.api_url().trim_start_matches("http://").parse().unwrap();
    let prom_port = free_port();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        prometheus_config(api, &daemon.opts.state_dir.join("api.token")),
    )
    .unwrap();
    let mut prometheus = DaemonProcess::spawn(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .current_dir(tmp.path()),
    );
    let prom = SocketAddr::from((Ipv4Addr::LOCALHOST, prom_port));
    let busy = wait_until("Prometheus to hold a ccbt series", Duration::from_secs(60), || {
        assert!(prometheus.is_running(), "prometheus exited: {}", prometheus.stderr());
        let answer = query(prom, "ccbt_shard_busy_seconds_total")?;
        let results = answer["data"]["result"].as_array()?.clone();
        let values: Vec<f64> = results
            .iter()
            .filter_map(|r| r["value"][1].as_str()?.parse().ok())
            .collect();
        (results.len() == 2 && values.iter().all(|v| *v > 0.0)).then_some(results)
    });
    assert!(busy.iter().all(|r| r["metric"]["job"] == "ccbt"), "{busy:?}");
    let up = query(prom, "up{job=\"ccbt\"}").expect("Prometheus answers");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    prometheus.signal(15);
    assert!(
        prometheus.wait_exit(Duration::from_secs(20)).is_some(),
        "prometheus did not stop on SIGTERM"
    );
}

/// A Prometheus config scraping `target` each second with the daemon's token.
fn prometheus_config(target: SocketAddr, token_file: &Path) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: ccbt\n    authorization:\n      credentials_file: {}\n    \
         static_configs:\n      - targets: ['{target}']\n",
        token_file.display()
    )
}

/// An instant query to Prometheus' HTTP API; None until it answers with success.
fn query(prom: SocketAddr, promql: &str) -> Option<Value> {
    let path = format!("/api/v1/query?query={}", http::urlencode(promql.as_bytes()));
    let reply = http::request(prom, "GET", &path, &[], &[], Duration::from_secs(5)).ok()?;
    let body = reply.json().ok()?;
    (body["status"] == "success").then_some(body)
}
