//! A real API server on 127.0.0.1 with a fake core, on a thread of its own running a
//! current-thread tokio runtime (as the daemon's control thread does).

use std::io;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use super::fake_core::{self, Seen, SeenLog};
use crate::api_server::{serve, ApiAuth};
use crate::control::{control_channel, EventBus};

pub(super) const TOKEN: &str = "test-token-0123456789abcdef";
/// The one origin the test server allows CORS for.
pub(super) const CORS_ORIGIN: &str = "https://dash.example.org";
/// Seconds any one HTTP exchange of a test may take.
const HTTP_TIMEOUT_SECS: u64 = 20;
/// How long the server may take to stop once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct TestServer {
    pub(super) base: String,
    pub(super) bus: EventBus,
    seen: SeenLog,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    pub(super) fn start() -> TestServer {
        TestServer::start_with(true)
    }

    /// A server whose core is already gone (as while the daemon stops).
    pub(super) fn start_without_core() -> TestServer {
        TestServer::start_with(false)
    }

    fn start_with(with_core: bool) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (handle, inbox) = control_channel();
        let bus = inbox.events.clone();
        let seen: SeenLog = Arc::new(Mutex::new(Vec::new()));
        let core_seen = seen.clone();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                if with_core {
                    tokio::spawn(fake_core::run(inbox, core_seen));
                } else {
                    drop(inbox);
                }
                let auth = ApiAuth {
                    token: TOKEN.to_string(),
                    qbittorrent: None,
                    transmission: None,
                    cors_origins: vec![CORS_ORIGIN.to_string()],
                };
                serve(vec![listener], handle, auth, None, async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        });
        TestServer {
            base,
            bus,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A request with the right token.
    pub(super) fn request(&self, method: minreq::Method, path: &str) -> minreq::Request {
        self.anonymous(method, path)
            .with_header("Authorization", format!("Bearer {TOKEN}"))
    }

    /// A request without any token.
    pub(super) fn anonymous(&self, method: minreq::Method, path: &str) -> minreq::Request {
        minreq::Request::new(method, format!("{}{path}", self.base)).with_timeout(HTTP_TIMEOUT_SECS)
    }

    pub(super) fn get(&self, path: &str) -> minreq::Response {
        self.request(minreq::Method::Get, path).send().expect("GET")
    }

    pub(super) fn send_json(&self, method: minreq::Method, path: &str, body: &str) -> minreq::Response {
        self.request(method, path)
            .with_header("Content-Type", "application/json")
            .with_body(body)
            .send()
            .expect("request with a JSON body")
    }

    /// Everything the fake core was asked, in order, since the last call.
    pub(super) fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("seen log"))
    }

    /// Asks the server to stop and waits (bounded) for `serve` to return.
    pub(super) fn stop(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the API server did not stop within {STOP_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().expect("server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop_and_join().expect("serve returned an error");
        } else if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(super) fn json(response: &minreq::Response) -> Value {
    serde_json::from_slice(response.as_bytes()).unwrap_or_else(|err| {
        panic!(
            "status {}: body is not JSON ({err}): {:?}",
            response.status_code,
            String::from_utf8_lossy(response.as_bytes())
        )
    })
}

/// The status, `error.code` and `error.message` of an error answer.
pub(super) fn error_of(response: &minreq::Response) -> (u16, String, String) {
    let body = json(response);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"));
    (response.status_code, code.to_string(), message.to_string())
}

/// The server still answers (after bad input).
pub(super) fn assert_alive(server: &TestServer) {
    let response = server.get("/api/v1/torrents");
    assert_eq!(response.status_code, 200, "the server stopped answering");
}
