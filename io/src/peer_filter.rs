//! The session's IP filter as one shard holds it: the current immutable
//! [`IpFilter`] (an `Arc` shared by every shard, replaced whole on reload by a
//! shard command, so a lookup takes no lock) and the session-wide counts of what
//! it blocked. Every place a peer address enters asks it: the accept loop before
//! the handshake is read, the torrent's peer book before an address from a
//! tracker, the DHT, PEX, LSD or the user is remembered, and each dial.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ccbt_engine::ip_filter::IpFilter;
use ccbt_engine::peer_source::PeerSource;

/// Blocked attempts over the whole session, counted by every shard.
#[derive(Debug, Default)]
pub struct BlockedCounters {
    incoming: AtomicU64,
    outgoing: AtomicU64,
    disconnected: AtomicU64,
    learned: [AtomicU64; PeerSource::ALL.len()],
}

impl BlockedCounters {
    /// What was blocked so far.
    pub fn snapshot(&self) -> BlockedCounts {
        BlockedCounts {
            incoming: self.incoming.load(Ordering::Relaxed),
            outgoing: self.outgoing.load(Ordering::Relaxed),
            disconnected: self.disconnected.load(Ordering::Relaxed),
            learned: std::array::from_fn(|i| self.learned[i].load(Ordering::Relaxed)),
        }
    }
}

/// A snapshot of [`BlockedCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockedCounts {
    /// Incoming connections closed at accept, before any byte was read.
    pub incoming: u64,
    /// Dials not made: the address was already known when a reload blocked it.
    pub outgoing: u64,
    /// Connections closed because a reload blocked their address.
    pub disconnected: u64,
    /// Addresses dropped before they reached a peer book, by where they came
    /// from (in [`PeerSource::ALL`] order).
    pub learned: [u64; PeerSource::ALL.len()],
}

impl BlockedCounts {
    /// Addresses from `source` dropped before they reached a peer book.
    pub fn learned_from(&self, source: PeerSource) -> u64 {
        self.learned[source as usize]
    }

    /// Every blocked attempt.
    pub fn total(&self) -> u64 {
        self.incoming + self.outgoing + self.disconnected + self.learned.iter().sum::<u64>()
    }
}

/// One shard's handle on the filter; see the module docs.
#[derive(Debug)]
pub struct PeerFilter {
    filter: RefCell<Arc<IpFilter>>,
    counters: Arc<BlockedCounters>,
}

impl PeerFilter {
    pub fn new(filter: Arc<IpFilter>, counters: Arc<BlockedCounters>) -> Rc<PeerFilter> {
        Rc::new(PeerFilter {
            filter: RefCell::new(filter),
            counters,
        })
    }

    /// A filter that blocks nothing, counting into counters of its own (tests).
    pub fn open() -> Rc<PeerFilter> {
        PeerFilter::new(Arc::new(IpFilter::empty()), Arc::default())
    }

    /// Takes a reloaded filter.
    pub fn set(&self, filter: Arc<IpFilter>) {
        *self.filter.borrow_mut() = filter;
    }

    /// Whether `addr` is blocked (nothing counted).
    pub fn blocks(&self, addr: SocketAddr) -> bool {
        self.filter.borrow().is_blocked(addr.ip())
    }

    fn blocked(&self, addr: SocketAddr, counter: &AtomicU64, why: &'static str) -> bool {
        let blocked = self.blocks(addr);
        if blocked {
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%addr, why, "peer blocked by the IP filter");
        }
        blocked
    }

    /// An accepted connection from `addr` is to be closed before its handshake.
    pub fn refuses_incoming(&self, addr: SocketAddr) -> bool {
        self.blocked(addr, &self.counters.incoming, "incoming")
    }

    /// A known address is not to be dialled.
    pub fn refuses_dial(&self, addr: SocketAddr) -> bool {
        self.blocked(addr, &self.counters.outgoing, "dial")
    }

    /// An address learned from `source` is not to be remembered.
    pub fn refuses_learned(&self, addr: SocketAddr, source: PeerSource) -> bool {
        self.blocked(addr, &self.counters.learned[source as usize], source.name())
    }

    /// Counts a connection closed because a reload blocked its address.
    pub fn count_disconnected(&self) {
        self.counters.disconnected.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_engine::ip_filter::IpFilterBuilder;

    fn filter_of(line: &str) -> Arc<IpFilter> {
        let mut b = IpFilterBuilder::new();
        b.list().push_line(line.as_bytes());
        Arc::new(b.build())
    }

    #[test]
    fn counts_each_kind_of_refusal_and_takes_a_reload() {
        let counters = Arc::new(BlockedCounters::default());
        let f = PeerFilter::new(filter_of("127.0.0.2"), counters.clone());
        let blocked: SocketAddr = "127.0.0.2:6881".parse().unwrap();
        let open: SocketAddr = "127.0.0.3:6881".parse().unwrap();
        assert!(f.refuses_incoming(blocked));
        assert!(!f.refuses_incoming(open));
        assert!(f.refuses_dial(blocked));
        assert!(f.refuses_learned(blocked, PeerSource::Pex));
        assert!(f.refuses_learned(blocked, PeerSource::Pex));
        assert!(!f.refuses_learned(open, PeerSource::Dht));
        f.count_disconnected();
        let c = counters.snapshot();
        assert_eq!((c.incoming, c.outgoing, c.disconnected), (1, 1, 1));
        assert_eq!(c.learned_from(PeerSource::Pex), 2);
        assert_eq!(c.learned_from(PeerSource::Dht), 0);
        assert_eq!(c.total(), 5);
        f.set(filter_of("127.0.0.3"));
        assert!(!f.blocks(blocked));
        assert!(f.blocks(open));
    }
}
