//! A torrent held on its shard: its files checked and its verified pieces kept,
//! but inert: it dials no peer, admits none, and has no tracker task. The daemon's
//! queue holds the torrents that wait for a slot (libtorrent checks queued
//! torrents paused likewise), and releases one when it gets a slot.

use std::rc::Rc;
use std::time::Duration;

use super::TorrentTask;
use crate::tracker::STOP_TIMEOUT;

/// Longest a release waits for the `stopped` announces of an earlier hold before
/// its `started` (they are bounded by [`STOP_TIMEOUT`] themselves).
const STOPS_WAIT: Duration = STOP_TIMEOUT.saturating_add(Duration::from_secs(1));
const STOPS_WAIT_STEP: Duration = Duration::from_millis(10);

impl TorrentTask {
    /// Held: checked, but no peers and no trackers until [`TorrentTask::release`].
    pub fn is_held(&self) -> bool {
        self.held.get()
    }

    /// Makes a held torrent a running one at once: its trackers are started (a
    /// `started` announce) and its known peers dialled; incoming peers are admitted
    /// from now on. A torrent not held, stopped or failed is left as it is.
    pub fn release(self: &Rc<Self>) {
        if !self.held.get() || self.is_stopped() || self.failure().is_some() {
            return;
        }
        self.held.set(false);
        if self.tracker_stops.get() == 0 {
            self.start_held_trackers();
        } else {
            // A tracker still being told `stopped` by a hold must not see our
            // `started` first: it would then forget us.
            let task = self.clone();
            glommio::spawn_local(async move {
                let mut waited = Duration::ZERO;
                while task.tracker_stops.get() > 0 && waited < STOPS_WAIT {
                    glommio::timer::sleep(STOPS_WAIT_STEP).await;
                    waited += STOPS_WAIT_STEP;
                }
                task.start_held_trackers();
            })
            .detach();
        }
        self.dial_known_peers();
    }

    /// Makes a running torrent held again: its connections are closed (each
    /// writer sends what is queued, then the socket closes), its trackers are told
    /// `stopped` (in the background, bounded) and dropped, and nothing is dialled.
    /// Its verified pieces stay, so a later release needs no recheck. A torrent
    /// already held, stopped or failed is left as it is.
    pub fn hold(&self) {
        if self.held.get() || self.is_stopped() || self.failure().is_some() {
            return;
        }
        self.held.set(true);
        for link in self.links.borrow().values() {
            let _ = link.close.try_send(());
        }
        let tracker = self.tracker.borrow_mut().take();
        if let Some(tracker) = tracker {
            let stops = self.tracker_stops.clone();
            stops.set(stops.get() + 1);
            glommio::spawn_local(async move {
                tracker.stop().await;
                stops.set(stops.get().saturating_sub(1));
            })
            .detach();
        }
    }

    /// Starts the kept tracker tiers, unless the torrent was held, stopped or
    /// given trackers again meanwhile.
    fn start_held_trackers(self: &Rc<Self>) {
        if self.held.get() || self.is_stopped() || self.failure().is_some() || self.tracker.borrow().is_some() {
            return;
        }
        let tiers = self.tracker_tiers.borrow().clone();
        let tracker = self.start_tracker(tiers);
        *self.tracker.borrow_mut() = tracker;
    }
}
