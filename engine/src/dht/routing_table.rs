//! The routing table (BEP 5): k-buckets by shared prefix with our own id. Only the
//! bucket covering our own id splits, so the table holds many nodes near us and a
//! few far away. Nodes enter once they have answered a query of ours; nodes that
//! stop answering turn bad and give way to the bucket's replacement cache.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use super::compact::NodeInfo;
use super::node_id::NodeId;

/// Nodes per bucket (BEP 5's k).
pub const K: usize = 8;
/// A node heard from within this long is good; after it, questionable.
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// A bucket unchanged this long is refreshed with a lookup inside its range.
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);
/// Unanswered queries in a row that make a node bad.
pub const MAX_FAILURES: u8 = 2;
/// At most 160 buckets: one per bit of the id.
const MAX_BUCKETS: usize = 160;

/// One node in the table.
#[derive(Clone, Debug)]
pub struct Entry {
    pub info: NodeInfo,
    /// When it last answered one of our queries.
    pub last_reply: Instant,
    /// Queries in a row it did not answer.
    pub failures: u8,
}

/// How a node stands (BEP 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Good,
    Questionable,
    Bad,
}

impl Entry {
    pub fn status(&self, now: Instant) -> NodeStatus {
        if self.failures >= MAX_FAILURES {
            NodeStatus::Bad
        } else if now.saturating_duration_since(self.last_reply) < GOOD_FOR && self.failures == 0 {
            NodeStatus::Good
        } else {
            NodeStatus::Questionable
        }
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    nodes: Vec<Entry>,
    /// Nodes that answered while the bucket was full, newest last (at most K).
    replacements: Vec<NodeInfo>,
    last_changed: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            nodes: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
        }
    }
}

/// What [`RoutingTable::insert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new node in the table.
    Added,
    /// Known already: its reply time was refreshed.
    Refreshed,
    /// The bucket is full of good or questionable nodes: kept as a replacement;
    /// these questionable nodes should be pinged (a failed ping frees their place).
    Full { ping: Vec<NodeInfo> },
    /// Our own id, or an id already in the table at another address (kept as it was).
    Refused,
}

/// The k-bucket table around our own id.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    own: NodeId,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    pub fn new(own: NodeId, now: Instant) -> RoutingTable {
        RoutingTable {
            own,
            buckets: vec![Bucket::new(now)],
        }
    }

    pub fn own_id(&self) -> NodeId {
        self.own
    }

    fn bucket_index(&self, id: &NodeId) -> usize {
        self.own.common_prefix_len(id).min(self.buckets.len() - 1)
    }

    /// A node that answered us: added, refreshed, or kept as a replacement.
    pub fn insert(&mut self, info: NodeInfo, now: Instant) -> Inserted {
        if info.id == self.own {
            return Inserted::Refused;
        }
        // Bounded: each round either returns or splits, and splits stop at MAX_BUCKETS.
        for _ in 0..=MAX_BUCKETS {
            let last = self.buckets.len() - 1;
            let index = self.bucket_index(&info.id);
            let bucket = &mut self.buckets[index];
            if let Some(e) = bucket.nodes.iter_mut().find(|e| e.info.id == info.id) {
                if e.info.addr != info.addr {
                    // Someone claims a known id from elsewhere: keep the one we know.
                    return Inserted::Refused;
                }
                e.last_reply = now;
                e.failures = 0;
                return Inserted::Refreshed;
            }
            if let Some(pos) = bucket.nodes.iter().position(|e| e.info.addr == info.addr) {
                // Same address, new id (a restarted node): take the new id only if the
                // old entry had stopped answering.
                if bucket.nodes[pos].status(now) != NodeStatus::Bad {
                    return Inserted::Refused;
                }
                bucket.nodes.remove(pos);
            }
            let entry = Entry {
                info,
                last_reply: now,
                failures: 0,
            };
            if bucket.nodes.len() < K {
                bucket.nodes.push(entry);
                bucket.last_changed = now;
                return Inserted::Added;
            }
            if let Some(pos) = bucket.nodes.iter().position(|e| e.status(now) == NodeStatus::Bad) {
                bucket.nodes[pos] = entry;
                bucket.last_changed = now;
                return Inserted::Added;
            }
            if index == last && self.buckets.len() < MAX_BUCKETS {
                self.split_last(now);
                continue;
            }
            let bucket = &mut self.buckets[index];
            bucket.replacements.retain(|r| r.id != info.id && r.addr != info.addr);
            if bucket.replacements.len() >= K {
                bucket.replacements.remove(0);
            }
            bucket.replacements.push(info);
            let ping = bucket
                .nodes
                .iter()
                .filter(|e| e.status(now) == NodeStatus::Questionable)
                .map(|e| e.info)
                .collect();
            return Inserted::Full { ping };
        }
        Inserted::Refused
    }

    fn split_last(&mut self, now: Instant) {
        let depth = self.buckets.len() - 1;
        let own = self.own;
        let old = &mut self.buckets[depth];
        let mut near = Bucket::new(now);
        let (stay, go): (Vec<Entry>, Vec<Entry>) = old
            .nodes
            .drain(..)
            .partition(|e| own.common_prefix_len(&e.info.id) == depth);
        old.nodes = stay;
        near.nodes = go;
        let (stay, go): (Vec<NodeInfo>, Vec<NodeInfo>) = old
            .replacements
            .drain(..)
            .partition(|r| own.common_prefix_len(&r.id) == depth);
        old.replacements = stay;
        near.replacements = go;
        self.buckets.push(near);
    }

    /// True if a node not in the table would get a place if it answered: its
    /// bucket has room, holds a bad node, or can split.
    pub fn wants(&self, info: &NodeInfo, now: Instant) -> bool {
        if info.id == self.own || self.entries().any(|e| e.info.id == info.id || e.info.addr == info.addr) {
            return false;
        }
        let index = self.bucket_index(&info.id);
        let bucket = &self.buckets[index];
        bucket.nodes.len() < K
            || bucket.nodes.iter().any(|e| e.status(now) == NodeStatus::Bad)
            || (index == self.buckets.len() - 1 && self.buckets.len() < MAX_BUCKETS)
    }

    /// A query to the node at `addr` went unanswered.
    pub fn mark_failed(&mut self, id: &NodeId, addr: SocketAddr, now: Instant) {
        let index = self.bucket_index(id);
        let bucket = &mut self.buckets[index];
        let Some(pos) = bucket
            .nodes
            .iter()
            .position(|e| e.info.id == *id && e.info.addr == addr)
        else {
            return;
        };
        let entry = &mut bucket.nodes[pos];
        entry.failures = entry.failures.saturating_add(1);
        if entry.status(now) == NodeStatus::Bad {
            if let Some(replacement) = bucket.replacements.pop() {
                bucket.nodes[pos] = Entry {
                    info: replacement,
                    last_reply: now,
                    failures: 0,
                };
                bucket.last_changed = now;
            }
        }
    }

    /// Up to `count` nodes that are not bad, closest to `target` first.
    pub fn closest(&self, target: &NodeId, count: usize, now: Instant) -> Vec<NodeInfo> {
        let mut all: Vec<NodeInfo> = self
            .buckets
            .iter()
            .flat_map(|b| b.nodes.iter())
            .filter(|e| e.status(now) != NodeStatus::Bad)
            .map(|e| e.info)
            .collect();
        all.sort_by_key(|n| n.id.distance(target));
        all.truncate(count);
        all
    }

    /// Random targets inside each bucket that has not changed for [`REFRESH_AFTER`]
    /// (their buckets count as changed from now on).
    pub fn refresh_targets<R: Rng>(&mut self, now: Instant, rng: &mut R) -> Vec<NodeId> {
        let own = self.own;
        let mut out = Vec::new();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            if now.saturating_duration_since(b.last_changed) >= REFRESH_AFTER {
                b.last_changed = now;
                out.push(own.random_with_prefix(i, rng));
            }
        }
        out
    }

    /// Questionable nodes (not heard from in [`GOOD_FOR`]) to ping, at most `max`.
    pub fn questionable(&self, now: Instant, max: usize) -> Vec<NodeInfo> {
        self.entries()
            .filter(|e| e.status(now) == NodeStatus::Questionable)
            .take(max)
            .map(|e| e.info)
            .collect()
    }

    /// Every node in the table.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Nodes in the table (any status).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Good nodes.
    pub fn good_len(&self, now: Instant) -> usize {
        self.entries().filter(|e| e.status(now) == NodeStatus::Good).count()
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn node(rng: &mut SmallRng, port: u16) -> NodeInfo {
        NodeInfo {
            id: NodeId::random(rng),
            addr: SocketAddr::from(([10, 0, (port >> 8) as u8, port as u8], port)),
        }
    }

    #[test]
    fn splits_near_our_id_and_keeps_k_per_far_bucket() {
        let mut rng = SmallRng::seed_from_u64(3);
        let now = Instant::now();
        let own = NodeId::random(&mut rng);
        let mut t = RoutingTable::new(own, now);
        for p in 1..2000u16 {
            t.insert(node(&mut rng, p), now);
        }
        assert!(t.bucket_count() > 5, "buckets {}", t.bucket_count());
        // Far buckets (half the id space each) hold at most K.
        for b in &t.buckets {
            assert!(b.nodes.len() <= K);
            assert!(b.replacements.len() <= K);
        }
        // Every node sits in the bucket of its prefix length.
        let last = t.bucket_count() - 1;
        for (i, b) in t.buckets.iter().enumerate() {
            for e in &b.nodes {
                let cpl = own.common_prefix_len(&e.info.id);
                assert!(if i == last { cpl >= i } else { cpl == i });
            }
        }
        let target = NodeId::random(&mut rng);
        let closest = t.closest(&target, K, now);
        assert_eq!(closest.len(), K);
        assert!(closest
            .windows(2)
            .all(|w| w[0].id.distance(&target) <= w[1].id.distance(&target)));
    }

    #[test]
    fn failing_nodes_give_way_to_replacements() {
        let mut rng = SmallRng::seed_from_u64(4);
        let now = Instant::now();
        // Our id all ones; far nodes start with a 0 bit, so they share bucket 0 once split.
        let own = NodeId([0xff; 20]);
        let mut t = RoutingTable::new(own, now);
        let mut far = Vec::new();
        for p in 1..=(K as u16 + 3) {
            let mut n = node(&mut rng, p);
            n.id.0[0] &= 0x7f;
            far.push(n);
        }
        let near = NodeInfo {
            id: NodeId([0xfe; 20]),
            addr: "10.9.9.9:9".parse().unwrap(),
        };
        assert_eq!(t.insert(near, now), Inserted::Added);
        for n in &far[..K] {
            t.insert(*n, now);
        }
        let later = now + GOOD_FOR + Duration::from_secs(1);
        match t.insert(far[K], later) {
            Inserted::Full { ping } => assert_eq!(ping.len(), K),
            other => panic!("{other:?}"),
        }
        let victim = far[0];
        for _ in 0..MAX_FAILURES {
            t.mark_failed(&victim.id, victim.addr, later);
        }
        let ids: Vec<NodeId> = t.entries().map(|e| e.info.id).collect();
        assert!(!ids.contains(&victim.id));
        assert!(ids.contains(&far[K].id), "the replacement took its place");
        // A known id from another address is refused.
        let spoof = NodeInfo {
            id: far[1].id,
            addr: "10.66.66.66:66".parse().unwrap(),
        };
        assert_eq!(t.insert(spoof, later), Inserted::Refused);
        assert_eq!(
            t.insert(
                NodeInfo {
                    id: own,
                    addr: spoof.addr
                },
                later
            ),
            Inserted::Refused
        );
    }

    #[test]
    fn stale_buckets_ask_for_a_refresh_inside_their_range() {
        let mut rng = SmallRng::seed_from_u64(5);
        let now = Instant::now();
        let own = NodeId::random(&mut rng);
        let mut t = RoutingTable::new(own, now);
        for p in 1..200u16 {
            t.insert(node(&mut rng, p), now);
        }
        assert!(t.refresh_targets(now, &mut rng).is_empty());
        let later = now + REFRESH_AFTER;
        let targets = t.refresh_targets(later, &mut rng);
        assert_eq!(targets.len(), t.bucket_count());
        for (i, target) in targets.iter().enumerate() {
            assert_eq!(own.common_prefix_len(target), i);
        }
        assert!(t.refresh_targets(later, &mut rng).is_empty());
    }
}
