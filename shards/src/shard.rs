//! The life of one shard: its listener, its torrents, its share of the mesh.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ccbt_engine::wire::{parse_routing_prefix, HANDSHAKE_ROUTING_LEN};
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::read_cache::ReadCache;
use ccbt_io::socket_transfer::TransferableSocket;
use ccbt_io::torrent_task::{TorrentEvent, TorrentSetup, TorrentTask, TICK_INTERVAL};
use crossbeam_channel::{Receiver, Sender};
use futures_lite::{AsyncReadExt, StreamExt};
use glommio::channels::channel_mesh::{Receivers, Senders};
use glommio::net::{TcpListener, TcpStream};

use crate::messages::{AdoptConnection, SessionEvent, ShardCommand, TorrentState, TorrentStatus};
use crate::router::Router;

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
/// Longest wait for the routing part of an incoming handshake.
const ROUTING_TIMEOUT: Duration = Duration::from_secs(10);

/// What a shard is given when it starts.
pub(crate) struct ShardContext {
    pub id: usize,
    pub router: Arc<Router>,
    pub commands: Receiver<ShardCommand>,
    pub events: Sender<SessionEvent>,
    pub our_id: PeerId,
    pub read_cache_bytes: usize,
}

struct Shard {
    ctx: ShardContext,
    torrents: RefCell<HashMap<InfoHash, Rc<TorrentTask>>>,
    starting: RefCell<HashMap<InfoHash, ()>>,
    /// Torrents that could not start (their files could not be opened): name and
    /// error, kept so the status shows why until the torrent is removed.
    failed_to_start: RefCell<HashMap<InfoHash, (String, String)>>,
    start_slots: glommio::sync::Semaphore,
    cache: Rc<RefCell<ReadCache>>,
    senders: Option<Senders<AdoptConnection>>,
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
    let shard = Rc::new(Shard {
        ctx,
        torrents: RefCell::new(HashMap::new()),
        starting: RefCell::new(HashMap::new()),
        failed_to_start: RefCell::new(HashMap::new()),
        start_slots: glommio::sync::Semaphore::new(MAX_CONCURRENT_STARTS),
        cache,
        senders,
    });
    let listener = Rc::new(listener);
    let accept_task = glommio::spawn_local(accept_loop(shard.clone(), listener.clone()));
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
    let _ = shard.ctx.events.send(SessionEvent::Status {
        shard: shard.ctx.id,
        torrents: statuses(&shard),
    });
    let tasks: Vec<Rc<TorrentTask>> = shard.torrents.borrow().values().cloned().collect();
    let stopping: Vec<_> = tasks
        .into_iter()
        .map(|t| glommio::spawn_local(async move { t.shutdown().await }))
        .collect();
    for s in stopping {
        s.await;
    }
    drop(accept_task);
    drop(status_task);
    drop(tick_task);
    drop(adopt_tasks);
    // Give connections a moment to close cleanly.
    glommio::timer::sleep(Duration::from_millis(50)).await;
    shard.torrents.borrow_mut().clear();
    let _ = shard
        .ctx
        .events
        .send(SessionEvent::ShardStopped { shard: shard.ctx.id });
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
                let shard = shard.clone();
                glommio::spawn_local(async move { shard.add(*add).await }).detach();
            }
            Ok(ShardCommand::AddPeer { info_hash, addr }) => {
                if let Some(task) = shard.torrents.borrow().get(&info_hash) {
                    task.add_known_peer(addr);
                }
            }
            Ok(ShardCommand::Remove { info_hash }) => {
                shard.failed_to_start.borrow_mut().remove(&info_hash);
                let removed = shard.torrents.borrow_mut().remove(&info_hash);
                if let Some(task) = removed {
                    glommio::spawn_local(async move { task.shutdown().await }).detach();
                }
                shard.cache.borrow_mut().remove_torrent(info_hash);
                shard.ctx.router.unassign(&info_hash);
            }
            Err(crossbeam_channel::TryRecvError::Empty) => {
                glommio::timer::sleep(wait).await;
                wait = (wait * 2).min(COMMAND_POLL_IDLE);
            }
        }
    }
}

impl Shard {
    async fn add(self: Rc<Self>, add: crate::messages::AddTorrent) {
        let info_hash = add.meta.info_hash;
        self.starting.borrow_mut().insert(info_hash, ());
        let events = self.ctx.events.clone();
        let shard_id = self.ctx.id;
        let sink: ccbt_io::torrent_task::EventSink = Rc::new(move |ev| {
            let ev = match ev {
                TorrentEvent::Checked {
                    info_hash,
                    have,
                    num_pieces,
                } => SessionEvent::Started {
                    info_hash,
                    shard: shard_id,
                    have,
                    num_pieces,
                },
                TorrentEvent::Completed { info_hash } => SessionEvent::Completed { info_hash },
                TorrentEvent::Failed { info_hash, error } => SessionEvent::Failed { info_hash, error },
            };
            let _ = events.send(ev);
        });
        let setup = TorrentSetup {
            meta: add.meta.clone(),
            download_dir: add.download_dir,
            config: add.config,
            preallocation: add.preallocation,
            direct_writes: add.direct_writes,
            our_id: self.ctx.our_id,
            peers: add.peers,
            skipped_files: add.skipped_files,
            download_limit: add.download_limit,
            upload_limit: add.upload_limit,
        };
        let started = match self.start_slots.acquire_permit(1).await {
            Ok(_permit) => TorrentTask::start(setup, self.cache.clone(), sink).await,
            Err(_) => return,
        };
        self.starting.borrow_mut().remove(&info_hash);
        match started {
            Ok(task) => {
                self.torrents.borrow_mut().insert(info_hash, task);
            }
            Err(e) => {
                let error = format!("torrent {} ({}): {e}", info_hash, add.meta.info.name);
                self.failed_to_start
                    .borrow_mut()
                    .insert(info_hash, (add.meta.info.name.clone(), error.clone()));
                let _ = self.ctx.events.send(SessionEvent::Failed { info_hash, error });
                self.ctx.router.unassign(&info_hash);
            }
        }
    }

    /// A connection handed over by another shard.
    fn adopt(self: Rc<Self>, adopt: AdoptConnection) {
        let stream = adopt.socket.attach();
        glommio::spawn_local(async move {
            self.serve_incoming(stream, adopt.addr, adopt.info_hash, adopt.prefix)
                .await;
        })
        .detach();
    }

    /// Routes an incoming connection whose info-hash is known: here, or to the owner.
    async fn route(self: Rc<Self>, stream: TcpStream, addr: SocketAddr, prefix: [u8; HANDSHAKE_ROUTING_LEN]) {
        let Ok((_, info_hash)) = parse_routing_prefix(&prefix) else {
            return;
        };
        match self.ctx.router.owner(&info_hash) {
            Some(owner) if owner == self.ctx.id => self.serve_incoming(stream, addr, info_hash, prefix).await,
            Some(owner) => {
                let Some(senders) = &self.senders else { return };
                let socket = match TransferableSocket::detach(&stream) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(%addr, error = %e, "could not hand over connection");
                        return;
                    }
                };
                drop(stream);
                self.ctx.router.count_handover();
                if senders
                    .send_to(
                        owner,
                        AdoptConnection {
                            socket,
                            addr,
                            info_hash,
                            prefix,
                        },
                    )
                    .await
                    .is_err()
                {
                    tracing::warn!(%addr, owner, "owner shard is gone");
                }
            }
            None => self.ctx.router.count_unroutable(),
        }
    }

    async fn serve_incoming(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        info_hash: InfoHash,
        prefix: [u8; HANDSHAKE_ROUTING_LEN],
    ) {
        let task = self.torrents.borrow().get(&info_hash).cloned();
        let Some(task) = task else {
            // Owned here but still checking its data: not ready for peers yet.
            self.ctx.router.count_unroutable();
            return;
        };
        if let Err(e) = ccbt_io::peer_connection::accept(task, stream, addr, &prefix).await {
            tracing::debug!(error = %e, "incoming peer connection ended");
        }
    }
}

async fn accept_loop(shard: Rc<Shard>, listener: Rc<TcpListener>) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let Ok(addr) = stream.peer_addr() else { return };
            let mut stream = stream;
            let mut prefix = [0u8; HANDSHAKE_ROUTING_LEN];
            let read = futures_lite::future::or(async { stream.read_exact(&mut prefix).await.is_ok() }, async {
                glommio::timer::sleep(ROUTING_TIMEOUT).await;
                false
            })
            .await;
            if read {
                shard.route(stream, addr, prefix).await;
            }
        })
        .detach();
    }
}

/// Torrents ticked between two chances for other tasks to run.
const TICKS_PER_YIELD: usize = 256;

/// Ticks every torrent of the shard once a [`TICK_INTERVAL`], in one wake.
///
/// Why one loop: a timer per torrent, each on its own phase, woke an idle seeder of
/// 10,000 torrents for every one of them (21% of a core with nothing to do).
async fn tick_loop(shard: Rc<Shard>) {
    let mut ticks: u64 = 0;
    loop {
        glommio::timer::sleep(TICK_INTERVAL).await;
        ticks += 1;
        let tasks: Vec<Rc<TorrentTask>> = shard.torrents.borrow().values().cloned().collect();
        for (i, task) in tasks.iter().enumerate() {
            task.tick(ticks);
            if (i + 1) % TICKS_PER_YIELD == 0 {
                glommio::yield_if_needed().await;
            }
        }
    }
}

async fn status_loop(shard: Rc<Shard>) {
    loop {
        glommio::timer::sleep(STATUS_INTERVAL).await;
        let torrents = statuses(&shard);
        if shard
            .ctx
            .events
            .send(SessionEvent::Status {
                shard: shard.ctx.id,
                torrents,
            })
            .is_err()
        {
            return;
        }
    }
}

fn statuses(shard: &Shard) -> Vec<TorrentStatus> {
    let mut torrents: Vec<TorrentStatus> = shard
        .torrents
        .borrow()
        .values()
        .map(|t| {
            let stats = t.stats();
            let error = t.failure();
            let state = if error.is_some() {
                TorrentState::Failed
            } else if stats.complete {
                TorrentState::Seeding
            } else {
                TorrentState::Downloading
            };
            TorrentStatus {
                info_hash: t.info_hash,
                name: t.meta.info.name.clone(),
                shard: shard.ctx.id,
                state,
                stats,
                error,
                trackers: t.tracker_status(),
            }
        })
        .collect();
    for (info_hash, (name, error)) in shard.failed_to_start.borrow().iter() {
        torrents.push(TorrentStatus {
            info_hash: *info_hash,
            name: name.clone(),
            shard: shard.ctx.id,
            state: TorrentState::Failed,
            stats: Default::default(),
            error: Some(error.clone()),
            trackers: Vec::new(),
        });
    }
    for info_hash in shard.starting.borrow().keys() {
        torrents.push(TorrentStatus {
            info_hash: *info_hash,
            name: String::new(),
            shard: shard.ctx.id,
            state: TorrentState::Checking,
            stats: Default::default(),
            error: None,
            trackers: Vec::new(),
        });
    }
    torrents
}
