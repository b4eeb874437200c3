//! An iterative lookup (Kademlia as in BEP 5): ask the closest known nodes about a
//! target, learn closer nodes from their answers, and go on until the K closest
//! nodes found have all answered. At most [`ALPHA`] queries are in flight and at
//! most [`MAX_QUERIES`] are sent, so a lookup ends whatever the network says.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::compact::NodeInfo;
use super::krpc::Response;
use super::node_id::NodeId;
use super::routing_table::K;
use crate::InfoHash;

/// Queries in flight per lookup.
pub const ALPHA: usize = 3;
/// Queries one lookup may send in all.
pub const MAX_QUERIES: usize = 64;
/// Candidates remembered per lookup (the closest are kept).
pub const MAX_CANDIDATES: usize = 64;
/// Distinct peers one lookup collects.
pub const MAX_PEERS: usize = 500;

/// Identifies a lookup for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a lookup is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupKind {
    /// Nodes close to a target (bootstrap, bucket refresh).
    FindNode,
    /// Peers of a torrent, then (with a port) announce to the closest nodes.
    GetPeers {
        info_hash: InfoHash,
        announce_port: Option<u16>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fresh,
    InFlight,
    Replied,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    /// Unknown for a bootstrap router until it answers.
    id: Option<NodeId>,
    addr: SocketAddr,
    state: State,
    /// The write token from its `get_peers` answer.
    token: Option<Vec<u8>>,
}

/// One lookup in progress.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub id: LookupId,
    pub target: NodeId,
    pub kind: LookupKind,
    own: NodeId,
    /// Closest first; candidates with unknown ids last.
    candidates: Vec<Candidate>,
    queries_sent: usize,
    in_flight: usize,
    peers: HashSet<SocketAddr>,
}

impl Lookup {
    /// A lookup seeded with known nodes and routers whose ids are unknown.
    pub fn new(
        id: LookupId,
        own: NodeId,
        target: NodeId,
        kind: LookupKind,
        seeds: &[NodeInfo],
        routers: &[SocketAddr],
    ) -> Lookup {
        let mut l = Lookup {
            id,
            target,
            kind,
            own,
            candidates: Vec::new(),
            queries_sent: 0,
            in_flight: 0,
            peers: HashSet::new(),
        };
        for n in seeds {
            l.add_candidate(Some(n.id), n.addr);
        }
        for addr in routers {
            l.add_candidate(None, *addr);
        }
        l
    }

    fn rank(&self, id: &Option<NodeId>) -> (u8, [u8; 20]) {
        match id {
            Some(id) => (0, id.distance(&self.target)),
            None => (1, [0; 20]),
        }
    }

    fn add_candidate(&mut self, id: Option<NodeId>, addr: SocketAddr) {
        if id == Some(self.own) {
            return;
        }
        if self
            .candidates
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        let rank = self.rank(&id);
        let pos = self.candidates.partition_point(|c| self.rank(&c.id) <= rank);
        if pos >= MAX_CANDIDATES {
            return;
        }
        self.candidates.insert(
            pos,
            Candidate {
                id,
                addr,
                state: State::Fresh,
                token: None,
            },
        );
        if self.candidates.len() > MAX_CANDIDATES {
            // Drop the farthest one that nothing is waiting for.
            if let Some(drop_at) = self.candidates.iter().rposition(|c| c.state != State::InFlight) {
                self.candidates.remove(drop_at);
            }
        }
    }

    /// The next node to query now, if α and the budget allow and a query can still
    /// bring the K closest nearer; it counts as in flight from here.
    pub fn next_query(&mut self) -> Option<(Option<NodeId>, SocketAddr)> {
        if self.in_flight >= ALPHA || self.queries_sent >= MAX_QUERIES {
            return None;
        }
        let mut live = 0;
        for c in self.candidates.iter_mut() {
            if c.state == State::Failed {
                continue;
            }
            live += 1;
            if live > K {
                return None;
            }
            if c.state == State::Fresh {
                c.state = State::InFlight;
                self.in_flight += 1;
                self.queries_sent += 1;
                return Some((c.id, c.addr));
            }
        }
        None
    }

    /// True once nothing is in flight and no query is left worth sending.
    pub fn is_done(&self) -> bool {
        if self.in_flight > 0 {
            return false;
        }
        if self.queries_sent >= MAX_QUERIES {
            return true;
        }
        !self
            .candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .any(|c| c.state == State::Fresh)
    }

    fn find(&mut self, addr: SocketAddr) -> Option<&mut Candidate> {
        self.candidates
            .iter_mut()
            .find(|c| c.addr == addr && c.state == State::InFlight)
    }

    /// A node answered: its nodes become candidates; returns the peers it named
    /// that this lookup had not seen. An answer under another id than the one we
    /// were told counts as a failure.
    pub fn on_reply(&mut self, addr: SocketAddr, r: &Response) -> Vec<SocketAddr> {
        let own = self.own;
        let Some(c) = self.find(addr) else {
            return Vec::new();
        };
        if c.id.is_some_and(|id| id != r.id) || r.id == own {
            c.state = State::Failed;
            self.in_flight -= 1;
            return Vec::new();
        }
        c.state = State::Replied;
        c.token = r.token.clone();
        let learned_id = c.id.is_none();
        c.id = Some(r.id);
        self.in_flight -= 1;
        if learned_id {
            // A router told us its id: it moves to its place by distance.
            self.candidates.sort_by_key(|c| match c.id {
                Some(id) => (0, id.distance(&self.target)),
                None => (1, [0; 20]),
            });
        }
        for n in r.nodes.iter().chain(r.nodes6.iter()) {
            if !n.addr.ip().is_unspecified() && !n.addr.ip().is_multicast() {
                self.add_candidate(Some(n.id), n.addr);
            }
        }
        let mut fresh = Vec::new();
        for p in &r.values {
            if self.peers.len() >= MAX_PEERS {
                break;
            }
            if self.peers.insert(*p) {
                fresh.push(*p);
            }
        }
        fresh
    }

    /// A query of this lookup went unanswered (or was answered with an error).
    pub fn on_failure(&mut self, addr: SocketAddr) {
        if let Some(c) = self.find(addr) {
            c.state = State::Failed;
            self.in_flight -= 1;
        }
    }

    /// The K closest nodes that answered, with the tokens they gave.
    pub fn closest_replied(&self) -> Vec<(NodeInfo, Option<Vec<u8>>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Replied)
            .filter_map(|c| {
                Some((
                    NodeInfo {
                        id: c.id?,
                        addr: c.addr,
                    },
                    c.token.clone(),
                ))
            })
            .take(K)
            .collect()
    }

    /// Distinct peers found so far.
    pub fn peers_found(&self) -> usize {
        self.peers.len()
    }

    /// Queries sent so far.
    pub fn queries_sent(&self) -> usize {
        self.queries_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(b: u8, port: u16) -> NodeInfo {
        NodeInfo {
            id: NodeId([b; 20]),
            addr: SocketAddr::from(([10, 0, 0, b], port)),
        }
    }

    #[test]
    fn keeps_alpha_in_flight_and_stops_when_the_closest_answered() {
        let target = NodeId([0; 20]);
        let seeds: Vec<NodeInfo> = (1..=20).map(|b| info(b, 1)).collect();
        let mut l = Lookup::new(
            LookupId(1),
            NodeId([0xff; 20]),
            target,
            LookupKind::FindNode,
            &seeds,
            &[],
        );
        let q: Vec<_> = std::iter::from_fn(|| l.next_query()).collect();
        assert_eq!(q.len(), ALPHA);
        assert_eq!(q[0].0, Some(NodeId([1; 20])), "closest first");
        // Everyone answers with nothing new: the lookup walks the 8 closest only.
        let mut answered = 0;
        while !l.is_done() {
            let (id, addr) = match l.next_query() {
                Some(q) => q,
                None => {
                    let c = l.candidates.iter().find(|c| c.state == State::InFlight).unwrap();
                    (c.id, c.addr)
                }
            };
            let r = Response {
                id: id.unwrap(),
                ..Default::default()
            };
            l.on_reply(addr, &r);
            answered += 1;
            assert!(answered <= 20);
        }
        assert_eq!(l.queries_sent(), K);
        assert_eq!(l.closest_replied().len(), K);
    }

    #[test]
    fn a_router_learns_its_id_and_a_liar_fails() {
        let target = NodeId([0; 20]);
        let router: SocketAddr = "10.1.1.1:1".parse().unwrap();
        let mut l = Lookup::new(
            LookupId(1),
            NodeId([0xff; 20]),
            target,
            LookupKind::FindNode,
            &[info(9, 1)],
            &[router],
        );
        let a = l.next_query().unwrap();
        let b = l.next_query().unwrap();
        assert_eq!(a.1, info(9, 1).addr);
        assert_eq!(b, (None, router));
        // The known node answers under another id: a failure, its nodes unused.
        let lie = Response {
            id: NodeId([3; 20]),
            nodes: vec![info(2, 2)],
            ..Default::default()
        };
        assert!(l.on_reply(a.1, &lie).is_empty());
        let r = Response {
            id: NodeId([5; 20]),
            nodes: vec![info(4, 4)],
            values: vec!["1.2.3.4:5".parse().unwrap(), "1.2.3.4:5".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(l.on_reply(router, &r).len(), 1, "duplicates counted once");
        assert_eq!(l.next_query(), Some((Some(NodeId([4; 20])), info(4, 4).addr)));
        assert!(l.candidates.iter().all(|c| c.id != Some(NodeId([2; 20]))));
    }

    #[test]
    fn bounded_by_the_query_budget() {
        let target = NodeId([0; 20]);
        let mut l = Lookup::new(
            LookupId(1),
            NodeId([0xff; 20]),
            target,
            LookupKind::FindNode,
            &[info(200, 1)],
            &[],
        );
        let mut next = 0u32;
        for _ in 0..1000 {
            let Some((_, addr)) = l.next_query() else { break };
            // Every answer names one closer node than the last: an endless descent.
            next += 1;
            let mut id = [0u8; 20];
            id[..4].copy_from_slice(&(u32::MAX - next).to_be_bytes());
            let closer = NodeInfo {
                id: NodeId(id),
                addr: SocketAddr::from(([10, 2, 0, 0], next as u16)),
            };
            let known = l.candidates.iter().find(|c| c.addr == addr).unwrap().id.unwrap();
            l.on_reply(
                addr,
                &Response {
                    id: known,
                    nodes: vec![closer],
                    ..Default::default()
                },
            );
        }
        assert_eq!(l.queries_sent(), MAX_QUERIES);
        assert!(l.is_done());
    }
}
