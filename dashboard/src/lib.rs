//! bitonic, the live terminal dashboard of a ccbt daemon: its torrents, one torrent
//! in depth, the session's rates and each shard's core, and the alerts.
//!
//! The crate does no HTTP: it asks a [`DaemonApi`] (the `btbt` client implements it
//! with its API client, so there is one client of the control API). The state
//! ([`app::App`]) and the views ([`ui`]) need no terminal and are tested with
//! ratatui's `TestBackend`; [`run`] puts them on a real one.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod fetcher;
pub mod file_tree;
pub mod format;
pub mod piece_map;
pub mod rate_history;
pub mod sse;
pub mod terminal;
pub mod torrent_list;
pub mod torrent_store;
pub mod ui;

pub use api::{ApiFailure, DaemonApi, LimitTarget, TorrentAction};
pub use terminal::{run, DashboardError, RunOptions};
