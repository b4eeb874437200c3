//! `btbt daemon`: the long-running session around the shards.
//!
//! The control thread runs a current-thread tokio runtime with the HTTP API
//! (`api_server`) and the core (`core`), which alone owns the [`ccbt_shards::Session`],
//! the queue and the state dir. The shards keep the data path; the core reaches
//! them only through the session's messages.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod alt_speed;
pub mod api_server;
pub mod api_types;
pub mod ban_list;
pub mod config_reload;
pub mod control;
pub mod core;
pub mod daemon_config;
pub mod dht_nodes;
pub mod hooks;
pub mod ip_filter_loader;
pub mod log_level;
pub mod metrics;
pub mod qbittorrent_api;
pub mod queue_policy;
pub mod rate_split;
pub mod run;
pub mod seed_limits;
pub mod state_dir;
pub mod state_store;
pub mod torrent_ids;
pub mod transmission_rpc;
pub mod watch_dir;
