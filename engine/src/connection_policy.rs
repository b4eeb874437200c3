//! Who may connect: per-torrent, per-address and global connection limits, and which
//! idle peer makes room for a newcomer when a torrent is full.
//!
//! The attack this answers: peers that complete the handshake and then sit idle
//! (sending at most keep-alives) take every slot of a torrent, and an honest
//! downloader is refused for as long as they stay. So one address gets at most
//! [`ConnectionLimits::per_ip`] connections to a torrent, and when a torrent is
//! full, a newcomer evicts the peer that has been of least use: neither side
//! interested, nothing but keep-alives for at least [`ConnectionLimits::evict_idle_after`]
//! (as libtorrent disconnects its least useful peer when at its limit). A peer
//! that just connected is not evicted, so newcomers cannot churn each other out.
//!
//! Sans-IO: the caller counts connections and describes its peers; this decides.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::types::PeerKey;

/// Connections per torrent, dialed and accepted together.
pub const DEFAULT_MAX_PER_TORRENT: usize = 100;
/// Connections from one IP address to one torrent.
pub const DEFAULT_MAX_PER_IP: usize = 8;
/// Peer connections of one shard, over all its torrents.
pub const DEFAULT_MAX_GLOBAL: usize = 4000;
/// Dials of one shard still connecting or handshaking at once.
pub const DEFAULT_MAX_HALF_OPEN: usize = 64;
/// A peer with nothing useful to say for this long may be evicted for a newcomer.
pub const DEFAULT_EVICT_IDLE_AFTER: Duration = Duration::from_secs(20);
/// Incoming connections accepted per second (a burst of as many is allowed); the
/// rest are closed at accept, before anything is read or allocated for them.
pub const DEFAULT_HANDSHAKES_PER_SEC: u32 = 200;

/// The bounds; [`Default`] is the constants above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub per_torrent: usize,
    pub per_ip: usize,
    pub global: usize,
    pub half_open: usize,
    pub evict_idle_after: Duration,
    /// Incoming connections accepted per second by the session (0 = no limit).
    pub handshakes_per_sec: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            per_torrent: DEFAULT_MAX_PER_TORRENT,
            per_ip: DEFAULT_MAX_PER_IP,
            global: DEFAULT_MAX_GLOBAL,
            half_open: DEFAULT_MAX_HALF_OPEN,
            evict_idle_after: DEFAULT_EVICT_IDLE_AFTER,
            handshakes_per_sec: DEFAULT_HANDSHAKES_PER_SEC,
        }
    }
}

/// What the torrent knows about one connected peer's usefulness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerActivity {
    pub key: PeerKey,
    pub ip: IpAddr,
    pub connected_at: Instant,
    /// Last message other than a keep-alive (the handshake counts).
    pub last_useful_at: Instant,
    pub am_interested: bool,
    pub peer_interested: bool,
}

impl PeerActivity {
    /// Neither side wants anything and it has said nothing useful for `idle_after`.
    pub fn is_evictable(&self, now: Instant, idle_after: Duration) -> bool {
        !self.am_interested && !self.peer_interested && now.saturating_duration_since(self.last_useful_at) >= idle_after
    }
}

/// Connections counted when a new one asks to be admitted (itself not included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    /// Connections of this torrent.
    pub torrent: usize,
    /// Connections of this torrent from the newcomer's IP.
    pub same_ip: usize,
    /// Connections of the whole shard.
    pub global: usize,
}

/// Why a connection is not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{limit} connections from this address to the torrent already")]
    PerIp { limit: usize },
    #[error("the torrent has {limit} connections and none is idle enough to evict")]
    TorrentFull { limit: usize },
    #[error("{limit} connections over all torrents already")]
    GlobalFull { limit: usize },
}

impl Refusal {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::PerIp { .. } => RefusalKind::PerIp,
            Refusal::TorrentFull { .. } => RefusalKind::TorrentFull,
            Refusal::GlobalFull { .. } => RefusalKind::GlobalFull,
        }
    }
}

/// Every reason a connection is refused or a dial not made, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    PerIp,
    TorrentFull,
    GlobalFull,
    /// A dial not made: too many still connecting.
    HalfOpen,
    /// An incoming connection over [`ConnectionLimits::handshakes_per_sec`].
    HandshakeRate,
    /// From or to a banned address.
    Banned,
    /// Too many accepted connections still to say which torrent they want.
    RoutingFull,
}

impl RefusalKind {
    pub const ALL: [RefusalKind; 7] = [
        RefusalKind::PerIp,
        RefusalKind::TorrentFull,
        RefusalKind::GlobalFull,
        RefusalKind::HalfOpen,
        RefusalKind::HandshakeRate,
        RefusalKind::Banned,
        RefusalKind::RoutingFull,
    ];

    /// A stable snake_case name, for metrics labels and JSON keys.
    pub fn label(self) -> &'static str {
        match self {
            RefusalKind::PerIp => "per_ip",
            RefusalKind::TorrentFull => "torrent_full",
            RefusalKind::GlobalFull => "global_full",
            RefusalKind::HalfOpen => "half_open",
            RefusalKind::HandshakeRate => "handshake_rate",
            RefusalKind::Banned => "banned",
            RefusalKind::RoutingFull => "routing_full",
        }
    }

    /// Its place in [`RefusalKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A token bucket of incoming connections: `rate` a second, bursts of up to `rate`.
#[derive(Clone, Debug)]
pub struct AcceptRate {
    rate: u32,
    tokens: f64,
    last: Instant,
}

impl AcceptRate {
    /// A full bucket; `rate` 0 accepts everything.
    pub fn new(rate: u32, now: Instant) -> AcceptRate {
        AcceptRate {
            rate,
            tokens: rate as f64,
            last: now,
        }
    }

    /// Takes a token for one connection; `false` when there is none (refuse it).
    pub fn try_accept(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.rate as f64);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The decision on one newcomer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Admit after closing this peer.
    AdmitEvicting(PeerKey),
    Refuse(Refusal),
}

/// Decides whether a newcomer from `ip` may join, and whom it replaces if the torrent
/// (or the shard) is full. `peers` are the torrent's connected peers.
pub fn admit(
    limits: &ConnectionLimits,
    counts: ConnectionCounts,
    peers: impl IntoIterator<Item = PeerActivity>,
    now: Instant,
) -> Admission {
    if counts.same_ip >= limits.per_ip {
        return Admission::Refuse(Refusal::PerIp { limit: limits.per_ip });
    }
    let torrent_full = counts.torrent >= limits.per_torrent;
    let global_full = counts.global >= limits.global;
    if !torrent_full && !global_full {
        return Admission::Admit;
    }
    match pick_eviction(peers, now, limits.evict_idle_after) {
        Some(victim) => Admission::AdmitEvicting(victim),
        None if global_full => Admission::Refuse(Refusal::GlobalFull { limit: limits.global }),
        None => Admission::Refuse(Refusal::TorrentFull {
            limit: limits.per_torrent,
        }),
    }
}

/// The evictable peer that has been idle longest (ties: the one connected earliest).
pub fn pick_eviction(
    peers: impl IntoIterator<Item = PeerActivity>,
    now: Instant,
    idle_after: Duration,
) -> Option<PeerKey> {
    peers
        .into_iter()
        .filter(|p| p.is_evictable(now, idle_after))
        .min_by_key(|p| (p.last_useful_at, p.connected_at, p.key))
        .map(|p| p.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn idle_peer(key: u64, since: Instant) -> PeerActivity {
        PeerActivity {
            key: PeerKey(key),
            ip: ip(2),
            connected_at: since,
            last_useful_at: since,
            am_interested: false,
            peer_interested: false,
        }
    }

    #[test]
    fn admits_while_there_is_room() {
        let limits = ConnectionLimits::default();
        let counts = ConnectionCounts {
            torrent: 10,
            same_ip: 1,
            global: 10,
        };
        assert_eq!(admit(&limits, counts, [], Instant::now()), Admission::Admit);
    }

    #[test]
    fn one_address_gets_at_most_per_ip_connections() {
        let limits = ConnectionLimits::default();
        let counts = ConnectionCounts {
            torrent: 8,
            same_ip: DEFAULT_MAX_PER_IP,
            global: 8,
        };
        assert_eq!(
            admit(&limits, counts, [], Instant::now()),
            Admission::Refuse(Refusal::PerIp {
                limit: DEFAULT_MAX_PER_IP
            })
        );
    }

    #[test]
    fn a_full_torrent_evicts_the_longest_idle_uninterested_peer() {
        let t0 = Instant::now();
        let limits = ConnectionLimits::default();
        let now = t0 + Duration::from_secs(60);
        let counts = ConnectionCounts {
            torrent: limits.per_torrent,
            same_ip: 0,
            global: limits.per_torrent,
        };
        let mut busy = idle_peer(1, t0);
        busy.peer_interested = true;
        let mut wanted = idle_peer(2, t0);
        wanted.am_interested = true;
        let recent = idle_peer(3, now - Duration::from_secs(1));
        let idle_long = idle_peer(4, t0 + Duration::from_secs(5));
        let idle_longest = idle_peer(5, t0 + Duration::from_secs(2));
        let peers = [busy, wanted, recent, idle_long, idle_longest];
        assert_eq!(admit(&limits, counts, peers, now), Admission::AdmitEvicting(PeerKey(5)));
    }

    #[test]
    fn a_full_torrent_of_busy_or_fresh_peers_refuses() {
        let t0 = Instant::now();
        let limits = ConnectionLimits::default();
        let counts = ConnectionCounts {
            torrent: limits.per_torrent,
            same_ip: 0,
            global: 0,
        };
        let fresh = idle_peer(1, t0);
        let mut interested = idle_peer(2, t0 - Duration::from_secs(600));
        interested.peer_interested = true;
        assert_eq!(
            admit(&limits, counts, [fresh, interested], t0 + Duration::from_secs(1)),
            Admission::Refuse(Refusal::TorrentFull {
                limit: limits.per_torrent
            })
        );
    }

    #[test]
    fn a_full_shard_evicts_or_refuses_by_the_same_rule() {
        let t0 = Instant::now();
        let limits = ConnectionLimits {
            global: 3,
            ..ConnectionLimits::default()
        };
        let counts = ConnectionCounts {
            torrent: 1,
            same_ip: 0,
            global: 3,
        };
        let now = t0 + limits.evict_idle_after;
        assert_eq!(
            admit(&limits, counts, [idle_peer(7, t0)], now),
            Admission::AdmitEvicting(PeerKey(7))
        );
        assert_eq!(
            admit(&limits, counts, [], now),
            Admission::Refuse(Refusal::GlobalFull { limit: 3 })
        );
    }

    #[test]
    fn the_accept_rate_allows_a_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut r = AcceptRate::new(10, t0);
        assert_eq!((0..20).filter(|_| r.try_accept(t0)).count(), 10, "a burst of the rate");
        // Over the next two seconds: 20 more, however many knock.
        let accepted = (1..=2000)
            .filter(|i| r.try_accept(t0 + Duration::from_millis(*i)))
            .count();
        assert_eq!(accepted, 20);
        let mut unlimited = AcceptRate::new(0, t0);
        assert!((0..10_000).all(|_| unlimited.try_accept(t0)));
    }

    #[test]
    fn refusal_labels_are_distinct_and_indexed() {
        let labels: std::collections::HashSet<_> = RefusalKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), RefusalKind::ALL.len());
        for (i, k) in RefusalKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn keep_alives_do_not_keep_a_peer_useful() {
        // A peer's `last_useful_at` only moves for useful messages; with it fixed at the
        // handshake, the peer becomes evictable however many keep-alives it sends.
        let t0 = Instant::now();
        let p = idle_peer(1, t0);
        assert!(!p.is_evictable(t0 + Duration::from_secs(19), DEFAULT_EVICT_IDLE_AFTER));
        assert!(p.is_evictable(t0 + Duration::from_secs(20), DEFAULT_EVICT_IDLE_AFTER));
    }
}
