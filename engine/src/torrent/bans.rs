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

/// Addresses refused until a deadline.
#[derive(Debug, Default)]
pub(crate) struct BanTable {
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
}

/// Hash-failure strikes per address.
#[derive(Debug, Default)]
pub(crate) struct Strikes {
    count: HashMap<IpAddr, u32>,
}

impl Strikes {
    /// Adds `weight` strikes to `ip`; returns its total.
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
    /// (see [`super::ViolationKind::is_hostile`]). Enough strikes
    /// ([`super::TorrentConfig::max_hash_failures`]) ban its address and drop every
    /// connection from it.
    pub(super) fn strike(&mut self, ip: IpAddr, weight: u32, now: Instant) {
        if self.strikes.add(ip, weight) < self.config.max_hash_failures {
            return;
        }
        self.strikes.forget(ip);
        self.bans.ban(ip, now, self.config.ban_duration);
        self.bans_issued = self.bans_issued.saturating_add(1);
        self.last_banned = Some(ip);
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
