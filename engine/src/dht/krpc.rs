//! KRPC messages (BEP 5): queries, responses and errors as bencoded dictionaries
//! over UDP, with BEP 32's `nodes6`/`want`, BEP 42's `ip` and BEP 51's
//! `sample_infohashes`.
//!
//! Every datagram is hostile: its size is capped before parsing ([`MAX_PACKET`]),
//! nesting is capped after ([`MAX_NESTING`]), every field is type-checked, unknown
//! keys are ignored, and lists are read up to a bound ([`MAX_NODES`],
//! [`MAX_VALUES`]) whatever their length.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::bencode::{self, BencodeError, Value};
use crate::InfoHash;

use super::compact::{self, NodeInfo};
use super::node_id::NodeId;

/// Largest datagram we parse. Real KRPC packets are built to fit one Ethernet
/// frame (about 1.5 KB with a full reply); the slack covers generous encoders.
pub const MAX_PACKET: usize = 2048;
/// Deepest nesting a KRPC message needs: message → `r` → `values` → string.
pub const MAX_NESTING: usize = 4;
/// Nodes read from one `nodes` or `nodes6` string; the rest are ignored.
pub const MAX_NODES: usize = 16;
/// Peers read from one `values` list; the rest are ignored.
pub const MAX_VALUES: usize = 100;
/// Longest transaction id we echo or accept (ours are 2 bytes).
pub const MAX_TID_LEN: usize = 16;
/// Longest token we keep from another node.
pub const MAX_TOKEN_LEN: usize = 64;
/// Info-hashes read from one `samples` string (BEP 51).
pub const MAX_SAMPLES: usize = 64;

/// KRPC error codes (BEP 5).
pub mod error_code {
    pub const GENERIC: i64 = 201;
    pub const SERVER: i64 = 202;
    pub const PROTOCOL: i64 = 203;
    pub const METHOD_UNKNOWN: i64 = 204;
}

/// Address families a querier wants nodes of (BEP 32 `want`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Want {
    pub v4: bool,
    pub v6: bool,
}

/// A query's method and arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Ping,
    FindNode {
        target: NodeId,
        want: Option<Want>,
    },
    GetPeers {
        info_hash: InfoHash,
        want: Option<Want>,
    },
    AnnouncePeer {
        info_hash: InfoHash,
        port: u16,
        /// Use the UDP source port instead of `port` (BEP 5 `implied_port`).
        implied_port: bool,
        token: Vec<u8>,
    },
    /// BEP 51.
    SampleInfohashes {
        target: NodeId,
        want: Option<Want>,
    },
    /// A method we do not know; answered with error 204.
    Unknown {
        method: String,
    },
}

impl Query {
    /// The method name on the wire.
    pub fn method(&self) -> &str {
        match self {
            Query::Ping => "ping",
            Query::FindNode { .. } => "find_node",
            Query::GetPeers { .. } => "get_peers",
            Query::AnnouncePeer { .. } => "announce_peer",
            Query::SampleInfohashes { .. } => "sample_infohashes",
            Query::Unknown { method } => method,
        }
    }
}

/// A response's fields; which are present depends on the query it answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub id: NodeId,
    /// IPv4 nodes (`nodes`).
    pub nodes: Vec<NodeInfo>,
    /// IPv6 nodes (`nodes6`).
    pub nodes6: Vec<NodeInfo>,
    /// Peers (`values`) of a `get_peers` answer.
    pub values: Vec<SocketAddr>,
    pub token: Option<Vec<u8>>,
    /// BEP 51: a sample of the info-hashes the node stores, its refresh interval
    /// in seconds and how many it stores in all.
    pub samples: Vec<InfoHash>,
    pub interval: Option<i64>,
    pub num: Option<i64>,
}

/// What a message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Query {
        /// The querier's id.
        id: NodeId,
        query: Query,
        /// BEP 43: the querier does not answer queries, so it is not a routing-table candidate.
        read_only: bool,
    },
    Response(Response),
    Error {
        code: i64,
        message: String,
    },
}

/// One KRPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction id: chosen by the querier, echoed by the responder.
    pub tid: Vec<u8>,
    pub body: Body,
    /// BEP 42: the address the responder saw the query come from.
    pub ip: Option<SocketAddr>,
}

/// Why a datagram was not a KRPC message we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KrpcError {
    #[error("KRPC packet of {len} bytes is larger than {max}", max = MAX_PACKET)]
    TooLarge { len: usize },
    #[error("KRPC packet is not bencode: {0}")]
    Bencode(#[from] BencodeError),
    #[error("KRPC packet nests deeper than {max} levels", max = MAX_NESTING)]
    TooDeep,
    #[error("KRPC packet is not a dictionary")]
    NotADict,
    #[error("KRPC field `{0}` is missing or has the wrong type")]
    BadField(&'static str),
    #[error("KRPC message type `y` is not q, r or e")]
    UnknownType,
    /// A query we can name but not accept; the querier can be told (error 203).
    #[error("KRPC query with transaction {tid:?} is malformed: field `{field}`")]
    BadQuery { tid: Vec<u8>, field: &'static str },
}

impl Message {
    /// Parses one datagram.
    pub fn decode(packet: &[u8]) -> Result<Message, KrpcError> {
        if packet.len() > MAX_PACKET {
            return Err(KrpcError::TooLarge { len: packet.len() });
        }
        // Keys in any order: not every implementation sorts them.
        let root = bencode::decode_lenient(packet)?;
        if nesting(&root) > MAX_NESTING {
            return Err(KrpcError::TooDeep);
        }
        let dict = root.as_dict().ok_or(KrpcError::NotADict)?;
        let tid = bytes(dict, "t").ok_or(KrpcError::BadField("t"))?;
        if tid.len() > MAX_TID_LEN {
            return Err(KrpcError::BadField("t"));
        }
        let tid = tid.to_vec();
        let ip = bytes(dict, "ip").and_then(compact::read_peer);
        let body = match bytes(dict, "y") {
            Some(b"q") => decode_query(dict, &tid)?,
            Some(b"r") => Body::Response(decode_response(dict)?),
            Some(b"e") => decode_error(dict)?,
            Some(_) => return Err(KrpcError::UnknownType),
            None => return Err(KrpcError::BadField("y")),
        };
        Ok(Message { tid, body, ip })
    }

    /// The canonical bencoding of this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut top: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
        top.insert(b"t".to_vec(), Value::Bytes(self.tid.clone()));
        if let Some(ip) = &self.ip {
            let mut b = Vec::new();
            compact::write_peer(ip, &mut b);
            top.insert(b"ip".to_vec(), Value::Bytes(b));
        }
        match &self.body {
            Body::Query { id, query, read_only } => {
                top.insert(b"y".to_vec(), Value::string("q"));
                top.insert(b"q".to_vec(), Value::string(query.method()));
                top.insert(b"a".to_vec(), Value::Dict(query_args(id, query)));
                if *read_only {
                    top.insert(b"ro".to_vec(), Value::Int(1));
                }
            }
            Body::Response(r) => {
                top.insert(b"y".to_vec(), Value::string("r"));
                top.insert(b"r".to_vec(), Value::Dict(response_fields(r)));
            }
            Body::Error { code, message } => {
                top.insert(b"y".to_vec(), Value::string("e"));
                top.insert(
                    b"e".to_vec(),
                    Value::List(vec![Value::Int(*code), Value::string(message)]),
                );
            }
        }
        top.insert(b"v".to_vec(), Value::Bytes(CLIENT_VERSION.to_vec()));
        bencode::encode(&Value::Dict(top))
    }
}

/// Our `v` key: two letters of client id and two of version (BEP 5 convention).
const CLIENT_VERSION: &[u8; 4] = b"CB\x01\x00";

fn nesting(v: &Value) -> usize {
    match v {
        Value::Int(_) | Value::Bytes(_) => 1,
        Value::List(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Dict(map) => 1 + map.values().map(nesting).max().unwrap_or(0),
    }
}

fn bytes<'a>(d: &'a BTreeMap<Vec<u8>, Value>, key: &str) -> Option<&'a [u8]> {
    d.get(key.as_bytes()).and_then(Value::as_bytes)
}

fn id20(d: &BTreeMap<Vec<u8>, Value>, key: &str) -> Option<[u8; 20]> {
    bytes(d, key).and_then(|b| b.try_into().ok())
}

fn decode_want(a: &BTreeMap<Vec<u8>, Value>) -> Option<Want> {
    let list = a.get(b"want".as_slice())?.as_list()?;
    let mut want = Want::default();
    for item in list.iter().take(4) {
        match item.as_bytes() {
            Some(b"n4") => want.v4 = true,
            Some(b"n6") => want.v6 = true,
            _ => {}
        }
    }
    Some(want)
}

fn decode_query(dict: &BTreeMap<Vec<u8>, Value>, tid: &[u8]) -> Result<Body, KrpcError> {
    let bad = |field| KrpcError::BadQuery {
        tid: tid.to_vec(),
        field,
    };
    let method = bytes(dict, "q").ok_or_else(|| bad("q"))?;
    let a = dict
        .get(b"a".as_slice())
        .and_then(Value::as_dict)
        .ok_or_else(|| bad("a"))?;
    let id = NodeId(id20(a, "id").ok_or_else(|| bad("id"))?);
    let read_only = dict.get(b"ro".as_slice()).and_then(Value::as_int) == Some(1);
    let query = match method {
        b"ping" => Query::Ping,
        b"find_node" => Query::FindNode {
            target: NodeId(id20(a, "target").ok_or_else(|| bad("target"))?),
            want: decode_want(a),
        },
        b"get_peers" => Query::GetPeers {
            info_hash: InfoHash(id20(a, "info_hash").ok_or_else(|| bad("info_hash"))?),
            want: decode_want(a),
        },
        b"announce_peer" => {
            let port = a.get(b"port".as_slice()).and_then(Value::as_int);
            let implied_port = a.get(b"implied_port".as_slice()).and_then(Value::as_int) == Some(1);
            let port = match port.map(u16::try_from) {
                Some(Ok(p)) => p,
                // With implied_port the port argument may be absent or anything.
                _ if implied_port => 0,
                _ => return Err(bad("port")),
            };
            let token = bytes(a, "token")
                .filter(|t| t.len() <= MAX_TOKEN_LEN)
                .ok_or_else(|| bad("token"))?;
            Query::AnnouncePeer {
                info_hash: InfoHash(id20(a, "info_hash").ok_or_else(|| bad("info_hash"))?),
                port,
                implied_port,
                token: token.to_vec(),
            }
        }
        b"sample_infohashes" => Query::SampleInfohashes {
            target: NodeId(id20(a, "target").ok_or_else(|| bad("target"))?),
            want: decode_want(a),
        },
        other => Query::Unknown {
            method: String::from_utf8_lossy(&other[..other.len().min(32)]).into_owned(),
        },
    };
    Ok(Body::Query { id, query, read_only })
}

fn decode_response(dict: &BTreeMap<Vec<u8>, Value>) -> Result<Response, KrpcError> {
    let r = dict
        .get(b"r".as_slice())
        .and_then(Value::as_dict)
        .ok_or(KrpcError::BadField("r"))?;
    let id = NodeId(id20(r, "id").ok_or(KrpcError::BadField("id"))?);
    let nodes = match bytes(r, "nodes") {
        Some(b) => compact::read_nodes(b, false, MAX_NODES).ok_or(KrpcError::BadField("nodes"))?,
        None => Vec::new(),
    };
    let nodes6 = match bytes(r, "nodes6") {
        Some(b) => compact::read_nodes(b, true, MAX_NODES).ok_or(KrpcError::BadField("nodes6"))?,
        None => Vec::new(),
    };
    let values = match r.get(b"values".as_slice()) {
        Some(v) => v
            .as_list()
            .ok_or(KrpcError::BadField("values"))?
            .iter()
            .take(MAX_VALUES)
            .filter_map(|v| v.as_bytes().and_then(compact::read_peer))
            .collect(),
        None => Vec::new(),
    };
    let token = bytes(r, "token")
        .filter(|t| t.len() <= MAX_TOKEN_LEN)
        .map(<[u8]>::to_vec);
    let samples = match bytes(r, "samples") {
        Some(b) if b.len() % 20 == 0 => b
            .chunks_exact(20)
            .take(MAX_SAMPLES)
            .filter_map(|c| c.try_into().ok().map(InfoHash))
            .collect(),
        Some(_) => return Err(KrpcError::BadField("samples")),
        None => Vec::new(),
    };
    Ok(Response {
        id,
        nodes,
        nodes6,
        values,
        token,
        samples,
        interval: r.get(b"interval".as_slice()).and_then(Value::as_int),
        num: r.get(b"num".as_slice()).and_then(Value::as_int),
    })
}

fn decode_error(dict: &BTreeMap<Vec<u8>, Value>) -> Result<Body, KrpcError> {
    let e = dict
        .get(b"e".as_slice())
        .and_then(Value::as_list)
        .ok_or(KrpcError::BadField("e"))?;
    let code = e.first().and_then(Value::as_int).ok_or(KrpcError::BadField("e"))?;
    let message = e
        .get(1)
        .and_then(Value::as_bytes)
        .map(|m| String::from_utf8_lossy(&m[..m.len().min(128)]).into_owned())
        .unwrap_or_default();
    Ok(Body::Error { code, message })
}

fn want_value(want: &Option<Want>) -> Option<Value> {
    let w = want.as_ref()?;
    let mut list = Vec::new();
    if w.v4 {
        list.push(Value::string("n4"));
    }
    if w.v6 {
        list.push(Value::string("n6"));
    }
    Some(Value::List(list))
}

fn query_args(id: &NodeId, query: &Query) -> BTreeMap<Vec<u8>, Value> {
    let mut a = BTreeMap::new();
    a.insert(b"id".to_vec(), Value::Bytes(id.0.to_vec()));
    let mut want = None;
    match query {
        Query::Ping | Query::Unknown { .. } => {}
        Query::FindNode { target, want: w } | Query::SampleInfohashes { target, want: w } => {
            a.insert(b"target".to_vec(), Value::Bytes(target.0.to_vec()));
            want = want_value(w);
        }
        Query::GetPeers { info_hash, want: w } => {
            a.insert(b"info_hash".to_vec(), Value::Bytes(info_hash.0.to_vec()));
            want = want_value(w);
        }
        Query::AnnouncePeer {
            info_hash,
            port,
            implied_port,
            token,
        } => {
            a.insert(b"info_hash".to_vec(), Value::Bytes(info_hash.0.to_vec()));
            a.insert(b"port".to_vec(), Value::Int(i64::from(*port)));
            a.insert(b"token".to_vec(), Value::Bytes(token.clone()));
            if *implied_port {
                a.insert(b"implied_port".to_vec(), Value::Int(1));
            }
        }
    }
    if let Some(w) = want {
        a.insert(b"want".to_vec(), w);
    }
    a
}

fn response_fields(r: &Response) -> BTreeMap<Vec<u8>, Value> {
    let mut m = BTreeMap::new();
    m.insert(b"id".to_vec(), Value::Bytes(r.id.0.to_vec()));
    if !r.nodes.is_empty() {
        m.insert(b"nodes".to_vec(), Value::Bytes(compact::write_nodes(&r.nodes, false)));
    }
    if !r.nodes6.is_empty() {
        m.insert(b"nodes6".to_vec(), Value::Bytes(compact::write_nodes(&r.nodes6, true)));
    }
    if !r.values.is_empty() {
        let values = r
            .values
            .iter()
            .map(|p| {
                let mut b = Vec::new();
                compact::write_peer(p, &mut b);
                Value::Bytes(b)
            })
            .collect();
        m.insert(b"values".to_vec(), Value::List(values));
    }
    if let Some(t) = &r.token {
        m.insert(b"token".to_vec(), Value::Bytes(t.clone()));
    }
    if !r.samples.is_empty() {
        let s = r.samples.iter().flat_map(|h| h.0).collect();
        m.insert(b"samples".to_vec(), Value::Bytes(s));
    }
    if let Some(i) = r.interval {
        m.insert(b"interval".to_vec(), Value::Int(i));
    }
    if let Some(n) = r.num {
        m.insert(b"num".to_vec(), Value::Int(n));
    }
    m
}

#[cfg(test)]
mod tests;
