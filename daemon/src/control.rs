//! The one way into the daemon's core: typed requests with a reply channel each,
//! and the event bus out of it.
//!
//! The HTTP server (and, later, the Transmission and qBittorrent front ends) turn
//! each call into a [`ControlRequest`] and await its reply; only the core touches
//! the session, the queue and the state dir. Requests and events cross between
//! tasks of the control thread, never into a shard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};

pub use crate::core::categories::{CategoryBook, CategoryEdit};
pub use crate::core::change_log::{Category, ServerFigures, SyncDelta};

use crate::api_types::{
    AddRequest, AddResponse, ApiEvent, BanView, ErrorBody, ErrorDetail, FileEntry, FilesPatch, PeerEntry, PieceMap,
    QueueMove, SessionInfo, SessionPatch, SessionStats, TorrentDetail, TorrentPatch, TorrentSummary, TrackerEntry,
};

/// Requests waiting for the core, at most; a caller beyond it waits.
pub const REQUEST_QUEUE_DEPTH: usize = 256;
/// Events kept for each `/api/v1/events` reader; one that falls further behind
/// loses the oldest (counted in `events_dropped`), never slows the core.
pub const EVENT_BUS_DEPTH: usize = 4096;

/// Why a request failed: an HTTP status, a stable code and a message naming what
/// was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_request", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }
    pub fn invalid_torrent(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_torrent", message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "conflict", message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "internal", message)
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }
}

pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// Where a torrent to add comes from.
#[derive(Clone, Debug)]
pub enum AddSource {
    /// The bytes of a `.torrent` (a raw body, or `metainfo_base64` decoded).
    Metainfo(Vec<u8>),
    /// A `.torrent` path on the daemon's machine.
    Path(String),
    Magnet(String),
}

/// The one-word actions on a torrent (`POST /api/v1/torrents/{id}/{action}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentAction {
    Pause,
    Resume,
    /// Resume, bypassing the queue's active limits.
    ForceStart,
    /// Forget what is verified and hash every piece again.
    Verify,
    Reannounce,
}

impl TorrentAction {
    const ALL: [TorrentAction; 5] = [
        TorrentAction::Pause,
        TorrentAction::Resume,
        TorrentAction::ForceStart,
        TorrentAction::Verify,
        TorrentAction::Reannounce,
    ];

    /// Its route segment: `POST /api/v1/torrents/{id}/{segment}`.
    pub fn segment(self) -> &'static str {
        match self {
            TorrentAction::Pause => "pause",
            TorrentAction::Resume => "resume",
            TorrentAction::ForceStart => "force-start",
            TorrentAction::Verify => "verify",
            TorrentAction::Reannounce => "reannounce",
        }
    }

    pub fn from_path(segment: &str) -> Option<TorrentAction> {
        Self::ALL.into_iter().find(|a| a.segment() == segment)
    }
}

/// A torrent named by the user: `id` as the API got it (a small integer, 40 hex
/// digits, or a unique hex prefix); the core resolves it.
pub type TorrentRef = String;

#[derive(Debug)]
pub enum ControlRequest {
    ListTorrents(Reply<Vec<TorrentSummary>>),
    GetTorrent {
        id: TorrentRef,
        reply: Reply<TorrentDetail>,
    },
    AddTorrent {
        source: AddSource,
        options: AddRequest,
        reply: Reply<AddResponse>,
    },
    PatchTorrent {
        id: TorrentRef,
        patch: TorrentPatch,
        reply: Reply<TorrentSummary>,
    },
    RemoveTorrent {
        id: TorrentRef,
        delete_data: bool,
        reply: Reply<()>,
    },
    Action {
        id: TorrentRef,
        action: TorrentAction,
        reply: Reply<TorrentSummary>,
    },
    Files {
        id: TorrentRef,
        reply: Reply<Vec<FileEntry>>,
    },
    PatchFiles {
        id: TorrentRef,
        patch: FilesPatch,
        reply: Reply<Vec<FileEntry>>,
    },
    Peers {
        id: TorrentRef,
        reply: Reply<Vec<PeerEntry>>,
    },
    Trackers {
        id: TorrentRef,
        reply: Reply<Vec<TrackerEntry>>,
    },
    Pieces {
        id: TorrentRef,
        reply: Reply<PieceMap>,
    },
    /// The queue in order (queued and active torrents).
    Queue(Reply<Vec<TorrentSummary>>),
    MoveInQueue {
        id: TorrentRef,
        to: QueueMove,
        reply: Reply<Vec<TorrentSummary>>,
    },
    GetSession(Reply<SessionInfo>),
    PatchSession {
        patch: SessionPatch,
        reply: Reply<SessionInfo>,
    },
    Stats(Reply<SessionStats>),
    /// The session's ban list.
    ListBans(Reply<Vec<BanView>>),
    /// Lifts the ban on an address (as typed by the user: `1.2.3.4`, `::1`, or with a port).
    Unban {
        addr: String,
        reply: Reply<BanView>,
    },
    /// Every figure `/metrics` reports (404 when metrics are off).
    Metrics(Reply<crate::metrics::MetricsSnapshot>),
    /// Stop the daemon (answered before it stops).
    Shutdown(Reply<()>),
    /// What changed since a `sync/maindata` revision (0 = everything).
    SyncMainData {
        rid: u64,
        reply: Reply<SyncDelta>,
    },
    /// The qBittorrent categories and tags.
    Categories(Reply<CategoryBook>),
    /// Creates, edits or removes categories or tags; answers the book after.
    EditCategories {
        edit: CategoryEdit,
        reply: Reply<CategoryBook>,
    },
    /// A config reload's hooks (None: unchanged) and watch dir (its other live
    /// keys come as a `PatchSession`).
    Reconfigure {
        hooks: Option<crate::daemon_config::HooksConfig>,
        watch_dir: Option<std::path::PathBuf>,
        reply: Reply<()>,
    },
    /// The IP filter's status, a reload, or a lookup.
    IpFilter(IpFilterRequest),
    /// The alerts and their rules.
    Alerts(crate::alerts::AlertRequest),
}

/// What the API asks of the IP filter.
#[derive(Debug)]
pub enum IpFilterRequest {
    Status(Reply<crate::api_types::IpFilterStatus>),
    /// Read the lists again now; an error when the reload was refused.
    Reload(Reply<crate::api_types::IpFilterStatus>),
    Check {
        address: std::net::IpAddr,
        reply: Reply<crate::api_types::IpFilterCheck>,
    },
    /// `security.ip_filter` changed (a config reload or `config set`): read these
    /// lists from now on. Answered at once; the reload runs in the background and
    /// says how it went in the log and the status.
    SetLists {
        paths: Vec<std::path::PathBuf>,
        reply: Reply<()>,
    },
}

/// What the API side holds: a way to send requests to the core and to follow its
/// events. Cheap to clone.
#[derive(Clone)]
pub struct ControlHandle {
    requests: mpsc::Sender<ControlRequest>,
    events: broadcast::Sender<ApiEvent>,
    events_dropped: Arc<AtomicU64>,
}

/// The core's side of a [`ControlHandle`].
pub struct ControlInbox {
    pub requests: mpsc::Receiver<ControlRequest>,
    pub events: EventBus,
}

/// Publishes the core's events to every reader of `/api/v1/events`.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<ApiEvent>,
    dropped: Arc<AtomicU64>,
    next_seq: Arc<AtomicU64>,
}

impl EventBus {
    /// Sends to every current reader (none listening is fine).
    pub fn publish(&self, mut event: ApiEvent) {
        event.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let _ = self.sender.send(event);
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A connected handle and inbox.
pub fn control_channel() -> (ControlHandle, ControlInbox) {
    let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE_DEPTH);
    let (ev_tx, _) = broadcast::channel(EVENT_BUS_DEPTH);
    let dropped = Arc::new(AtomicU64::new(0));
    let handle = ControlHandle {
        requests: req_tx,
        events: ev_tx.clone(),
        events_dropped: dropped.clone(),
    };
    let inbox = ControlInbox {
        requests: req_rx,
        events: EventBus {
            sender: ev_tx,
            dropped,
            next_seq: Arc::new(AtomicU64::new(1)),
        },
    };
    (handle, inbox)
}

impl ControlHandle {
    /// Sends a request built around a fresh reply channel and waits for the answer.
    pub async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> ControlRequest) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| ApiError::new(503, "shutting_down", "the daemon is shutting down"))?;
        rx.await
            .map_err(|_| ApiError::new(503, "shutting_down", "the daemon is shutting down"))?
    }

    /// A new reader of the event bus, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ApiEvent> {
        self.events.subscribe()
    }

    /// Counts events a reader missed because it fell behind.
    pub fn count_dropped(&self, n: u64) {
        self.events_dropped.fetch_add(n, Ordering::Relaxed);
    }
}
