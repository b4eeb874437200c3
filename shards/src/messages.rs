//! Everything that crosses a thread boundary: commands from the session, events back
//! to it, and connections handed between shards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ccbt_engine::file_priority::FilePriority;
use ccbt_engine::metainfo::Metainfo;
pub use ccbt_engine::peer_source::{PeerSource, PeerSourceCounts};
use ccbt_engine::torrent::{TorrentConfig, TorrentStats};
use ccbt_engine::wire::HANDSHAKE_ROUTING_LEN;
use ccbt_engine::InfoHash;
pub use ccbt_io::rate_limit::ShardUsage;
use ccbt_io::socket_transfer::TransferableSocket;
use ccbt_io::storage::Preallocation;
use ccbt_io::tracker::TrackerStatus;

pub use ccbt_io::resume::{CheckSummary, FileStamp, ResumeRecord};
pub use ccbt_io::torrent_task::{FileProgress, PeerSnapshot, TorrentSnapshot};

use crate::query::QueryReply;
use crossbeam_channel::Sender;

/// A torrent to start on its owning shard.
#[derive(Clone, Debug)]
pub struct AddTorrent {
    pub meta: Arc<Metainfo>,
    pub download_dir: PathBuf,
    pub config: TorrentConfig,
    pub preallocation: Preallocation,
    /// Write aligned piece data with `O_DIRECT` where the disk allows it.
    pub direct_writes: bool,
    /// Peers to dial.
    pub peers: Vec<SocketAddr>,
    /// How much each file is wanted, by index (empty = all Normal; a short list
    /// leaves the rest Normal).
    pub file_priorities: Vec<FilePriority>,
    /// Payload bytes per second (None = unlimited).
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    /// The last run's record: pieces it vouches for, in files whose size and mtime
    /// are unchanged, are not read again.
    pub resume: Option<ResumeRecord>,
    /// Request pieces in order (on as well when `config.sequential` is).
    pub sequential: bool,
    /// Tracker tiers to use instead of the metainfo's (None = the metainfo's).
    pub trackers: Option<Vec<Vec<String>>>,
    /// Check the files, then stay held (no peers, no trackers) until
    /// [`Session::release`](crate::Session::release); its status says
    /// [`TorrentState::Held`].
    pub held: bool,
}

/// A magnet link to resolve on its owning shard: its metadata is fetched from peers
/// (BEP 9), checked against the info-hash, then the torrent starts with the fields
/// below (same meaning as [`AddTorrent`]'s). As for a torrent, trackers are asked
/// only when `config.listen_port` is set (the port they are told).
#[derive(Clone, Debug)]
pub struct AddMagnet {
    pub info_hash: InfoHash,
    /// `dn`: the name shown until the metadata arrives.
    pub display_name: Option<String>,
    /// Tracker tiers, from `tr`.
    pub trackers: Vec<Vec<String>>,
    /// `x.pe` and `--peer`: dialled at once, and again by the torrent once it runs.
    pub peers: Vec<SocketAddr>,
    /// BEP 53 `so`: the files to download (by index), the rest skipped; None = all.
    pub select_only: Option<ccbt_engine::magnet::FileSelection>,
    pub download_dir: PathBuf,
    pub config: TorrentConfig,
    pub preallocation: Preallocation,
    pub direct_writes: bool,
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    pub sequential: bool,
    pub held: bool,
}

/// Session → shard.
#[derive(Debug)]
pub enum ShardCommand {
    Add(Box<AddTorrent>),
    /// Fetch a magnet's metadata, then start it as [`ShardCommand::Add`] would.
    AddMagnet(Box<AddMagnet>),
    /// Dial this peer for the torrent.
    AddPeer {
        info_hash: InfoHash,
        addr: SocketAddr,
    },
    /// Addresses a discovery service (DHT, PEX, LSD) found for a torrent.
    AddDiscoveredPeers {
        info_hash: InfoHash,
        addrs: Vec<SocketAddr>,
        source: PeerSource,
    },
    Remove {
        info_hash: InfoHash,
    },
    Shutdown,
    /// The torrent's detail, answered on the shard's thread.
    Query {
        info_hash: InfoHash,
        reply: QueryReply,
    },
    /// Change a setting of a torrent (one still checking takes it once it runs).
    Configure {
        info_hash: InfoHash,
        change: TorrentChange,
    },
    /// The shard's own payload limits, shared by all its torrents (None = unlimited).
    SetShardLimits {
        download: Option<u64>,
        upload: Option<u64>,
    },
    /// Start local service discovery on this shard; the reply says whether its
    /// socket could be set up.
    StartLsd {
        start: Box<crate::lsd_service::LsdStart>,
        reply: Sender<Result<(), String>>,
    },
    /// Shard 0 only: run the session's DHT node.
    StartDht(Box<crate::dht_service::DhtStart>),
    /// Every shard: ask the DHT node for peers of this shard's torrents.
    AttachDht(crate::dht_service::DhtLink),
    /// Every shard: the IP filter to use from now on (connections to addresses it
    /// blocks are closed).
    SetIpFilter(Arc<ccbt_engine::ip_filter::IpFilter>),
    /// The session's ban list, each address with the time its ban has left; it
    /// replaces the one before (an address missing from it is unbanned).
    SetBans(Arc<Vec<(std::net::IpAddr, std::time::Duration)>>),
}

/// A setting a running torrent takes at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TorrentChange {
    /// Payload bytes per second (None = unlimited).
    Limits {
        download: Option<u64>,
        upload: Option<u64>,
    },
    /// Each file's priority, by index.
    FilePriorities(Vec<FilePriority>),
    Sequential(bool),
    /// Announce now, or as soon as the tracker's `min interval` allows.
    Reannounce,
    /// Replace the tracker tiers (URLs already checked).
    Trackers(Vec<Vec<String>>),
    /// Go inert, keeping the verified pieces: peers closed, trackers told
    /// `stopped`, nothing dialled or admitted.
    Hold,
    /// A held torrent runs: trackers started, peers dialled and admitted.
    Release,
}

/// Shard → shard: an accepted connection for a torrent the receiver owns.
#[derive(Debug)]
pub struct AdoptConnection {
    pub socket: TransferableSocket,
    pub addr: SocketAddr,
    /// The torrent, parsed from `prefix` by the shard that accepted.
    pub info_hash: InfoHash,
    /// The handshake bytes already read, up to and including the info-hash.
    pub prefix: [u8; HANDSHAKE_ROUTING_LEN],
}

/// Where a torrent is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentState {
    /// A magnet whose info dictionary is being fetched from peers (see
    /// [`TorrentStatus::metadata`]).
    FetchingMetadata,
    Checking,
    /// Checked, then held: no peers, no trackers; `stats.complete` says whether a
    /// release would seed or download.
    Held,
    Downloading,
    Seeding,
    Failed,
}

impl TorrentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TorrentState::FetchingMetadata => "metadata",
            TorrentState::Checking => "checking",
            TorrentState::Held => "held",
            TorrentState::Downloading => "downloading",
            TorrentState::Seeding => "seeding",
            TorrentState::Failed => "failed",
        }
    }
}

/// One torrent's status, sent by its shard every status interval.
#[derive(Clone, Debug)]
pub struct TorrentStatus {
    pub info_hash: InfoHash,
    pub name: String,
    pub shard: usize,
    pub state: TorrentState,
    pub stats: TorrentStats,
    pub error: Option<String>,
    /// Each tracker's state (empty for a torrent without trackers).
    pub trackers: Vec<TrackerStatus>,
    /// Downloading, with no connection up and every known address (if any) failing.
    pub no_reachable_peer: bool,
    /// Bytes of the files not skipped (`stats.complete` = every piece they need is
    /// verified; `stats.verified_bytes == stats.total_bytes` = every piece is).
    pub wanted_bytes: u64,
    /// While [`TorrentState::FetchingMetadata`]: how the fetch is going.
    pub metadata: Option<MetadataProgress>,
    /// Connected peers by where their address came from (tracker, DHT, PEX, ...).
    pub peer_sources: PeerSourceCounts,
}

/// A magnet's metadata fetch, as a status shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetadataProgress {
    /// Peers sent at least one request for a piece of the metadata.
    pub peers_asked: u32,
    /// Connected peers that offer the metadata (ut_metadata with a usable size).
    pub peers_with_metadata: u32,
    /// 16 KiB pieces received so far.
    pub pieces_have: u32,
    /// Pieces of the info dictionary; 0 until a peer has told its size.
    pub pieces_total: u32,
}

/// Shard → session.
#[derive(Clone, Debug)]
pub enum SessionEvent {
    /// Existing data checked; the torrent is running.
    Started {
        info_hash: InfoHash,
        shard: usize,
        have: u32,
        num_pieces: u32,
        /// What was trusted from the resume record and what was read.
        check: CheckSummary,
    },
    /// A magnet's metadata arrived and matches its info-hash; the shard now starts
    /// the torrent by itself (checking existing data as any add does), and the usual
    /// `Started`, `Status`… follow.
    MetadataReceived { info_hash: InfoHash, meta: Arc<Metainfo> },
    /// Every wanted piece is verified on disk.
    Completed { info_hash: InfoHash },
    /// The torrent could not start or had to stop.
    Failed { info_hash: InfoHash, error: String },
    /// Periodic status of every torrent on one shard, and what the shard moved
    /// under its own limits since its last status.
    Status {
        shard: usize,
        torrents: Vec<TorrentStatus>,
        usage: ShardUsage,
    },
    /// A shard finished its shutdown.
    ShardStopped { shard: usize },
    /// A torrent banned an address (hash failures, a proven bad block, hostile protocol).
    PeerBanned {
        info_hash: InfoHash,
        ip: std::net::IpAddr,
        reason: ccbt_engine::torrent::BanReason,
    },
    /// A resume record of a running torrent: its verified pieces changed (at most
    /// once per `RESUME_INTERVAL`), or it completed.
    Resume { info_hash: InfoHash, record: ResumeRecord },
    /// The torrent has ended after a remove (or at session shutdown): peers closed,
    /// trackers told, files flushed and closed; its files may be moved or deleted
    /// now. `record` is its last resume record (`None`: it never ran, or the flush
    /// failed).
    Stopped {
        info_hash: InfoHash,
        record: Option<ResumeRecord>,
    },
}
