//! Where a torrent learned a peer's address. The peer book keeps it per address so a
//! status can say how the swarm was found (trackers, DHT, PEX, LSD, incoming, the user).

use std::fmt;

/// The origin of a peer address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PeerSource {
    /// An HTTP or UDP tracker's announce reply.
    #[default]
    Tracker,
    /// A DHT `get_peers` lookup (BEP 5).
    Dht,
    /// Another peer's `ut_pex` message (BEP 11).
    Pex,
    /// Local service discovery on the LAN (BEP 14).
    Lsd,
    /// The peer connected to us.
    Incoming,
    /// The user named it (`--peer`, a magnet's `x.pe`, the API).
    Manual,
}

impl PeerSource {
    /// Every source, in the order reports list them.
    pub const ALL: [PeerSource; 6] = [
        PeerSource::Tracker,
        PeerSource::Dht,
        PeerSource::Pex,
        PeerSource::Lsd,
        PeerSource::Incoming,
        PeerSource::Manual,
    ];

    /// The lower-case name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            PeerSource::Tracker => "tracker",
            PeerSource::Dht => "dht",
            PeerSource::Pex => "pex",
            PeerSource::Lsd => "lsd",
            PeerSource::Incoming => "incoming",
            PeerSource::Manual => "manual",
        }
    }
}

impl fmt::Display for PeerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A count per source (of known or of connected peers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerSourceCounts {
    counts: [u32; PeerSource::ALL.len()],
}

impl PeerSourceCounts {
    /// Counts one more peer from `source`.
    pub fn count(&mut self, source: PeerSource) {
        let slot = &mut self.counts[source as usize];
        *slot = slot.saturating_add(1);
    }

    /// The count for `source`.
    pub fn get(&self, source: PeerSource) -> u32 {
        self.counts[source as usize]
    }

    /// `(source, count)` for every source, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (PeerSource, u32)> + '_ {
        PeerSource::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_source_apart() {
        let mut c = PeerSourceCounts::default();
        c.count(PeerSource::Dht);
        c.count(PeerSource::Dht);
        c.count(PeerSource::Manual);
        assert_eq!(c.get(PeerSource::Dht), 2);
        assert_eq!(c.get(PeerSource::Manual), 1);
        assert_eq!(c.get(PeerSource::Tracker), 0);
        let names: Vec<_> = c.iter().map(|(s, n)| format!("{s}={n}")).collect();
        assert_eq!(
            names,
            ["tracker=0", "dht=2", "pex=0", "lsd=0", "incoming=0", "manual=1"]
        );
    }
}
