//! Who sent corrupt data, and which addresses we refuse because of it.
//!
//! Blame is kept by IP address, not by `ip:port` or peer id: a poisoner that
//! re-dials from a new source port with a new peer id is the same host (one run
//! saw 23 re-dials and ~1,700 corrupt blocks accepted when bans were keyed by
//! `ip:port` and id). Both tables are bounded, so a flood of addresses cannot
//! grow them without limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{Action, DisconnectReason, Torrent};
use crate::types::PeerKey;

/// Most addresses banned at once per torrent; when full, the ban that ends soonest goes.
pub const MAX_BANNED_ADDRS: usize = 4096;
/// Most addresses whose hash-failure strikes we remember per torrent.
const MAX_STRIKE_RECORDS: usize = 4096;
/// Bans not yet taken by the caller ([`Torrent::take_bans`]) at most; older ones go.
const MAX_UNTAKEN_BANS: usize = 256;

/// Strikes are counted in fifths. A piece that failed with a peer's blocks among
/// others' is a suspicion, a fifth of a strike, until smart-ban settles it (see
/// `smart_ban.rs`): many pieces fail at once when a liar joins a swarm, before any
/// is fetched again, and the honest peers that sent the rest of those pieces must
/// not be banned for them. A piece it sent alone, a proven bad block, or a hostile
/// protocol violation is a whole strike.
pub(super) const WHOLE_STRIKE: u32 = 5;
pub(super) const SUSPICION: u32 = 1;

/// Why an address was banned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BanReason {
    /// Too many pieces failed their hash with its data.
    CorruptData,
    /// Smart-ban compared a failed piece with its good copy: its block was the wrong one.
    ProvenCorruptBlock,
    /// Hostile protocol violations (blocks nobody asked for, request floods), again and again.
    HostileProtocol,
    /// The session's list said so (a ban from another torrent, or one kept from an earlier run).
    Session,
}

impl BanReason {
    /// A stable snake_case name, for the API and the ban list file.
    pub fn label(self) -> &'static str {
        match self {
            BanReason::CorruptData => "corrupt_data",
            BanReason::ProvenCorruptBlock => "proven_corrupt_block",
            BanReason::HostileProtocol => "hostile_protocol",
            BanReason::Session => "session",
        }
    }

    /// The reason named by [`BanReason::label`].
    pub fn from_label(label: &str) -> Option<BanReason> {
        [
            BanReason::CorruptData,
            BanReason::ProvenCorruptBlock,
            BanReason::HostileProtocol,
            BanReason::Session,
        ]
        .into_iter()
        .find(|r| r.label() == label)
    }
}

/// A ban the torrent issued, for the session's list (see [`Torrent::take_bans`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanNotice {
    pub ip: IpAddr,
    pub reason: BanReason,
}

/// Addresses refused until a deadline, bounded by [`MAX_BANNED_ADDRS`]. Used per
/// torrent here and for the session's list by the io layer.
#[derive(Debug, Default, Clone)]
pub struct BanTable {
    until: HashMap<IpAddr, Instant>,
}

impl BanTable {
    /// Bans `ip` until `now + duration` (a longer ban already in force stays).
    pub fn ban(&mut self, ip: IpAddr, now: Instant, duration: Duration) {
        let end = now + duration;
        self.until.retain(|_, t| *t > now);
        if self.until.len() >= MAX_BANNED_ADDRS && !self.until.contains_key(&ip) {
            let soonest = self.until.iter().min_by_key(|(_, t)| **t).map(|(ip, _)| *ip);
            if let Some(old) = soonest {
                self.until.remove(&old);
            }
        }
        let t = self.until.entry(ip).or_insert(end);
        *t = (*t).max(end);
    }

    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.until.get(&ip).is_some_and(|t| *t > now)
    }

    pub fn len(&self) -> usize {
        self.until.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Lifts the ban on `ip`; whether there was one.
    pub fn lift(&mut self, ip: IpAddr) -> bool {
        self.until.remove(&ip).is_some()
    }

    /// Replaces every ban with `bans` (each until its deadline), keeping the bound.
    pub fn replace(&mut self, bans: impl IntoIterator<Item = (IpAddr, Instant)>) {
        self.until.clear();
        for (ip, until) in bans {
            if self.until.len() >= MAX_BANNED_ADDRS {
                break;
            }
            self.until.insert(ip, until);
        }
    }
}

/// Hash-failure strikes per address.
#[derive(Debug, Default)]
pub(crate) struct Strikes {
    count: HashMap<IpAddr, u32>,
}

impl Strikes {
    /// Adds `weight` (fifths of a strike) to `ip`; returns its total.
    fn add(&mut self, ip: IpAddr, weight: u32) -> u32 {
        if self.count.len() >= MAX_STRIKE_RECORDS && !self.count.contains_key(&ip) {
            // Old strikes of hosts long gone are worth less than a bound on memory.
            self.count.clear();
        }
        let c = self.count.entry(ip).or_insert(0);
        *c = c.saturating_add(weight);
        *c
    }

    fn forget(&mut self, ip: IpAddr) {
        self.count.remove(&ip);
    }

    /// Takes `weight` back from `ip` (a suspicion that turned out wrong).
    fn forgive(&mut self, ip: IpAddr, weight: u32) {
        if let Some(c) = self.count.get_mut(&ip) {
            *c = c.saturating_sub(weight);
            if *c == 0 {
                self.count.remove(&ip);
            }
        }
    }
}

impl Torrent {
    /// Whether connections from or to this address are refused (it sent corrupt data).
    /// The io layer asks before dialing and before answering a handshake.
    pub fn is_banned(&self, ip: IpAddr, now: Instant) -> bool {
        self.bans.is_banned(ip, now)
    }

    /// Addresses banned now (expired bans may linger until the next ban).
    pub fn banned_count(&self) -> usize {
        self.bans.len()
    }

    /// Blames a host: for bad blocks it sent, or for a hostile protocol violation
    /// (see [`super::ViolationKind::is_hostile`]). `weight` is in fifths of a strike
    /// ([`WHOLE_STRIKE`], [`SUSPICION`]); [`super::TorrentConfig::max_hash_failures`]
    /// whole strikes ban its address and drop every connection from it.
    pub(super) fn strike(&mut self, ip: IpAddr, weight: u32, reason: BanReason, now: Instant) {
        let limit = self.config.max_hash_failures.saturating_mul(WHOLE_STRIKE);
        if self.strikes.add(ip, weight) < limit {
            return;
        }
        self.ban_address(ip, reason, now);
    }

    /// Lifts a suspicion put on `ip` by a failed piece that a good copy cleared.
    pub(super) fn forgive(&mut self, ip: IpAddr, weight: u32) {
        self.strikes.forgive(ip, weight);
    }

    /// Bans `ip` for [`super::TorrentConfig::ban_duration`] and drops every connection from it.
    pub(super) fn ban_address(&mut self, ip: IpAddr, reason: BanReason, now: Instant) {
        self.strikes.forget(ip);
        self.bans.ban(ip, now, self.config.ban_duration);
        self.bans_issued = self.bans_issued.saturating_add(1);
        self.last_banned = Some(ip);
        if self.new_bans.len() >= MAX_UNTAKEN_BANS {
            self.new_bans.pop_front();
        }
        self.new_bans.push_back(BanNotice { ip, reason });
        self.drop_connections_from(ip);
    }

    /// Bans from the session's list (another torrent's, or kept from an earlier run):
    /// refused like the torrent's own, and connected peers from them dropped.
    pub fn apply_session_ban(&mut self, ip: IpAddr, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        self.bans.ban(ip, now, until - now);
        self.drop_connections_from(ip);
    }

    /// Lifts a ban (the user's unban): the address may connect again and its strikes are forgotten.
    pub fn lift_ban(&mut self, ip: IpAddr) -> bool {
        self.strikes.forget(ip);
        self.bans.lift(ip)
    }

    /// The bans issued since the last call, oldest first (bounded: the oldest go
    /// first when nobody takes them).
    pub fn take_bans(&mut self) -> Vec<BanNotice> {
        self.new_bans.drain(..).collect()
    }

    fn drop_connections_from(&mut self, ip: IpAddr) {
        let keys: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.addr.ip() == ip)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.actions.push_back(Action::Disconnect {
                peer: key,
                reason: DisconnectReason::Banned,
            });
            self.forget_peer(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_end_after_their_duration() {
        let now = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut t = BanTable::default();
        t.ban(ip, now, Duration::from_secs(60));
        assert!(t.is_banned(ip, now + Duration::from_secs(59)));
        assert!(!t.is_banned(ip, now + Duration::from_secs(60)));
        assert!(!t.is_banned("10.0.0.2".parse().unwrap(), now));
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_ban_ending_soonest() {
        let now = Instant::now();
        let mut t = BanTable::default();
        for i in 0..(MAX_BANNED_ADDRS as u32 + 100) {
            let ip = IpAddr::from(i.to_be_bytes());
            t.ban(ip, now + Duration::from_millis(i as u64), Duration::from_secs(3600));
        }
        assert_eq!(t.len(), MAX_BANNED_ADDRS);
        let newest = IpAddr::from((MAX_BANNED_ADDRS as u32 + 99).to_be_bytes());
        assert!(t.is_banned(newest, now + Duration::from_secs(1)));
        assert!(!t.is_banned(IpAddr::from(0u32.to_be_bytes()), now + Duration::from_secs(1)));
    }
}
