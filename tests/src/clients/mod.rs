//! Real BitTorrent clients on loopback, for interop tests: libtorrent (through a
//! small Python script), Transmission, qBittorrent, aria2 and rqbit, plus
//! opentracker as the tracker. `scripts/install-interop-deps.sh` installs them.
//!
//! Every client:
//! - is a child of the test process, in the test's own process group (so nextest's
//!   timeout and Ctrl-C reach it too), killed by its pid when the handle drops (none
//!   of these clients forks helpers); its profile lives in a temporary folder it owns;
//! - listens on 127.0.0.1 only, or another 127.0.0.x ([`Opts::listen_ip`];
//!   Transmission also on ::1: it cannot turn IPv6 off), with DHT, LSD,
//!   UPnP/NAT-PMP, PEX (except rqbit: no switch) and uTP off and plaintext allowed;
//! - announces to the trackers in the `.torrent` (opentracker on loopback);
//! - keeps `data_dir/<torrent name>` as its data, rechecked at start.
//!
//! Start one with [`Kind::start_seeder`] (returns once the data is rechecked and
//! seeding) / [`Kind::start_downloader`] (returns once the torrent is active, so it
//! can be dialed at once), or each type's own `start_*`, and use the [`Client`]
//! trait: `listen_addr`, `add_peer` (where the client can be told to dial), `status`,
//! `is_complete`, `wait_complete`, `version`. [`Swarm`] sets up a tracker, a payload
//! and its torrent for one test.
//!
//! What decides who dials whom on loopback (docs/interop-notes.md has the rest):
//! opentracker's interval is 1900 s, so a client that announced first does not
//! learn of later ones; Transmission never dials a 127.0.0.x peer a tracker gives
//! it; aria2 and Transmission cannot be told to dial a peer.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ccbt_engine::metainfo::Metainfo;

pub mod aria2;
pub mod libtorrent;
pub mod opentracker;
pub mod qbittorrent;
pub mod rqbit;
pub mod swarm;
pub mod transmission;

pub use aria2::Aria2;
pub use libtorrent::Libtorrent;
pub use opentracker::Opentracker;
pub use qbittorrent::QBittorrent;
pub use rqbit::Rqbit;
pub use swarm::Swarm;
pub use transmission::Transmission;

/// The real clients the harness can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Libtorrent,
    Transmission,
    QBittorrent,
    Aria2,
    Rqbit,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Libtorrent,
        Kind::Transmission,
        Kind::QBittorrent,
        Kind::Aria2,
        Kind::Rqbit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Libtorrent => "libtorrent",
            Kind::Transmission => "transmission",
            Kind::QBittorrent => "qbittorrent",
            Kind::Aria2 => "aria2",
            Kind::Rqbit => "rqbit",
        }
    }

    /// Whether [`Client::add_peer`] works: the client can be told to dial a peer.
    pub fn can_add_peer(self) -> bool {
        !matches!(self, Kind::Transmission | Kind::Aria2)
    }

    /// Whether the client dials 127.0.0.1 peers that a tracker returns
    /// (Transmission 3.00 does not).
    pub fn dials_tracker_peers(self) -> bool {
        !matches!(self, Kind::Transmission)
    }

    /// Starts this client seeding `data_dir/<name>` (rechecked first).
    pub fn start_seeder(self, torrent: &Path, data_dir: &Path, opts: &Opts) -> Box<dyn Client> {
        match self {
            Kind::Libtorrent => Box::new(Libtorrent::start_seeder(torrent, data_dir, opts)),
            Kind::Transmission => Box::new(Transmission::start_seeder(torrent, data_dir, opts)),
            Kind::QBittorrent => Box::new(QBittorrent::start_seeder(torrent, data_dir, opts)),
            Kind::Aria2 => Box::new(Aria2::start_seeder(torrent, data_dir, opts)),
            Kind::Rqbit => Box::new(Rqbit::start_seeder(torrent, data_dir, opts)),
        }
    }

    /// Starts this client downloading into `out_dir/<name>`; it keeps seeding after.
    pub fn start_downloader(self, torrent: &Path, out_dir: &Path, opts: &Opts) -> Box<dyn Client> {
        match self {
            Kind::Libtorrent => Box::new(Libtorrent::start_downloader(torrent, out_dir, opts)),
            Kind::Transmission => Box::new(Transmission::start_downloader(torrent, out_dir, opts)),
            Kind::QBittorrent => Box::new(QBittorrent::start_downloader(torrent, out_dir, opts)),
            Kind::Aria2 => Box::new(Aria2::start_downloader(torrent, out_dir, opts)),
            Kind::Rqbit => Box::new(Rqbit::start_downloader(torrent, out_dir, opts)),
        }
    }

    /// The client's version string, e.g. "qBittorrent v4.5.2".
    pub fn version(self) -> String {
        match self {
            Kind::Libtorrent => libtorrent::version(),
            Kind::Transmission => transmission::version(),
            Kind::QBittorrent => qbittorrent::version(),
            Kind::Aria2 => aria2::version(),
            Kind::Rqbit => rqbit::version(),
        }
    }
}

/// Options shared by every client's `start_*`.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// Peers to dial as soon as the torrent is added (only for clients where
    /// [`Kind::can_add_peer`]; others panic if this is not empty).
    pub peers: Vec<SocketAddr>,
    /// Folder under which the client's profile folder is made (a fresh unique
    /// temporary folder, removed when the client drops). Default: the system temp dir.
    pub work_root: Option<PathBuf>,
    /// How long to wait for the client to start, add the torrent and (for a seeder)
    /// finish rechecking. Default: 60 s.
    pub start_timeout: Option<Duration>,
    /// The loopback address the client listens on and dials from. Default 127.0.0.1.
    /// Another 127.0.0.x makes it a different peer for clients that key peers by IP
    /// (a seeding Transmission refuses a second 127.0.0.1 downloader).
    pub listen_ip: Option<Ipv4Addr>,
}

impl Opts {
    pub fn with_peer(mut self, peer: SocketAddr) -> Opts {
        self.peers.push(peer);
        self
    }

    pub fn with_listen_ip(mut self, ip: Ipv4Addr) -> Opts {
        self.listen_ip = Some(ip);
        self
    }

    fn start_timeout(&self) -> Duration {
        self.start_timeout.unwrap_or(Duration::from_secs(60))
    }

    /// The listen address to use (127.0.0.1 unless set); panics unless it is loopback.
    pub fn listen_ip(&self) -> Ipv4Addr {
        let ip = self.listen_ip.unwrap_or(Ipv4Addr::LOCALHOST);
        assert!(ip.is_loopback(), "clients listen on loopback only, not {ip}");
        ip
    }
}

/// A snapshot of one torrent in a client, in the client's own terms.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// The client's state name ("seeding", "stalledUP", "live", ...).
    pub state: String,
    /// Bytes verified (or at least completed, as the client counts them).
    pub done_bytes: u64,
    /// Bytes wanted.
    pub total_bytes: u64,
    /// Connected peers.
    pub peers: u64,
    /// Payload bytes uploaded to peers by this client run.
    pub uploaded_bytes: u64,
    /// The torrent runs: checking done, peers can exchange pieces with it now
    /// (a client still verifying drops incoming peers for the torrent).
    pub active: bool,
    /// The client's own verdict: every piece verified and the torrent seeding.
    pub complete: bool,
    /// An error the client reports for the torrent, if any.
    pub error: Option<String>,
}

/// The dial requested through [`Client::add_peer`] is not something this client can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// One running client with one torrent.
pub trait Client {
    fn kind(&self) -> Kind;
    /// Where it accepts BitTorrent connections (TCP): `127.0.0.1:PORT`, or the
    /// [`Opts::listen_ip`] it was given.
    fn listen_addr(&self) -> SocketAddr;
    /// The port of [`Client::listen_addr`].
    fn listen_port(&self) -> u16 {
        self.listen_addr().port()
    }
    /// Tells the client to dial `peer` for its torrent.
    fn add_peer(&self, peer: SocketAddr) -> Result<(), Unsupported>;
    /// The torrent's state now (panics if the client's API does not answer).
    fn status(&self) -> Status;
    /// The client's process.
    fn daemon(&self) -> &Mutex<Daemon>;

    /// The client's process id.
    fn pid(&self) -> u32 {
        self.daemon().lock().unwrap().pid()
    }
    /// Whether the process is still running.
    fn is_running(&self) -> bool {
        self.daemon().lock().unwrap().is_running()
    }
    /// The tail of its output and log files, for failure messages.
    fn logs(&self) -> String {
        self.daemon().lock().unwrap().logs()
    }

    /// The client's version string.
    fn version(&self) -> String {
        self.kind().version()
    }

    /// The client's own verdict: every piece verified and seeding.
    fn is_complete(&self) -> bool {
        self.status().complete
    }

    /// Waits (polling every 200 ms) until [`Client::is_complete`]; panics with the
    /// client's status and logs after `timeout` or if the process dies.
    fn wait_complete(&self, timeout: Duration) {
        let start = Instant::now();
        loop {
            assert!(
                self.is_running(),
                "{} (pid {}) exited before completing; logs:\n{}",
                self.kind().name(),
                self.pid(),
                self.logs()
            );
            let st = self.status();
            if st.complete {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "{} (pid {}) not complete after {timeout:?}: {st:?}; logs:\n{}",
                    self.kind().name(),
                    self.pid(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Polls `client.status()` every 100 ms until `pred` holds; panics with the status
/// and logs at `deadline` or if the process dies.
/// `client` once it seeds (its data rechecked), waiting at most `opts.start_timeout()`.
pub fn when_seeding<C: Client>(client: C, opts: &Opts) -> C {
    let deadline = Instant::now() + opts.start_timeout();
    wait_for(&client, "seeding after its recheck", deadline, |st| st.complete);
    client
}

/// `client` once its torrent is active, waiting at most `opts.start_timeout()`.
pub fn when_active<C: Client>(client: C, opts: &Opts) -> C {
    let deadline = Instant::now() + opts.start_timeout();
    wait_for(&client, "an active torrent", deadline, |st| st.active);
    client
}

pub fn wait_for(client: &dyn Client, what: &str, deadline: Instant, pred: impl Fn(&Status) -> bool) {
    loop {
        let st = client.status();
        if pred(&st) {
            return;
        }
        assert!(
            client.is_running(),
            "{} (pid {}) exited while waiting for {what}: {st:?}; logs:\n{}",
            client.kind().name(),
            client.pid(),
            client.logs()
        );
        assert!(
            Instant::now() < deadline,
            "{} (pid {}): no {what} in time: {st:?}; logs:\n{}",
            client.kind().name(),
            client.pid(),
            client.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Info-hash (lowercase hex) and name of a `.torrent` file.
pub fn torrent_info(torrent: &Path) -> (String, String) {
    let bytes = std::fs::read(torrent).unwrap_or_else(|e| panic!("read {}: {e}", torrent.display()));
    let m = Metainfo::from_bytes(&bytes).unwrap_or_else(|e| panic!("parse {}: {e:?}", torrent.display()));
    (m.info_hash.to_hex(), m.info.name)
}

/// Runs `mktorrent` on `content` with `piece_exp` (log2 of the piece size) and one
/// announce URL; returns the info-hash. Panics with mktorrent's stderr on failure.
pub fn mktorrent(content: &Path, out: &Path, piece_exp: u32, announce: &str) -> String {
    let _ = std::fs::remove_file(out);
    let output = Command::new("mktorrent")
        .args(["-l", &piece_exp.to_string(), "-a", announce, "-o"])
        .arg(out)
        .arg(content)
        .output()
        .expect("mktorrent is installed by scripts/install-interop-deps.sh");
    assert!(
        output.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    torrent_info(out).0
}

static PORTS_GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free on 127.0.0.1 for TCP and UDP (and on ::1 for TCP, where IPv6 is up):
/// binds 127.0.0.1:0, reads the port, drops it. Never returns the same port twice in
/// one process.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
            l.local_addr().unwrap().port()
        };
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        if TcpListener::bind(("::1", 0)).is_ok() && TcpListener::bind(("::1", port)).is_err() {
            continue;
        }
        let mut given = PORTS_GIVEN.lock().unwrap();
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free loopback port found in 100 tries");
}

/// A fresh folder for one client's profile, removed when dropped.
pub fn work_dir(prefix: &str, opts: &Opts) -> tempfile::TempDir {
    let root = opts.work_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).unwrap();
    tempfile::Builder::new()
        .prefix(&format!("ccbt-{prefix}-"))
        .tempdir_in(&root)
        .unwrap_or_else(|e| panic!("temp dir in {}: {e}", root.display()))
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`.
pub fn poll<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Whether something accepts TCP connections on `addr` (1 s connect timeout).
pub fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Runs `cmd args` and returns the first line of its stdout, or of its stderr when
/// stdout is empty (some clients print their version there).
pub fn first_line_of(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    let text = if out.stdout.iter().any(|b| !b.is_ascii_whitespace()) {
        out.stdout
    } else {
        out.stderr
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Caches a version string per client for the process's lifetime.
pub(crate) fn cached(cell: &'static OnceLock<String>, f: impl FnOnce() -> String) -> String {
    cell.get_or_init(f).clone()
}

/// Compares two trees (or two files): every file under `expected` must exist under
/// `actual` with the same bytes. Returns the number of files, or the first difference.
pub fn compare_trees(expected: &Path, actual: &Path) -> Result<usize, String> {
    if expected.is_file() {
        let want = std::fs::read(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
        let got = std::fs::read(actual).map_err(|e| format!("{}: {e}", actual.display()))?;
        if want != got {
            return Err(format!(
                "{} differs ({} bytes expected, {} found)",
                actual.display(),
                want.len(),
                got.len()
            ));
        }
        return Ok(1);
    }
    let mut stack = vec![PathBuf::new()];
    let mut files = 0;
    while let Some(rel) = stack.pop() {
        let dir = expected.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let rel_child = rel.join(entry.file_name());
            if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
                stack.push(rel_child);
                continue;
            }
            let want = std::fs::read(expected.join(&rel_child)).map_err(|e| e.to_string())?;
            let got = std::fs::read(actual.join(&rel_child))
                .map_err(|e| format!("{}: {e}", actual.join(&rel_child).display()))?;
            if want != got {
                return Err(format!(
                    "{} differs ({} bytes expected, {} found)",
                    rel_child.display(),
                    want.len(),
                    got.len()
                ));
            }
            files += 1;
        }
    }
    if files == 0 {
        return Err(format!("no files under {}", expected.display()));
    }
    Ok(files)
}

/// Polls until the two trees hold the same bytes (a client may still be flushing its
/// cache just after it says complete); panics with the first difference after
/// `timeout`. Returns the number of files compared.
pub fn wait_same_tree(expected: &Path, actual: &Path, timeout: Duration) -> usize {
    let mut last = String::new();
    poll(timeout, Duration::from_millis(250), || {
        compare_trees(expected, actual).map_err(|e| last = e).ok()
    })
    .unwrap_or_else(|| {
        panic!(
            "{} is not a copy of {} after {timeout:?}: {last}",
            actual.display(),
            expected.display()
        )
    })
}

const LOG_TAIL: usize = 8000;

/// A client process, with stdout and stderr collected (stdout lines also on a
/// channel). Dropping it kills it by its pid (SIGKILL) and reaps it.
///
/// It stays in the test's process group on purpose: nextest runs each test in a
/// group of its own and signals that whole group on timeout or Ctrl-C, so a client
/// is not left running when a test is cut short. (The clients here do not fork, so
/// killing the pid ends everything they started.)
pub struct Daemon {
    child: Child,
    name: String,
    reaped: bool,
    stdin: Option<ChildStdin>,
    lines: Mutex<Receiver<String>>,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    log_files: Vec<PathBuf>,
}

impl Daemon {
    /// Starts `cmd`, stdin piped when `with_stdin` (else /dev/null), stdout and
    /// stderr collected.
    pub fn spawn(name: &str, cmd: &mut Command, with_stdin: bool) -> Daemon {
        cmd.stdin(if with_stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("start {name} ({cmd:?}): {e}"));
        let (tx, rx) = mpsc::channel();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Periodic status lines (libtorrent's driver) go to the channel only,
                // so the log tail keeps the events.
                if !line.starts_with(r#"{"type": "status""#) {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                    trim_front(&mut s, 4 * LOG_TAIL);
                }
                let _ = tx.send(line);
            }
        });
        let err = Arc::new(Mutex::new(String::new()));
        let sink = err.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                trim_front(&mut s, 4 * LOG_TAIL);
            }
        });
        let stdin = child.stdin.take();
        Daemon {
            child,
            name: name.to_string(),
            reaped: false,
            stdin,
            lines: Mutex::new(rx),
            out,
            err,
            log_files: Vec::new(),
        }
    }

    /// Adds a log file whose tail [`Daemon::logs`] shows.
    pub fn add_log_file(&mut self, path: PathBuf) {
        self.log_files.push(path);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs (does not reap it).
    pub fn is_running(&self) -> bool {
        if self.reaped {
            return false;
        }
        // /proc/PID/stat: "pid (comm) S ..."; a zombie is "Z".
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) {
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z') && !state.starts_with('X')
            }
            Err(_) => false,
        }
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.lock().unwrap().recv_timeout(timeout).ok()
    }

    /// Writes one line to the process's stdin.
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("stdin not piped"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// The tails of stdout, stderr and the log files.
    pub fn logs(&self) -> String {
        let mut s = format!("--- {} (pid {}) stdout:\n", self.name, self.pid());
        s.push_str(tail(&self.out.lock().unwrap(), LOG_TAIL));
        s.push_str("\n--- stderr:\n");
        s.push_str(tail(&self.err.lock().unwrap(), LOG_TAIL));
        for f in &self.log_files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            s.push_str(&format!("\n--- {}:\n", f.display()));
            s.push_str(tail(&text, LOG_TAIL));
        }
        s
    }

    /// Kills the process now (SIGKILL, by its pid) and reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // Not reaped yet, so the pid cannot have been reused by another process.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn trim_front(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = s.len() - max / 2;
        let mut at = cut;
        while !s.is_char_boundary(at) {
            at += 1;
        }
        s.drain(..at);
    }
}

/// A minimal HTTP/1.1 client for the clients' loopback APIs (no dependency beyond std).
pub mod http {
    use super::*;

    /// A response: status code, raw header block (lowercased names kept as sent),
    /// and the body (chunked encoding undone).
    #[derive(Debug, Clone)]
    pub struct Response {
        pub status: u16,
        pub headers: String,
        pub body: Vec<u8>,
    }

    impl Response {
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        pub fn json(&self) -> Result<serde_json::Value, String> {
            serde_json::from_slice(&self.body).map_err(|e| format!("bad JSON ({e}): {}", self.text()))
        }

        /// The value of a header (case-insensitive name).
        pub fn header(&self, name: &str) -> Option<String> {
            self.headers.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        }
    }

    /// Sends one request (`Connection: close`) and reads the whole response; every
    /// step is bounded by `timeout`.
    pub fn request(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Response, String> {
        let err = |e: std::io::Error| format!("{method} http://{addr}{path}: {e}");
        let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(err)?;
        s.set_read_timeout(Some(timeout)).map_err(err)?;
        s.set_write_timeout(Some(timeout)).map_err(err)?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).map_err(err)?;
        s.write_all(body).map_err(err)?;
        let deadline = Instant::now() + timeout;
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) => return Err(err(e)),
            }
            if let Some(resp) = complete_response(&raw)? {
                return Ok(resp);
            }
            if Instant::now() > deadline {
                return Err(format!("{method} http://{addr}{path}: response too slow"));
            }
        }
        complete_response(&raw)?
            .or_else(|| parse(&raw, true).ok())
            .ok_or_else(|| format!("{method} http://{addr}{path}: truncated response"))
    }

    /// A response once all of it has arrived (by Content-Length or chunked end).
    fn complete_response(raw: &[u8]) -> Result<Option<Response>, String> {
        match parse(raw, false) {
            Ok(r) => Ok(Some(r)),
            Err(None) => Ok(None),
            Err(Some(e)) => Err(e),
        }
    }

    /// Parses `raw`; `Err(None)` means "not complete yet" unless `eof`.
    fn parse(raw: &[u8], eof: bool) -> Result<Response, Option<String>> {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Err(None);
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let (status_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Some(format!("bad status line: {status_line}")))?;
        let headers = headers.replace("\r\n", "\n");
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let rest = &raw[end + 4..];
        if (100..200).contains(&status) {
            return parse(rest, eof);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            let mut body = Vec::new();
            let mut at = 0;
            loop {
                let Some(nl) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Err(None);
                };
                let size_text = String::from_utf8_lossy(&rest[at..at + nl]).into_owned();
                let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| Some(format!("bad chunk size {size_text:?}")))?;
                at += nl + 2;
                if size == 0 {
                    resp.body = body;
                    return Ok(resp);
                }
                if rest.len() < at + size + 2 {
                    return Err(None);
                }
                body.extend_from_slice(&rest[at..at + size]);
                at += size + 2;
            }
        }
        match resp.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(len) if rest.len() >= len => {
                resp.body = rest[..len].to_vec();
                Ok(resp)
            }
            Some(_) => Err(None),
            None if eof => {
                resp.body = rest.to_vec();
                Ok(resp)
            }
            None => Err(None),
        }
    }

    /// `application/x-www-form-urlencoded` encoding of one value.
    pub fn urlencode(s: &[u8]) -> String {
        let mut out = String::new();
        for &b in s {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// A `multipart/form-data` body: (name, filename, bytes) parts; returns the
    /// content type (with boundary) and the body.
    pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
        let boundary = "----ccbt-interop-boundary-7d1f0c2a";
        let mut body = Vec::new();
        for (name, filename, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }
}
