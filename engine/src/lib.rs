//! Sans-IO BitTorrent protocol core.
//!
//! Owns no socket, no file and no clock: callers feed bytes, events and `now`,
//! and collect actions (bytes to send, pieces to verify and write, blocks to read).
//! Everything here is deterministic and unit-testable. Not here: anything that
//! touches the OS (see the `ccbt-io` and `ccbt-shards` crates).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod allowed_fast;
pub mod bencode;
pub mod bitfield;
pub mod choker;
pub mod config_model;
pub mod connection_policy;
pub mod dht;
pub mod file_layout;
pub mod file_priority;
pub mod latency;
pub mod lsd;
pub mod magnet;
pub mod metadata_fetch;
pub mod metainfo;
pub mod metainfo_builder;
pub mod path_sanitizer;
pub mod peer_book;
pub mod peer_session;
pub mod peer_source;
pub mod pex;
pub mod piece_memory;
pub mod piece_picker;
pub mod pipeline_depth;
pub mod rate;
pub mod rate_limiter;
pub mod torrent;
pub mod tracker;
pub mod types;
pub mod wire;

pub use bitfield::Bitfield;
pub use types::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex, BLOCK_SIZE};
