//! A real `btbt daemon start --foreground` for end-to-end tests: its own state and
//! download folders under a test's temp dir, free loopback ports, the token read
//! from its state dir, JSON requests to its API, `btbt` client commands against it,
//! bounded waits, `kill -9` and SIGTERM, and a restart on the same state.
//!
//! Every process is killed by its pid when its handle drops; every wait has a time
//! limit and fails with the daemon's stderr.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::clients::{free_port, http};

mod api_reply;
mod btbt_run;
mod event_stream;
mod process;

pub use api_reply::ApiReply;
pub use btbt_run::{run_to_end, BtbtRun, BTBT_TIMEOUT};
pub use event_stream::EventReader;
pub use process::{pid_alive, DaemonProcess, DetachedPid};

/// How long a daemon may take to answer its health check after start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a daemon may take to exit after SIGTERM or `daemon exit`.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a daemon. `root` is the test's folder; the daemon's state, data,
/// home and XDG folders live under it, so a restart with the same options finds
/// the same state.
#[derive(Clone, Debug)]
pub struct DaemonOpts {
    pub root: PathBuf,
    pub state_dir: PathBuf,
    pub download_dir: PathBuf,
    pub shards: usize,
    /// The peer listen address (IP and port); port 0 picks a free one at start.
    pub listen: SocketAddr,
    /// The API's port on 127.0.0.1; 0 picks a free one at start.
    pub api_port: u16,
    /// The config file's TOML text, written to `root/<name>-config.toml`.
    pub config: Option<String>,
    /// `--json` on `daemon start`.
    pub json: bool,
    pub env: Vec<(String, String)>,
    /// More `daemon start` flags (`--log-format json`, `--trace FILE`).
    pub extra_args: Vec<String>,
    name: String,
}

impl DaemonOpts {
    /// A daemon named `name` (its folders are `root/name-state`, `root/name-data`),
    /// one shard, peers on 127.0.0.1, short peer redials.
    pub fn new(root: &Path, name: &str) -> DaemonOpts {
        DaemonOpts {
            root: root.to_path_buf(),
            state_dir: root.join(format!("{name}-state")),
            download_dir: root.join(format!("{name}-data")),
            shards: 1,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_port: 0,
            config: None,
            json: false,
            env: vec![
                ("CCBT_REDIAL_BASE_MS".into(), "200".into()),
                ("CCBT_REDIAL_MAX_MS".into(), "1000".into()),
            ],
            extra_args: Vec::new(),
            name: name.to_string(),
        }
    }

    /// Adds `daemon start` flags.
    pub fn args(mut self, args: &[&str]) -> DaemonOpts {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn shards(mut self, n: usize) -> DaemonOpts {
        self.shards = n;
        self
    }

    /// Listens for peers on `ip` (a 127.0.0.x), on a free port.
    pub fn listen_ip(mut self, ip: Ipv4Addr) -> DaemonOpts {
        assert!(ip.is_loopback(), "tests listen on loopback only, not {ip}");
        self.listen = SocketAddr::from((ip, 0));
        self
    }

    pub fn config(mut self, toml: &str) -> DaemonOpts {
        self.config = Some(toml.to_string());
        self
    }

    pub fn json(mut self) -> DaemonOpts {
        self.json = true;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> DaemonOpts {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The API's base URL (once the port is chosen).
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Chooses free ports where none is set yet, so a restart keeps the same ones.
    fn with_ports(mut self) -> DaemonOpts {
        if self.listen.port() == 0 {
            self.listen.set_port(free_port());
        }
        if self.api_port == 0 {
            self.api_port = free_port();
        }
        self
    }

    /// The arguments of `btbt daemon start` for these options (ports chosen).
    pub fn start_args(&self, foreground: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["daemon".into(), "start".into()];
        if foreground {
            args.push("--foreground".into());
        }
        args.extend([
            "--state-dir".into(),
            self.state_dir.display().to_string(),
            "--download-dir".into(),
            self.download_dir.display().to_string(),
            "--listen".into(),
            self.listen.to_string(),
            "--api".into(),
            format!("127.0.0.1:{}", self.api_port),
            "--shards".into(),
            self.shards.to_string(),
        ]);
        if self.config.is_some() {
            args.extend(["--config".into(), self.config_path().display().to_string()]);
        }
        if self.json {
            args.push("--json".into());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    fn config_path(&self) -> PathBuf {
        self.root.join(format!("{}-config.toml", self.name))
    }

    /// The environment every process of this daemon's test runs with: its own
    /// home and XDG folders (no user config or state is read or written), short
    /// redials, and the test's extra variables.
    pub fn process_env(&self) -> Vec<(String, String)> {
        let home = self.root.join(format!("{}-home", self.name));
        let mut env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("XDG_DATA_HOME".into(), home.join("data").display().to_string()),
            ("XDG_CONFIG_HOME".into(), home.join("config").display().to_string()),
        ];
        env.extend(self.env.iter().cloned());
        env
    }

    /// Makes the download and home folders (the daemon makes its state dir, with
    /// its own mode) and writes the config file.
    pub fn prepare(&self) {
        for dir in [&self.download_dir, &self.root.join(format!("{}-home", self.name))] {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        }
        if let Some(toml) = &self.config {
            std::fs::write(self.config_path(), toml).expect("write the daemon's config file");
        }
    }

    /// Starts `btbt daemon start --foreground` with these options, without waiting
    /// for anything (ports must be chosen).
    pub fn spawn(&self) -> DaemonProcess {
        assert!(self.api_port != 0 && self.listen.port() != 0, "ports are chosen first");
        self.prepare();
        let mut cmd = Command::new(crate::bin("btbt"));
        cmd.args(self.start_args(true))
            .env_remove("CCBT_API")
            .env_remove("CCBT_API_TOKEN")
            .envs(self.process_env())
            .current_dir(&self.root);
        DaemonProcess::spawn(&mut cmd)
    }
}

/// A running daemon started by the test.
pub struct DaemonUnderTest {
    pub opts: DaemonOpts,
    pub process: DaemonProcess,
    /// The bearer token from `state_dir/api.token`.
    pub token: String,
}

impl DaemonUnderTest {
    /// Starts a daemon in the foreground and waits (bounded) until `GET
    /// /api/v1/health` answers 200 and the token file is there.
    pub fn start(opts: DaemonOpts) -> DaemonUnderTest {
        let opts = opts.with_ports();
        let process = opts.spawn();
        let mut daemon = DaemonUnderTest {
            opts,
            process,
            token: String::new(),
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.process.exit_status() {
                panic!(
                    "the daemon exited ({status}) before its API answered; stdout: {:?}\nstderr:\n{}",
                    self.process.stdout_lines(),
                    self.process.stderr()
                );
            }
            if self.health() == Some(200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon's API ({}) did not answer within {START_TIMEOUT:?}; stderr:\n{}",
                self.opts.api_url(),
                self.process.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let token_file = self.opts.state_dir.join("api.token");
        self.token = std::fs::read_to_string(&token_file)
            .unwrap_or_else(|e| panic!("read {}: {e}", token_file.display()))
            .trim()
            .to_string();
        assert!(!self.token.is_empty(), "{} is empty", token_file.display());
    }

    /// Starts the daemon again on the same state, folders and ports (after
    /// [`DaemonUnderTest::kill9`] or [`DaemonUnderTest::terminate`]).
    ///
    /// After a `kill -9` the kernel may hold the peer port a moment longer (the
    /// killed process's io_uring rings are torn down after it is reaped), so this
    /// first waits (bounded) until the port can be bound again, as a supervisor
    /// restarting it would; returns how long that took.
    pub fn restart(&mut self) -> Duration {
        assert!(!self.process.is_running(), "restart: the daemon still runs");
        let started = Instant::now();
        wait_until(
            &format!("the peer port {} to be free again", self.opts.listen),
            Duration::from_secs(30),
            || std::net::TcpListener::bind(self.opts.listen).ok().map(drop),
        );
        let port_wait = started.elapsed();
        self.process = self.opts.spawn();
        self.wait_ready();
        port_wait
    }

    pub fn api_url(&self) -> String {
        self.opts.api_url()
    }

    /// The address peers reach this daemon on.
    pub fn listen(&self) -> SocketAddr {
        self.opts.listen
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The status of `GET /api/v1/health`, if it answered at all.
    pub fn health(&self) -> Option<u16> {
        self.raw("GET", "/api/v1/health", &[], &[]).map(|r| r.status).ok()
    }

    /// Sends a request with the given headers (no token added); `Err` when the
    /// daemon does not answer.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<ApiReply, String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.opts.api_port));
        let reply = http::request(addr, method, path, headers, body, REQUEST_TIMEOUT)?;
        Ok(ApiReply::new(format!("{method} {path}"), reply.status, &reply.body))
    }

    /// Sends a request with the token; panics when the daemon does not answer.
    pub fn request(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> ApiReply {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        self.raw(method, path, &headers, body).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: the daemon did not answer: {e}; stderr:\n{}",
                self.process.stderr()
            )
        })
    }

    pub fn get(&self, path: &str) -> ApiReply {
        self.request("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, json: &Value) -> ApiReply {
        self.request("POST", path, Some("application/json"), json.to_string().as_bytes())
    }

    pub fn patch(&self, path: &str, json: &Value) -> ApiReply {
        self.request("PATCH", path, Some("application/json"), json.to_string().as_bytes())
    }

    pub fn delete(&self, path: &str) -> ApiReply {
        self.request("DELETE", path, None, &[])
    }

    /// `POST /api/v1/torrents` with the `.torrent`'s bytes and `query` options
    /// (`peer`, `paused`, `label`, `download_dir`, ...); returns the 2xx answer
    /// (`{id, info_hash, name}`).
    pub fn add_torrent(&self, torrent: &Path, query: &[(&str, &str)]) -> Value {
        let bytes = std::fs::read(torrent).unwrap_or_else(|e| panic!("read {}: {e}", torrent.display()));
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", http::urlencode(v.as_bytes())))
            .collect();
        let path = if query.is_empty() {
            "/api/v1/torrents".to_string()
        } else {
            format!("/api/v1/torrents?{}", query.join("&"))
        };
        self.request("POST", &path, Some("application/x-bittorrent"), &bytes)
            .ok()
    }

    /// A reader of `GET /api/v1/events` from now on.
    pub fn events(&self) -> EventReader {
        EventReader::connect(self.opts.api_port, &self.token)
    }

    /// `GET /api/v1/torrents/{id}`.
    pub fn torrent(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/torrents/{id}")).ok()
    }

    /// `GET /api/v1/torrents`.
    pub fn list(&self) -> Vec<Value> {
        match self.get("/api/v1/torrents").ok() {
            Value::Array(items) => items,
            other => panic!("GET /api/v1/torrents is not an array: {other}"),
        }
    }

    /// Polls `GET /api/v1/torrents/{id}` (every 100 ms, at most `timeout`) until
    /// `pred` holds; returns that answer. Panics with the last answer and the
    /// daemon's stderr on timeout or if the daemon exits.
    pub fn wait_torrent(&mut self, id: &str, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.torrent(id);
            if pred(&t) {
                return t;
            }
            assert!(
                self.process.is_running(),
                "the daemon exited waiting for {what}; stderr:\n{}",
                self.process.stderr()
            );
            assert!(
                Instant::now() < deadline,
                "torrent {id}: no {what} within {timeout:?}; last: {t}\nstderr:\n{}",
                self.process.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until torrent `id` is in `state`.
    pub fn wait_state(&mut self, id: &str, state: &str, timeout: Duration) -> Value {
        self.wait_torrent(id, &format!("state {state}"), timeout, |t| t["state"] == state)
    }

    /// Runs `btbt --api URL --state-dir D <args>` to its end.
    pub fn btbt(&self, args: &[&str]) -> BtbtRun {
        let mut all = vec![
            "--api".to_string(),
            self.api_url(),
            "--state-dir".into(),
            self.opts.state_dir.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        run_to_end(
            &crate::bin("btbt"),
            &all,
            &self.opts.process_env(),
            &self.opts.root,
            BTBT_TIMEOUT,
        )
    }

    /// `kill -9` by pid; returns once it is reaped.
    pub fn kill9(&mut self) {
        let status = self.process.kill9();
        assert!(!status.success(), "a killed daemon does not exit 0");
    }

    /// SIGTERM, then waits (bounded) and asserts exit 0.
    pub fn terminate(&mut self) -> ExitStatus {
        self.process.signal(15);
        self.wait_exit_success("SIGTERM")
    }

    /// Waits (bounded) for the daemon to exit and asserts exit 0.
    pub fn wait_exit_success(&mut self, after: &str) -> ExitStatus {
        let status = self.process.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "the daemon still runs {EXIT_TIMEOUT:?} after {after}; stderr:\n{}",
                self.process.stderr()
            )
        });
        assert!(
            status.success(),
            "the daemon exited {status} after {after}; stderr:\n{}",
            self.process.stderr()
        );
        status
    }
}

/// Polls `f` (every 100 ms) until it returns `Some`, for at most `timeout`;
/// panics naming `what` otherwise.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A single-file payload of `len` seeded pseudo-random bytes at `dir/name` and its
/// `.torrent` at `dir/name.torrent` (pieces of `piece_size`, extra `btbt create`
/// flags); returns the torrent's path and info-hash.
pub fn payload_torrent(
    dir: &Path,
    name: &str,
    len: u64,
    seed: u64,
    piece_size: u64,
    extra: &[&str],
) -> (PathBuf, String) {
    crate::write_random_file(&dir.join(name), len, seed);
    let torrent = dir.join(format!("{name}.torrent"));
    let mut flags = vec!["--piece-size".to_string(), piece_size.to_string()];
    flags.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let hash = crate::btbt_create(&dir.join(name), &torrent, &refs);
    (torrent, hash)
}

/// The numbers of a `GET /api/v1/torrents/{id}` answer as `u64` (0 when absent).
pub fn num(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}
