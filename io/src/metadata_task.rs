//! A magnet's metadata phase on its shard: finds peers (its trackers, the `x.pe` and
//! `--peer` addresses, and whatever DHT, PEX or LSD hand in), opens connections with
//! the BEP 3 handshake and our BEP 10 extension handshake, and runs the engine's
//! [`MetadataFetch`] over them. Once the info dictionary is verified every connection
//! closes and [`MetadataTask::run`] returns it; the shard then starts the torrent with
//! the peers learned here.
//!
//! Bounded: at most [`MAX_METADATA_CONNECTIONS`] connections, each handshake step by
//! `HANDSHAKE_TIMEOUT`, each peer's silence by the engine's timeouts, each
//! connection's queue of outgoing messages by [`OUTGOING_QUEUE`], and the addresses
//! remembered by the peer book's own cap. The phase itself has no deadline: like any
//! torrent, a magnet waits for peers until it is removed.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ccbt_engine::metadata_fetch::{FetchAction, FetchProgress, MetadataFetch, MetadataFetchError};
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::peer_book::{PeerBook, RedialPolicy, MAX_KNOWN_PEERS};
use ccbt_engine::peer_session::{Accepting, Direction, Established};
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::wire::{
    ExtensionHandshake, Message, MessageDecoder, WireLimits, EXTENDED_HANDSHAKE_ID, OUR_UT_METADATA_ID, UT_METADATA,
};
use ccbt_engine::{InfoHash, PeerId, PeerKey};
use futures_lite::io::{ReadHalf, WriteHalf};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use glommio::net::TcpStream;

use crate::connection_budget::ConnectionBudget;
use crate::peer_connection::{answer_handshake, dial_handshake, handshake_err, PeerError};
use crate::peer_filter::PeerFilter;
use crate::tracker::{AnnounceProgress, TrackerConfig, TrackerStatus, TrackerTask};

/// Connections one magnet holds open at once (dialled and accepted together).
pub const MAX_METADATA_CONNECTIONS: usize = 32;
/// Messages queued for one connection; a peer that lets more pile up is closed.
pub const OUTGOING_QUEUE: usize = 64;
/// How often silent peers and unanswered requests are looked at, and due
/// addresses dialled, when nothing else happens.
const PHASE_TICK: Duration = Duration::from_millis(500);
/// `left` announced while the size is unknown, as libtorrent does for a magnet
/// (any non-zero value tells the tracker we are not a seed).
pub const MAGNET_ANNOUNCE_LEFT: u64 = 16 * 1024;
/// Peers asked of a tracker per announce.
const TRACKER_NUMWANT: u32 = 200;
/// Read buffer growth of one connection (metadata messages are at most ~16 KiB).
const READ_CHUNK: usize = 32 * 1024;

/// What a magnet's metadata phase starts from.
#[derive(Clone, Debug)]
pub struct MetadataSetup {
    pub info_hash: InfoHash,
    pub our_id: PeerId,
    /// Our TCP port, announced to trackers (None: no tracker is asked).
    pub listen_port: Option<u16>,
    /// Tracker tiers (BEP 12) from the magnet's `tr`.
    pub trackers: Vec<Vec<String>>,
    /// Addresses the user named (`x.pe`, `--peer`): dialled at once and kept.
    pub peers: Vec<SocketAddr>,
    pub budget: Rc<ConnectionBudget>,
    pub redial: RedialPolicy,
    /// The session's IP filter, as this shard holds it.
    pub filter: Rc<PeerFilter>,
}

/// One open connection, as the task drives it.
struct Link {
    addr: SocketAddr,
    /// They dialled us: `addr` is their outgoing port, not where they listen.
    incoming: bool,
    outgoing: LocalSender<Message>,
    close: LocalSender<()>,
}

/// A magnet's metadata phase; see the module docs.
pub struct MetadataTask {
    pub info_hash: InfoHash,
    our_id: PeerId,
    listen_port: Option<u16>,
    fetch: RefCell<MetadataFetch>,
    book: RefCell<PeerBook>,
    /// Every address learned, with where from, in order: the torrent's peer book
    /// starts from them. Bounded like the book.
    learned: RefCell<Vec<(SocketAddr, PeerSource)>>,
    /// Addresses that sent metadata not matching the info-hash: never again.
    refused: RefCell<HashSet<SocketAddr>>,
    links: RefCell<HashMap<PeerKey, Link>>,
    /// Connections being dialled or handshaking, so the cap counts them.
    opening: Cell<usize>,
    next_key: Cell<u64>,
    budget: Rc<ConnectionBudget>,
    filter: Rc<PeerFilter>,
    tracker: RefCell<Option<Rc<TrackerTask>>>,
    wake: LocalSender<()>,
    wake_rx: RefCell<Option<LocalReceiver<()>>>,
    cancelled: Cell<bool>,
}

impl MetadataTask {
    /// Sets the phase up on the current executor; [`MetadataTask::run`] drives it.
    pub fn new(setup: MetadataSetup) -> Rc<MetadataTask> {
        let (wake, wake_rx) = local_channel::new_bounded(1);
        let task = Rc::new(MetadataTask {
            info_hash: setup.info_hash,
            our_id: setup.our_id,
            listen_port: setup.listen_port,
            fetch: RefCell::new(MetadataFetch::new(setup.info_hash)),
            book: RefCell::new(PeerBook::with_policy(setup.redial)),
            learned: RefCell::new(Vec::new()),
            refused: RefCell::new(HashSet::new()),
            links: RefCell::new(HashMap::new()),
            opening: Cell::new(0),
            next_key: Cell::new(0),
            budget: setup.budget,
            filter: setup.filter,
            tracker: RefCell::new(None),
            wake,
            wake_rx: RefCell::new(Some(wake_rx)),
            cancelled: Cell::new(false),
        });
        for addr in &setup.peers {
            if task.filter.refuses_learned(*addr, PeerSource::Manual) {
                continue;
            }
            if task.book.borrow_mut().add_pinned(*addr) {
                task.learned.borrow_mut().push((*addr, PeerSource::Manual));
            }
        }
        task.start_trackers(setup.trackers);
        task
    }

    fn start_trackers(self: &Rc<Self>, tiers: Vec<Vec<String>>) {
        let Some(port) = self.listen_port else { return };
        if tiers.iter().all(Vec::is_empty) {
            return;
        }
        let config = TrackerConfig {
            info_hash: self.info_hash,
            peer_id: self.our_id,
            port,
            tiers,
            numwant: TRACKER_NUMWANT,
        };
        let progress = Rc::new(|| AnnounceProgress {
            uploaded: 0,
            downloaded: 0,
            left: MAGNET_ANNOUNCE_LEFT,
        });
        let me = Rc::downgrade(self);
        let on_peers = Rc::new(move |addrs: Vec<SocketAddr>| {
            if let Some(task) = me.upgrade() {
                task.add_peers(&addrs, PeerSource::Tracker);
            }
        });
        *self.tracker.borrow_mut() = Some(TrackerTask::start(config, progress, on_peers));
    }

    /// Addresses from a tracker, the DHT, PEX or LSD; due ones are dialled soon.
    pub fn add_peers(&self, addrs: &[SocketAddr], source: PeerSource) {
        let mut added = false;
        {
            let refused = self.refused.borrow();
            let mut book = self.book.borrow_mut();
            let mut learned = self.learned.borrow_mut();
            for addr in addrs {
                if refused.contains(addr) || self.filter.refuses_learned(*addr, source) {
                    continue;
                }
                if book.add_from(*addr, source) {
                    added = true;
                    if learned.len() < MAX_KNOWN_PEERS {
                        learned.push((*addr, source));
                    }
                }
            }
        }
        if added {
            let _ = self.wake.try_send(());
        }
    }

    /// An address the user named (`--peer` while the magnet waits): pinned.
    pub fn add_pinned_peer(&self, addr: SocketAddr) {
        if self.filter.refuses_learned(addr, PeerSource::Manual) {
            return;
        }
        if self.book.borrow_mut().add_pinned(addr) {
            self.learned.borrow_mut().push((addr, PeerSource::Manual));
        }
        let _ = self.wake.try_send(());
    }

    /// Every address learned in this phase, and where from (those that lied left out).
    pub fn learned_peers(&self) -> Vec<(SocketAddr, PeerSource)> {
        let refused = self.refused.borrow();
        self.learned
            .borrow()
            .iter()
            .filter(|(a, _)| !refused.contains(a))
            .copied()
            .collect()
    }

    /// Whether `addr` sent metadata that did not match the info-hash.
    pub fn is_refused(&self, addr: &SocketAddr) -> bool {
        self.refused.borrow().contains(addr)
    }

    pub fn progress(&self) -> FetchProgress {
        self.fetch.borrow().progress()
    }

    /// Each tracker's state, for status output.
    pub fn tracker_status(&self) -> Vec<TrackerStatus> {
        self.tracker.borrow().as_ref().map(|t| t.status()).unwrap_or_default()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.links.borrow().len()
    }

    /// Ends the phase: connections close, trackers are told `stopped`, and
    /// [`MetadataTask::run`] returns `None`.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        let _ = self.wake.try_send(());
    }

    /// Drives the phase until the metadata is verified (or found unusable), or it is
    /// cancelled (`None`). Call once.
    pub async fn run(self: &Rc<Self>) -> Option<Result<Arc<Metainfo>, MetadataFetchError>> {
        let wake_rx = self.wake_rx.borrow_mut().take()?;
        let outcome = loop {
            if self.cancelled.get() {
                break None;
            }
            if let Some(outcome) = self.fetch.borrow().outcome() {
                break Some(outcome.clone());
            }
            self.fetch.borrow_mut().handle_timeout(Instant::now());
            self.dispatch();
            self.dial_due();
            futures_lite::future::or(
                async {
                    wake_rx.recv().await;
                },
                glommio::timer::sleep(PHASE_TICK),
            )
            .await;
        };
        self.finish();
        outcome
    }

    /// Closes every connection and lets the trackers go.
    fn finish(&self) {
        let links: Vec<Link> = self.links.borrow_mut().drain().map(|(_, l)| l).collect();
        for link in links {
            let _ = link.close.try_send(());
        }
        if let Some(tracker) = self.tracker.borrow_mut().take() {
            glommio::spawn_local(async move { tracker.stop().await }).detach();
        }
    }

    fn is_over(&self) -> bool {
        self.cancelled.get() || self.fetch.borrow().is_done()
    }

    fn dial_due(self: &Rc<Self>) {
        if self.is_over() {
            return;
        }
        let limits = self.budget.limits();
        let room = MAX_METADATA_CONNECTIONS
            .saturating_sub(self.links.borrow().len() + self.opening.get())
            .min(limits.half_open.saturating_sub(self.budget.half_open()))
            .min(self.budget.global_room());
        if room == 0 {
            return;
        }
        let due = self.book.borrow_mut().due(Instant::now(), false, room);
        for addr in due {
            if self.filter.refuses_dial(addr) {
                self.book.borrow_mut().remove(addr);
                continue;
            }
            let Some(slot) = self.budget.start_dial() else {
                self.book.borrow_mut().ended(addr, false);
                continue;
            };
            let task = self.clone();
            self.opening.set(self.opening.get() + 1);
            glommio::spawn_local(async move {
                let dialled = dial_handshake(addr, task.info_hash, task.our_id).await;
                drop(slot);
                task.opening.set(task.opening.get().saturating_sub(1));
                let result = match dialled {
                    Ok((stream, established)) => {
                        task.book.borrow_mut().connected(addr);
                        task.run_connection(stream, addr, established).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                match &result {
                    // A tracker listed us, or the address serves another torrent.
                    Err(PeerError::SelfConnection { .. } | PeerError::WrongTorrent { .. }) => {
                        task.book.borrow_mut().remove(addr)
                    }
                    _ if task.refused.borrow().contains(&addr) => task.book.borrow_mut().remove(addr),
                    _ => task.book.borrow_mut().ended(addr, result.is_err()),
                }
                if let Err(e) = result {
                    tracing::debug!(torrent = %task.info_hash, error = %e, "metadata peer ended");
                }
                let _ = task.wake.try_send(());
            })
            .detach();
        }
    }

    /// Continues an incoming connection for this magnet whose first 48 bytes (up to
    /// the info-hash) were read by the listener.
    pub async fn accept(
        self: Rc<Self>,
        mut stream: TcpStream,
        addr: SocketAddr,
        prefix: &[u8],
    ) -> Result<(), PeerError> {
        let session = Accepting::from_prefix(prefix, self.info_hash, self.our_id).map_err(handshake_err(addr))?;
        if self.is_over()
            || self.refused.borrow().contains(&addr)
            || self.links.borrow().len() + self.opening.get() >= MAX_METADATA_CONNECTIONS
        {
            return Err(PeerError::Refused {
                addr,
                reason: "metadata phase full or over".into(),
            });
        }
        self.opening.set(self.opening.get() + 1);
        let answered = answer_handshake(&mut stream, addr, session).await;
        self.opening.set(self.opening.get().saturating_sub(1));
        let established = answered?;
        self.run_connection(stream, addr, established).await;
        Ok(())
    }

    /// One connection's life after the handshake: our extension handshake, then
    /// messages in (to the engine) and out (from its actions) until either ends.
    async fn run_connection(self: &Rc<Self>, stream: TcpStream, addr: SocketAddr, session: Established) {
        if self.is_over() {
            return;
        }
        let key = PeerKey(self.next_key.get());
        self.next_key.set(key.0 + 1);
        let (outgoing, outgoing_rx) = local_channel::new_bounded(OUTGOING_QUEUE);
        let (close, close_rx) = local_channel::new_bounded(1);
        let reserved = session.reserved();
        let _open_slot = self.budget.open_slot();
        if reserved.supports_extensions() {
            let _ = outgoing.try_send(our_extension_handshake(self.listen_port).to_message());
        }
        // With Fast negotiated, BEP 6 wants a HAVE NONE (or a bitfield) first: we
        // have no piece.
        if reserved.supports_fast() {
            let _ = outgoing.try_send(Message::HaveNone);
        }
        let incoming = session.direction() == Direction::Incoming;
        self.links.borrow_mut().insert(
            key,
            Link {
                addr,
                incoming,
                outgoing,
                close,
            },
        );
        tracing::debug!(torrent = %self.info_hash, %addr, "metadata peer connected");
        self.fetch
            .borrow_mut()
            .peer_connected(key, reserved.supports_extensions(), Instant::now());
        self.dispatch();

        let (reader, writer) = futures_lite::io::split(stream);
        let writer_task = glommio::spawn_local(write_loop(writer, outgoing_rx));
        let read = futures_lite::future::or(self.read_loop(key, addr, reader), async {
            close_rx.recv().await;
            Ok(())
        })
        .await;
        if let Err(e) = read {
            tracing::debug!(torrent = %self.info_hash, error = %e, "metadata peer closed");
        }
        // Dropping the link's sender ends the writer once it has sent what is queued.
        self.links.borrow_mut().remove(&key);
        self.fetch.borrow_mut().peer_disconnected(key, Instant::now());
        self.dispatch();
        writer_task.await;
    }

    async fn read_loop(
        &self,
        key: PeerKey,
        addr: SocketAddr,
        mut reader: ReadHalf<TcpStream>,
    ) -> Result<(), PeerError> {
        let mut decoder = MessageDecoder::new(WireLimits::default());
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            let want = decoder.bytes_needed(&buf).max(READ_CHUNK / 2);
            let start = buf.len();
            buf.resize(start + want, 0);
            let n = reader
                .read(&mut buf[start..])
                .await
                .map_err(|source| PeerError::Io { addr, source })?;
            buf.truncate(start + n);
            if n == 0 {
                return Ok(());
            }
            loop {
                let message = decoder
                    .decode(&mut buf)
                    .map_err(|source| PeerError::Wire { addr, source })?;
                let Some(message) = message else { break };
                self.on_message(key, message);
            }
            self.dispatch();
            if !self.links.borrow().contains_key(&key) {
                return Ok(());
            }
        }
    }

    fn on_message(&self, key: PeerKey, message: Message) {
        let now = Instant::now();
        let mut fetch = self.fetch.borrow_mut();
        match message {
            Message::Extended {
                id: EXTENDED_HANDSHAKE_ID,
                payload,
            } => match ExtensionHandshake::decode(&payload) {
                Ok(handshake) => {
                    fetch.extension_handshake(key, &handshake, now);
                    drop(fetch);
                    self.learn_listen_port(key, handshake.p);
                }
                Err(e) => {
                    // Tolerated by the running torrent; here it only means no metadata.
                    tracing::debug!(torrent = %self.info_hash, error = %e, "unreadable extension handshake");
                    fetch.bad_extension_handshake(key, now);
                }
            },
            Message::Extended {
                id: OUR_UT_METADATA_ID,
                payload,
            } => fetch.metadata_message(key, &payload, now),
            // Pieces, haves, PEX and the rest wait for the torrent.
            _ => {}
        }
    }

    /// A peer that dialled us says where it listens (`p`): the torrent dials it
    /// there once the metadata is in, since this connection closes with the phase.
    fn learn_listen_port(&self, key: PeerKey, port: Option<u16>) {
        let addr = match (self.links.borrow().get(&key), port) {
            (Some(link), Some(port)) if link.incoming => SocketAddr::new(link.addr.ip(), port),
            _ => return,
        };
        self.add_peers(&[addr], PeerSource::Incoming);
        // Already connected: the book must not dial it during this phase.
        self.book.borrow_mut().connected(addr);
    }

    /// Performs what the engine asked for.
    fn dispatch(&self) {
        loop {
            let action = self.fetch.borrow_mut().poll_action();
            let Some(action) = action else { break };
            match action {
                FetchAction::Send { peer, message } => {
                    let full = self
                        .links
                        .borrow()
                        .get(&peer)
                        .is_some_and(|link| link.outgoing.try_send(message).is_err());
                    if full {
                        self.close_link(peer);
                        self.fetch.borrow_mut().peer_disconnected(peer, Instant::now());
                    }
                }
                FetchAction::Disconnect { peer, reason } => {
                    if let Some(link) = self.links.borrow().get(&peer) {
                        tracing::debug!(torrent = %self.info_hash, addr = %link.addr, %reason, "metadata peer let go");
                        if reason == ccbt_engine::metadata_fetch::DropReason::WrongMetadata {
                            let mut refused = self.refused.borrow_mut();
                            if refused.len() < MAX_KNOWN_PEERS {
                                refused.insert(link.addr);
                            }
                        }
                    }
                    self.close_link(peer);
                }
            }
        }
        if self.fetch.borrow().is_done() {
            let _ = self.wake.try_send(());
        }
    }

    fn close_link(&self, peer: PeerKey) {
        if let Some(link) = self.links.borrow_mut().remove(&peer) {
            let _ = link.close.try_send(());
        }
    }
}

/// Ours: `ut_metadata` under [`OUR_UT_METADATA_ID`], no `metadata_size` (we have none yet).
fn our_extension_handshake(listen_port: Option<u16>) -> ExtensionHandshake {
    ExtensionHandshake {
        m: [(UT_METADATA.to_owned(), OUR_UT_METADATA_ID)].into_iter().collect(),
        v: Some(concat!("ccbt ", env!("CARGO_PKG_VERSION")).to_owned()),
        p: listen_port,
        ..Default::default()
    }
}

async fn write_loop(mut writer: WriteHalf<TcpStream>, outgoing: LocalReceiver<Message>) {
    let mut buf = BytesMut::new();
    while let Some(message) = outgoing.recv().await {
        buf.clear();
        message.encode(&mut buf);
        if writer.write_all(&buf).await.is_err() {
            break;
        }
    }
    let _ = writer.close().await;
}
