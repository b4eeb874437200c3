//! What bitonic needs from a daemon, as a trait: the `btbt` client implements it with
//! its API client (`cli/src/client/dashboard_cmd.rs`), tests with a fake. The
//! dashboard itself does no HTTP, so its state and views are tested without a daemon.

use std::io::Read;

use ccbt_daemon::api_types::{
    AddResponse, AlertList, PieceMap, SessionStats, TorrentChanges, TorrentDetail, TorrentSummary,
};

/// Why a call to the daemon did not answer what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    /// Nothing answers at the daemon's address (refused, reset, timed out).
    #[error("no daemon answers at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// `404`: an unknown torrent, or a route this daemon does not have.
    #[error("{0}")]
    NotFound(String),
    /// Any other error the API answered (`401`, `409`, a bad value…), in its words.
    #[error("{0}")]
    Refused(String),
    /// The daemon answered something that is not the API's shape.
    #[error("{0}")]
    BadAnswer(String),
}

/// The per-torrent actions bitonic offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentAction {
    Pause,
    Resume,
}

/// Whose limits `l` changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitTarget {
    Session,
    Torrent(u32),
}

/// A daemon's control API, one blocking call at a time (called from bitonic's
/// background threads, never from the one that draws).
pub trait DaemonApi: Send + Sync {
    /// The daemon's address, for the screen.
    fn url(&self) -> String;
    /// `GET /torrents/changes?since=REV`.
    fn torrent_changes(&self, since: u64) -> Result<TorrentChanges, ApiFailure>;
    /// `GET /torrents` (for a daemon without the changes route).
    fn torrents(&self) -> Result<Vec<TorrentSummary>, ApiFailure>;
    /// `GET /stats`.
    fn stats(&self) -> Result<SessionStats, ApiFailure>;
    /// `GET /torrents/{id}`.
    fn torrent(&self, id: u32) -> Result<TorrentDetail, ApiFailure>;
    /// `GET /torrents/{id}/pieces`.
    fn pieces(&self, id: u32) -> Result<PieceMap, ApiFailure>;
    /// `GET /alerts`; [`ApiFailure::NotFound`] when the daemon has no alerts API.
    fn alerts(&self) -> Result<AlertList, ApiFailure>;
    /// `POST /torrents/{id}/pause|resume`.
    fn act(&self, id: u32, action: TorrentAction) -> Result<(), ApiFailure>;
    /// `DELETE /torrents/{id}[?delete_data=true]`.
    fn remove(&self, id: u32, delete_data: bool) -> Result<(), ApiFailure>;
    /// Adds what the user typed: a magnet link, or a `.torrent` path on this machine.
    fn add(&self, source: &str) -> Result<AddResponse, ApiFailure>;
    /// Sets download and upload limits as the user typed them (`10M`, `none`, …; an
    /// empty value leaves that limit as it is), with `btbt limits`' rules.
    fn set_limits(&self, target: LimitTarget, down: &str, up: &str) -> Result<(), ApiFailure>;
    /// `GET /events`: the open `text/event-stream` body; it ends when the daemon
    /// stops or after a bounded time (the reader then opens it again).
    fn events(&self) -> Result<Box<dyn Read + Send>, ApiFailure>;
}
