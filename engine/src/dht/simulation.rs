//! A few hundred DHT nodes in one process: no sockets, a virtual clock, datagrams
//! passed between nodes by a loop. Lookups must converge on the true closest nodes,
//! announces must be found, and a share of lost datagrams must not break that.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::node::{DhtConfig, DhtEvent, DhtNode};
use super::node_id::NodeId;
use super::LookupId;
use crate::InfoHash;

struct Net {
    nodes: Vec<DhtNode>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    now: Instant,
    queue: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    events: Vec<(usize, DhtEvent)>,
    rng: SmallRng,
    /// Chance in 1000 that a datagram is lost.
    loss_per_mille: u32,
    delivered: u64,
}

/// One hop takes this long on the virtual clock.
const HOP: Duration = Duration::from_millis(20);

impl Net {
    fn new(count: usize, seed: u64, loss_per_mille: u32) -> Net {
        let now = Instant::now();
        let mut nodes = Vec::new();
        let mut addrs = Vec::new();
        let mut by_addr = HashMap::new();
        for i in 0..count {
            let addr = SocketAddr::from(([10, (i / 250) as u8, (i % 250) as u8, 1], 6881));
            nodes.push(DhtNode::new(DhtConfig::default(), seed * 10_000 + i as u64, now));
            by_addr.insert(addr, i);
            addrs.push(addr);
        }
        Net {
            nodes,
            addrs,
            by_addr,
            now,
            queue: VecDeque::new(),
            events: Vec::new(),
            rng: SmallRng::seed_from_u64(seed),
            loss_per_mille,
            delivered: 0,
        }
    }

    fn collect(&mut self) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            while let Some((to, bytes)) = n.poll_transmit() {
                self.queue.push_back((self.addrs[i], to, bytes));
            }
            while let Some(ev) = n.poll_event() {
                self.events.push((i, ev));
            }
        }
    }

    /// Runs until `done` says so or `limit` of virtual time has passed.
    fn run(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) {
        let end = self.now + limit;
        // Bounded by the virtual time limit: each round advances the clock.
        while self.now < end {
            self.collect();
            if done(self) {
                return;
            }
            if self.queue.is_empty() {
                let next = self.nodes.iter().filter_map(DhtNode::poll_timeout).min().unwrap_or(end);
                self.now = next.clamp(self.now + HOP, end);
            } else {
                self.now += HOP;
                let batch: Vec<_> = self.queue.drain(..).collect();
                for (from, to, bytes) in batch {
                    if self.rng.gen_range(0..1000) < self.loss_per_mille {
                        continue;
                    }
                    if let Some(&i) = self.by_addr.get(&to) {
                        self.delivered += 1;
                        self.nodes[i].handle_packet(self.now, from, &bytes);
                    }
                }
            }
            for n in self.nodes.iter_mut() {
                if n.poll_timeout().is_some_and(|t| t <= self.now) {
                    n.handle_timeout(self.now);
                }
            }
        }
        self.collect();
    }

    fn lookup_done(&self, node: usize, lookup: LookupId) -> Option<&DhtEvent> {
        self.events
            .iter()
            .find(|(i, e)| *i == node && matches!(e, DhtEvent::LookupDone { lookup: l, .. } if *l == lookup))
            .map(|(_, e)| e)
    }

    fn bootstrap_all(&mut self) {
        let router = self.addrs[0];
        for i in 1..self.nodes.len() {
            let now = self.now;
            self.nodes[i].bootstrap(now, &[router], &[]);
            self.run(Duration::from_millis(200), |_| false);
        }
        // A second round, as a refresh would do: the early nodes learn the late ones.
        for i in 0..self.nodes.len() {
            let now = self.now;
            self.nodes[i].bootstrap(now, &[], &[]);
        }
        self.run(Duration::from_secs(20), |_| false);
    }

    fn true_closest(&self, target: &NodeId, k: usize) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.nodes.iter().map(DhtNode::id).collect();
        ids.sort_by_key(|id| id.distance(target));
        ids.truncate(k);
        ids
    }
}

fn lookups_converge(loss_per_mille: u32, seed: u64) {
    let mut net = Net::new(300, seed, loss_per_mille);
    net.bootstrap_all();
    let mut rng = SmallRng::seed_from_u64(seed + 1);
    let mut total_overlap = 0;
    for round in 0..10 {
        let asker = rng.gen_range(0..net.nodes.len());
        let target = NodeId::random(&mut rng);
        let now = net.now;
        let lookup = net.nodes[asker].find_node(now, target);
        net.run(Duration::from_secs(60), |n| n.lookup_done(asker, lookup).is_some());
        let Some(DhtEvent::LookupDone { closest, .. }) = net.lookup_done(asker, lookup).cloned() else {
            panic!("round {round}: lookup did not end");
        };
        let truth = net.true_closest(&target, 8);
        // The asker itself never answers its own lookup.
        let truth: Vec<NodeId> = truth.into_iter().filter(|id| *id != net.nodes[asker].id()).collect();
        let overlap = closest.iter().filter(|n| truth.contains(&n.id)).count();
        assert!(overlap >= 5, "round {round}: {overlap} of the true closest found");
        total_overlap += overlap;
    }
    assert!(total_overlap >= 70, "{total_overlap} of about 80");
}

#[test]
fn lookups_converge_on_the_true_closest_nodes() {
    lookups_converge(0, 1);
}

#[test]
fn lookups_converge_with_five_percent_loss() {
    lookups_converge(50, 2);
}

#[test]
fn an_announced_peer_is_found_by_another_node() {
    let mut net = Net::new(250, 3, 0);
    net.bootstrap_all();
    let info_hash = InfoHash([0x42; 20]);
    let (seeder, leecher) = (17, 203);
    let now = net.now;
    let announce = net.nodes[seeder].get_peers(now, info_hash, Some(7000));
    net.run(Duration::from_secs(60), |n| n.lookup_done(seeder, announce).is_some());
    match net.lookup_done(seeder, announce) {
        Some(DhtEvent::LookupDone {
            announced_to,
            peers_found,
            ..
        }) => {
            assert_eq!(*peers_found, 0);
            assert!(*announced_to >= 6, "announced to {announced_to}");
        }
        other => panic!("{other:?}"),
    }
    net.run(Duration::from_secs(5), |_| false);
    let stored: usize = net.nodes.iter().map(|n| n.stats(net.now).stored_peers).sum();
    assert!(stored >= 6, "{stored} nodes store the announce");
    let now = net.now;
    let lookup = net.nodes[leecher].get_peers(now, info_hash, None);
    net.run(Duration::from_secs(60), |n| n.lookup_done(leecher, lookup).is_some());
    let want = SocketAddr::new(net.addrs[seeder].ip(), 7000);
    let found: Vec<SocketAddr> = net
        .events
        .iter()
        .filter_map(|(i, e)| match e {
            DhtEvent::PeersFound {
                lookup: l,
                info_hash: h,
                peers,
            } if *i == leecher && *l == lookup => {
                assert_eq!(*h, info_hash);
                Some(peers.clone())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(found, vec![want]);
    // Another torrent finds nothing.
    let now = net.now;
    let other = net.nodes[leecher].get_peers(now, InfoHash([0x43; 20]), None);
    net.run(Duration::from_secs(60), |n| n.lookup_done(leecher, other).is_some());
    assert!(matches!(
        net.lookup_done(leecher, other),
        Some(DhtEvent::LookupDone { peers_found: 0, .. })
    ));
}

#[test]
fn announces_expire_after_thirty_minutes() {
    let mut net = Net::new(60, 4, 0);
    net.bootstrap_all();
    let info_hash = InfoHash([7; 20]);
    let now = net.now;
    let l = net.nodes[5].get_peers(now, info_hash, Some(7000));
    net.run(Duration::from_secs(60), |n| n.lookup_done(5, l).is_some());
    net.run(Duration::from_secs(2), |_| false);
    let stored = |net: &Net| net.nodes.iter().map(|n| n.stats(net.now).stored_peers).sum::<usize>();
    assert!(stored(&net) > 0);
    net.run(Duration::from_secs(31 * 60), |_| false);
    assert_eq!(stored(&net), 0);
    // The nodes kept talking meanwhile (pings, refreshes) and still route.
    let now = net.now;
    let l = net.nodes[9].find_node(now, NodeId([1; 20]));
    net.run(Duration::from_secs(60), |n| n.lookup_done(9, l).is_some());
    assert!(matches!(net.lookup_done(9, l), Some(DhtEvent::LookupDone { closest, .. }) if closest.len() >= 6));
}
