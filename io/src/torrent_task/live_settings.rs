//! What a running torrent takes without a restart: its rate limits, file
//! priorities, sequential order and trackers.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use ccbt_engine::file_layout::FileLayout;
use ccbt_engine::file_priority::{self, FilePriority};
use ccbt_engine::metainfo::Metainfo;
use ccbt_engine::piece_picker::PiecePriority;

use super::{TorrentTask, TRACKER_NUMWANT};
use crate::tracker::{AnnounceProgress, TrackerConfig, TrackerTask};

impl TorrentTask {
    /// Sets this torrent's payload limits, bytes per second (None = unlimited).
    /// Connections pausing under the old limit finish that pause.
    pub fn set_limits(&self, download: Option<u64>, upload: Option<u64>) {
        let now = Instant::now();
        self.download_limit.set(download, now);
        self.upload_limit.set(upload, now);
    }

    /// This torrent's payload limits (download, upload); None = unlimited.
    pub fn limits(&self) -> (Option<u64>, Option<u64>) {
        (self.download_limit.rate(), self.upload_limit.rate())
    }

    /// Sets how much each file is wanted (by index; empty or short = the rest
    /// Normal). A complete torrent whose skipped file is wanted again downloads
    /// again, and reports `Completed` again when done.
    pub fn set_file_priorities(self: &Rc<Self>, files: Vec<FilePriority>) {
        let Some(pieces) = piece_priorities(&self.meta, &files) else {
            return;
        };
        *self.file_priorities.borrow_mut() = files;
        self.engine.borrow_mut().set_piece_priorities(&pieces, Instant::now());
        self.dispatch();
        // Wanting data again: seeds we left alone are worth dialling now.
        self.dial_known_peers();
    }

    /// Each file's priority, one per file of the metainfo.
    pub fn file_priorities(&self) -> Vec<FilePriority> {
        let set = self.file_priorities.borrow();
        (0..self.meta.info.files.len())
            .map(|i| set.get(i).copied().unwrap_or_default())
            .collect()
    }

    /// Bytes of the files that are not skipped (BEP 47 padding never counts).
    pub fn wanted_bytes(&self) -> u64 {
        let set = self.file_priorities.borrow();
        self.meta
            .info
            .files
            .iter()
            .enumerate()
            .filter(|(i, f)| !f.padding && set.get(*i).copied().unwrap_or_default().is_wanted())
            .map(|(_, f)| f.length)
            .sum()
    }

    /// Requests pieces in order (on) or rarest first (off).
    pub fn set_sequential(&self, on: bool) {
        self.engine.borrow_mut().set_sequential(on);
    }

    /// Announces to the trackers now, or as soon as the last one to answer allows
    /// (its `min interval`).
    pub fn reannounce(&self) {
        if let Some(tracker) = self.tracker.borrow().as_ref() {
            tracker.announce_now();
        }
    }

    /// Replaces the tracker list: the old trackers are sent `stopped` (in the
    /// background, bounded by their stop timeout) and the new ones `started`.
    /// URLs are the caller's to check. An empty list leaves the torrent without trackers.
    /// A held torrent only keeps the list, for its release.
    pub fn set_trackers(self: &Rc<Self>, tiers: Vec<Vec<String>>) {
        if self.is_stopped() || self.failure().is_some() {
            return;
        }
        *self.tracker_tiers.borrow_mut() = tiers.clone();
        if self.is_held() {
            return;
        }
        let old = self.tracker.borrow_mut().take();
        if let Some(old) = old {
            glommio::spawn_local(async move { old.stop().await }).detach();
        }
        let new = self.start_tracker(tiers);
        *self.tracker.borrow_mut() = new;
    }

    /// Starts announcing to `tiers`; None when there is no tracker or no port to announce.
    pub(super) fn start_tracker(self: &Rc<Self>, tiers: Vec<Vec<String>>) -> Option<Rc<TrackerTask>> {
        let tiers: Vec<Vec<String>> = tiers.into_iter().filter(|t| !t.is_empty()).collect();
        let port = self.engine.borrow().listen_port()?;
        if tiers.is_empty() {
            return None;
        }
        let weak = Rc::downgrade(self);
        let progress: Rc<dyn Fn() -> AnnounceProgress> =
            Rc::new(move || weak.upgrade().map(|t| t.announce_progress()).unwrap_or_default());
        let weak = Rc::downgrade(self);
        let on_peers: Rc<dyn Fn(Vec<SocketAddr>)> = Rc::new(move |peers| {
            if let Some(t) = weak.upgrade() {
                t.add_known_peers(&peers);
            }
        });
        let config = TrackerConfig {
            info_hash: self.info_hash,
            peer_id: self.our_id(),
            port,
            tiers,
            numwant: TRACKER_NUMWANT,
        };
        Some(TrackerTask::start(config, progress, on_peers))
    }
}

/// Each piece's priority from each file's; None when the metainfo's geometry is
/// inconsistent (it was checked when parsed, so not expected).
pub(super) fn piece_priorities(meta: &Metainfo, files: &[FilePriority]) -> Option<Vec<PiecePriority>> {
    let lengths: Vec<u64> = meta.info.files.iter().map(|f| f.length).collect();
    let layout = FileLayout::new(&lengths, meta.info.piece_length, meta.info.total_length).ok()?;
    Some(file_priority::piece_priorities(&layout, files))
}
