//! One DHT node as a sans-IO state machine: datagrams, the time and the caller's
//! requests go in; datagrams to send, the next deadline and events come out.
//!
//! ```text
//! loop {
//!     node.handle_timeout(now);                 // when poll_timeout() is due
//!     node.handle_packet(now, from, &datagram); // for each datagram received
//!     while let Some((to, bytes)) = node.poll_transmit() { send }
//!     while let Some(event) = node.poll_event() { ... }
//! }
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::compact::NodeInfo;
use super::krpc::{error_code, Body, KrpcError, Message, Query, Response, Want};
use super::lookup::{Lookup, LookupId, LookupKind};
use super::node_id::NodeId;
use super::peer_store::PeerStore;
use super::routing_table::{Inserted, RoutingTable, K};
use super::tokens::TokenSecrets;
use crate::InfoHash;

/// An unanswered query is given up after this long.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(4);
/// Housekeeping period: secret rotation, peer expiry, bucket refresh, pings.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(30);
/// With fewer nodes than this in the table, the routers are asked again.
pub const REBOOTSTRAP_BELOW: usize = K;
/// With an empty table, the routers are asked again this often (a router that
/// dropped our first query should not leave us alone for a maintenance period).
pub const EMPTY_TABLE_RETRY: Duration = Duration::from_secs(5);
/// Queries in flight over all purposes.
pub const MAX_TRANSACTIONS: usize = 512;
/// Lookups at once; a lookup asked beyond this ends at once with nothing found.
pub const MAX_LOOKUPS: usize = 256;
/// Datagrams waiting to be sent; beyond it new ones are dropped.
pub const MAX_OUTBOX: usize = 1024;
/// Events waiting for the caller; beyond it `PeersFound` events are dropped
/// (the lookup's `LookupDone` still says how many peers it found).
pub const MAX_EVENTS: usize = 4096;
/// Bootstrap routers remembered.
pub const MAX_ROUTERS: usize = 32;
/// Questionable nodes pinged per maintenance round.
const PINGS_PER_ROUND: usize = 8;
/// Info-hashes in a `sample_infohashes` answer (BEP 51).
const SAMPLES_PER_REPLY: usize = 20;
/// What a `sample_infohashes` answer says about how often to ask again, in seconds.
const SAMPLE_INTERVAL_SECS: i64 = 300;

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct DhtConfig {
    /// Our id; None picks one (BEP 42 for `external_ip` if known, else random).
    pub id: Option<NodeId>,
    /// Our address as the internet sees it, if known (BEP 42).
    pub external_ip: Option<IpAddr>,
    /// Outgoing queries per second (a token bucket of one second's burst).
    pub query_rate: u32,
    /// Answers to other nodes' queries per second; beyond it queries are dropped.
    pub reply_rate: u32,
    /// The socket is IPv6: ask for and hand out `nodes6`.
    pub ipv6: bool,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            id: None,
            external_ip: None,
            query_rate: 100,
            reply_rate: 250,
            ipv6: false,
        }
    }
}

/// What a node reports to its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DhtEvent {
    /// New peers of a torrent from a `get_peers` lookup (each address once per lookup).
    PeersFound {
        lookup: LookupId,
        info_hash: InfoHash,
        peers: Vec<SocketAddr>,
    },
    /// A lookup has ended.
    LookupDone {
        lookup: LookupId,
        target: NodeId,
        /// The torrent, for a `get_peers` lookup.
        info_hash: Option<InfoHash>,
        peers_found: usize,
        /// The closest nodes that answered, closest first.
        closest: Vec<NodeInfo>,
        /// Nodes an `announce_peer` was sent to.
        announced_to: usize,
    },
}

/// Counters and sizes, for status output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DhtStats {
    pub nodes: usize,
    pub good_nodes: usize,
    pub queries_sent: u64,
    pub replies_received: u64,
    pub errors_received: u64,
    pub timeouts: u64,
    pub queries_received: u64,
    pub replies_sent: u64,
    /// Datagrams that were not KRPC, matched no query of ours, came from the wrong
    /// address, or found a limit reached.
    pub dropped: u64,
    pub announces_sent: u64,
    pub announces_received: u64,
    pub stored_hashes: usize,
    pub stored_peers: usize,
    pub active_lookups: usize,
    pub lookups_done: u64,
}

#[derive(Clone, Copy, Debug)]
enum Purpose {
    Lookup(LookupId),
    Ping,
    Announce,
}

#[derive(Clone, Debug)]
struct Transaction {
    addr: SocketAddr,
    id: Option<NodeId>,
    sent: Instant,
    purpose: Purpose,
}

/// A DHT node.
pub struct DhtNode {
    config: DhtConfig,
    id: NodeId,
    rng: SmallRng,
    table: RoutingTable,
    secrets: TokenSecrets,
    store: PeerStore,
    transactions: HashMap<u16, Transaction>,
    next_tid: u16,
    lookups: HashMap<LookupId, Lookup>,
    next_lookup: u64,
    routers: Vec<SocketAddr>,
    last_bootstrap: Option<Instant>,
    /// The bootstrap lookup under way, if any.
    bootstrap_lookup: Option<LookupId>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<DhtEvent>,
    queries: PacketBudget,
    replies: PacketBudget,
    next_maintenance: Instant,
    /// Addresses other nodes saw us at (BEP 42 `ip`), with how many said so.
    ip_votes: HashMap<IpAddr, u32>,
    stats: DhtStats,
}

impl DhtNode {
    /// A node with no contacts yet; `seed` drives its randomness (ids, tokens,
    /// transaction ids), so a run is reproducible.
    pub fn new(config: DhtConfig, seed: u64, now: Instant) -> DhtNode {
        let mut rng = SmallRng::seed_from_u64(seed);
        let id = match (config.id, config.external_ip) {
            (Some(id), _) => id,
            (None, Some(ip)) => NodeId::bep42(ip, &mut rng),
            (None, None) => NodeId::random(&mut rng),
        };
        let secrets = TokenSecrets::new(&mut rng, now);
        let next_tid = rng.gen();
        DhtNode {
            queries: PacketBudget::new(config.query_rate, now),
            replies: PacketBudget::new(config.reply_rate, now),
            config,
            id,
            table: RoutingTable::new(id, now),
            secrets,
            store: PeerStore::default(),
            transactions: HashMap::new(),
            next_tid,
            lookups: HashMap::new(),
            next_lookup: 1,
            routers: Vec::new(),
            last_bootstrap: None,
            bootstrap_lookup: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            next_maintenance: now + MAINTENANCE_EVERY,
            ip_votes: HashMap::new(),
            rng,
            stats: DhtStats::default(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Counters and sizes now.
    pub fn stats(&self, now: Instant) -> DhtStats {
        DhtStats {
            nodes: self.table.len(),
            good_nodes: self.table.good_len(now),
            stored_hashes: self.store.hash_count(),
            stored_peers: self.store.peer_count(),
            active_lookups: self.lookups.len(),
            ..self.stats
        }
    }

    /// Nodes in the routing table (to save for the next run).
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.table.entries().map(|e| e.info).collect()
    }

    /// The address most nodes said they saw us at (BEP 42), once two agree.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.ip_votes
            .iter()
            .filter(|(_, n)| **n >= 2)
            .max_by_key(|(ip, n)| (**n, **ip))
            .map(|(ip, _)| *ip)
    }

    /// Bootstraps (again) from `routers` (ids unknown) and `known` nodes (saved
    /// from a previous run): a lookup of our own id through them.
    pub fn bootstrap(&mut self, now: Instant, routers: &[SocketAddr], known: &[NodeInfo]) {
        for r in routers {
            if !self.routers.contains(r) && self.routers.len() < MAX_ROUTERS {
                self.routers.push(*r);
            }
        }
        self.last_bootstrap = Some(now);
        let mut seeds = self.table.closest(&self.id, K, now);
        seeds.extend(known.iter().take(4 * K).copied());
        let routers = self.routers.clone();
        let id = self.start_lookup(now, self.id, LookupKind::FindNode, &seeds, &routers);
        self.bootstrap_lookup = self.lookups.contains_key(&id).then_some(id);
    }

    /// When the routers should be asked again because the table is still empty.
    fn empty_table_retry(&self) -> Option<Instant> {
        if !self.table.is_empty() || self.routers.is_empty() || self.bootstrap_lookup.is_some() {
            return None;
        }
        Some(
            self.last_bootstrap
                .map_or(self.next_maintenance, |t| t + EMPTY_TABLE_RETRY),
        )
    }

    /// Looks up the peers of `info_hash`; with a port, then announces us there.
    /// Peers arrive as [`DhtEvent::PeersFound`], the end as [`DhtEvent::LookupDone`].
    pub fn get_peers(&mut self, now: Instant, info_hash: InfoHash, announce_port: Option<u16>) -> LookupId {
        let seeds = self.table.closest(&NodeId::from(info_hash), K, now);
        // With an empty table the routers stand in, so a lookup asked before the
        // bootstrap ended still goes somewhere.
        let routers = if seeds.len() < K {
            self.routers.clone()
        } else {
            Vec::new()
        };
        self.start_lookup(
            now,
            NodeId::from(info_hash),
            LookupKind::GetPeers {
                info_hash,
                announce_port,
            },
            &seeds,
            &routers,
        )
    }

    /// Looks up the nodes closest to `target`.
    pub fn find_node(&mut self, now: Instant, target: NodeId) -> LookupId {
        let seeds = self.table.closest(&target, K, now);
        let routers = if seeds.len() < K {
            self.routers.clone()
        } else {
            Vec::new()
        };
        self.start_lookup(now, target, LookupKind::FindNode, &seeds, &routers)
    }

    fn start_lookup(
        &mut self,
        now: Instant,
        target: NodeId,
        kind: LookupKind,
        seeds: &[NodeInfo],
        routers: &[SocketAddr],
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let lookup = Lookup::new(id, self.id, target, kind, seeds, routers);
        if self.lookups.len() >= MAX_LOOKUPS {
            self.finish_lookup(lookup);
            return id;
        }
        self.lookups.insert(id, lookup);
        self.drive_lookups(now);
        id
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    /// When [`DhtNode::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.next_maintenance;
        if let Some(retry) = self.empty_table_retry() {
            t = t.min(retry);
        }
        if let Some(oldest) = self.transactions.values().map(|tx| tx.sent).min() {
            t = t.min(oldest + QUERY_TIMEOUT);
        }
        // Lookups held back by the query budget continue when it refills.
        if !self.lookups.is_empty() && self.queries.is_spent() {
            t = t.min(self.queries.next_allowed());
        }
        Some(t)
    }

    /// Expires unanswered queries, moves lookups on and does housekeeping.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .transactions
            .iter()
            .filter(|(_, tx)| now.saturating_duration_since(tx.sent) >= QUERY_TIMEOUT)
            .map(|(tid, _)| *tid)
            .collect();
        for tid in expired {
            if let Some(tx) = self.transactions.remove(&tid) {
                self.stats.timeouts += 1;
                if let Some(id) = tx.id {
                    self.table.mark_failed(&id, tx.addr, now);
                }
                if let Purpose::Lookup(l) = tx.purpose {
                    if let Some(lookup) = self.lookups.get_mut(&l) {
                        lookup.on_failure(tx.addr);
                    }
                }
            }
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE_EVERY;
            self.maintain(now);
        } else if self.empty_table_retry().is_some_and(|t| now >= t) {
            self.bootstrap(now, &[], &[]);
        }
        self.drive_lookups(now);
    }

    fn maintain(&mut self, now: Instant) {
        self.secrets.maybe_rotate(now, &mut self.rng);
        self.store.expire(now);
        if self.ip_votes.len() > 64 {
            self.ip_votes.clear();
        }
        let rebootstrap = self.table.len() < REBOOTSTRAP_BELOW
            && !self.routers.is_empty()
            && self
                .last_bootstrap
                .is_none_or(|t| now.saturating_duration_since(t) >= MAINTENANCE_EVERY);
        if rebootstrap {
            self.bootstrap(now, &[], &[]);
        }
        for target in self.table.refresh_targets(now, &mut self.rng) {
            if self.lookups.len() >= MAX_LOOKUPS / 2 {
                break;
            }
            self.find_node(now, target);
        }
        for n in self.table.questionable(now, PINGS_PER_ROUND) {
            self.ping(now, n.addr, Some(n.id));
        }
    }

    fn ping(&mut self, now: Instant, addr: SocketAddr, id: Option<NodeId>) {
        if self.transactions.values().any(|t| t.addr == addr) {
            return;
        }
        self.send_query(now, addr, id, Query::Ping, Purpose::Ping);
    }

    /// Sends a query if the budget allows; false if it did not go out.
    fn send_query(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        id: Option<NodeId>,
        query: Query,
        purpose: Purpose,
    ) -> bool {
        if self.transactions.len() >= MAX_TRANSACTIONS || self.outbox.len() >= MAX_OUTBOX || !self.queries.take(now) {
            return false;
        }
        // Bounded: at most MAX_TRANSACTIONS ids are taken out of 65,536.
        let mut tid = self.next_tid;
        while self.transactions.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        self.next_tid = tid.wrapping_add(1);
        let msg = Message {
            tid: tid.to_be_bytes().to_vec(),
            body: Body::Query {
                id: self.id,
                query,
                read_only: false,
            },
            ip: None,
        };
        self.outbox.push_back((addr, msg.encode()));
        self.transactions.insert(
            tid,
            Transaction {
                addr,
                id,
                sent: now,
                purpose,
            },
        );
        self.stats.queries_sent += 1;
        true
    }

    fn want(&self) -> Option<Want> {
        // BEP 32: say which families we want only when we could use IPv6.
        self.config.ipv6.then_some(Want { v4: false, v6: true })
    }

    fn drive_lookups(&mut self, now: Instant) {
        let mut ids: Vec<LookupId> = self.lookups.keys().copied().collect();
        ids.sort();
        for lid in ids {
            // Bounded by ALPHA per lookup (next_query stops at it).
            loop {
                if self.queries.is_spent() {
                    self.queries.refill(now);
                    if self.queries.is_spent() {
                        break;
                    }
                }
                let Some(lookup) = self.lookups.get_mut(&lid) else {
                    break;
                };
                let kind = lookup.kind;
                let target = lookup.target;
                let Some((id, addr)) = lookup.next_query() else { break };
                let query = match kind {
                    LookupKind::FindNode => Query::FindNode {
                        target,
                        want: self.want(),
                    },
                    LookupKind::GetPeers { info_hash, .. } => Query::GetPeers {
                        info_hash,
                        want: self.want(),
                    },
                };
                if !self.send_query(now, addr, id, query, Purpose::Lookup(lid)) {
                    if let Some(lookup) = self.lookups.get_mut(&lid) {
                        lookup.on_failure(addr);
                    }
                    break;
                }
            }
            if self.lookups.get(&lid).is_some_and(Lookup::is_done) {
                if let Some(lookup) = self.lookups.remove(&lid) {
                    self.finish_lookup_at(now, lookup);
                }
            }
        }
    }

    fn finish_lookup(&mut self, lookup: Lookup) {
        self.stats.lookups_done += 1;
        if self.bootstrap_lookup == Some(lookup.id) {
            self.bootstrap_lookup = None;
        }
        let info_hash = match lookup.kind {
            LookupKind::GetPeers { info_hash, .. } => Some(info_hash),
            LookupKind::FindNode => None,
        };
        self.events.push_back(DhtEvent::LookupDone {
            lookup: lookup.id,
            target: lookup.target,
            info_hash,
            peers_found: lookup.peers_found(),
            closest: lookup.closest_replied().into_iter().map(|(n, _)| n).collect(),
            announced_to: 0,
        });
    }

    fn finish_lookup_at(&mut self, now: Instant, lookup: Lookup) {
        let mut announced_to = 0;
        if let LookupKind::GetPeers {
            info_hash,
            announce_port: Some(port),
        } = lookup.kind
        {
            for (node, token) in lookup.closest_replied() {
                let Some(token) = token else { continue };
                let query = Query::AnnouncePeer {
                    info_hash,
                    port,
                    implied_port: false,
                    token,
                };
                if self.send_query(now, node.addr, Some(node.id), query, Purpose::Announce) {
                    announced_to += 1;
                    self.stats.announces_sent += 1;
                }
            }
        }
        self.finish_lookup(lookup);
        if let Some(DhtEvent::LookupDone { announced_to: a, .. }) = self.events.back_mut() {
            *a = announced_to;
        }
    }

    /// One datagram from `from`.
    pub fn handle_packet(&mut self, now: Instant, from: SocketAddr, packet: &[u8]) {
        let msg = match Message::decode(packet) {
            Ok(m) => m,
            Err(KrpcError::BadQuery { tid, field }) => {
                self.stats.dropped += 1;
                self.reply_error(now, from, tid, error_code::PROTOCOL, &format!("bad argument {field}"));
                return;
            }
            Err(_) => {
                self.stats.dropped += 1;
                return;
            }
        };
        match msg.body {
            Body::Query { id, query, read_only } => self.on_query(now, from, msg.tid, id, query, read_only),
            Body::Response(r) => self.on_response(now, from, &msg.tid, msg.ip, r),
            Body::Error { .. } => self.on_error(now, from, &msg.tid),
        }
        self.drive_lookups(now);
    }

    fn take_transaction(&mut self, from: SocketAddr, tid: &[u8]) -> Option<Transaction> {
        let tid: [u8; 2] = tid.try_into().ok()?;
        let tid = u16::from_be_bytes(tid);
        // A reply must come from where the query went; anything else is ignored and
        // the query stays open for the real answer.
        if self.transactions.get(&tid)?.addr != from {
            return None;
        }
        self.transactions.remove(&tid)
    }

    fn on_response(&mut self, now: Instant, from: SocketAddr, tid: &[u8], ip: Option<SocketAddr>, r: Response) {
        let Some(tx) = self.take_transaction(from, tid) else {
            self.stats.dropped += 1;
            return;
        };
        self.stats.replies_received += 1;
        if let Some(ip) = ip {
            if self.ip_votes.len() < 64 || self.ip_votes.contains_key(&ip.ip()) {
                *self.ip_votes.entry(ip.ip()).or_default() += 1;
            }
        }
        let honest = tx.id.is_none_or(|id| id == r.id);
        if honest && r.id != self.id {
            if let Inserted::Full { ping } = self.table.insert(NodeInfo { id: r.id, addr: from }, now) {
                for n in ping.into_iter().take(2) {
                    self.ping(now, n.addr, Some(n.id));
                }
            }
        }
        if let Purpose::Lookup(lid) = tx.purpose {
            let Some(lookup) = self.lookups.get_mut(&lid) else {
                return;
            };
            let peers = lookup.on_reply(from, &r);
            if let (LookupKind::GetPeers { info_hash, .. }, false) = (lookup.kind, peers.is_empty()) {
                if self.events.len() < MAX_EVENTS {
                    self.events.push_back(DhtEvent::PeersFound {
                        lookup: lid,
                        info_hash,
                        peers,
                    });
                }
            }
        }
    }

    fn on_error(&mut self, _now: Instant, from: SocketAddr, tid: &[u8]) {
        let Some(tx) = self.take_transaction(from, tid) else {
            self.stats.dropped += 1;
            return;
        };
        self.stats.errors_received += 1;
        if let Purpose::Lookup(lid) = tx.purpose {
            if let Some(lookup) = self.lookups.get_mut(&lid) {
                lookup.on_failure(from);
            }
        }
    }
}

mod answering;
mod packet_budget;

use self::packet_budget::PacketBudget;

#[cfg(test)]
mod tests;
