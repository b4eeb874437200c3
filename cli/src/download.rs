//! `ccbt`: download (and optionally keep seeding) a set of torrents in one session.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::connection_policy::ConnectionLimits;
use ccbt_engine::peer_book::RedialPolicy;
use ccbt_engine::torrent::TorrentConfig;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::listen_socket::SharedListener;
use ccbt_io::storage::Preallocation;
use ccbt_shards::{
    AddMagnet, AddTorrent, DhtSettings, Session, SessionConfig, SessionEvent, TorrentStatus, DEFAULT_READ_CACHE_BYTES,
};

use crate::error::CliError;
use crate::output::Reporter;
use crate::source::{magnet_peers, Sources};

/// Everything `ccbt` was asked to do.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The `.torrent` files and magnet links to fetch.
    pub sources: Sources,
    pub output_dir: PathBuf,
    /// Keep seeding after the download until stopped.
    pub seed: bool,
    pub peers: Vec<SocketAddr>,
    pub listen: SocketAddr,
    /// The DHT node's settings (None = no DHT).
    pub dht: Option<DhtSettings>,
    pub shards: usize,
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub preallocation: Preallocation,
    /// Write piece data with `O_DIRECT` where possible (`--buffered-writes` turns it off).
    pub direct_writes: bool,
    pub config: TorrentConfig,
    /// Local service discovery (BEP 14); it runs only where the listen address is
    /// not loopback (nobody on the LAN could reach the peer port).
    pub lsd: bool,
}

/// What a finished run did.
#[derive(Debug, Clone, Default)]
pub struct DownloadReport {
    /// Payload bytes received this run.
    pub downloaded: u64,
    pub verified_bytes: u64,
    pub seconds: f64,
    pub handovers: u64,
    /// Torrents that stopped with an error, and why; the others ran on.
    pub failed: Vec<(InfoHash, String)>,
}

/// How often the loop wakes to check for a stop request.
const POLL: Duration = Duration::from_millis(100);

/// The conventional BitTorrent port if it is free, else any free port. The probe
/// binds exactly as the session's listener does, so it answers for that listener.
pub fn default_listen_addr() -> SocketAddr {
    let preferred = SocketAddr::from(([0, 0, 0, 0], 6881));
    match SharedListener::bind(preferred) {
        Ok(_) => preferred,
        Err(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
    }
}

/// Redial timing, shortened by the environment for tests only:
/// `CCBT_REDIAL_BASE_MS` (first wait) and `CCBT_REDIAL_MAX_MS` (ceiling of every wait).
pub fn redial_policy_from_env() -> RedialPolicy {
    let ms = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let mut policy = RedialPolicy::default();
    if let Some(base) = ms("CCBT_REDIAL_BASE_MS") {
        policy.base = base;
    }
    if let Some(max) = ms("CCBT_REDIAL_MAX_MS") {
        policy.max = max;
        policy.pinned_max = max;
    }
    policy
}

/// Starts the session's DHT node. Without `--dht-port` a UDP port number already
/// taken (the TCP one was free) falls back to any free port, with a warning; a
/// port the user named must be free.
pub fn start_dht(session: &mut Session, settings: DhtSettings) -> Result<SocketAddr, CliError> {
    let seed = rand::Rng::gen::<u64>(&mut <rand::rngs::SmallRng as rand::SeedableRng>::from_entropy());
    match session.start_dht(settings.clone(), seed) {
        Ok(addr) => Ok(addr),
        Err(e) if settings.port.is_none() => {
            tracing::warn!(error = %e, "DHT: the listen port's number is taken for UDP; using another port");
            let fallback = DhtSettings {
                port: Some(0),
                ..settings
            };
            Ok(session.start_dht(fallback, seed)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A fresh peer id for this process.
pub fn new_peer_id() -> PeerId {
    let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::from_entropy();
    PeerId::generate(&mut rng)
}

/// Runs the session until every torrent is verified (or, with `seed`, until `stop`).
pub fn run(opts: DownloadOptions, reporter: &mut Reporter, stop: Arc<AtomicBool>) -> Result<DownloadReport, CliError> {
    let start = Instant::now();
    // The session binds the port once, exclusively: another process on it is an error.
    let mut session = Session::start(SessionConfig {
        shards: opts.shards,
        listen: opts.listen,
        our_id: new_peer_id(),
        read_cache_bytes: DEFAULT_READ_CACHE_BYTES,
        connection_limits: ConnectionLimits::default(),
        redial: redial_policy_from_env(),
    })?;
    if opts.lsd && !session.listen_addr().ip().is_loopback() {
        if let Err(error) = session.start_lsd(ccbt_shards::LsdSettings::default()) {
            tracing::warn!(%error, "local service discovery is off");
        }
    }
    reporter.listening(session.listen_addr(), session.shard_count());
    if let Some(dht) = &opts.dht {
        start_dht(&mut session, dht.clone())?;
    }
    let result = drive(&opts, &mut session, reporter, &stop, start);
    session.shutdown();
    let mut latest: HashMap<InfoHash, TorrentStatus> = HashMap::new();
    while let Ok(ev) = session.events().try_recv() {
        if let SessionEvent::Status { torrents, .. } = ev {
            for t in torrents {
                latest.insert(t.info_hash, t);
            }
        }
    }
    reporter.finish();
    // The summary is printed however the run ends (done, interrupted, failed):
    // a script reading `--json` always gets its last line.
    let mut report = DownloadReport {
        seconds: start.elapsed().as_secs_f64(),
        handovers: session.router().handovers(),
        ..DownloadReport::default()
    };
    if !latest.is_empty() {
        report.downloaded = latest.values().map(|t| t.stats.downloaded).sum();
        report.verified_bytes = latest.values().map(|t| t.stats.verified_bytes).sum();
    }
    let statuses: Vec<TorrentStatus> = latest.into_values().collect();
    reporter.status(&statuses, report.handovers, Duration::ZERO);
    reporter.summary(
        report.downloaded,
        report.seconds,
        report.verified_bytes,
        report.handovers,
    );
    report.failed = result?;
    // Each error was reported when it happened; the exit status only says how many.
    if !report.failed.is_empty() {
        return Err(CliError::TorrentsFailed {
            failed: report.failed.len(),
            total: opts.sources.len(),
        });
    }
    Ok(report)
}

fn drive(
    opts: &DownloadOptions,
    session: &mut Session,
    reporter: &mut Reporter,
    stop: &AtomicBool,
    start: Instant,
) -> Result<Vec<(InfoHash, String)>, CliError> {
    let mut names: HashMap<InfoHash, String> = HashMap::new();
    // Each torrent's size, for its `complete` line (a magnet's once its metadata is in).
    let mut sizes: HashMap<InfoHash, u64> = HashMap::new();
    let mut config = opts.config.clone();
    config.listen_port = Some(session.listen_addr().port());
    for t in &opts.sources.torrents {
        names.insert(t.meta.info_hash, t.meta.info.name.clone());
        sizes.insert(t.meta.info_hash, t.meta.info.total_length);
        session.add_torrent(AddTorrent {
            meta: t.meta.clone(),
            download_dir: opts.output_dir.clone(),
            config: config.clone(),
            preallocation: opts.preallocation,
            direct_writes: opts.direct_writes,
            peers: opts.peers.clone(),
            file_priorities: Vec::new(),
            download_limit: opts.download_limit,
            upload_limit: opts.upload_limit,
            resume: None,
            sequential: false,
            trackers: None,
            held: false,
        })?;
    }
    for m in &opts.sources.magnets {
        let mut peers = opts.peers.clone();
        peers.extend(magnet_peers(m).into_iter().filter(|p| !opts.peers.contains(p)));
        names.insert(
            m.info_hash,
            m.display_name.clone().unwrap_or_else(|| m.info_hash.to_hex()),
        );
        session.add_magnet(AddMagnet {
            info_hash: m.info_hash,
            display_name: m.display_name.clone(),
            // Each `tr` its own tier, as libtorrent and Transmission read magnets.
            trackers: m.trackers.iter().map(|t| vec![t.clone()]).collect(),
            peers,
            select_only: m.select_only.clone(),
            download_dir: opts.output_dir.clone(),
            config: config.clone(),
            preallocation: opts.preallocation,
            direct_writes: opts.direct_writes,
            download_limit: opts.download_limit,
            upload_limit: opts.upload_limit,
            sequential: false,
            held: false,
        })?;
    }
    let mut complete: HashMap<InfoHash, bool> = names.keys().map(|h| (*h, false)).collect();
    // A torrent that failed is finished too: one torrent's disk error never stops
    // the others, it only makes the exit status non-zero.
    let mut failed: HashMap<InfoHash, String> = HashMap::new();
    let finished = |complete: &HashMap<InfoHash, bool>, failed: &HashMap<InfoHash, String>| {
        complete.iter().all(|(h, c)| *c || failed.contains_key(h))
    };
    let mut latest: HashMap<InfoHash, TorrentStatus> = HashMap::new();
    let mut shard_reports = 0usize;
    loop {
        if stop.load(Ordering::Relaxed) {
            if opts.seed || finished(&complete, &failed) {
                break;
            }
            return Err(CliError::Interrupted);
        }
        // Seeding goes on while any torrent can still serve.
        if finished(&complete, &failed) && (!opts.seed || failed.len() == complete.len()) {
            break;
        }
        let event = match session.events().recv_timeout(POLL) {
            Ok(ev) => ev,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => continue,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(CliError::TorrentFailed("the session stopped unexpectedly".into()))
            }
        };
        let hex = |h: &InfoHash| h.to_hex();
        match event {
            SessionEvent::Started {
                info_hash,
                have,
                num_pieces,
                ..
            } => {
                let name = names.get(&info_hash).cloned().unwrap_or_default();
                reporter.started(&name, &hex(&info_hash), have, num_pieces);
            }
            SessionEvent::Completed { info_hash } => {
                if let Some(done) = complete.get_mut(&info_hash) {
                    if !*done {
                        *done = true;
                        let name = names.get(&info_hash).cloned().unwrap_or_default();
                        let size = sizes.get(&info_hash).copied().unwrap_or(0);
                        reporter.complete(size, &name, &hex(&info_hash), start.elapsed());
                    }
                }
            }
            SessionEvent::Failed { info_hash, error } => {
                if complete.contains_key(&info_hash) && !failed.contains_key(&info_hash) {
                    let name = names.get(&info_hash).cloned().unwrap_or_default();
                    reporter.failed(&name, &hex(&info_hash), &error);
                    failed.insert(info_hash, error);
                }
            }
            SessionEvent::Status { torrents, .. } => {
                for t in torrents {
                    latest.insert(t.info_hash, t);
                }
                shard_reports += 1;
                if shard_reports >= session.shard_count() {
                    shard_reports = 0;
                    let mut all: Vec<TorrentStatus> = latest.values().cloned().collect();
                    all.sort_by(|a, b| a.name.cmp(&b.name));
                    reporter.status(&all, session.router().handovers(), ccbt_shards::STATUS_INTERVAL);
                }
            }
            SessionEvent::ShardStopped { shard } => {
                return Err(CliError::TorrentFailed(format!("shard {shard} stopped unexpectedly")));
            }
            // The one-shot run keeps no resume records and removes nothing.
            SessionEvent::MetadataReceived { info_hash, meta } => {
                names.insert(info_hash, meta.info.name.clone());
                sizes.insert(info_hash, meta.info.total_length);
                reporter.metadata(
                    &meta.info.name,
                    &hex(&info_hash),
                    meta.info.total_length,
                    start.elapsed(),
                );
            }
            SessionEvent::Resume { .. } | SessionEvent::Stopped { .. } => {}
            // The torrent refuses the address itself; a one-shot run keeps no list.
            SessionEvent::PeerBanned { .. } => {}
        }
    }
    Ok(failed.into_iter().collect())
}
