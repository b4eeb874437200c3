//! The daemon's core: the one owner of the session, the torrents' settings, the
//! queue and the state dir. It runs as a task on the control thread and takes
//! requests from the API (`control.rs`), events from the shards, and a tick.

mod add;
mod alerting;
mod automation;
mod bans;
pub mod categories;
pub mod change_log;
mod compat_requests;
mod ip_filter_requests;
mod magnet;
mod managed;
mod persist;
mod requests;
mod session_events;
mod store_writer;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccbt_engine::InfoHash;
use ccbt_shards::{Session, SessionEvent};
use tokio::sync::mpsc;

use crate::api_types::{ApiEvent, SessionSettings, TorrentStateName};
use crate::control::{ControlInbox, EventBus, Reply};
use crate::state_store::StateStore;

pub(crate) use managed::{AfterStop, Life, Managed, StopReason, TorrentSettings};

/// How often the core looks at the queue, the limits and the state dir.
const TICK: Duration = Duration::from_secs(1);
/// Unsaved counters (bytes, seconds) are written at least this often; structural
/// changes (add, remove, settings) at the next tick.
const COUNTERS_SAVE_INTERVAL: Duration = Duration::from_secs(30);
/// Longest wait at shutdown for the shards to hand back their last records.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(20);
/// Shortest time between two runs of the queue: 10,000 adds or completions in a
/// burst cost a few hundred passes over the torrents, not 10,000.
const SCHEDULE_EVERY: Duration = Duration::from_millis(10);
/// Shard events handled in one go before the queue and the API get a turn.
const EVENT_BATCH: usize = 1024;
/// Most control requests handled before an add's session write (bounds its wait).
const REQUEST_BATCH: usize = 256;

/// What the core is started with.
pub struct CoreSetup {
    pub session: Session,
    pub store: StateStore,
    pub state_dir: PathBuf,
    pub download_dir: PathBuf,
    pub api_url: String,
    pub settings: SessionSettings,
    pub hooks: crate::hooks::HookRunner,
    pub watch_dir: Option<PathBuf>,
    /// How long bans last and how many the session's list keeps.
    pub bans: crate::ban_list::BanPolicy,
    /// `[metrics]`: whether `/metrics` answers, and the per-torrent series.
    pub metrics: crate::daemon_config::metrics::MetricsConfig,
    /// The IP filter's lists and their watcher.
    pub ip_filter: crate::ip_filter_loader::IpFilterService,
    /// `[alerts]`: built-in thresholds, config rules, webhook and command.
    pub alerts: crate::daemon_config::AlertsConfig,
}

/// A torrent being removed: gone from the list, waiting for its shard to let go of
/// its files.
struct PendingRemoval {
    /// None for a magnet removed before its metadata came: it has no files.
    meta: Option<std::sync::Arc<ccbt_engine::metainfo::Metainfo>>,
    download_dir: PathBuf,
    delete_data: bool,
    reply: Option<Reply<()>>,
}

pub struct DaemonCore {
    session: Session,
    store: StateStore,
    /// Every write to the state dir but the `.torrent` copies made at add.
    writer: store_writer::StoreWriter,
    state_dir: PathBuf,
    download_dir: PathBuf,
    api_url: String,
    torrents: BTreeMap<u32, Managed>,
    by_hash: HashMap<InfoHash, u32>,
    /// Resolves what users type (id, hash, prefix) to a torrent.
    ids: crate::torrent_ids::TorrentIds,
    removing: HashMap<InfoHash, PendingRemoval>,
    next_id: u32,
    settings: SessionSettings,
    events: EventBus,
    started: Instant,
    /// Something other than counters changed since the session file was written.
    session_dirty: bool,
    /// Answers that wait for the next session-file write (adds).
    after_session_write: Vec<store_writer::AfterWrite>,
    last_session_save: Instant,
    /// Lifetime totals of torrents already removed, kept in the session totals.
    removed_downloaded: u64,
    removed_uploaded: u64,
    /// Payload bytes at daemon start, to report this run's share.
    session_base: (u64, u64),
    automation: automation::Automation,
    shutdown_requested: Option<Reply<()>>,
    /// Something changed that may let a torrent start or make one wait; the queue
    /// runs again soon (at most every [`SCHEDULE_EVERY`]), once for a burst.
    schedule_needed: bool,
    last_schedule: Instant,
    /// Blocking work (moving data) reports back here.
    internal_tx: mpsc::UnboundedSender<session_events::Internal>,
    internal_rx: Option<mpsc::UnboundedReceiver<session_events::Internal>>,
    /// What changed since each `sync/maindata` revision (qBittorrent API).
    change_log: change_log::ChangeLog,
    /// The qBittorrent API's categories and tags.
    categories: categories::CategoryBook,
    /// Every address a torrent banned, pushed to every shard, kept in the state dir.
    bans: crate::ban_list::BanList,
    metrics_config: crate::daemon_config::metrics::MetricsConfig,
    ip_filter: crate::ip_filter_loader::IpFilterService,
    alerting: alerting::Alerting,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DaemonCore {
    /// Loads the state dir's torrents and starts those that should run.
    pub fn new(setup: CoreSetup, events: EventBus) -> std::io::Result<DaemonCore> {
        let writer = store_writer::StoreWriter::start(StateStore::new(&setup.state_dir))?;
        let automation = automation::Automation::new(setup.hooks, setup.watch_dir, setup.session.shard_count());
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let categories = categories::CategoryBook::load(&setup.state_dir);
        let alerting = alerting::Alerting::new(setup.alerts, &setup.state_dir);
        let bans = crate::ban_list::BanList::load(&setup.state_dir, setup.bans, unix_now()).unwrap_or_else(|e| {
            tracing::warn!("starting with an empty ban list: {e}");
            crate::ban_list::BanList::new(&setup.state_dir, setup.bans)
        });
        let mut core = DaemonCore {
            session: setup.session,
            store: setup.store,
            writer,
            state_dir: setup.state_dir,
            download_dir: setup.download_dir,
            api_url: setup.api_url,
            torrents: BTreeMap::new(),
            by_hash: HashMap::new(),
            ids: crate::torrent_ids::TorrentIds::new(1),
            removing: HashMap::new(),
            next_id: 1,
            settings: setup.settings,
            events,
            started: Instant::now(),
            session_dirty: false,
            after_session_write: Vec::new(),
            last_session_save: Instant::now(),
            removed_downloaded: 0,
            removed_uploaded: 0,
            session_base: (0, 0),
            automation,
            shutdown_requested: None,
            schedule_needed: false,
            last_schedule: Instant::now(),
            internal_tx,
            internal_rx: Some(internal_rx),
            change_log: change_log::ChangeLog::new(unix_now()),
            categories,
            bans,
            metrics_config: setup.metrics,
            ip_filter: setup.ip_filter,
            alerting,
        };
        core.push_bans();
        core.restore();
        core.session_base = core.lifetime_totals();
        core.apply_rate_limits();
        core.schedule();
        Ok(core)
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.session.listen_addr()
    }

    pub fn shard_count(&self) -> usize {
        self.session.shard_count()
    }

    /// Runs until `shutdown` resolves or a client asks it to stop; then stops every
    /// torrent, writes their records and the session, and returns.
    pub async fn run(mut self, mut inbox: ControlInbox, shutdown: impl Future<Output = ()>) {
        // Unbounded so the pump never blocks: the shards bound what they send (one
        // status per shard per second, lifecycle events per torrent).
        let (tx, mut session_events) = mpsc::unbounded_channel::<SessionEvent>();
        let source = self.session.events().clone();
        // The shards' queue is crossbeam (they never block on it); one thread moves
        // its events into the control thread's runtime.
        let pump = std::thread::Builder::new().name("ccbt-events".into()).spawn(move || {
            while let Ok(ev) = source.recv() {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
        if let Err(e) = pump {
            tracing::error!(error = %e, "cannot start the event thread");
            return;
        }
        let Some(mut internal) = self.internal_rx.take() else {
            return;
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            let schedule_at = tokio::time::Instant::from_std(self.last_schedule + SCHEDULE_EVERY);
            tokio::select! {
                Some(req) = inbox.requests.recv() => {
                    self.handle(req);
                    // Requests already waiting join the same session-file write.
                    for _ in 1..REQUEST_BATCH {
                        match inbox.requests.try_recv() {
                            Ok(req) => self.handle(req),
                            Err(_) => break,
                        }
                    }
                    if !self.after_session_write.is_empty() {
                        self.save_session();
                    }
                }
                Some(ev) = session_events.recv() => {
                    self.on_session_event(ev);
                    for _ in 1..EVENT_BATCH {
                        match session_events.try_recv() {
                            Ok(ev) => self.on_session_event(ev),
                            Err(_) => break,
                        }
                    }
                }
                Some(done) = internal.recv() => self.on_internal(done),
                _ = tick.tick() => self.tick(),
                _ = tokio::time::sleep_until(schedule_at), if self.schedule_needed => self.schedule(),
                _ = &mut shutdown => break,
            }
            if self.shutdown_requested.is_some() {
                break;
            }
        }
        inbox.requests.close();
        self.shutdown(session_events).await;
    }

    async fn shutdown(mut self, mut session_events: mpsc::UnboundedReceiver<SessionEvent>) {
        tracing::info!("stopping: telling trackers and writing resume records");
        // Each shard stops its torrents (final `stopped` announces, bounded) and hands
        // back their last records before it ends; the pump keeps moving them meanwhile.
        self.session.shutdown();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_DRAIN;
        loop {
            match tokio::time::timeout_at(deadline, session_events.recv()).await {
                Ok(Some(ev)) => self.on_session_event(ev),
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!("shards did not stop within {:?}", SHUTDOWN_DRAIN);
                    break;
                }
            }
        }
        self.save_all_resume();
        self.save_session();
        self.writer.finish();
        if let Some(reply) = self.shutdown_requested.take() {
            let _ = reply.send(Ok(()));
        }
    }

    fn tick(&mut self) {
        let now = unix_now();
        for t in self.torrents.values_mut() {
            let state = t.state();
            match state {
                TorrentStateName::Downloading => t.totals.seconds_downloading += 1,
                TorrentStateName::Seeding => t.totals.seconds_seeding += 1,
                _ => {}
            }
            let uploaded = t.uploaded();
            t.idle.tick(state == TorrentStateName::Seeding, uploaded);
        }
        self.expire_bans(now);
        self.check_seed_limits();
        self.apply_rate_limits();
        self.schedule();
        self.poll_watch_dir();
        self.publish_state_changes();
        self.refresh_change_log_each_second();
        self.save_dirty_resume();
        self.check_alerts();
        if self.session_dirty || self.last_session_save.elapsed() >= COUNTERS_SAVE_INTERVAL {
            self.save_session();
        }
        let _ = now;
    }

    fn publish(&self, kind: &str, t: Option<&Managed>, message: Option<String>) {
        self.events.publish(ApiEvent {
            seq: 0,
            kind: kind.to_string(),
            id: t.map(|t| t.id),
            info_hash: t.map(|t| t.info_hash().to_hex()),
            name: t.map(|t| t.name().to_string()),
            state: t.map(|t| t.state()),
            message,
            time: unix_now(),
        });
    }

    /// Publishes `state_changed` for every torrent whose state moved since last time.
    fn publish_state_changes(&mut self) {
        let changed: Vec<u32> = self
            .torrents
            .values()
            .filter(|t| t.published_state != Some(t.state()))
            .map(|t| t.id)
            .collect();
        for id in changed {
            if let Some(t) = self.torrents.get(&id) {
                self.publish("state_changed", Some(t), None);
            }
            if let Some(t) = self.torrents.get_mut(&id) {
                t.published_state = Some(t.state());
            }
        }
    }

    /// Asks for the queue to run again soon.
    pub(super) fn request_schedule(&mut self) {
        self.schedule_needed = true;
    }

    /// Lifetime payload totals over every torrent, removed ones included.
    fn lifetime_totals(&self) -> (u64, u64) {
        let down = self.torrents.values().map(|t| t.downloaded()).sum::<u64>() + self.removed_downloaded;
        let up = self.torrents.values().map(|t| t.uploaded()).sum::<u64>() + self.removed_uploaded;
        (down, up)
    }
}
