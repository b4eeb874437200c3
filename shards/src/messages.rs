//! Everything that crosses a thread boundary: commands from the session, events back
//! to it, and connections handed between shards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::torrent::{TorrentConfig, TorrentStats};
use ccbt_engine::wire::HANDSHAKE_ROUTING_LEN;
use ccbt_engine::InfoHash;
use ccbt_io::socket_transfer::TransferableSocket;
use ccbt_io::storage::Preallocation;
use ccbt_io::tracker::TrackerStatus;

pub use ccbt_io::resume::{CheckSummary, FileStamp, ResumeRecord};
pub use ccbt_io::torrent_task::{FileProgress, PeerSnapshot, TorrentSnapshot};

use crate::query::QueryReply;

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
    /// File indices not to download.
    pub skipped_files: Vec<usize>,
    /// Payload bytes per second (None = unlimited).
    pub download_limit: Option<u64>,
    pub upload_limit: Option<u64>,
    /// The last run's record: pieces it vouches for, in files whose size and mtime
    /// are unchanged, are not read again.
    pub resume: Option<ResumeRecord>,
}

/// Session → shard.
#[derive(Debug)]
pub enum ShardCommand {
    Add(Box<AddTorrent>),
    /// Dial this peer for the torrent.
    AddPeer {
        info_hash: InfoHash,
        addr: SocketAddr,
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
    Checking,
    Downloading,
    Seeding,
    Failed,
}

impl TorrentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TorrentState::Checking => "checking",
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
    /// Every wanted piece is verified on disk.
    Completed { info_hash: InfoHash },
    /// The torrent could not start or had to stop.
    Failed { info_hash: InfoHash, error: String },
    /// Periodic status of every torrent on one shard.
    Status { shard: usize, torrents: Vec<TorrentStatus> },
    /// A shard finished its shutdown.
    ShardStopped { shard: usize },
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
