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

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub mod aria2;
mod daemon;
pub mod http;
pub mod libtorrent;
mod loopback;
pub mod opentracker;
pub mod qbittorrent;
pub mod rqbit;
pub mod swarm;
mod torrents;
pub mod transmission;
mod trees;
mod version;
mod waiting;

pub use daemon::{work_dir, Daemon};
pub use loopback::{accepts, free_port};
pub use torrents::{mktorrent, torrent_info};
pub use trees::{compare_trees, wait_same_tree};
pub(crate) use version::cached;
pub use version::first_line_of;
pub use waiting::{poll, wait_for, when_active, when_seeding};

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
