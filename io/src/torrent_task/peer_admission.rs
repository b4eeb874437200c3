//! Which peers a torrent talks to: addresses it learns (filtered), whom it dials
//! (bans, the IP filter and the connection budget first), whom it admits after a
//! handshake (the engine's connection policy), and bans.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use ccbt_engine::connection_policy::{Admission, Refusal, RefusalKind};
use ccbt_engine::peer_book::Reachability;
use ccbt_engine::peer_source::PeerSource;

use super::TorrentTask;
use crate::peer_connection::PeerError;

impl TorrentTask {
    /// Adds a peer address the user named: it is redialed for as long as the torrent runs.
    pub fn add_known_peer(self: &Rc<Self>, addr: SocketAddr) {
        if self.filter.refuses_learned(addr, PeerSource::Manual) {
            return;
        }
        if self.peer_book.borrow_mut().add_pinned(addr) {
            self.dial_known_peers();
        }
    }

    /// Adds addresses a tracker gave, then dials what is due.
    pub fn add_known_peers(self: &Rc<Self>, addrs: &[SocketAddr]) {
        self.add_known_peers_from(addrs, PeerSource::Tracker);
    }

    /// Adds addresses learned from `source`, then dials what is due.
    pub fn add_known_peers_from(self: &Rc<Self>, addrs: &[SocketAddr], source: PeerSource) {
        let mut added = false;
        for a in addrs {
            if self.filter.refuses_learned(*a, source) {
                continue;
            }
            added |= self.peer_book.borrow_mut().add_from(*a, source);
        }
        if added {
            self.dial_known_peers();
        }
    }

    /// Decides on a peer from `addr` that completed its handshake, by the engine's
    /// connection policy: admits it, first dropping the least useful idle peer if
    /// the torrent or the shard is full, or says why not. The evicted peer leaves
    /// the engine at once, so the next newcomer cannot pick it again. A peer we
    /// `dialed` is not held to the per-address cap: we chose it (peers on one host
    /// at several ports, as in a test swarm, are all reachable).
    pub fn admit(&self, addr: SocketAddr, dialed: bool) -> Result<(), Refusal> {
        let now = Instant::now();
        let mut limits = *self.budget.limits();
        if dialed {
            limits.per_ip = usize::MAX;
        }
        let admission = self
            .engine
            .borrow()
            .admission(&limits, addr.ip(), self.budget.open(), now);
        match admission {
            Admission::Admit => Ok(()),
            Admission::AdmitEvicting(victim) => {
                if let Some(link) = self.links.borrow_mut().remove(&victim) {
                    tracing::debug!(torrent = %self.info_hash, evicted = %link.addr, newcomer = %addr, "evicting an idle peer");
                    crate::shard_counters::count(|c| c.disconnects.evicted += 1);
                    let _ = link.close.try_send(());
                }
                self.engine.borrow_mut().remove_peer(victim, now);
                Ok(())
            }
            Admission::Refuse(why) => {
                self.budget.refused(why.kind());
                Err(why)
            }
        }
    }

    /// Bans `ip` until `until` (the session's list), dropping its connections.
    pub fn apply_session_ban(self: &Rc<Self>, ip: std::net::IpAddr, until: Instant) {
        self.engine.borrow_mut().apply_session_ban(ip, until, Instant::now());
        self.dispatch();
    }

    /// Lifts a ban on `ip` (the user's unban).
    pub fn lift_ban(&self, ip: std::net::IpAddr) {
        self.engine.borrow_mut().lift_ban(ip);
    }

    /// Whether the torrent, or the session's list, bans `ip` now.
    pub fn is_banned(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        self.engine.borrow().is_banned(ip, now) || self.budget.is_session_banned(ip, now)
    }

    /// Whether any peer can be reached: connections up, or addresses not yet
    /// failing. A downloading torrent with none says so in its status.
    pub fn peer_reachability(&self) -> Reachability {
        let mut r = self.peer_book.borrow().reachability();
        // Incoming connections are not in the book.
        r.connected = r.connected.max(self.links.borrow().len());
        r
    }

    /// Closes the connections to addresses the filter blocks now (after a reload).
    pub fn close_filtered_peers(&self) {
        for link in self.links.borrow().values() {
            if self.filter.blocks(link.addr) {
                self.filter.count_disconnected();
                let _ = link.close.try_send(());
            }
        }
    }

    /// A dialed connection completed its handshake.
    pub(crate) fn peer_connected(&self, addr: SocketAddr) {
        self.peer_book.borrow_mut().connected(addr);
    }

    pub(crate) fn dial_known_peers(self: &Rc<Self>) {
        if self.stopped.get() || self.held.get() || self.failed.borrow().is_some() {
            return;
        }
        let limits = self.budget.limits();
        let now = Instant::now();
        // Idle peers give way to a new one (at admission), so they leave room to dial.
        let evictable = self
            .engine
            .borrow()
            .eviction_candidates()
            .filter(|p| p.is_evictable(now, limits.evict_idle_after))
            .count();
        let room = (limits.per_torrent + evictable)
            .saturating_sub(self.links.borrow().len())
            .min(limits.half_open.saturating_sub(self.budget.half_open()))
            .min(self.budget.global_room());
        if room == 0 {
            return;
        }
        let seeding = self.engine.borrow().is_complete();
        let due = self.peer_book.borrow_mut().due(now, seeding, room);
        for addr in due {
            if self.is_banned(addr.ip(), now) {
                self.budget.refused(RefusalKind::Banned);
                self.peer_book.borrow_mut().remove(addr);
                continue;
            }
            // Known before a reload blocked it.
            if self.filter.refuses_dial(addr) {
                self.peer_book.borrow_mut().remove(addr);
                continue;
            }
            let Some(slot) = self.budget.start_dial() else {
                // Not attempted after all: it stays due for the next round.
                self.peer_book.borrow_mut().ended(addr, false);
                continue;
            };
            let task = self.clone();
            glommio::spawn_local(async move {
                let result = crate::peer_connection::dial(task.clone(), addr, slot).await;
                let failed = match &result {
                    Ok(established) => !established,
                    Err(_) => true,
                };
                match &result {
                    // Trackers list us among the peers; never dial that address again.
                    Err(PeerError::SelfConnection { .. } | PeerError::WrongTorrent { .. }) => {
                        task.peer_book.borrow_mut().remove(addr)
                    }
                    _ => task.peer_book.borrow_mut().ended(addr, failed),
                }
                if let Err(e) = result {
                    tracing::debug!(%addr, error = %e, "peer connection ended");
                }
            })
            .detach();
        }
    }
}
