//! What `ids: "recently-active"` answers: torrents that moved data or changed in
//! the last minute, and the ids of those removed in it. Fed by the core's event bus
//! (added, state changes, completion, errors, removals), read by `torrent-get`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::api_types::ApiEvent;

/// How far back "recently" reaches (Transmission's `RecentlyActiveSeconds`).
pub const RECENT: Duration = Duration::from_secs(60);
/// Removals remembered at most (a burst of removes keeps the newest).
const MAX_REMOVED: usize = 10_000;
/// Torrents remembered as changed at most.
const MAX_CHANGED: usize = 100_000;

#[derive(Debug, Default)]
pub struct RecentActivity {
    changed: HashMap<u32, Instant>,
    removed: VecDeque<(u32, Instant)>,
    /// When events were lost (a slow reader): everything counts as changed for a minute.
    lost_at: Option<Instant>,
}

impl RecentActivity {
    pub fn note(&mut self, event: &ApiEvent, now: Instant) {
        let Some(id) = event.id else { return };
        if event.kind == "removed" {
            self.changed.remove(&id);
            if self.removed.len() >= MAX_REMOVED {
                self.removed.pop_front();
            }
            self.removed.push_back((id, now));
        } else {
            if self.changed.len() >= MAX_CHANGED {
                self.forget_old(now);
            }
            if self.changed.len() < MAX_CHANGED {
                self.changed.insert(id, now);
            } else {
                self.lost_at = Some(now);
            }
        }
    }

    pub fn note_lost(&mut self, now: Instant) {
        self.lost_at = Some(now);
    }

    fn forget_old(&mut self, now: Instant) {
        let recent = |t: &Instant| now.saturating_duration_since(*t) <= RECENT;
        self.changed.retain(|_, t| recent(t));
        while self.removed.front().is_some_and(|(_, t)| !recent(t)) {
            self.removed.pop_front();
        }
        if self.lost_at.is_some_and(|t| !recent(&t)) {
            self.lost_at = None;
        }
    }

    /// Whether torrent `id` changed in the last minute (by an event; the caller adds
    /// the ones moving data).
    pub fn changed_recently(&mut self, id: u32, now: Instant) -> bool {
        self.forget_old(now);
        self.lost_at.is_some() || self.changed.contains_key(&id)
    }

    /// Ids removed in the last minute, oldest first.
    pub fn removed_recently(&mut self, now: Instant) -> Vec<u32> {
        self.forget_old(now);
        self.removed.iter().map(|(id, _)| *id).collect()
    }
}

/// Follows the event bus into `log` until `stopping` turns true.
pub async fn follow(
    log: Arc<Mutex<RecentActivity>>,
    mut events: broadcast::Receiver<ApiEvent>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if let Ok(mut log) = log.lock() {
                        log.note(&event, Instant::now());
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    if let Ok(mut log) = log.lock() {
                        log.note_lost(Instant::now());
                    }
                }
                Err(RecvError::Closed) => return,
            },
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, id: u32) -> ApiEvent {
        ApiEvent {
            seq: 0,
            kind: kind.into(),
            id: Some(id),
            info_hash: None,
            name: None,
            state: None,
            message: None,
            time: 0,
        }
    }

    #[test]
    fn changes_and_removals_are_forgotten_after_a_minute() {
        let t0 = Instant::now();
        let mut log = RecentActivity::default();
        log.note(&event("state_changed", 1), t0);
        log.note(&event("added", 2), t0);
        log.note(&event("removed", 2), t0 + Duration::from_secs(1));
        assert!(log.changed_recently(1, t0 + Duration::from_secs(30)));
        assert!(
            !log.changed_recently(2, t0 + Duration::from_secs(30)),
            "removed, not changed"
        );
        assert_eq!(log.removed_recently(t0 + Duration::from_secs(30)), vec![2]);
        let later = t0 + Duration::from_secs(62);
        assert!(!log.changed_recently(1, later));
        assert!(log.removed_recently(later).is_empty());
    }

    #[test]
    fn lost_events_make_everything_recent_for_a_minute() {
        let t0 = Instant::now();
        let mut log = RecentActivity::default();
        log.note_lost(t0);
        assert!(log.changed_recently(42, t0 + Duration::from_secs(59)));
        assert!(!log.changed_recently(42, t0 + Duration::from_secs(61)));
    }
}
