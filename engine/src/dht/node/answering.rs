//! The node's answers to other nodes' queries (ping, find_node, get_peers,
//! announce_peer, sample_infohashes), each within the reply budget.

use std::net::SocketAddr;
use std::time::Instant;

use super::{DhtNode, MAX_OUTBOX, SAMPLES_PER_REPLY, SAMPLE_INTERVAL_SECS};
use crate::dht::compact::NodeInfo;
use crate::dht::krpc::{error_code, Body, Message, Query, Response, Want};
use crate::dht::node_id::NodeId;
use crate::dht::routing_table::K;

impl DhtNode {
    pub(super) fn on_query(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: Vec<u8>,
        id: NodeId,
        query: Query,
        read_only: bool,
    ) {
        self.stats.queries_received += 1;
        if id == self.id || !self.replies.take(now) {
            self.stats.dropped += 1;
            return;
        }
        let mut r = Response {
            id: self.id,
            ..Default::default()
        };
        match query {
            Query::Ping => {}
            Query::FindNode { target, want } => self.fill_nodes(&mut r, &target, from, want, now),
            Query::GetPeers { info_hash, want } => {
                r.token = Some(self.secrets.token_for(from.ip()).to_vec());
                r.values = self.store.peers(&info_hash, from.is_ipv6(), now, &mut self.rng);
                self.fill_nodes(&mut r, &NodeId::from(info_hash), from, want, now);
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                if !self.secrets.is_valid(&token, from.ip()) {
                    return self.reply_error(now, from, tid, error_code::PROTOCOL, "bad token");
                }
                let port = if implied_port { from.port() } else { port };
                if port == 0 {
                    return self.reply_error(now, from, tid, error_code::PROTOCOL, "bad port");
                }
                self.stats.announces_received += 1;
                self.store.announce(info_hash, SocketAddr::new(from.ip(), port), now);
            }
            Query::SampleInfohashes { target, want } => {
                r.samples = self.store.sample(SAMPLES_PER_REPLY, &mut self.rng);
                r.num = Some(self.store.hash_count() as i64);
                r.interval = Some(SAMPLE_INTERVAL_SECS);
                self.fill_nodes(&mut r, &target, from, want, now);
            }
            Query::Unknown { .. } => {
                return self.reply_error(now, from, tid, error_code::METHOD_UNKNOWN, "method unknown");
            }
        }
        self.send_reply(from, tid, Body::Response(r));
        // A node that talks to us may belong in the table: ask it ourselves (its
        // answer is what puts it there), if it is new and its bucket has room.
        if !read_only && self.table.wants(&NodeInfo { id, addr: from }, now) {
            self.ping(now, from, Some(id));
        }
    }

    fn fill_nodes(&self, r: &mut Response, target: &NodeId, from: SocketAddr, want: Option<Want>, now: Instant) {
        let want = want.unwrap_or(Want {
            v4: from.is_ipv4(),
            v6: from.is_ipv6(),
        });
        let closest = self.table.closest(target, K * 2, now);
        if want.v4 {
            r.nodes = closest.iter().filter(|n| n.addr.is_ipv4()).take(K).copied().collect();
        }
        if want.v6 {
            r.nodes6 = closest.iter().filter(|n| n.addr.is_ipv6()).take(K).copied().collect();
        }
    }

    pub(super) fn reply_error(&mut self, now: Instant, to: SocketAddr, tid: Vec<u8>, code: i64, message: &str) {
        if !self.replies.take(now) {
            return;
        }
        self.send_reply(
            to,
            tid,
            Body::Error {
                code,
                message: message.to_string(),
            },
        );
    }

    fn send_reply(&mut self, to: SocketAddr, tid: Vec<u8>, body: Body) {
        if self.outbox.len() >= MAX_OUTBOX {
            self.stats.dropped += 1;
            return;
        }
        let msg = Message {
            tid,
            body,
            ip: Some(to),
        };
        self.outbox.push_back((to, msg.encode()));
        self.stats.replies_sent += 1;
    }
}
