//! The qBittorrent routes over real loopback HTTP with a small fake core, the
//! client's address set by `MockConnectInfo` (so a "remote" client can be tested
//! from loopback).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::connect_info::MockConnectInfo;
use tokio::sync::oneshot;

use crate::api_server::compat_auth::CompatCredentials;
use crate::api_server::ClientAddr;
use crate::api_types::{TorrentStateName, TorrentSummary};
use crate::control::{control_channel, ControlInbox, ControlRequest, TorrentAction};
use crate::core::change_log::ChangeLog;

const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

fn summary() -> TorrentSummary {
    TorrentSummary {
        info_hash: HASH.into(),
        state: TorrentStateName::Seeding,
        progress: 1.0,
        verified_bytes: 10,
        total_bytes: 10,
        wanted_bytes: 10,
        download_rate: 0,
        downloaded: 10,
        uploaded: 0,
        ratio: 0.0,
        peers: 0,
        eta_secs: None,
        labels: vec![],
        download_dir: "/data".into(),
        shard: Some(0),
        added_at: 1,
        completed_at: Some(2),
        seconds_downloading: 0,
        ..TorrentSummary::sample(1, "show.mkv")
    }
}

type Actions = Arc<Mutex<Vec<(String, TorrentAction)>>>;

/// Answers the few requests these tests make; the change log is a real one.
async fn fake_core(mut inbox: ControlInbox, actions: Actions) {
    let mut log = ChangeLog::new(3);
    let mut current = summary();
    log.record(current.clone());
    while let Some(req) = inbox.requests.recv().await {
        match req {
            ControlRequest::ListTorrents(reply) => drop(reply.send(Ok(vec![current.clone()]))),
            ControlRequest::Categories(reply) => drop(reply.send(Ok(Default::default()))),
            ControlRequest::Action { id, action, reply } => {
                actions.lock().unwrap().push((id, action));
                if action == TorrentAction::Pause {
                    current.state = TorrentStateName::Paused;
                    log.record(current.clone());
                }
                drop(reply.send(Ok(current.clone())));
            }
            ControlRequest::SyncMainData { rid, reply } => {
                let d = log.delta_since(rid, Instant::now(), &BTreeMap::new(), &[]);
                drop(reply.send(Ok(d)));
            }
            // Anything else: the reply is dropped, as by a core that stopped.
            _ => {}
        }
    }
}

struct Server {
    base: String,
    actions: Actions,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(client: &str, credentials: Option<CompatCredentials>) -> Server {
        let client: SocketAddr = client.parse().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let actions: Actions = Arc::new(Mutex::new(Vec::new()));
        let core_actions = actions.clone();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (handle, inbox) = control_channel();
                tokio::spawn(fake_core(inbox, core_actions));
                let app = super::routes(handle, credentials, "native-token").layer(MockConnectInfo(ClientAddr(client)));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app.into_make_service())
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        Server {
            base,
            actions,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn req(&self, method: minreq::Method, path: &str) -> minreq::Request {
        minreq::Request::new(method, format!("{}{path}", self.base)).with_timeout(20)
    }

    fn get(&self, path: &str) -> minreq::Response {
        self.req(minreq::Method::Get, path).send().unwrap()
    }

    fn post_form(&self, path: &str, body: &str, cookie: Option<&str>) -> minreq::Response {
        let mut r = self
            .req(minreq::Method::Post, path)
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_body(body);
        if let Some(c) = cookie {
            r = r.with_header("Cookie", c);
        }
        r.send().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn header(r: &minreq::Response, name: &str) -> Option<String> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn creds() -> CompatCredentials {
    CompatCredentials {
        username: "admin".into(),
        password: "pw-123".into(),
    }
}

#[test]
fn without_credentials_a_remote_client_is_forbidden_and_loopback_is_served() {
    let remote = Server::start("10.0.0.5:4000", None);
    let r = remote.get("/api/v2/app/version");
    assert_eq!(r.status_code, 403);
    assert_eq!(r.as_str().unwrap(), "Forbidden");
    assert_eq!(
        remote
            .post_form("/api/v2/auth/login", "username=a&password=b", None)
            .as_str()
            .unwrap(),
        "Fails."
    );

    let local = Server::start("127.0.0.1:4000", None);
    let r = local.get("/api/v2/app/version");
    assert_eq!((r.status_code, r.as_str().unwrap()), (200, "v5.0.0"));
    assert_eq!(local.get("/api/v2/app/webapiVersion").as_str().unwrap(), "2.11.2");
    let list: serde_json::Value = serde_json::from_str(local.get("/api/v2/torrents/info").as_str().unwrap()).unwrap();
    assert_eq!(list[0]["hash"], HASH);
    assert_eq!(list[0]["state"], "stalledUP");
    assert_eq!(local.get("/api/v2/no/such/call").status_code, 404);
}

#[test]
fn with_credentials_the_login_cookie_lets_a_remote_client_in() {
    let s = Server::start("10.0.0.5:4000", Some(creds()));
    assert_eq!(s.get("/api/v2/app/version").status_code, 403);
    let wrong = s.post_form("/api/v2/auth/login", "username=admin&password=nope", None);
    assert_eq!((wrong.status_code, wrong.as_str().unwrap()), (200, "Fails."));
    assert!(header(&wrong, "set-cookie").is_none());
    let ok = s.post_form("/api/v2/auth/login", "username=admin&password=pw-123", None);
    assert_eq!(ok.as_str().unwrap(), "Ok.");
    let set_cookie = header(&ok, "set-cookie").expect("a SID cookie");
    assert!(
        set_cookie.starts_with("SID=") && set_cookie.contains("HttpOnly"),
        "{set_cookie}"
    );
    let sid = set_cookie.split(';').next().unwrap().to_string();

    let r = s
        .req(minreq::Method::Get, "/api/v2/app/version")
        .with_header("Cookie", sid.as_str())
        .send()
        .unwrap();
    assert_eq!((r.status_code, r.as_str().unwrap()), (200, "v5.0.0"));

    // An action by hash reaches the core; an unknown hash is skipped.
    let body = format!("hashes={HASH}|ffffffffffffffffffffffffffffffffffffffff");
    assert_eq!(s.post_form("/api/v2/torrents/stop", &body, Some(&sid)).status_code, 200);
    assert_eq!(
        *s.actions.lock().unwrap(),
        vec![(HASH.to_string(), TorrentAction::Pause)]
    );
    // Actions are POST only, as in qBittorrent 5.
    let r = s
        .req(minreq::Method::Get, &format!("/api/v2/torrents/stop?hashes={HASH}"))
        .with_header("Cookie", sid.as_str())
        .send()
        .unwrap();
    assert_eq!(r.status_code, 405);

    // Logged out, the cookie no longer works.
    s.post_form("/api/v2/auth/logout", "", Some(&sid));
    assert_eq!(
        s.req(minreq::Method::Get, "/api/v2/app/version")
            .with_header("Cookie", sid.as_str())
            .send()
            .unwrap()
            .status_code,
        403
    );
}

#[test]
fn maindata_is_full_at_rid_zero_then_only_the_change() {
    let s = Server::start("127.0.0.1:4000", None);
    let full: serde_json::Value = serde_json::from_str(s.get("/api/v2/sync/maindata?rid=0").as_str().unwrap()).unwrap();
    assert_eq!(full["full_update"], true);
    assert_eq!(full["torrents"][HASH]["name"], "show.mkv");
    assert!(full["server_state"]["connection_status"].is_string());
    let rid = full["rid"].as_u64().unwrap();

    let quiet = s.get(&format!("/api/v2/sync/maindata?rid={rid}"));
    assert_eq!(quiet.as_str().unwrap(), format!("{{\"rid\":{rid}}}"));

    s.post_form("/api/v2/torrents/pause", &format!("hashes={HASH}"), None);
    let delta = s.get(&format!("/api/v2/sync/maindata?rid={rid}"));
    let delta: serde_json::Value = serde_json::from_str(delta.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {} {:?}", delta.status_code, delta.as_str()));
    assert!(delta.get("full_update").is_none(), "{delta}");
    let changed = delta["torrents"][HASH].as_object().unwrap();
    assert_eq!(changed["state"], "stoppedUP");
    assert!(
        !changed.contains_key("name") && !changed.contains_key("size"),
        "{delta}"
    );
}
