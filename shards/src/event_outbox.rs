//! A shard's side of the bounded event channel to the session.
//!
//! A shard must never block on the session (it would stall every torrent it owns,
//! and a session waiting on a full command channel would deadlock with it), so
//! events are sent with `try_send`. When the channel is full, a periodic status is
//! dropped (the next one says the same, a second later), while a lifecycle event
//! (started, completed, failed, stopped) waits here, in order, until there is room.
//! That queue is bounded by the torrents themselves: each sends at most three.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use crate::messages::SessionEvent;

/// Longest a stopping shard waits for room for its last events.
const EXIT_FLUSH: Duration = Duration::from_secs(1);
const EXIT_FLUSH_STEP: Duration = Duration::from_millis(10);

pub(crate) struct EventOutbox {
    tx: Sender<SessionEvent>,
    waiting: RefCell<VecDeque<SessionEvent>>,
    dropped_statuses: Cell<u64>,
    disconnected: Cell<bool>,
}

impl EventOutbox {
    pub fn new(tx: Sender<SessionEvent>) -> EventOutbox {
        EventOutbox {
            tx,
            waiting: RefCell::new(VecDeque::new()),
            dropped_statuses: Cell::new(0),
            disconnected: Cell::new(false),
        }
    }

    /// Sends what waits, oldest first, while there is room.
    fn flush(&self) {
        let mut waiting = self.waiting.borrow_mut();
        while let Some(ev) = waiting.pop_front() {
            match self.tx.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(ev)) => {
                    waiting.push_front(ev);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.disconnected.set(true);
                    waiting.clear();
                    return;
                }
            }
        }
    }

    /// An event that must arrive: sent now, or kept until there is room.
    pub fn lifecycle(&self, ev: SessionEvent) {
        self.flush();
        if self.disconnected.get() {
            return;
        }
        self.waiting.borrow_mut().push_back(ev);
        self.flush();
    }

    /// A periodic status: sent if there is room, else dropped. False once the
    /// session is gone.
    pub fn status(&self, ev: SessionEvent) -> bool {
        self.flush();
        if self.disconnected.get() {
            return false;
        }
        if !self.waiting.borrow().is_empty() {
            self.count_dropped();
            return true;
        }
        match self.tx.try_send(ev) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.count_dropped();
                true
            }
            Err(TrySendError::Disconnected(_)) => {
                self.disconnected.set(true);
                false
            }
        }
    }

    fn count_dropped(&self) {
        let n = self.dropped_statuses.get() + 1;
        self.dropped_statuses.set(n);
        if n.is_power_of_two() {
            tracing::debug!(dropped = n, "session is slow to read events: status dropped");
        }
    }

    /// Statuses dropped because the channel was full.
    #[cfg(test)]
    pub fn dropped_statuses(&self) -> u64 {
        self.dropped_statuses.get()
    }

    /// Gives the last events a bounded chance to go out before the shard ends.
    pub async fn flush_before_exit(&self) {
        let mut waited = Duration::ZERO;
        loop {
            self.flush();
            if self.waiting.borrow().is_empty() || self.disconnected.get() || waited >= EXIT_FLUSH {
                return;
            }
            glommio::timer::sleep(EXIT_FLUSH_STEP).await;
            waited += EXIT_FLUSH_STEP;
        }
    }
}

#[cfg(test)]
mod tests {
    use ccbt_engine::InfoHash;

    use super::*;

    fn completed(n: u8) -> SessionEvent {
        SessionEvent::Completed {
            info_hash: InfoHash([n; 20]),
        }
    }

    fn status() -> SessionEvent {
        SessionEvent::Status {
            shard: 0,
            torrents: Vec::new(),
            usage: Default::default(),
        }
    }

    #[test]
    fn a_full_channel_drops_statuses_and_keeps_lifecycle_events_in_order() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let out = EventOutbox::new(tx);
        assert!(out.status(status()));
        out.lifecycle(completed(1));
        // Full: these wait, in order; statuses are dropped meanwhile.
        out.lifecycle(completed(2));
        out.lifecycle(completed(3));
        assert!(out.status(status()));
        assert_eq!(out.dropped_statuses(), 1);
        assert!(matches!(rx.recv().unwrap(), SessionEvent::Status { .. }));
        let mut got = Vec::new();
        for _ in 0..3 {
            out.flush();
            if let Ok(SessionEvent::Completed { info_hash }) = rx.try_recv() {
                got.push(info_hash.0[0]);
            }
        }
        out.flush();
        while let Ok(SessionEvent::Completed { info_hash }) = rx.try_recv() {
            got.push(info_hash.0[0]);
        }
        assert_eq!(got, vec![1, 2, 3]);
        drop(rx);
        assert!(!out.status(status()), "the session is gone");
    }
}
