//! glommio adapters for ccbt: peer sockets, storage files, hashing.
//!
//! Performs what the engine (`ccbt-engine`) asks and feeds results back. No protocol
//! decisions live here; no executor placement either (that is `ccbt-shards`).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod connection_budget;
pub mod dht_socket;
pub mod fd_limit;
pub mod listen_socket;
pub mod lsd_socket;
pub mod metadata_task;
pub mod peer_connection;
pub mod peer_filter;
pub mod peer_guard;
mod peer_outbox;
pub mod piece_hasher;
pub mod rate_limit;
pub mod read_cache;
pub mod resume;
pub mod shard_counters;
mod shared_reads;
pub mod socket_transfer;
pub mod storage;
#[cfg(test)]
mod test_executor;
pub mod torrent_task;
pub mod tracker;
