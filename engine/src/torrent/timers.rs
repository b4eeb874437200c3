//! The torrent's deadlines, in one table (the quinn-proto way): the caller asks
//! [`Torrent::poll_timeout`] when something is next due and calls
//! [`Torrent::handle_timeout`] then. A shard skips torrents with nothing due, and a
//! simulation jumps its clock straight to the next deadline.
//!
//! Each entry is the earliest deadline of its kind. Events only ever move an entry
//! earlier ([`Deadlines::arm`]); the handler of a kind recomputes it exactly. So an
//! entry is never later than the true deadline: at worst a wake-up finds nothing to
//! do, never a deadline missed.

use std::time::{Duration, Instant};

use super::*;

/// While downloading: how often pipeline depths follow the measured rates and idle
/// request slots are refilled.
pub const RATE_INTERVAL: Duration = Duration::from_secs(1);
/// A keep-alive goes to every peer we said nothing to during one such interval, so
/// the gap between two messages of ours stays under two intervals (peers drop a
/// silent connection after two to three minutes).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(45);

/// The kinds of deadline a torrent has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// Pipeline depths and request refill (while downloading).
    Rates,
    /// The oldest outstanding request times out.
    Requests,
    /// The choker's next round.
    Choke,
    /// The quietest peer reaches the idle timeout.
    Idle,
    /// Keep-alives to peers we said nothing to.
    KeepAlive,
    /// `ut_pex` messages due to peers (BEP 11).
    Pex,
}

const TIMERS: usize = 6;

/// The earliest deadline of each kind.
#[derive(Clone, Debug, Default)]
pub(super) struct Deadlines([Option<Instant>; TIMERS]);

impl Deadlines {
    /// Makes sure `timer` fires no later than `at`.
    pub fn arm(&mut self, timer: Timer, at: Instant) {
        let slot = &mut self.0[timer as usize];
        *slot = Some(slot.map_or(at, |t| t.min(at)));
    }

    pub fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.0[timer as usize] = at;
    }

    /// Whether `timer` is due; a due timer is disarmed (its handler re-arms it).
    fn take_due(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.0[timer as usize];
        if slot.is_some_and(|t| t <= now) {
            *slot = None;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    pub fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

/// What a connection has been doing, for whoever decides which idle peer to evict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerActivity {
    pub connected_at: Instant,
    /// Last message of any kind, keep-alives included.
    pub last_message: Instant,
    /// Last message other than a keep-alive.
    pub last_useful: Instant,
    /// The peer wants something from us.
    pub peer_interested: bool,
    /// We want something from the peer.
    pub am_interested: bool,
}

impl Torrent {
    /// When [`Torrent::handle_timeout`] should next be called (None: nothing is
    /// scheduled until the next event).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Does whatever is due at `now`: request timeouts, the choker, pipeline depths,
    /// idle peers, keep-alives. Cheap to call early; it does only what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadlines.take_due(Timer::Requests, now) {
            self.expire_requests(now);
        }
        if self.deadlines.take_due(Timer::Idle, now) {
            self.drop_idle_peers(now);
        }
        if self.deadlines.take_due(Timer::Choke, now) {
            self.run_choker(now);
        }
        if self.deadlines.take_due(Timer::KeepAlive, now) {
            self.send_keepalives(now);
        }
        if self.deadlines.take_due(Timer::Rates, now) {
            self.update_rates(now);
        }
        if self.deadlines.take_due(Timer::Pex, now) {
            self.send_pex(now);
        }
    }

    /// What a connected peer has been doing (None for an unknown key).
    pub fn peer_activity(&self, key: PeerKey) -> Option<PeerActivity> {
        self.peers.get(&key).map(|p| p.activity())
    }

    /// Every connected peer's activity, e.g. to pick an idle, uninterested one to evict.
    pub fn peer_activities(&self) -> impl Iterator<Item = (PeerKey, PeerActivity)> + '_ {
        self.peers.iter().map(|(k, p)| (*k, p.activity()))
    }

    /// A peer joined: its idle and keep-alive clocks start, and the choker and the
    /// rate updates get a turn soon.
    pub(super) fn arm_peer_timers(&mut self, now: Instant) {
        self.deadlines.arm(Timer::Idle, now + self.config.peer_idle_timeout);
        self.deadlines.arm(Timer::KeepAlive, now + KEEPALIVE_INTERVAL);
        self.deadlines.arm(Timer::Choke, now);
        if !self.picker.is_wanted_complete() {
            self.deadlines.arm(Timer::Rates, now + RATE_INTERVAL);
        }
    }

    /// The choker ran at `now`: its next round is one interval away, if anyone is there.
    pub(super) fn choker_ran(&mut self, now: Instant) {
        let next = (!self.peers.is_empty()).then(|| now + CHOKE_INTERVAL);
        self.deadlines.set(Timer::Choke, next);
    }

    /// A request went out at `now`.
    pub(super) fn request_sent(deadlines: &mut Deadlines, timeout: Duration, now: Instant) {
        deadlines.arm(Timer::Requests, now + timeout);
        deadlines.arm(Timer::Rates, now + RATE_INTERVAL);
    }

    fn expire_requests(&mut self, now: Instant) {
        let timeout = self.config.request_timeout;
        let mut next: Option<Instant> = None;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            let expired: Vec<BlockRef> = peer
                .pending
                .iter()
                .filter(|(_, sent)| now.saturating_duration_since(**sent) >= timeout)
                .map(|(b, _)| *b)
                .collect();
            for block in expired {
                peer.give_up_request(block);
                self.picker.request_abandoned(block);
                self.actions.push_back(Action::Send {
                    peer: key,
                    message: Message::Cancel(block),
                });
            }
            if let Some(oldest) = peer.pending.values().min() {
                let at = *oldest + timeout;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        self.deadlines.set(Timer::Requests, next);
        self.refill_all(now);
    }

    fn drop_idle_peers(&mut self, now: Instant) {
        let idle = self.config.peer_idle_timeout;
        let quiet: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_message) >= idle)
            .map(|(k, _)| *k)
            .collect();
        for key in quiet {
            self.disconnect(key, DisconnectReason::Idle, now);
        }
        let next = self.peers.values().map(|p| p.last_message + idle).min();
        self.deadlines.set(Timer::Idle, next);
    }

    fn send_keepalives(&mut self, now: Instant) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if !std::mem::take(&mut peer.sent_recently) {
                self.actions.push_back(Action::Send {
                    peer: key,
                    message: Message::KeepAlive,
                });
            }
        }
        if !self.peers.is_empty() {
            self.deadlines.set(Timer::KeepAlive, Some(now + KEEPALIVE_INTERVAL));
        }
    }

    /// Pipeline depths follow each peer's measured rate; idle request slots refill.
    fn update_rates(&mut self, now: Instant) {
        for peer in self.peers.values_mut() {
            let rate = peer.download.rate(now);
            peer.pipeline.on_rate(rate);
        }
        self.refill_all(now);
        if !self.picker.is_wanted_complete() && !self.peers.is_empty() {
            self.deadlines.set(Timer::Rates, Some(now + RATE_INTERVAL));
        }
    }
}
