//! A torrent running on one executor: owns the engine state, the storage and the
//! links to its peer connections, and performs the engine's actions.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ccbt_engine::file_priority::FilePriority;
use ccbt_engine::latency::{LatencyRecorder, LatencySummary};
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::peer_book::{PeerBook, RedialPolicy};
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::piece_memory::{PieceData, PooledPieceAllocator};
use ccbt_engine::torrent::{Action, DisconnectReason, Torrent, TorrentConfig, TorrentParams, TorrentStats};
use ccbt_engine::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex};

use crate::connection_budget::ConnectionBudget;
use crate::peer_filter::PeerFilter;
use crate::peer_outbox::{Outgoing, PeerLink};
use crate::piece_hasher::TimedSha1;
use crate::rate_limit::{RateLimit, ShardRateLimits};
use crate::read_cache::ReadCache;
use crate::shared_reads::SharedReads;
use crate::storage::{DmaPiece, Preallocation, Storage, StorageError};
use crate::tracker::{TrackerStatus, TrackerTask};
use ccbt_engine::tracker::tiers::tiers_from_metainfo;

mod counter_export;
mod detail;
mod hold;
mod live_settings;
mod peer_admission;
mod peer_sources;
mod resume_snapshots;
mod start_check;
#[cfg(test)]
mod start_check_tests;

pub use detail::{FileProgress, PeerSnapshot, TorrentSnapshot};
pub use resume_snapshots::RESUME_INTERVAL;
pub use start_check::{CheckCancel, StartError};

use crate::resume::{CheckSummary, ResumeRecord};
use resume_snapshots::{ResumeSnapshots, WriteInFlight};

/// How often the engine's periodic work runs.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// A downloading torrent with fewer connections than this asks its trackers again
/// early: one peer is one failure away from none.
const STARVED_BELOW_PEERS: usize = 2;
/// Peers asked of a tracker per announce.
pub(crate) const TRACKER_NUMWANT: u32 = 200;

/// What a running torrent reports to whoever started it.
#[derive(Clone, Debug)]
pub enum TorrentEvent {
    /// Existing data was checked; `have` pieces were already valid.
    Checked {
        info_hash: InfoHash,
        have: u32,
        num_pieces: u32,
        /// What the check trusted from the resume record and what it read.
        check: CheckSummary,
    },
    /// Every wanted piece is verified on disk.
    Completed { info_hash: InfoHash },
    /// The torrent stopped because of an error it cannot get past (disk full, say).
    Failed { info_hash: InfoHash, error: String },
    /// The torrent banned an address (the session adds it to its list).
    Banned {
        info_hash: InfoHash,
        ban: ccbt_engine::torrent::BanNotice,
    },
    /// A resume record: the verified pieces changed (see [`RESUME_INTERVAL`]) or
    /// the torrent completed.
    Resume { info_hash: InfoHash, record: ResumeRecord },
}

/// Called with each event, on the torrent's executor.
pub type EventSink = Rc<dyn Fn(TorrentEvent)>;

/// What a torrent needs to start.
pub struct TorrentSetup {
    pub meta: Arc<Metainfo>,
    pub download_dir: PathBuf,
    pub config: TorrentConfig,
    pub preallocation: Preallocation,
    /// Write the page-aligned part of each piece with `O_DIRECT` (bypassing the
    /// page cache) where the device and file system allow it.
    pub direct_writes: bool,
    pub our_id: PeerId,
    /// Peers to dial (and redial while we still want data).
    pub peers: Vec<SocketAddr>,
    /// How much each file is wanted, by index in the metainfo (empty = all Normal).
    pub file_priorities: Vec<FilePriority>,
    /// Payload bytes per second this torrent may receive (None = unlimited).
    pub download_limit: Option<u64>,
    /// Payload bytes per second this torrent may send (None = unlimited).
    pub upload_limit: Option<u64>,
    /// The shard's limits, drawn from by all its torrents besides their own.
    pub shard_limits: Rc<ShardRateLimits>,
    /// Request pieces in order (also on when `config.sequential` is).
    pub sequential: bool,
    /// Tracker tiers to use instead of the metainfo's (None = the metainfo's).
    pub trackers: Option<Vec<Vec<String>>>,
    /// The shard's connection counters and limits, shared by its torrents.
    pub budget: Rc<ConnectionBudget>,
    /// When to redial peers that failed.
    pub redial: RedialPolicy,
    /// The session's IP filter, as this shard holds it.
    pub filter: Rc<PeerFilter>,
    /// What the last run recorded: pieces it vouches for are not read again
    /// where their files are unchanged.
    pub resume: Option<ResumeRecord>,
    /// Cancels the start while its data is being checked.
    pub cancel: CheckCancel,
    /// Start held: check the files, then stay inert (no dial, no incoming peer, no
    /// tracker) until [`TorrentTask::release`].
    pub held: bool,
}

/// One running torrent on this executor.
pub struct TorrentTask {
    pub info_hash: InfoHash,
    pub meta: Arc<Metainfo>,
    pub(crate) engine: RefCell<Torrent>,
    pub(crate) storage: Storage,
    pub(crate) cache: Rc<RefCell<ReadCache>>,
    /// Piece reads in flight, joined by every peer that asks for the same piece.
    shared_reads: SharedReads,
    pub(crate) links: RefCell<HashMap<PeerKey, PeerLink>>,
    next_key: Cell<u64>,
    peer_book: RefCell<PeerBook>,
    pub(crate) budget: Rc<ConnectionBudget>,
    filter: Rc<PeerFilter>,
    stopped: Cell<bool>,
    failed: RefCell<Option<String>>,
    events: EventSink,
    download_limit: RateLimit,
    upload_limit: RateLimit,
    shard_limits: Rc<ShardRateLimits>,
    /// Each file's priority as last set (empty = all Normal).
    file_priorities: RefCell<Vec<FilePriority>>,
    tracker: RefCell<Option<Rc<TrackerTask>>>,
    /// The tracker tiers in use, kept while held so a release announces to them.
    tracker_tiers: RefCell<Vec<Vec<String>>>,
    /// Checked but inert: no peers, no trackers (see `hold.rs`).
    held: Cell<bool>,
    /// `stopped` announces of a hold still under way; a release waits for them
    /// before its `started`.
    tracker_stops: Rc<Cell<u32>>,
    /// Time to SHA-1 one piece.
    hash_latency: Rc<RefCell<LatencyRecorder>>,
    /// Time to write one verified piece to storage (successful writes only).
    write_latency: RefCell<LatencyRecorder>,
    /// How the start's check went.
    check: CheckSummary,
    /// Resume records taken of this torrent, and its writes in flight.
    resume: ResumeSnapshots,
    /// The engine's figures as last added to the shard's counters.
    exported: Cell<counter_export::ExportedFigures>,
}

impl TorrentTask {
    /// Opens (creating) the files, rechecks existing data and builds the engine state.
    pub async fn start(
        setup: TorrentSetup,
        cache: Rc<RefCell<ReadCache>>,
        events: EventSink,
    ) -> Result<Rc<TorrentTask>, StartError> {
        let meta = setup.meta;
        let info = &meta.info;
        let checked = start_check::open_and_check(
            &meta,
            &setup.download_dir,
            setup.preallocation,
            setup.resume.as_ref(),
            &setup.cancel,
        )
        .await?;
        let (storage, have, check) = (checked.storage, checked.have, checked.summary);
        storage.set_direct_writes(setup.direct_writes);
        let info_hash = meta.info_hash;
        // A record that says exactly what the check found needs no successor yet.
        let recorded = setup
            .resume
            .as_ref()
            .filter(|r| check.record_problem.is_none() && r.have == have.as_bytes())
            .map(|_| have.count_ones());
        events(TorrentEvent::Checked {
            info_hash,
            have: have.count_ones(),
            num_pieces: meta.num_pieces(),
            check: check.clone(),
        });
        let params = TorrentParams {
            info_hash,
            num_pieces: meta.num_pieces(),
            piece_length: info.piece_length,
            total_length: info.total_length,
            piece_hashes: info.piece_hashes.clone(),
        };
        let seed = u64::from_le_bytes([
            info_hash.0[0],
            info_hash.0[1],
            info_hash.0[2],
            info_hash.0[3],
            setup.our_id.0[16],
            setup.our_id.0[17],
            setup.our_id.0[18],
            setup.our_id.0[19],
        ]);
        let mut engine = Torrent::new(params, &have, setup.config, setup.our_id, seed, Instant::now());
        engine.set_info_dict(served_info_dict(&meta), info.private);
        let hash_latency = Rc::new(RefCell::new(LatencyRecorder::new()));
        engine.set_piece_hasher(TimedSha1::factory(hash_latency.clone()));
        if setup.direct_writes {
            // Pieces assembled in page-aligned memory go to the disk without a copy.
            engine.set_piece_allocator(Box::new(PooledPieceAllocator::new(
                info.piece_length,
                DmaPiece::allocate,
            )));
        }
        if !setup.file_priorities.is_empty() {
            if let Some(pieces) = live_settings::piece_priorities(&meta, &setup.file_priorities) {
                engine.set_piece_priorities(&pieces, Instant::now());
                // Nothing is connected yet: a Completed from here is reported below.
                while engine.poll_action().is_some() {}
            }
        }
        if setup.sequential {
            engine.set_sequential(true);
        }
        let complete = engine.is_complete();
        let task = Rc::new(TorrentTask {
            info_hash,
            meta: meta.clone(),
            engine: RefCell::new(engine),
            storage,
            cache,
            shared_reads: SharedReads::default(),
            links: RefCell::new(HashMap::new()),
            next_key: Cell::new(1),
            peer_book: RefCell::new({
                let mut book = PeerBook::with_policy(setup.redial);
                for a in &setup.peers {
                    if !setup.filter.refuses_learned(*a, PeerSource::Manual) {
                        book.add_pinned(*a);
                    }
                }
                book
            }),
            budget: setup.budget,
            filter: setup.filter,
            stopped: Cell::new(false),
            failed: RefCell::new(None),
            events,
            download_limit: RateLimit::new(setup.download_limit, Instant::now()),
            upload_limit: RateLimit::new(setup.upload_limit, Instant::now()),
            shard_limits: setup.shard_limits,
            file_priorities: RefCell::new(setup.file_priorities),
            tracker: RefCell::new(None),
            tracker_tiers: RefCell::new(Vec::new()),
            held: Cell::new(true),
            tracker_stops: Rc::new(Cell::new(0)),
            hash_latency,
            write_latency: RefCell::new(LatencyRecorder::new()),
            check,
            resume: ResumeSnapshots::new(recorded),
            exported: Cell::default(),
        });
        let tiers = setup
            .trackers
            .unwrap_or_else(|| tiers_from_metainfo(meta.announce.as_deref(), &meta.announce_list));
        *task.tracker_tiers.borrow_mut() = tiers;
        if complete {
            (task.events)(TorrentEvent::Completed { info_hash });
        }
        // Built held: a torrent that is not starts its trackers and dials now.
        if !setup.held {
            task.release();
        }
        Ok(task)
    }

    /// Current counters, with this task's hash and write latencies.
    pub fn stats(&self) -> TorrentStats {
        let mut stats = self.engine.borrow().stats(Instant::now());
        stats.hash_latency = self.hash_latency();
        stats.write_latency = self.write_latency();
        stats
    }

    /// Per-piece hash time so far.
    pub fn hash_latency(&self) -> LatencySummary {
        self.hash_latency.borrow().summary()
    }

    /// Per-piece storage write time so far.
    pub fn write_latency(&self) -> LatencySummary {
        self.write_latency.borrow().summary()
    }

    /// The error that stopped the torrent, if any.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    pub fn is_complete(&self) -> bool {
        self.engine.borrow().is_complete()
    }

    pub fn our_id(&self) -> PeerId {
        self.engine.borrow().our_id()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Closes every connection and stops the periodic work; files are closed when the last reference goes.
    /// Trackers are told `stopped` by [`TorrentTask::shutdown`].
    pub fn stop(&self) {
        self.stopped.set(true);
        for link in self.links.borrow().values() {
            let _ = link.close.try_send(());
        }
    }

    /// Stops, then sends `stopped` to the trackers (bounded by their stop timeout).
    pub async fn shutdown(&self) {
        self.stop();
        let tracker = self.tracker.borrow_mut().take();
        if let Some(tracker) = tracker {
            tracker.stop().await;
        }
    }

    /// Each tracker's state, for status output.
    pub fn tracker_status(&self) -> Vec<TrackerStatus> {
        self.tracker.borrow().as_ref().map(|t| t.status()).unwrap_or_default()
    }

    pub(crate) fn announce_progress(&self) -> crate::tracker::AnnounceProgress {
        let engine = self.engine.borrow();
        let stats = engine.stats(Instant::now());
        crate::tracker::AnnounceProgress {
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            // What is still to come of the wanted files (skipped ones are not awaited).
            left: engine.bytes_left_wanted(),
        }
    }

    pub(crate) fn next_peer_key(&self) -> PeerKey {
        let k = self.next_key.get();
        self.next_key.set(k + 1);
        PeerKey(k)
    }

    /// Performs every action the engine has queued.
    pub(crate) fn dispatch(self: &Rc<Self>) {
        loop {
            let action = self.engine.borrow_mut().poll_action();
            let Some(action) = action else { break };
            match action {
                Action::Send { peer, message } => self.to_peer(peer, Outgoing::Message(message)),
                Action::ServeBlock { peer, block } => self.to_peer(peer, Outgoing::Serve(block)),
                Action::WritePiece { piece, data } => {
                    glommio::spawn_local(write_piece(self.clone(), piece, data)).detach();
                }
                Action::Disconnect { peer, reason } => {
                    tracing::debug!(torrent = %self.info_hash, ?peer, ?reason, "disconnecting peer");
                    if let DisconnectReason::Protocol(violation) = &reason {
                        self.budget.counters().violation(violation.kind());
                    }
                    if let Some(link) = self.links.borrow().get(&peer) {
                        crate::shard_counters::count_engine_disconnect(&reason);
                        match reason {
                            DisconnectReason::BothSeeding => self.peer_book.borrow_mut().mark_seed(link.addr),
                            DisconnectReason::Banned => self.peer_book.borrow_mut().remove(link.addr),
                            _ => {}
                        }
                        let _ = link.close.try_send(());
                    }
                }
                Action::AddPeers { source, addrs } => self.add_known_peers_from(&addrs, source),
                Action::Completed => {
                    if let Some(tracker) = self.tracker.borrow().as_ref() {
                        tracker.completed();
                    }
                    self.record_now();
                    (self.events)(TorrentEvent::Completed {
                        info_hash: self.info_hash,
                    })
                }
            }
        }
        let bans = self.engine.borrow_mut().take_bans();
        for ban in bans {
            self.budget.counters().banned();
            tracing::info!(torrent = %self.info_hash, ip = %ban.ip, reason = ban.reason.label(), "address banned");
            (self.events)(TorrentEvent::Banned {
                info_hash: self.info_hash,
                ban,
            });
        }
    }

    /// Charges `bytes` received to this torrent's and the shard's download limits;
    /// returns how long the connection should pause (the longer of the two).
    pub(crate) fn charge_download(&self, bytes: u64) -> Duration {
        let now = Instant::now();
        let own = self.download_limit.consume(now, bytes);
        own.max(self.shard_limits.charge_download(now, bytes))
    }

    /// Charges `bytes` of payload sent to this torrent's and the shard's upload
    /// limits; returns how long the connection should pause.
    pub(crate) fn charge_upload(&self, bytes: u64) -> Duration {
        let now = Instant::now();
        let own = self.upload_limit.consume(now, bytes);
        own.max(self.shard_limits.charge_upload(now, bytes))
    }

    fn to_peer(&self, peer: PeerKey, item: Outgoing) {
        if let Some(link) = self.links.borrow().get(&peer) {
            if !link.outbox.push(item) {
                tracing::debug!(torrent = %self.info_hash, addr = %link.addr, "peer does not read: outbox full, disconnecting");
                crate::shard_counters::count(|c| c.disconnects.outbox_full += 1);
                let _ = link.close.try_send(());
            }
        }
    }

    /// The periodic work: the engine's deadlines that are due (choking, request
    /// timeouts, pipeline depth, idle peers, keep-alives) and, every other tick,
    /// redialing known peers. The shard that owns the task calls it once every
    /// [`TICK_INTERVAL`], for all its torrents in one wake; a torrent with no
    /// deadline due costs one comparison.
    pub fn tick(self: &Rc<Self>, ticks: u64) {
        if self.stopped.get() {
            return;
        }
        let now = Instant::now();
        let due = self.engine.borrow().poll_timeout().is_some_and(|t| t <= now);
        if due {
            self.engine.borrow_mut().handle_timeout(now);
            self.dispatch();
        }
        if let Some(tracker) = self.tracker.borrow().as_ref() {
            let starved = !self.is_complete() && self.links.borrow().len() < STARVED_BELOW_PEERS;
            tracker.set_starved(starved);
        }
        if ticks.is_multiple_of(2) {
            self.dial_known_peers();
        }
        self.record_if_due(now);
    }

    /// Reads a block for serving, through the shard's piece cache.
    pub(crate) async fn read_block(&self, block: BlockRef) -> Result<Bytes, StorageError> {
        let cached = self.cache.borrow_mut().get(self.info_hash, block.piece);
        let piece = match cached {
            Some(p) => p,
            None => {
                let span = tracing::debug_span!("piece_read", torrent = %self.info_hash, piece = block.piece.0);
                let read = self.shared_reads.read_piece(&self.storage, block.piece);
                let p = tracing::Instrument::instrument(read, span).await?;
                let mut cache = self.cache.borrow_mut();
                // Peers that joined the same read find it cached by the first.
                if !cache.contains(self.info_hash, block.piece) {
                    cache.insert(self.info_hash, block.piece, p.clone());
                }
                p
            }
        };
        let start = block.offset as usize;
        let end = start + block.length as usize;
        if end > piece.len() {
            return Err(StorageError::BadRange {
                piece: block.piece,
                offset: block.offset,
                len: block.length as u64,
                piece_size: piece.len() as u32,
            });
        }
        Ok(piece.slice(start..end))
    }

    /// Records a fatal error and stops.
    pub(crate) fn fail(&self, error: String) {
        if self.failed.borrow().is_some() {
            return;
        }
        // The Failed event carries the error to the user; logging it at error level
        // as well printed it a second time on stderr.
        tracing::debug!(torrent = %self.info_hash, %error, "torrent stopped");
        *self.failed.borrow_mut() = Some(error.clone());
        (self.events)(TorrentEvent::Failed {
            info_hash: self.info_hash,
            error,
        });
        self.stop();
        // A failed torrent serves nothing: tell its trackers, in the background.
        if let Some(tracker) = self.tracker.borrow_mut().take() {
            glommio::spawn_local(async move { tracker.stop().await }).detach();
        }
    }
}

/// The info dictionary the engine serves to `ut_metadata` requests: a view of the
/// metainfo's own bytes (no copy: a seedbox holds thousands of them).
fn served_info_dict(meta: &Arc<Metainfo>) -> Bytes {
    struct InfoBytes(Arc<Metainfo>);
    impl AsRef<[u8]> for InfoBytes {
        fn as_ref(&self) -> &[u8] {
            &self.0.info_bytes
        }
    }
    Bytes::from_owner(InfoBytes(meta.clone()))
}

/// Writes a piece the engine found good and reports the outcome back to it.
async fn write_piece(task: Rc<TorrentTask>, piece: PieceIndex, data: PieceData) {
    if task.is_stopped() {
        // Stopping for good: its files may be moved or deleted next.
        task.engine.borrow_mut().piece_written(piece, false, Instant::now());
        return;
    }
    let _in_flight = WriteInFlight::new(task.clone());
    let started = Instant::now();
    // The engine keeps no reference, so the buffer is ours: the file takes it,
    // or hands it back for the engine to reuse.
    let span = tracing::debug_span!("piece_write", torrent = %task.info_hash, piece = piece.0);
    let written = tracing::Instrument::instrument(task.storage.write_piece_data(piece, data), span).await;
    match written {
        Ok(spare) => {
            task.write_latency.borrow_mut().record(started.elapsed());
            crate::shard_counters::count(|c| c.pieces_verified += 1);
            let mut engine = task.engine.borrow_mut();
            engine.piece_written(piece, true, Instant::now());
            if let Some(buf) = spare {
                engine.recycle_piece_buffer(buf);
            }
        }
        Err(e) => {
            crate::shard_counters::count(|c| c.piece_write_failures += 1);
            task.engine.borrow_mut().piece_written(piece, false, Instant::now());
            task.fail(format!("torrent {}: {e}", task.info_hash));
        }
    }
    task.dispatch();
}
