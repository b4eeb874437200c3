//! [`TrackerTask`]: the announce loop of one torrent on the current glommio executor.
//!
//! The engine's `TrackerTiers` decides which tracker is due and with which event; this
//! loop performs the request (HTTP, HTTPS or UDP), reports the outcome back, hands the
//! peers to the caller and sleeps until the next announce is due or it is woken by
//! [`TrackerTask::completed`], [`TrackerTask::announce_now`] or [`TrackerTask::stop`].

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_engine::tracker::http::{announce_url, parse_announce_response, parse_scrape_response};
use ccbt_engine::tracker::http::{scrape_request_url, scrape_url};
use ccbt_engine::tracker::tiers::{AnnouncePolicy, DueAnnounce, TrackerTiers};
use ccbt_engine::tracker::udp::{UdpEvent, UdpRequest};
use ccbt_engine::tracker::{AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeStats, MAX_TRACKER_RESPONSE};
use ccbt_engine::{InfoHash, PeerId};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::Task;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustls::ClientConfig;

use super::http_client::{get, HttpLimits};
use super::udp_client::UdpTrackerClient;
use super::{display_url, TrackerIoError};

/// Bound of one HTTP(S) announce or scrape, DNS to last byte.
pub const HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of one UDP request: BEP 15 retransmits at 0, 15 and 45 s within it.
pub const UDP_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound of the `stopped` announces sent on [`TrackerTask::stop`], all together.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a torrent tells its trackers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Our listening TCP port.
    pub port: u16,
    /// BEP 12 tiers of tracker URLs (see `ccbt_engine::tracker::tiers::tiers_from_metainfo`).
    pub tiers: Vec<Vec<String>>,
    /// Peers asked for per announce.
    pub numwant: u32,
}

/// Transfer totals reported in each announce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnnounceProgress {
    /// Payload bytes uploaded this session.
    pub uploaded: u64,
    /// Payload bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
}

/// Timing and size bounds; [`Default`] suits real trackers, tests shorten them.
#[derive(Clone, Debug)]
pub struct TrackerOptions {
    /// Announce intervals and back-off.
    pub policy: AnnouncePolicy,
    /// Bound of one HTTP(S) request.
    pub http_timeout: Duration,
    /// Bound of one UDP request.
    pub udp_timeout: Duration,
    /// Bound of the `stopped` announces together.
    pub stop_timeout: Duration,
    /// Largest HTTP response body.
    pub max_response: usize,
    /// TLS configuration for HTTPS trackers; `None` uses Mozilla's roots.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            policy: AnnouncePolicy::default(),
            http_timeout: HTTP_REQUEST_TIMEOUT,
            udp_timeout: UDP_REQUEST_TIMEOUT,
            stop_timeout: STOP_TIMEOUT,
            max_response: MAX_TRACKER_RESPONSE,
            tls: None,
        }
    }
}

/// One tracker as a user sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerStatus {
    /// Announce URL.
    pub url: String,
    /// Its BEP 12 tier (0 first).
    pub tier: usize,
    /// Seconds since it last answered an announce.
    pub last_announce_secs_ago: Option<u64>,
    /// Seconds until it is next announced to, if it is next in line or backing off.
    pub next_announce_in_secs: Option<u64>,
    /// Peers it has given us.
    pub peers_received: u64,
    /// Latest seeder count.
    pub seeders: Option<u32>,
    /// Latest leecher count.
    pub leechers: Option<u32>,
    /// Completed downloads, from scrape.
    pub downloaded: Option<u32>,
    /// Error of its last failed announce.
    pub last_error: Option<String>,
    /// Its last warning message.
    pub last_warning: Option<String>,
}

struct Shared {
    config: TrackerConfig,
    options: TrackerOptions,
    tiers: RefCell<TrackerTiers>,
    /// Per-session key (BEP 3 `key`, BEP 15 `key`): the same for every tracker.
    key: u32,
    rng: RefCell<SmallRng>,
    progress: Rc<dyn Fn() -> AnnounceProgress>,
    on_peers: Rc<dyn Fn(Vec<SocketAddr>)>,
    wake: LocalSender<()>,
    stop_requested: Cell<bool>,
}

/// The announce loop of one torrent; see the module docs. Dropping the last handle
/// stops it as [`stop`](Self::stop) does, without waiting.
pub struct TrackerTask {
    shared: Rc<Shared>,
    task: RefCell<Option<Task<()>>>,
}

impl TrackerTask {
    /// Starts announcing on the current executor with default options. Must be called
    /// on a glommio executor thread; the task stays on it (it is not `Send`).
    pub fn start(
        config: TrackerConfig,
        progress: Rc<dyn Fn() -> AnnounceProgress>,
        on_peers: Rc<dyn Fn(Vec<SocketAddr>)>,
    ) -> Rc<TrackerTask> {
        Self::start_with(config, TrackerOptions::default(), progress, on_peers)
    }

    /// Starts announcing on the current executor with `options`.
    pub fn start_with(
        config: TrackerConfig,
        options: TrackerOptions,
        progress: Rc<dyn Fn() -> AnnounceProgress>,
        on_peers: Rc<dyn Fn(Vec<SocketAddr>)>,
    ) -> Rc<TrackerTask> {
        let mut rng = SmallRng::from_entropy();
        let tiers = TrackerTiers::new(&config.tiers, options.policy, Instant::now(), &mut rng);
        let (wake, wake_rx) = local_channel::new_bounded(1);
        let shared = Rc::new(Shared {
            key: rng.gen(),
            rng: RefCell::new(rng),
            config,
            options,
            tiers: RefCell::new(tiers),
            progress,
            on_peers,
            wake,
            stop_requested: Cell::new(false),
        });
        let task = glommio::spawn_local(run(shared.clone(), wake_rx));
        Rc::new(TrackerTask {
            shared,
            task: RefCell::new(Some(task)),
        })
    }

    fn wake(&self) {
        // A full channel already holds a wake-up; the loop re-reads all state anyway.
        let _ = self.shared.wake.try_send(());
    }

    /// The download completed: a `completed` event goes to the trackers soon.
    pub fn completed(&self) {
        self.shared.tiers.borrow_mut().set_completed(Instant::now());
        self.wake();
    }

    /// Re-announces as soon as the tracker's minimum interval allows.
    pub fn announce_now(&self) {
        self.shared.tiers.borrow_mut().announce_now(Instant::now());
        self.wake();
    }

    /// Whether the torrent has too few peers; while it has, the trackers are asked
    /// again early (see `TrackerTiers::set_starved`).
    pub fn set_starved(&self, starved: bool) {
        let changed = {
            let mut tiers = self.shared.tiers.borrow_mut();
            let was = tiers.is_starved();
            tiers.set_starved(starved);
            was != starved
        };
        if changed {
            self.wake();
        }
    }

    /// Ends the loop: sends `stopped` to every tracker that was sent `started`,
    /// best-effort within [`TrackerOptions::stop_timeout`], and returns when done.
    pub async fn stop(&self) {
        self.shared.stop_requested.set(true);
        self.wake();
        let task = self.task.borrow_mut().take();
        if let Some(task) = task {
            task.await;
        }
    }

    /// Every tracker in the order they are tried.
    pub fn status(&self) -> Vec<TrackerStatus> {
        let now = Instant::now();
        let tiers = self.shared.tiers.borrow();
        tiers
            .trackers()
            .map(|(r, s)| TrackerStatus {
                url: s.url.clone(),
                tier: s.tier,
                last_announce_secs_ago: s.last_announce.map(|t| now.saturating_duration_since(t).as_secs()),
                next_announce_in_secs: tiers
                    .next_announce(r)
                    .map(|t| t.saturating_duration_since(now).as_secs()),
                peers_received: s.peers_received,
                seeders: s.seeders,
                leechers: s.leechers,
                downloaded: s.downloaded,
                last_error: s.last_error.clone(),
                last_warning: s.last_warning.clone(),
            })
            .collect()
    }
}

impl Drop for TrackerTask {
    fn drop(&mut self) {
        self.shared.stop_requested.set(true);
        let _ = self.shared.wake.try_send(());
        // Dropping a glommio task cancels it; detached, it sends `stopped` and ends.
        if let Some(task) = self.task.get_mut().take() {
            task.detach();
        }
    }
}

async fn run(shared: Rc<Shared>, wake: LocalReceiver<()>) {
    while !shared.stop_requested.get() {
        let now = Instant::now();
        let due = shared.tiers.borrow().next_due(now);
        if let Some(due) = due {
            let stopped = futures_lite::future::or(
                async {
                    announce(&shared, due).await;
                    false
                },
                async {
                    while wake.recv().await.is_some() {
                        if shared.stop_requested.get() {
                            break;
                        }
                    }
                    true
                },
            )
            .await;
            if stopped {
                break;
            }
            continue;
        }
        let until = shared.tiers.borrow().poll_timeout();
        match until {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                futures_lite::future::or(
                    async {
                        glommio::timer::sleep(wait).await;
                    },
                    async {
                        wake.recv().await;
                    },
                )
                .await
            }
            None => {
                if wake.recv().await.is_none() {
                    break;
                }
            }
        }
    }
    send_stopped(&shared).await;
}

fn request(shared: &Shared, event: AnnounceEvent, tracker_id: Option<Vec<u8>>) -> AnnounceRequest {
    let p = (shared.progress)();
    AnnounceRequest {
        info_hash: shared.config.info_hash,
        peer_id: shared.config.peer_id,
        port: shared.config.port,
        uploaded: p.uploaded,
        downloaded: p.downloaded,
        left: p.left,
        event,
        // Leaving the swarm, we want no peers.
        numwant: Some(if event == AnnounceEvent::Stopped {
            0
        } else {
            shared.config.numwant
        }),
        key: shared.key,
        tracker_id,
    }
}

fn is_udp(url: &str) -> bool {
    url.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("udp://"))
}

/// One announce, then a scrape if the tracker is due one; outcomes go to the tiers.
async fn announce(shared: &Rc<Shared>, due: DueAnnounce) {
    let req = request(shared, due.event, due.tracker_id.clone());
    let mut udp = None;
    let result = if is_udp(&due.url) {
        udp_announce(shared, &due.url, req, shared.options.udp_timeout, &mut udp).await
    } else {
        http_announce(shared, &due.url, &req, shared.options.http_timeout).await
    };
    let now = Instant::now();
    crate::shard_counters::count(|c| {
        c.tracker_announces += 1;
        c.tracker_announce_errors += u64::from(result.is_err());
    });
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "announce failed");
            shared.tiers.borrow_mut().record_failure(&due, now, e.to_string());
            return;
        }
    };
    tracing::debug!(url = %display_url(&due.url), peers = response.peers.len(), "announced");
    shared.tiers.borrow_mut().record_success(&due, now, &response);
    if !response.peers.is_empty() {
        (shared.on_peers)(response.peers);
    }
    if !shared.tiers.borrow().wants_scrape(due.tracker, now) {
        return;
    }
    let stats = match udp.as_mut() {
        Some(client) => udp_scrape(shared, client).await,
        None => http_scrape(shared, &due.url).await,
    };
    if let Err(e) = &stats {
        tracing::debug!(error = %e, "scrape failed");
    }
    shared
        .tiers
        .borrow_mut()
        .record_scrape(due.tracker, Instant::now(), stats.ok());
}

async fn http_announce(
    shared: &Shared,
    url: &str,
    req: &AnnounceRequest,
    timeout: Duration,
) -> Result<AnnounceResponse, TrackerIoError> {
    let limits = HttpLimits {
        timeout,
        max_body: shared.options.max_response,
        tls: shared.options.tls.clone(),
    };
    let body = get(&announce_url(url, req), &limits).await?;
    parse_announce_response(&body).map_err(|source| TrackerIoError::Protocol {
        url: display_url(url),
        source,
    })
}

async fn http_scrape(shared: &Shared, url: &str) -> Result<ScrapeStats, TrackerIoError> {
    let protocol = |source| TrackerIoError::Protocol {
        url: display_url(url),
        source,
    };
    let Some(scrape) = scrape_url(url) else {
        return Err(TrackerIoError::BadUrl {
            url: display_url(url),
            reason: "no scrape URL",
        });
    };
    let limits = HttpLimits {
        timeout: shared.options.http_timeout,
        max_body: shared.options.max_response,
        tls: shared.options.tls.clone(),
    };
    let hash = shared.config.info_hash;
    let body = get(&scrape_request_url(&scrape, &[hash]), &limits).await?;
    let files = parse_scrape_response(&body).map_err(protocol)?;
    files
        .into_iter()
        .find(|(h, _)| *h == hash)
        .map(|(_, s)| s)
        .ok_or_else(|| {
            protocol(ccbt_engine::tracker::TrackerError::BadField {
                field: "files",
                reason: "our info-hash is missing",
            })
        })
}

async fn udp_announce(
    shared: &Shared,
    url: &str,
    req: AnnounceRequest,
    timeout: Duration,
    client: &mut Option<UdpTrackerClient>,
) -> Result<AnnounceResponse, TrackerIoError> {
    // Draw the seed first: no RefCell borrow may live across an await.
    let seed: u64 = shared.rng.borrow_mut().gen();
    let c = client.insert(UdpTrackerClient::connect(url, &mut SmallRng::seed_from_u64(seed)).await?);
    match c.request(UdpRequest::Announce(req), timeout).await? {
        UdpEvent::Announced(r) => Ok(r),
        _ => Err(unexpected_udp(url)),
    }
}

/// The exchange answers each request with its own kind of event; this is unreachable
/// unless that changes, and then it is an error rather than a panic.
fn unexpected_udp(url: &str) -> TrackerIoError {
    TrackerIoError::Protocol {
        url: display_url(url),
        source: ccbt_engine::tracker::TrackerError::BadPacket {
            packet: "response",
            len: 0,
            reason: "outcome does not match the request",
        },
    }
}

async fn udp_scrape(shared: &Shared, client: &mut UdpTrackerClient) -> Result<ScrapeStats, TrackerIoError> {
    let req = UdpRequest::Scrape(vec![shared.config.info_hash]);
    match client.request(req, shared.options.udp_timeout).await? {
        UdpEvent::Scraped(stats) if !stats.is_empty() => Ok(stats[0]),
        _ => Err(unexpected_udp(client.url())),
    }
}

/// Sends `stopped` to every tracker that was started, concurrently, within the stop
/// timeout; failures are ignored (the tracker will time us out anyway).
async fn send_stopped(shared: &Rc<Shared>) {
    let stops = shared.tiers.borrow_mut().shutdown();
    if stops.is_empty() {
        return;
    }
    let timeout = shared.options.stop_timeout;
    let tasks: Vec<Task<()>> = stops
        .into_iter()
        .map(|due| {
            let shared = shared.clone();
            glommio::spawn_local(async move {
                let req = request(&shared, due.event, due.tracker_id.clone());
                let result = if is_udp(&due.url) {
                    udp_announce(&shared, &due.url, req, timeout, &mut None).await
                } else {
                    http_announce(&shared, &due.url, &req, timeout).await
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "stopped announce failed");
                }
            })
        })
        .collect();
    futures_lite::future::or(
        async {
            for t in tasks {
                t.await;
            }
        },
        glommio::timer::sleep(timeout),
    )
    .await;
}
