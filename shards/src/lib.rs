//! The runtime shape of ccbt: one pinned glommio executor per core (a shard), each
//! owning its torrents' sockets and files; a router from info-hash to shard; a
//! connection mesh between shards; and the [`Session`] handle that places torrents
//! and gathers their events.
//!
//! Not here: protocol rules (`ccbt-engine`) or socket and file mechanics (`ccbt-io`).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod dht_service;
mod event_outbox;
pub mod lsd_service;
pub mod messages;
mod query;
pub mod router;
pub mod session;
mod shard;
pub mod shard_metrics;
mod torrent_change;

pub use ccbt_engine::file_priority::FilePriority;
pub use dht_service::{DhtSettings, DhtStatus, DhtWatch, DEFAULT_BOOTSTRAP};
pub use lsd_service::LsdSettings;
pub use messages::{
    AddMagnet, AddTorrent, CheckSummary, FileProgress, FileStamp, MetadataProgress, PeerSnapshot, ResumeRecord,
    SessionEvent, ShardUsage, TorrentChange, TorrentSnapshot, TorrentState, TorrentStatus,
};
pub use query::QueryReply;
pub use router::Router;
pub use session::{Session, SessionConfig, SessionError, DEFAULT_READ_CACHE_BYTES};
pub use shard::STATUS_INTERVAL;
pub use shard_metrics::{ShardMetrics, ShardMetricsBoard};
