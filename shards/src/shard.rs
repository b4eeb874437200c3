//! The life of one shard: its listener, its torrents, its share of the mesh.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ccbt_engine::connection_policy::{AcceptRate, ConnectionLimits};
use ccbt_engine::peer_book::RedialPolicy;
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::connection_budget::ConnectionBudget;
use ccbt_io::metadata_task::MetadataTask;
use ccbt_io::peer_filter::PeerFilter;
use ccbt_io::rate_limit::ShardRateLimits;
use ccbt_io::read_cache::ReadCache;
use ccbt_io::torrent_task::{CheckCancel, TorrentEvent, TorrentSetup, TorrentTask};
use crossbeam_channel::{Receiver, Sender};
use futures_lite::StreamExt;
use glommio::channels::channel_mesh::{Receivers, Senders};
use glommio::net::TcpListener;

use crate::event_outbox::EventOutbox;
use crate::messages::{AddMagnet, AdoptConnection, SessionEvent, ShardCommand, TorrentChange};
use crate::router::Router;
use crate::torrent_change::PendingChanges;

mod incoming;
mod magnet_phase;
mod periodic;

use incoming::accept_loop;
use periodic::{dht_demand, status_loop, statuses, tick_loop};

/// How often a shard looks for session commands: soon after one arrived, backing
/// off to the slower rate while none come. The session lives on a thread without
/// an executor, so the shard polls its channel; at a steady 10 ms that alone woke
/// an idle process 200 times a second.
const COMMAND_POLL_FAST: Duration = Duration::from_millis(1);
const COMMAND_POLL_IDLE: Duration = Duration::from_millis(100);
/// How often a shard reports status.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Torrents opening and rechecking their files at once on one shard: bounds open
/// descriptors and memory when thousands of torrents are loaded together.
const MAX_CONCURRENT_STARTS: u64 = 16;

/// Longest a stopping shard waits for the starts it cancelled to end.
const CANCELLED_STARTS_TIMEOUT: Duration = Duration::from_secs(5);
const CANCELLED_STARTS_STEP: Duration = Duration::from_millis(5);

/// Where a torrent of this shard is in its life.
enum TorrentLife {
    /// Opening and rechecking its files; `removed` once a remove came meanwhile:
    /// `cancel` stops the check before its next piece and the torrent never runs.
    Checking { removed: bool, cancel: CheckCancel },
    /// Running: downloading, seeding, or stopped by an error of its own.
    Running(Rc<TorrentTask>),
    /// Its files could not be opened: kept, with the error (and its router
    /// entry), so the status shows why until the torrent is removed.
    FailedToStart { name: String, error: String },
    /// A magnet fetching its metadata from peers; it becomes `Checking` once the
    /// metadata is verified.
    FetchingMetadata {
        magnet: Box<AddMagnet>,
        task: Rc<MetadataTask>,
    },
}

/// The shard that accepts incoming connections for the whole session.
const ACCEPTING_SHARD: usize = 0;

/// What a shard is given when it starts.
pub(crate) struct ShardContext {
    pub id: usize,
    pub router: Arc<Router>,
    pub commands: Receiver<ShardCommand>,
    pub events: Sender<SessionEvent>,
    pub our_id: PeerId,
    pub read_cache_bytes: usize,
    pub connection_limits: ConnectionLimits,
    pub redial: RedialPolicy,
    /// Where this shard publishes the torrents local service discovery may announce.
    pub lsd: Arc<crate::lsd_service::LsdTorrents>,
    /// The session's refusal, violation and ban counters.
    pub peer_guard: Arc<ccbt_io::peer_guard::PeerGuardCounters>,
    /// Where this shard publishes its figures for monitoring, once a status.
    pub metrics: Arc<crate::shard_metrics::ShardMetricsBoard>,
    /// The session-wide counts of what the IP filter blocked.
    pub blocked: Arc<ccbt_io::peer_filter::BlockedCounters>,
}

struct Shard {
    ctx: ShardContext,
    torrents: RefCell<HashMap<InfoHash, TorrentLife>>,
    events: Rc<EventOutbox>,
    /// Accepted connections not yet routed.
    routing: std::cell::Cell<usize>,
    /// Removed torrents still ending (trackers, writes, flush).
    ending: std::cell::Cell<usize>,
    start_slots: glommio::sync::Semaphore,
    cache: Rc<RefCell<ReadCache>>,
    budget: Rc<ConnectionBudget>,
    /// The IP filter, swapped whole by [`ShardCommand::SetIpFilter`].
    filter: Rc<PeerFilter>,
    senders: Option<Senders<AdoptConnection>>,
    /// The shard's own payload limits, drawn from by all its torrents.
    rate_limits: Rc<ShardRateLimits>,
    /// Changes for torrents still checking, applied once they run.
    pending_changes: PendingChanges,
    /// Incoming connections accepted per second (the accepting shard's).
    accept_rate: RefCell<AcceptRate>,
    /// The session's ban list as last pushed (to unban what leaves it).
    session_bans: RefCell<Vec<std::net::IpAddr>>,
}

/// Runs a shard until the session tells it to stop.
pub(crate) async fn run(
    ctx: ShardContext,
    listener: TcpListener,
    mesh: Option<(Senders<AdoptConnection>, Receivers<AdoptConnection>)>,
) {
    let (senders, receivers) = match mesh {
        Some((s, r)) => (Some(s), Some(r)),
        None => (None, None),
    };
    let cache = Rc::new(RefCell::new(ReadCache::new(ctx.read_cache_bytes as u64)));
    let budget = ConnectionBudget::with_counters(ctx.connection_limits, ctx.peer_guard.clone());
    let accept_rate = RefCell::new(AcceptRate::new(
        ctx.connection_limits.handshakes_per_sec,
        std::time::Instant::now(),
    ));
    let events = Rc::new(EventOutbox::new(ctx.events.clone()));
    let filter = PeerFilter::new(Arc::default(), ctx.blocked.clone());
    let shard = Rc::new(Shard {
        ctx,
        torrents: RefCell::new(HashMap::new()),
        events,
        routing: std::cell::Cell::new(0),
        ending: std::cell::Cell::new(0),
        start_slots: glommio::sync::Semaphore::new(MAX_CONCURRENT_STARTS),
        cache,
        budget,
        filter,
        senders,
        rate_limits: Rc::new(ShardRateLimits::unlimited()),
        pending_changes: PendingChanges::default(),
        accept_rate,
        session_bans: RefCell::new(Vec::new()),
    });
    // One shard accepts for all. Which of several acceptors of one socket the kernel
    // wakes is not defined (a run could route every connection by luck, or pile them
    // all on one shard); with one acceptor each connection lands in one known place
    // and goes to its owner, the same share of hand-overs (n-1 of n) as an even spread.
    let accept_task =
        (shard.ctx.id == ACCEPTING_SHARD).then(|| glommio::spawn_local(accept_loop(shard.clone(), Rc::new(listener))));
    let mut adopt_tasks = Vec::new();
    if let Some(mut receivers) = receivers {
        for (_, stream) in receivers.streams() {
            let shard = shard.clone();
            adopt_tasks.push(glommio::spawn_local(async move {
                let mut stream = stream;
                while let Some(adopt) = stream.next().await {
                    shard.clone().adopt(adopt);
                }
            }));
        }
    }
    let status_task = glommio::spawn_local(status_loop(shard.clone()));
    let tick_task = glommio::spawn_local(tick_loop(shard.clone()));
    command_loop(&shard).await;
    shard.events.status(SessionEvent::Status {
        shard: shard.ctx.id,
        torrents: statuses(&shard),
        usage: shard.rate_limits.take_usage(),
    });
    shard.stop_all().await;
    drop(accept_task);
    drop(status_task);
    drop(tick_task);
    drop(adopt_tasks);
    // Give connections a moment to close cleanly.
    glommio::timer::sleep(Duration::from_millis(50)).await;
    shard.torrents.borrow_mut().clear();
    shard
        .events
        .lifecycle(SessionEvent::ShardStopped { shard: shard.ctx.id });
    shard.events.flush_before_exit().await;
}

async fn command_loop(shard: &Rc<Shard>) {
    let mut wait = COMMAND_POLL_FAST;
    loop {
        let command = shard.ctx.commands.try_recv();
        if command.is_ok() {
            wait = COMMAND_POLL_FAST;
        }
        match command {
            Ok(ShardCommand::Shutdown) | Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            Ok(ShardCommand::Add(add)) => {
                let cancel = shard.begin_add(add.meta.info_hash);
                let shard = shard.clone();
                // The start of a torrent (its check) as one span of the trace.
                let span = tracing::debug_span!("torrent_start", shard = shard.ctx.id, torrent = %add.meta.info_hash);
                let start = async move { shard.add(*add, cancel, Vec::new()).await };
                glommio::spawn_local(tracing::Instrument::instrument(start, span)).detach();
            }
            Ok(ShardCommand::AddMagnet(magnet)) => shard.add_magnet(magnet),
            Ok(ShardCommand::AddPeer { info_hash, addr }) => {
                if let Some(task) = shard.running_task(&info_hash) {
                    task.add_known_peer(addr);
                } else if let Some(task) = shard.metadata_task(&info_hash) {
                    task.add_pinned_peer(addr);
                }
            }
            Ok(ShardCommand::AddDiscoveredPeers {
                info_hash,
                addrs,
                source,
            }) => {
                if let Some(task) = shard.running_task(&info_hash) {
                    task.add_known_peers_from(&addrs, source);
                } else if let Some(task) = shard.metadata_task(&info_hash) {
                    task.add_peers(&addrs, source);
                }
            }
            Ok(ShardCommand::Remove { info_hash }) => shard.clone().remove(info_hash),
            Ok(ShardCommand::Query { info_hash, reply }) => {
                reply.send(shard.running_task(&info_hash).map(|t| t.detail()));
            }
            Ok(ShardCommand::Configure { info_hash, change }) => shard.configure(info_hash, change),
            Ok(ShardCommand::SetShardLimits { download, upload }) => {
                shard.rate_limits.set(download, upload, std::time::Instant::now());
            }
            Ok(ShardCommand::StartLsd { start, reply }) => {
                let _ = reply.send(crate::lsd_service::start(*start).map_err(|e| e.to_string()));
            }
            Ok(ShardCommand::StartDht(start)) => {
                glommio::spawn_local(crate::dht_service::run(*start)).detach();
            }
            Ok(ShardCommand::SetBans(bans)) => shard.set_bans(&bans),
            Ok(ShardCommand::AttachDht(link)) => {
                let weak = Rc::downgrade(shard);
                let demand = move || weak.upgrade().map(|s| dht_demand(&s));
                glommio::spawn_local(crate::dht_service::lookup_loop(link, demand)).detach();
            }
            Ok(ShardCommand::SetIpFilter(filter)) => {
                shard.filter.set(filter);
                for task in shard.running() {
                    task.close_filtered_peers();
                }
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {
                // Events that found the channel full go out as soon as there is
                // room, not with the next status a second later (a burst of
                // starts, say 10,000 torrents restarting, fills it).
                shard.events.flush();
                if shard.events.has_waiting() {
                    wait = COMMAND_POLL_FAST;
                }
                glommio::timer::sleep(wait).await;
                wait = (wait * 2).min(COMMAND_POLL_IDLE);
            }
        }
    }
}

impl Shard {
    /// Takes the session's ban list: refused at accept and dial from now on, and
    /// pushed into every running torrent (which drops connections from the banned);
    /// addresses that left the list are unbanned everywhere.
    fn set_bans(&self, bans: &[(std::net::IpAddr, Duration)]) {
        let now = std::time::Instant::now();
        self.budget
            .set_session_bans(bans.iter().map(|(ip, left)| (*ip, now + *left)));
        let listed: std::collections::HashSet<std::net::IpAddr> = bans.iter().map(|(ip, _)| *ip).collect();
        let before: std::collections::HashSet<std::net::IpAddr> = self.session_bans.borrow().iter().copied().collect();
        // Only what changed touches the torrents: the list is checked at accept and
        // dial, so a torrent needs a ban only to drop the connections it has.
        let lifted: Vec<std::net::IpAddr> = before.difference(&listed).copied().collect();
        let added: Vec<(std::net::IpAddr, Duration)> =
            bans.iter().filter(|(ip, _)| !before.contains(ip)).copied().collect();
        if !lifted.is_empty() || !added.is_empty() {
            for task in self.running() {
                for ip in &lifted {
                    task.lift_ban(*ip);
                }
                for (ip, left) in &added {
                    task.apply_session_ban(*ip, now + *left);
                }
            }
        }
        *self.session_bans.borrow_mut() = listed.into_iter().collect();
    }

    fn running_task(&self, info_hash: &InfoHash) -> Option<Rc<TorrentTask>> {
        match self.torrents.borrow().get(info_hash) {
            Some(TorrentLife::Running(task)) => Some(task.clone()),
            _ => None,
        }
    }

    fn running(&self) -> Vec<Rc<TorrentTask>> {
        self.torrents
            .borrow()
            .values()
            .filter_map(|life| match life {
                TorrentLife::Running(task) => Some(task.clone()),
                TorrentLife::Checking { .. }
                | TorrentLife::FailedToStart { .. }
                | TorrentLife::FetchingMetadata { .. } => None,
            })
            .collect()
    }

    /// Applies a change to a running torrent, or keeps it for one still checking.
    fn configure(&self, info_hash: InfoHash, change: TorrentChange) {
        match self.torrents.borrow().get(&info_hash) {
            Some(TorrentLife::Running(task)) => change.apply(task),
            Some(TorrentLife::Checking { removed: false, .. } | TorrentLife::FetchingMetadata { .. }) => {
                self.pending_changes.push(info_hash, change)
            }
            _ => {}
        }
    }

    /// Stops and forgets a torrent; [`SessionEvent::Stopped`] says when it has
    /// ended. One still checking has its check cancelled and is stopped by
    /// [`Shard::add`] when the check returns. Until the torrent has ended its files
    /// stay this shard's (and the router's entry with them), so a new add cannot
    /// race it for them.
    fn remove(self: Rc<Self>, info_hash: InfoHash) {
        let life = {
            let mut torrents = self.torrents.borrow_mut();
            if let Some(TorrentLife::Checking { removed, cancel }) = torrents.get_mut(&info_hash) {
                *removed = true;
                cancel.cancel();
                return;
            }
            torrents.remove(&info_hash)
        };
        match life {
            Some(TorrentLife::Running(task)) => {
                task.export_to_shard_counters(&task.stats());
                self.cache.borrow_mut().remove_torrent(info_hash);
                self.ending.set(self.ending.get() + 1);
                glommio::spawn_local(async move {
                    let record = task.stop_for_good().await;
                    self.ending.set(self.ending.get() - 1);
                    self.ended(info_hash, record);
                })
                .detach();
            }
            Some(TorrentLife::FetchingMetadata { task, .. }) => {
                // Nothing on disk yet: the connections close behind it.
                task.cancel();
                self.pending_changes.take(&info_hash);
                self.ended(info_hash, None)
            }
            Some(TorrentLife::FailedToStart { .. }) => self.ended(info_hash, None),
            Some(TorrentLife::Checking { .. }) | None => {}
        }
    }

    /// A torrent has ended for good: its owner entry goes and the session is told.
    fn ended(&self, info_hash: InfoHash, record: Option<ccbt_io::resume::ResumeRecord>) {
        self.ctx.router.unassign(&info_hash);
        self.events.lifecycle(SessionEvent::Stopped { info_hash, record });
    }

    /// True if a remove came while the torrent was checking; it is then forgotten
    /// here (the caller ends it with [`Shard::ended`]).
    fn take_removed(&self, info_hash: &InfoHash) -> bool {
        let mut torrents = self.torrents.borrow_mut();
        if !matches!(
            torrents.get(info_hash),
            Some(TorrentLife::Checking { removed: true, .. })
        ) {
            return false;
        }
        self.pending_changes.take(info_hash);
        torrents.remove(info_hash);
        self.cache.borrow_mut().remove_torrent(*info_hash);
        true
    }

    /// At shutdown: every running torrent ends for good (in parallel, each bounded
    /// by its trackers' stop timeout) and is reported stopped with its record;
    /// starts under way are cancelled and end as removed; failed ones are reported
    /// stopped.
    async fn stop_all(self: &Rc<Self>) {
        let mut running = Vec::new();
        let mut failed = Vec::new();
        for (info_hash, life) in self.torrents.borrow_mut().iter_mut() {
            match life {
                TorrentLife::Running(task) => running.push(task.clone()),
                TorrentLife::Checking { removed, cancel } => {
                    *removed = true;
                    cancel.cancel();
                }
                TorrentLife::FailedToStart { .. } => failed.push(*info_hash),
                TorrentLife::FetchingMetadata { task, .. } => {
                    task.cancel();
                    failed.push(*info_hash);
                }
            }
        }
        for info_hash in failed {
            self.torrents.borrow_mut().remove(&info_hash);
            self.ended(info_hash, None);
        }
        let stopping: Vec<_> = running
            .into_iter()
            .map(|task| {
                let shard = self.clone();
                glommio::spawn_local(async move {
                    let record = task.stop_for_good().await;
                    shard.torrents.borrow_mut().remove(&task.info_hash);
                    shard.ended(task.info_hash, record);
                })
            })
            .collect();
        for s in stopping {
            s.await;
        }
        let mut waited = Duration::ZERO;
        // Starts cancelled above, and torrents removed before: their ends are
        // reported before the shard's.
        while waited < CANCELLED_STARTS_TIMEOUT
            && (self.ending.get() > 0
                || self
                    .torrents
                    .borrow()
                    .values()
                    .any(|l| matches!(l, TorrentLife::Checking { .. })))
        {
            glommio::timer::sleep(CANCELLED_STARTS_STEP).await;
            waited += CANCELLED_STARTS_STEP;
        }
    }

    /// Registers a torrent as checking, before the next command is read: a remove
    /// or a change sent right after the add then finds it (and is not lost while
    /// the start task waits to run).
    fn begin_add(&self, info_hash: InfoHash) -> CheckCancel {
        let cancel = CheckCancel::default();
        self.torrents.borrow_mut().insert(
            info_hash,
            TorrentLife::Checking {
                removed: false,
                cancel: cancel.clone(),
            },
        );
        cancel
    }

    /// Checks and starts a torrent registered by [`Shard::begin_add`]; `discovered`
    /// are addresses already learned for it (a magnet's metadata phase), dialled
    /// once it runs.
    async fn add(
        self: Rc<Self>,
        add: crate::messages::AddTorrent,
        cancel: CheckCancel,
        discovered: Vec<(SocketAddr, PeerSource)>,
    ) {
        let info_hash = add.meta.info_hash;
        let events = self.events.clone();
        let shard_id = self.ctx.id;
        let shard = Rc::downgrade(&self);
        let sink: ccbt_io::torrent_task::EventSink = Rc::new(move |ev| {
            // A torrent removed while checking is no longer the user's: it says nothing.
            let removed = shard.upgrade().is_some_and(|s| {
                matches!(
                    s.torrents.borrow().get(&info_hash),
                    Some(TorrentLife::Checking { removed: true, .. })
                )
            });
            if removed {
                return;
            }
            let ev = match ev {
                TorrentEvent::Checked {
                    info_hash,
                    have,
                    num_pieces,
                    check,
                } => SessionEvent::Started {
                    info_hash,
                    shard: shard_id,
                    have,
                    num_pieces,
                    check,
                },
                TorrentEvent::Resume { info_hash, record } => SessionEvent::Resume { info_hash, record },
                TorrentEvent::Completed { info_hash } => SessionEvent::Completed { info_hash },
                TorrentEvent::Failed { info_hash, error } => SessionEvent::Failed { info_hash, error },
                TorrentEvent::Banned { info_hash, ban } => SessionEvent::PeerBanned {
                    info_hash,
                    ip: ban.ip,
                    reason: ban.reason,
                },
            };
            events.lifecycle(ev);
        });
        let setup = TorrentSetup {
            meta: add.meta.clone(),
            download_dir: add.download_dir,
            config: add.config,
            preallocation: add.preallocation,
            direct_writes: add.direct_writes,
            our_id: self.ctx.our_id,
            peers: add.peers,
            file_priorities: add.file_priorities,
            download_limit: add.download_limit,
            upload_limit: add.upload_limit,
            shard_limits: self.rate_limits.clone(),
            sequential: add.sequential,
            trackers: add.trackers,
            budget: self.budget.clone(),
            redial: self.ctx.redial,
            filter: self.filter.clone(),
            resume: add.resume,
            cancel,
            // Always built held: a hold or release that came during the check
            // decides (below) before it announces or dials anything.
            held: true,
        };
        let started = match self.start_slots.acquire_permit(1).await {
            // Removed while waiting for a slot: never opened, nothing to stop.
            Ok(_) if self.take_removed(&info_hash) => return self.ended(info_hash, None),
            Ok(_permit) => TorrentTask::start(setup, self.cache.clone(), sink).await,
            Err(_) => return,
        };
        match started {
            Ok(task) if self.take_removed(&info_hash) => {
                let record = task.stop_for_good().await;
                self.ended(info_hash, record);
            }
            Ok(task) => {
                self.torrents
                    .borrow_mut()
                    .insert(info_hash, TorrentLife::Running(task.clone()));
                let mut held = add.held;
                for change in self.pending_changes.take(&info_hash) {
                    match change {
                        TorrentChange::Hold => held = true,
                        TorrentChange::Release => held = false,
                        other => other.apply(&task),
                    }
                }
                for source in PeerSource::ALL {
                    let addrs: Vec<SocketAddr> = discovered
                        .iter()
                        .filter(|(_, s)| *s == source)
                        .map(|(a, _)| *a)
                        .collect();
                    if !addrs.is_empty() {
                        task.add_known_peers_from(&addrs, source);
                    }
                }
                if !held {
                    task.release();
                }
            }
            Err(e) => {
                self.pending_changes.take(&info_hash);
                if self.take_removed(&info_hash) {
                    return self.ended(info_hash, None);
                }
                let error = format!("torrent {} ({}): {e}", info_hash, add.meta.info.name);
                self.torrents.borrow_mut().insert(
                    info_hash,
                    TorrentLife::FailedToStart {
                        name: add.meta.info.name.clone(),
                        error: error.clone(),
                    },
                );
                // It stays this shard's (and the router's) until removed, so a
                // remove reaches it and ends it with `Stopped`.
                self.events.lifecycle(SessionEvent::Failed { info_hash, error });
            }
        }
    }
}
