//! One shard's count of peer connections, shared by all its torrents: how many are
//! open and how many dials are still connecting, against the limits of
//! `ccbt_engine::connection_policy`. Each connection holds a guard that gives its
//! slot back when dropped, so no exit path can leak one.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use ccbt_engine::connection_policy::{ConnectionLimits, RefusalKind};
use ccbt_engine::torrent::BanTable;

use crate::peer_guard::PeerGuardCounters;

/// The shard's connection counters (single-threaded: one per executor).
#[derive(Debug)]
pub struct ConnectionBudget {
    limits: ConnectionLimits,
    open: Cell<usize>,
    half_open: Cell<usize>,
    /// The session's ban list (every torrent's bans, and those kept from earlier
    /// runs), as the session last pushed it to this shard.
    session_bans: RefCell<BanTable>,
    counters: Arc<PeerGuardCounters>,
}

impl ConnectionBudget {
    pub fn new(limits: ConnectionLimits) -> Rc<ConnectionBudget> {
        Self::with_counters(limits, Arc::default())
    }

    /// A budget that counts its refusals (and its torrents' violations) in `counters`,
    /// shared with the other shards.
    pub fn with_counters(limits: ConnectionLimits, counters: Arc<PeerGuardCounters>) -> Rc<ConnectionBudget> {
        Rc::new(ConnectionBudget {
            limits,
            open: Cell::new(0),
            half_open: Cell::new(0),
            session_bans: RefCell::new(BanTable::default()),
            counters,
        })
    }

    pub fn counters(&self) -> &PeerGuardCounters {
        &self.counters
    }

    /// Counts a refused connection or a dial not made.
    pub fn refused(&self, kind: RefusalKind) {
        self.counters.refused(kind);
    }

    /// Whether the session's list bans `ip` now.
    pub fn is_session_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.session_bans.borrow().is_banned(ip, now)
    }

    /// Replaces the session's list on this shard.
    pub fn set_session_bans(&self, bans: impl IntoIterator<Item = (IpAddr, Instant)>) {
        self.session_bans.borrow_mut().replace(bans);
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Connections with a completed handshake, over all torrents of the shard.
    pub fn open(&self) -> usize {
        self.open.get()
    }

    /// Dials still connecting or handshaking.
    pub fn half_open(&self) -> usize {
        self.half_open.get()
    }

    /// How many more connections the shard may open now (dials and accepts).
    pub fn global_room(&self) -> usize {
        self.limits
            .global
            .saturating_sub(self.open.get() + self.half_open.get())
    }

    /// A slot for one dial, or `None` when too many are connecting already.
    pub fn start_dial(self: &Rc<Self>) -> Option<HalfOpenSlot> {
        if self.half_open.get() >= self.limits.half_open || self.global_room() == 0 {
            self.refused(if self.global_room() == 0 {
                RefusalKind::GlobalFull
            } else {
                RefusalKind::HalfOpen
            });
            return None;
        }
        self.half_open.set(self.half_open.get() + 1);
        Some(HalfOpenSlot(self.clone()))
    }

    /// Counts an established connection until the slot drops.
    pub fn open_slot(self: &Rc<Self>) -> OpenSlot {
        self.open.set(self.open.get() + 1);
        OpenSlot(self.clone())
    }
}

/// A dial in progress; see [`ConnectionBudget::start_dial`].
#[derive(Debug)]
pub struct HalfOpenSlot(Rc<ConnectionBudget>);

impl Drop for HalfOpenSlot {
    fn drop(&mut self) {
        self.0.half_open.set(self.0.half_open.get().saturating_sub(1));
    }
}

/// An established connection; see [`ConnectionBudget::open_slot`].
#[derive(Debug)]
pub struct OpenSlot(Rc<ConnectionBudget>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_given_back_on_drop() {
        let budget = ConnectionBudget::new(ConnectionLimits {
            half_open: 2,
            global: 3,
            ..ConnectionLimits::default()
        });
        let a = budget.start_dial().unwrap();
        let b = budget.start_dial().unwrap();
        assert!(budget.start_dial().is_none(), "half-open bound");
        drop(a);
        let open = budget.open_slot();
        assert_eq!((budget.open(), budget.half_open(), budget.global_room()), (1, 1, 1));
        let c = budget.start_dial().unwrap();
        assert_eq!(budget.global_room(), 0);
        drop(c);
        let d = budget.start_dial().unwrap();
        assert!(budget.start_dial().is_none(), "global bound");
        drop((b, d, open));
        assert_eq!((budget.open(), budget.half_open(), budget.global_room()), (0, 0, 3));
        let refused = budget.counters().snapshot().refusals;
        let count = |k: RefusalKind| refused.iter().find(|(r, _)| *r == k).map(|(_, n)| *n);
        assert_eq!(
            (count(RefusalKind::HalfOpen), count(RefusalKind::GlobalFull)),
            (Some(1), Some(1)),
            "dials not made are counted by reason"
        );
    }
}
