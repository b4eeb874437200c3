//! The user-facing handle: starts the shards, places torrents, gathers events.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccbt_engine::connection_policy::ConnectionLimits;
use ccbt_engine::file_priority::FilePriority;
use ccbt_engine::ip_filter::IpFilter;
use ccbt_engine::peer_book::RedialPolicy;
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::dht_socket::DhtSocket;
use ccbt_io::listen_socket::{ListenError, SharedListener};
pub use ccbt_io::peer_filter::{BlockedCounters, BlockedCounts};
use ccbt_io::tracker::TrackerIoError;
use crossbeam_channel::{Receiver, Sender};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};

use crate::dht_service::{DhtLink, DhtRequest, DhtSettings, DhtStart, DhtStatus, DhtWatch};
use crate::lsd_service::{LsdSettings, LsdStart, LsdTorrents};
use crate::messages::{
    AddMagnet, AddTorrent, AdoptConnection, SessionEvent, ShardCommand, TorrentChange, TorrentSnapshot,
};
use crate::query::QueryReply;
use crate::router::Router;
use crate::shard::{self, ShardContext};

/// Depth of each shard-to-shard channel of handed-over connections.
const MESH_CHANNEL_DEPTH: usize = 256;
/// Commands queued for one shard; a caller adding faster than the shard takes
/// them waits (the shard drains its queue without pausing while it is not empty).
const COMMAND_QUEUE_DEPTH: usize = 1024;
/// Events queued for the session from all shards; see `event_outbox` for what a
/// shard does when it is full.
const EVENT_QUEUE_DEPTH: usize = 4096;
/// Default bytes of whole pieces each shard keeps for seeding.
pub const DEFAULT_READ_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How to start a session.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Executors to run; each is pinned to a CPU when there are enough.
    pub shards: usize,
    /// The one listening address all shards share (port 0 picks one).
    pub listen: SocketAddr,
    pub our_id: PeerId,
    pub read_cache_bytes: usize,
    /// Connection limits of each shard (per torrent, per address, over all torrents).
    pub connection_limits: ConnectionLimits,
    /// When to redial peers that failed.
    pub redial: RedialPolicy,
}

/// Why a session could not start or take a torrent.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot start shard {shard}: {reason}")]
    Spawn { shard: usize, reason: String },
    #[error("torrent {0} is already in the session")]
    Duplicate(InfoHash),
    #[error("the session has stopped")]
    Stopped,
    #[error("torrent {info_hash}: {source}")]
    BadTrackerUrl {
        info_hash: InfoHash,
        source: TrackerIoError,
    },
    #[error("no shard {shard}: the session has {shards}")]
    NoSuchShard { shard: usize, shards: usize },
    #[error("{0}")]
    Lsd(String),
    #[error(transparent)]
    Dht(#[from] ccbt_io::dht_socket::DhtSocketError),
    #[error("the DHT is already running")]
    DhtRunning,
}

/// A running set of shards.
pub struct Session {
    commands: Vec<Sender<ShardCommand>>,
    events: Receiver<SessionEvent>,
    router: Arc<Router>,
    threads: Vec<ExecutorJoinHandle<()>>,
    listen_addr: SocketAddr,
    next_shard: usize,
    our_id: PeerId,
    /// Each shard's torrents that local service discovery may announce.
    lsd_torrents: Arc<LsdTorrents>,
    /// Peer exchange for torrents added from now on (off: none of them exchanges).
    pex_enabled: bool,
    /// The DHT node's request queue and status, once started.
    dht: Option<DhtHandle>,
    /// Refusals, violations and bans, counted by every shard.
    peer_guard: Arc<ccbt_io::peer_guard::PeerGuardCounters>,
    /// Each shard's latest figures for monitoring.
    metrics: Arc<crate::shard_metrics::ShardMetricsBoard>,
    /// What the IP filter blocked, counted by every shard.
    blocked: Arc<BlockedCounters>,
}

/// Swaps the session's IP filter from any thread (a file watcher, say) and reads
/// what it blocked; cheap to clone, outlives nothing it needs.
#[derive(Clone)]
pub struct IpFilterControl {
    commands: Vec<Sender<ShardCommand>>,
    blocked: Arc<BlockedCounters>,
}

impl IpFilterControl {
    /// Every shard uses `filter` from its next command on, and closes the
    /// connections it holds to addresses `filter` blocks.
    pub fn set(&self, filter: Arc<IpFilter>) -> Result<(), SessionError> {
        for c in &self.commands {
            c.send(ShardCommand::SetIpFilter(filter.clone()))
                .map_err(|_| SessionError::Stopped)?;
        }
        Ok(())
    }

    /// What the filter blocked so far, over every shard.
    pub fn blocked(&self) -> BlockedCounts {
        self.blocked.snapshot()
    }
}

/// The session's side of its DHT node.
struct DhtHandle {
    requests: Sender<DhtRequest>,
    status: Arc<Mutex<DhtStatus>>,
}

impl Session {
    /// Starts `config.shards` executors, all accepting on one port. The port is
    /// bound here, once, so another process listening on it (another ccbt too) is
    /// an error rather than a silent share; see `ccbt_io::listen_socket`.
    pub fn start(config: SessionConfig) -> Result<Session, SessionError> {
        let n = config.shards.max(1);
        // Before any executor opens a file: every torrent's files share one pool
        // per shard, sized from the descriptors the process may hold.
        let nofile = ccbt_io::fd_limit::raise_nofile_limit();
        ccbt_io::storage::set_files_per_executor(ccbt_io::fd_limit::files_per_executor(nofile, n));
        let listener = SharedListener::bind(config.listen)?;
        let listen = listener.local_addr();
        let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
        let router = Arc::new(Router::new());
        let peer_guard = Arc::new(ccbt_io::peer_guard::PeerGuardCounters::default());
        let lsd_torrents = Arc::new(LsdTorrents::new(n));
        let metrics = Arc::new(crate::shard_metrics::ShardMetricsBoard::new(n));
        let blocked = Arc::new(BlockedCounters::default());
        let (event_tx, events) = crossbeam_channel::bounded(EVENT_QUEUE_DEPTH);
        let mesh: MeshBuilder<AdoptConnection, _> = MeshBuilder::full(n, MESH_CHANNEL_DEPTH);
        let mut commands = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for id in 0..n {
            let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(COMMAND_QUEUE_DEPTH);
            commands.push(cmd_tx);
            let ctx = ShardContext {
                id,
                router: router.clone(),
                commands: cmd_rx,
                events: event_tx.clone(),
                our_id: config.our_id,
                read_cache_bytes: config.read_cache_bytes,
                connection_limits: config.connection_limits,
                redial: config.redial,
                lsd: lsd_torrents.clone(),
                peer_guard: peer_guard.clone(),
                metrics: metrics.clone(),
                blocked: blocked.clone(),
            };
            let shard_listener = listener.try_clone()?;
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let mesh = if n > 1 { Some(mesh.clone()) } else { None };
            let placement = if n <= cpus {
                Placement::Fixed(id)
            } else {
                Placement::Unbound
            };
            let handle = LocalExecutorBuilder::new(placement)
                .name(&format!("ccbt-shard-{id}"))
                .spawn(move || async move {
                    let listener = shard_listener.into_glommio();
                    let _ = started_tx.send(());
                    let mesh = match mesh {
                        Some(m) => match m.join().await {
                            Ok(pair) => Some(pair),
                            Err(_) => return,
                        },
                        None => None,
                    };
                    shard::run(ctx, listener, mesh).await;
                })
                .map_err(|e| SessionError::Spawn {
                    shard: id,
                    reason: e.to_string(),
                })?;
            threads.push(handle);
            match started_rx.recv_timeout(Duration::from_secs(10)) {
                Ok(()) => {}
                Err(_) => {
                    return Err(SessionError::Spawn {
                        shard: id,
                        reason: "did not start".into(),
                    })
                }
            }
        }
        Ok(Session {
            commands,
            events,
            router,
            threads,
            listen_addr: listen,
            next_shard: 0,
            our_id: config.our_id,
            lsd_torrents,
            pex_enabled: true,
            dht: None,
            peer_guard,
            metrics,
            blocked,
        })
    }

    /// Each shard's figures as it last published them (at most a status interval
    /// old); reading them never waits for a shard.
    pub fn shard_metrics(&self) -> Vec<crate::shard_metrics::ShardMetrics> {
        self.metrics.read()
    }

    /// The address peers connect to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    pub fn shard_count(&self) -> usize {
        self.commands.len()
    }

    /// The routing table and its counters.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// Events from every shard.
    pub fn events(&self) -> &Receiver<SessionEvent> {
        &self.events
    }

    /// Sets the IP filter of every shard (see [`IpFilterControl::set`]); until
    /// the first call nothing is blocked.
    pub fn set_ip_filter(&self, filter: Arc<IpFilter>) -> Result<(), SessionError> {
        self.ip_filter_control().set(filter)
    }

    /// A handle that swaps the IP filter from another thread.
    pub fn ip_filter_control(&self) -> IpFilterControl {
        IpFilterControl {
            commands: self.commands.clone(),
            blocked: self.blocked.clone(),
        }
    }

    /// What the IP filter blocked so far, over every shard.
    pub fn ip_filter_blocked(&self) -> BlockedCounts {
        self.blocked.snapshot()
    }

    /// Turns peer exchange (BEP 11) off (or on again) for the torrents added from
    /// now on, whatever their own `config.pex` says.
    pub fn set_pex_enabled(&mut self, on: bool) {
        self.pex_enabled = on;
    }

    /// Places a torrent on a shard (round robin) and starts it there. Returns the shard.
    pub fn add_torrent(&mut self, mut add: AddTorrent) -> Result<usize, SessionError> {
        add.config.pex &= self.pex_enabled;
        let info_hash = add.meta.info_hash;
        let shard = self.next_shard % self.commands.len();
        if !self.router.assign(info_hash, shard) {
            return Err(SessionError::Duplicate(info_hash));
        }
        self.next_shard += 1;
        self.commands[shard]
            .send(ShardCommand::Add(Box::new(add)))
            .map_err(|_| SessionError::Stopped)?;
        Ok(shard)
    }

    /// Places a magnet on a shard (round robin, as [`Session::add_torrent`]), which
    /// fetches its metadata from peers, sends [`SessionEvent::MetadataReceived`] and
    /// starts the torrent. Returns the shard. The info-hash is taken at once: adding
    /// it again, as a magnet or a `.torrent`, is [`SessionError::Duplicate`].
    ///
    /// [`SessionEvent::MetadataReceived`]: crate::messages::SessionEvent::MetadataReceived
    ///
    /// Tracker URLs ccbt cannot announce to (a `wss://` of WebTorrent, say, common
    /// in magnets found in the wild) are left out rather than refusing the link.
    pub fn add_magnet(&mut self, mut magnet: AddMagnet) -> Result<usize, SessionError> {
        for tier in &mut magnet.trackers {
            tier.retain(|url| match ccbt_io::tracker::check_tracker_url(url) {
                Ok(()) => true,
                Err(e) => {
                    tracing::debug!(torrent = %magnet.info_hash, "magnet tracker left out: {e}");
                    false
                }
            });
        }
        magnet.trackers.retain(|tier| !tier.is_empty());
        let info_hash = magnet.info_hash;
        let shard = self.next_shard % self.commands.len();
        if !self.router.assign(info_hash, shard) {
            return Err(SessionError::Duplicate(info_hash));
        }
        self.next_shard += 1;
        self.commands[shard]
            .send(ShardCommand::AddMagnet(Box::new(magnet)))
            .map_err(|_| SessionError::Stopped)?;
        Ok(shard)
    }

    /// Tells the owner of a torrent to dial a peer.
    pub fn add_peer(&self, info_hash: InfoHash, addr: SocketAddr) -> Result<(), SessionError> {
        let shard = self.router.owner(&info_hash).ok_or(SessionError::Stopped)?;
        self.commands[shard]
            .send(ShardCommand::AddPeer { info_hash, addr })
            .map_err(|_| SessionError::Stopped)
    }

    /// Hands addresses a discovery service found (DHT, PEX, LSD) to the torrent's
    /// owner, which remembers their source and dials what is due. A torrent that is
    /// not running ignores them.
    pub fn add_discovered_peers(
        &self,
        info_hash: InfoHash,
        addrs: Vec<SocketAddr>,
        source: PeerSource,
    ) -> Result<(), SessionError> {
        let shard = self.router.owner(&info_hash).ok_or(SessionError::Stopped)?;
        self.commands[shard]
            .send(ShardCommand::AddDiscoveredPeers {
                info_hash,
                addrs,
                source,
            })
            .map_err(|_| SessionError::Stopped)
    }

    /// Stops a torrent and forgets it; [`SessionEvent::Stopped`] follows once it
    /// has really ended (a torrent still checking its data stops before its next
    /// piece). Until then it cannot be added again; a second remove meanwhile
    /// does nothing more.
    pub fn remove_torrent(&self, info_hash: InfoHash) -> Result<(), SessionError> {
        let shard = self.router.owner(&info_hash).ok_or(SessionError::Stopped)?;
        self.commands[shard]
            .send(ShardCommand::Remove { info_hash })
            .map_err(|_| SessionError::Stopped)
    }

    /// Asks the owner of a torrent for its detail; `reply` is called on the
    /// owner's thread (with `None` when the torrent is not running there), or
    /// right here with `None` when no shard owns it.
    pub fn query(
        &self,
        info_hash: InfoHash,
        reply: Box<dyn FnOnce(Option<TorrentSnapshot>) + Send>,
    ) -> Result<(), SessionError> {
        let Some(shard) = self.router.owner(&info_hash) else {
            reply(None);
            return Ok(());
        };
        self.commands[shard]
            .send(ShardCommand::Query {
                info_hash,
                reply: QueryReply::new(reply),
            })
            .map_err(|_| SessionError::Stopped)
    }

    /// Sets a torrent's own payload limits, bytes per second (None = unlimited).
    /// Unknown torrent: nothing happens.
    pub fn set_torrent_limits(
        &self,
        info_hash: InfoHash,
        download: Option<u64>,
        upload: Option<u64>,
    ) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::Limits { download, upload })
    }

    /// Sets one shard's own payload limits, shared by all its torrents on top of
    /// their own (None = unlimited): the shard's share of a global limit. Each
    /// [`SessionEvent::Status`] says what the shard moved and whether it was held back.
    pub fn set_shard_limits(
        &self,
        shard: usize,
        download: Option<u64>,
        upload: Option<u64>,
    ) -> Result<(), SessionError> {
        let sender = self.commands.get(shard).ok_or(SessionError::NoSuchShard {
            shard,
            shards: self.commands.len(),
        })?;
        sender
            .send(ShardCommand::SetShardLimits { download, upload })
            .map_err(|_| SessionError::Stopped)
    }

    /// Refusals by reason, protocol violations (floods by anomaly) and bans, over all shards.
    pub fn peer_guard(&self) -> ccbt_io::peer_guard::PeerGuardSnapshot {
        self.peer_guard.snapshot()
    }

    /// Replaces the session's ban list on every shard: each address is refused for
    /// the time left (and its connections dropped); addresses no longer listed are
    /// let in again, by every torrent.
    pub fn set_bans(&self, bans: Vec<(std::net::IpAddr, Duration)>) -> Result<(), SessionError> {
        let bans = Arc::new(bans);
        for sender in &self.commands {
            sender
                .send(ShardCommand::SetBans(bans.clone()))
                .map_err(|_| SessionError::Stopped)?;
        }
        Ok(())
    }

    /// Sets how much each file of a torrent is wanted (by index; missing entries
    /// are Normal). Unknown torrent: nothing happens.
    pub fn set_file_priorities(&self, info_hash: InfoHash, files: Vec<FilePriority>) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::FilePriorities(files))
    }

    /// Requests a torrent's pieces in order (on) or rarest first (off).
    pub fn set_sequential(&self, info_hash: InfoHash, on: bool) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::Sequential(on))
    }

    /// Announces a torrent to its trackers now (or once a tracker's `min interval` allows).
    pub fn reannounce(&self, info_hash: InfoHash) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::Reannounce)
    }

    /// Replaces a torrent's tracker tiers; every URL must be http, https or udp
    /// (the error names the first that is not). The old trackers are told `stopped`.
    pub fn set_trackers(&self, info_hash: InfoHash, tiers: Vec<Vec<String>>) -> Result<(), SessionError> {
        for url in tiers.iter().flatten() {
            ccbt_io::tracker::check_tracker_url(url)
                .map_err(|source| SessionError::BadTrackerUrl { info_hash, source })?;
        }
        self.configure(info_hash, TorrentChange::Trackers(tiers))
    }

    /// Holds a torrent: its peers are closed, its trackers told `stopped`, and it
    /// dials and admits no peer until released; its verified pieces stay (no
    /// recheck on release). One still checking is held once its check ends.
    /// Unknown or already held: nothing happens.
    pub fn hold(&self, info_hash: InfoHash) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::Hold)
    }

    /// Releases a held torrent (added with `held`, or held since): its trackers
    /// are started and its peers dialled and admitted, at once, or as soon as its
    /// check ends. A torrent not held is left alone.
    pub fn release(&self, info_hash: InfoHash) -> Result<(), SessionError> {
        self.configure(info_hash, TorrentChange::Release)
    }

    /// Sends a change to the torrent's owner; an unknown torrent is left alone.
    fn configure(&self, info_hash: InfoHash, change: TorrentChange) -> Result<(), SessionError> {
        let Some(shard) = self.router.owner(&info_hash) else {
            return Ok(());
        };
        self.commands[shard]
            .send(ShardCommand::Configure { info_hash, change })
            .map_err(|_| SessionError::Stopped)
    }

    /// Starts local service discovery (BEP 14) on shard 0: the session's running,
    /// non-private torrents are announced to `settings.group`, and peers announced
    /// by other hosts for them are dialled (source `lsd`). Fails if the multicast
    /// socket cannot be set up (the error says which step).
    pub fn start_lsd(&self, settings: LsdSettings) -> Result<(), SessionError> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let start = LsdStart {
            settings,
            listen_port: self.listen_addr.port(),
            our_id: self.our_id,
            torrents: self.lsd_torrents.clone(),
            router: self.router.clone(),
            shards: self.commands.clone(),
        };
        self.commands[0]
            .send(ShardCommand::StartLsd {
                start: Box::new(start),
                reply,
            })
            .map_err(|_| SessionError::Stopped)?;
        match answer.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(SessionError::Lsd(why)),
            Err(_) => Err(SessionError::Stopped),
        }
    }

    /// Starts the session's DHT node on shard 0: UDP on the listen address's IP and
    /// `settings.port` (default: the listen port's number), bootstrapped from the
    /// routers and saved nodes; from then on every shard has its public torrents
    /// looked up and announced. Returns the bound UDP address; a taken port is an
    /// error here.
    pub fn start_dht(&mut self, settings: DhtSettings, seed: u64) -> Result<SocketAddr, SessionError> {
        if self.dht.is_some() {
            return Err(SessionError::DhtRunning);
        }
        let port = settings.port.unwrap_or(self.listen_addr.port());
        let socket = DhtSocket::bind(SocketAddr::new(self.listen_addr.ip(), port))?;
        let local = socket.local_addr();
        let (requests_tx, requests_rx) = crossbeam_channel::bounded(crate::dht_service::REQUEST_QUEUE_DEPTH);
        let status = Arc::new(Mutex::new(DhtStatus {
            local_addr: Some(local),
            ..DhtStatus::default()
        }));
        let start = DhtStart {
            socket,
            settings,
            requests: requests_rx,
            status: status.clone(),
            commands: self.commands.clone(),
            router: self.router.clone(),
            seed,
        };
        self.commands[0]
            .send(ShardCommand::StartDht(Box::new(start)))
            .map_err(|_| SessionError::Stopped)?;
        for c in &self.commands {
            let link = DhtLink {
                requests: requests_tx.clone(),
                announce_port: self.listen_addr.port(),
            };
            c.send(ShardCommand::AttachDht(link))
                .map_err(|_| SessionError::Stopped)?;
        }
        self.dht = Some(DhtHandle {
            requests: requests_tx,
            status,
        });
        Ok(local)
    }

    /// The DHT node's counters and table (refreshed each second); None when off.
    pub fn dht_status(&self) -> Option<DhtStatus> {
        let dht = self.dht.as_ref()?;
        dht.status.lock().ok().map(|s| s.clone())
    }

    /// A handle on the DHT status that can be kept after the session moves on.
    pub fn dht_watch(&self) -> Option<DhtWatch> {
        self.dht.as_ref().map(|d| DhtWatch(d.status.clone()))
    }

    /// Asks the DHT for peers of a torrent now (and, with a port, to announce it),
    /// outside the regular schedule: for a magnet waiting for its metadata, say.
    /// Peers found go to the torrent's owner. False when the DHT is off or busy.
    pub fn dht_get_peers(&self, info_hash: InfoHash, announce_port: Option<u16>) -> bool {
        self.dht.as_ref().is_some_and(|d| {
            d.requests
                .try_send(DhtRequest::GetPeers {
                    info_hash,
                    announce_port,
                })
                .is_ok()
        })
    }

    /// Stops every shard and waits for their threads. Each shard sends a last
    /// status before it stops, still readable from [`Session::events`].
    pub fn shutdown(&mut self) {
        for c in &self.commands {
            let _ = c.send(ShardCommand::Shutdown);
        }
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}
