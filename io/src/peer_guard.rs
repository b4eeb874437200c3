//! What the session's peer defences did, counted over all shards (atomics: each
//! shard counts on its own thread, the control API reads them): connections refused
//! by reason, peers cut off by protocol violation (floods by anomaly), addresses banned.

use std::sync::atomic::{AtomicU64, Ordering};

use ccbt_engine::connection_policy::RefusalKind;
use ccbt_engine::torrent::ViolationKind;

/// Counters shared by every shard of a session.
#[derive(Debug, Default)]
pub struct PeerGuardCounters {
    refusals: [AtomicU64; RefusalKind::ALL.len()],
    violations: [AtomicU64; ViolationKind::ALL.len()],
    bans: AtomicU64,
}

/// The counters at one moment, zeros included, in the kinds' fixed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerGuardSnapshot {
    pub refusals: Vec<(RefusalKind, u64)>,
    pub violations: Vec<(ViolationKind, u64)>,
    /// Addresses banned by the torrents (each ban once, from the torrent that issued it).
    pub bans: u64,
}

impl PeerGuardCounters {
    pub fn refused(&self, kind: RefusalKind) {
        self.refusals[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn violation(&self, kind: ViolationKind) {
        if let Some(i) = ViolationKind::ALL.iter().position(|k| *k == kind) {
            self.violations[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn banned(&self) {
        self.bans.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PeerGuardSnapshot {
        PeerGuardSnapshot {
            refusals: RefusalKind::ALL
                .iter()
                .map(|k| (*k, self.refusals[k.index()].load(Ordering::Relaxed)))
                .collect(),
            violations: ViolationKind::ALL
                .iter()
                .zip(&self.violations)
                .map(|(k, c)| (*k, c.load(Ordering::Relaxed)))
                .collect(),
            bans: self.bans.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_engine::torrent::FloodAnomaly;

    #[test]
    fn counts_land_in_their_own_slot() {
        let c = PeerGuardCounters::default();
        c.refused(RefusalKind::HandshakeRate);
        c.refused(RefusalKind::HandshakeRate);
        c.violation(ViolationKind::Flood(FloodAnomaly::KeepAliveStorm));
        c.banned();
        let s = c.snapshot();
        let get = |k: RefusalKind| s.refusals.iter().find(|(r, _)| *r == k).map(|(_, n)| *n);
        assert_eq!(get(RefusalKind::HandshakeRate), Some(2));
        assert_eq!(get(RefusalKind::PerIp), Some(0));
        let flood = s
            .violations
            .iter()
            .find(|(v, _)| *v == ViolationKind::Flood(FloodAnomaly::KeepAliveStorm));
        assert_eq!(flood.map(|(_, n)| *n), Some(1));
        assert_eq!(s.violations.iter().map(|(_, n)| n).sum::<u64>(), 1);
        assert_eq!(s.bans, 1);
    }
}
