//! Alerts end to end: a download whose seeder is stopped mid-way fires the stall
//! alert (seen in `/api/v1/alerts`, `btbt alerts active`, the event stream and a
//! webhook), and the alert resolves when the seeder comes back; rules added with
//! `btbt alerts add` survive a restart, and `btbt alerts test` reaches the webhook
//! and the command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccbt_tests::clients::free_port;
use ccbt_tests::daemon_runs::{num, payload_torrent, wait_until, DaemonOpts, DaemonUnderTest};
use ccbt_tests::start_seeder_on;
use serde_json::Value;

const LEN: u64 = 4 << 20;
/// Slow enough that the seeder is stopped well before the end.
const LIMIT: &str = "256K";
/// Largest request the webhook listener reads.
const MAX_REQUEST: usize = 64 * 1024;

/// A loopback HTTP server that answers 200 to every POST and keeps the bodies.
struct Webhook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, stopping) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(body) = read_post(stream) {
                            sink.lock().unwrap().push(body);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Webhook {
            url,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(what, Duration::from_secs(30), || {
            self.bodies.lock().unwrap().iter().find(|b| pred(b)).cloned()
        })
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (headers, then `Content-Length` bytes), answers 200.
fn read_post(mut stream: std::net::TcpStream) -> Option<Value> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    let mut head = 0usize;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).ok()?;
        head += n;
        if n == 0 || head > MAX_REQUEST {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    serde_json::from_slice(&body).ok()
}

fn stall_alert(list: &Value, id: u64) -> Option<Value> {
    list["active"]
        .as_array()?
        .iter()
        .find(|a| a["rule"] == "torrent_stalled" && a["torrent_id"] == id)
        .cloned()
}

#[test]
fn a_stalled_download_fires_the_stall_alert_and_it_resolves_when_the_seeder_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed");
    let (torrent, _) = payload_torrent(&seed, "payload.bin", LEN, 81, 65536, &[]);
    let seeder_listen = format!("127.0.0.1:{}", free_port());
    let (seeder, peer) = start_seeder_on(&[&torrent], &seed, &seeder_listen, &[]);
    let webhook = Webhook::start();
    let config = format!(
        "[limits]\ndownload = \"{LIMIT}\"\n[alerts]\nstall_after = \"3s\"\ndisk_free_min = \"off\"\n\
         webhook = \"{}\"\nwebhook_timeout = \"2s\"\n",
        webhook.url
    );
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config(&config));
    let mut events = daemon.events();
    let id = num(&daemon.add_torrent(&torrent, &[("peer", peer.as_str())]), "id");
    let sid = id.to_string();
    daemon.wait_torrent(&sid, "some data in", Duration::from_secs(60), |t| {
        num(t, "verified_bytes") > 0
    });

    drop(seeder);
    let fired = wait_until("the stall alert", Duration::from_secs(60), || {
        stall_alert(&daemon.get("/api/v1/alerts").ok(), id)
    });
    let left = daemon.torrent(&sid);
    assert!(num(&left, "verified_bytes") < LEN, "still incomplete: {left}");
    assert_eq!(fired["severity"], "warning", "{fired}");
    assert!(fired["resolved_at"].is_null(), "{fired}");
    assert!(
        fired["message"].as_str().unwrap().contains("nothing arrived for 3s"),
        "{fired}"
    );
    let active = daemon.btbt(&["alerts", "active"]);
    assert!(active.ok().contains("torrent_stalled"), "{}", active.ok());
    let event = events.wait("alert_fired", Duration::from_secs(10), |e| e["kind"] == "alert_fired");
    assert_eq!(num(&event, "id"), id, "{event}");
    let in_event: Value = serde_json::from_str(event["message"].as_str().unwrap()).unwrap();
    assert_eq!(in_event["id"], fired["id"], "{event}");
    let posted = webhook.wait_for("the webhook's alert_fired", |b| b["event"] == "alert_fired");
    assert_eq!(posted["alert"]["rule"], "torrent_stalled", "{posted}");
    assert_eq!(posted["alert"]["id"], fired["id"], "{posted}");

    let (_seeder, _) = start_seeder_on(&[&torrent], &seed, &seeder_listen, &[]);
    let resolved = events.wait("alert_resolved", Duration::from_secs(60), |e| {
        e["kind"] == "alert_resolved"
    });
    let resolved: Value = serde_json::from_str(resolved["message"].as_str().unwrap()).unwrap();
    assert_eq!(resolved["id"], fired["id"]);
    assert!(resolved["resolved_at"].as_u64().is_some(), "{resolved}");
    let list = daemon.get("/api/v1/alerts").ok();
    assert!(stall_alert(&list, id).is_none(), "{list}");
    assert!(
        list["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == fired["id"]),
        "{list}"
    );
    webhook.wait_for("the webhook's alert_resolved", |b| b["event"] == "alert_resolved");
    daemon.wait_state(&sid, "seeding", Duration::from_secs(90));
    daemon.terminate();
}

#[test]
fn rules_are_managed_with_btbt_alerts_and_kept_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let webhook = Webhook::start();
    let hook_out = tmp.path().join("alert-hook.txt");
    let config = format!(
        "[alerts]\nwebhook = \"{}\"\ncommand = 'echo \"$CCBT_EVENT $CCBT_ALERT_RULE\" >> {}'\n\
         [[alerts.rules]]\nname = \"from_config\"\ncondition = \"session.torrents > 100\"\nfor = \"1m\"\n",
        webhook.url,
        hook_out.display()
    );
    let mut daemon = DaemonUnderTest::start(DaemonOpts::new(tmp.path(), "d").config(&config));
    daemon
        .btbt(&[
            "alerts",
            "add",
            "--name",
            "no_torrents",
            "--condition",
            "session.torrents == 0",
            "--for",
            "1s",
            "--severity",
            "info",
        ])
        .ok();
    // A bad condition is refused, naming where.
    let bad = daemon.btbt(&["alerts", "add", "-n", "bad", "-c", "session.torrent == 0"]);
    let err = bad.expect_code(2);
    assert!(err.contains("unknown figure `session.torrent`"), "{err}");

    let rules = daemon.btbt(&["alerts", "list", "--json"]).json();
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for name in [
        "torrent_stalled",
        "tracker_failing",
        "disk_error",
        "from_config",
        "no_torrents",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let fired = wait_until("the runtime rule to fire", Duration::from_secs(20), || {
        let list = daemon.get("/api/v1/alerts").ok();
        list["active"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule"] == "no_torrents")
            .cloned()
    });
    assert_eq!(fired["severity"], "info");

    daemon.btbt(&["alerts", "test"]).ok();
    webhook.wait_for("the test alert", |b| b["alert"]["rule"] == "test");
    let hook_lines = wait_until("the alert command", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&hook_out).unwrap_or_default();
        text.contains("alert_fired test").then_some(text)
    });
    assert!(hook_lines.contains("alert_fired no_torrents"), "{hook_lines}");

    // Only runtime rules can be removed through the API.
    let refused = daemon.btbt(&["alerts", "remove", "from_config"]);
    assert!(
        refused.expect_code(2).contains("config file"),
        "{}",
        refused.expect_code(2)
    );

    daemon.terminate();
    daemon.restart();
    let rules = daemon.get("/api/v1/alerts/rules").ok();
    let kept = rules.as_array().unwrap().iter().find(|r| r["name"] == "no_torrents");
    assert_eq!(kept.map(|r| r["source"].clone()), Some("runtime".into()), "{rules}");
    daemon.btbt(&["alerts", "remove", "no_torrents"]).ok();
    daemon.terminate();
    daemon.restart();
    let rules = daemon.get("/api/v1/alerts/rules").ok();
    assert!(
        !rules.as_array().unwrap().iter().any(|r| r["name"] == "no_torrents"),
        "{rules}"
    );
    daemon.terminate();
}
