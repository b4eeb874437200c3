//! Compact address forms (BEP 5, BEP 32): peers as 6 or 18 bytes, nodes as their id
//! followed by one of those.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::node_id::NodeId;

/// Bytes of a compact IPv4 peer (address, port).
pub const PEER_V4_LEN: usize = 6;
/// Bytes of a compact IPv6 peer.
pub const PEER_V6_LEN: usize = 18;
/// Bytes of a compact IPv4 node (id, address, port).
pub const NODE_V4_LEN: usize = 20 + PEER_V4_LEN;
/// Bytes of a compact IPv6 node.
pub const NODE_V6_LEN: usize = 20 + PEER_V6_LEN;

/// A node as other nodes describe it: its id and where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    pub id: NodeId,
    pub addr: SocketAddr,
}

/// Appends the compact form of `addr` (6 bytes for IPv4, 18 for IPv6).
pub fn write_peer(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// A compact peer of exactly 6 or 18 bytes; `None` for other lengths or port 0.
pub fn read_peer(b: &[u8]) -> Option<SocketAddr> {
    let (ip, port) = match b.len() {
        PEER_V4_LEN => {
            let ip: [u8; 4] = b[..4].try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(ip)), &b[4..])
        }
        PEER_V6_LEN => {
            let ip: [u8; 16] = b[..16].try_into().ok()?;
            (IpAddr::V6(Ipv6Addr::from(ip)), &b[16..])
        }
        _ => return None,
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    (port != 0).then_some(SocketAddr::new(ip, port))
}

/// Packs nodes of one family into a `nodes` (IPv4) or `nodes6` string.
pub fn write_nodes(nodes: &[NodeInfo], v6: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(nodes.len() * if v6 { NODE_V6_LEN } else { NODE_V4_LEN });
    for n in nodes.iter().filter(|n| n.addr.is_ipv6() == v6) {
        out.extend_from_slice(&n.id.0);
        write_peer(&n.addr, &mut out);
    }
    out
}

/// Unpacks at most `max` nodes from a `nodes` (IPv4) or `nodes6` string; `None`
/// if its length is not a whole number of entries. Entries with port 0 are skipped.
pub fn read_nodes(b: &[u8], v6: bool, max: usize) -> Option<Vec<NodeInfo>> {
    let entry = if v6 { NODE_V6_LEN } else { NODE_V4_LEN };
    if b.len() % entry != 0 {
        return None;
    }
    Some(
        b.chunks_exact(entry)
            .take(max)
            .filter_map(|c| {
                let id = NodeId(c[..20].try_into().ok()?);
                let addr = read_peer(&c[20..])?;
                Some(NodeInfo { id, addr })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_round_trip_in_both_families() {
        for addr in ["1.2.3.4:6881", "[2001:db8::1]:51413"] {
            let addr: SocketAddr = addr.parse().unwrap();
            let mut b = Vec::new();
            write_peer(&addr, &mut b);
            assert_eq!(read_peer(&b), Some(addr));
        }
        assert_eq!(read_peer(&[1, 2, 3, 4, 0, 0]), None, "port 0");
        assert_eq!(read_peer(&[1, 2, 3]), None);
    }

    #[test]
    fn node_strings_need_whole_entries() {
        let n = NodeInfo {
            id: NodeId([9; 20]),
            addr: "10.0.0.1:1000".parse().unwrap(),
        };
        let b = write_nodes(&[n, n], false);
        assert_eq!(b.len(), 52);
        assert_eq!(read_nodes(&b, false, 8).unwrap(), vec![n, n]);
        assert_eq!(read_nodes(&b, false, 1).unwrap(), vec![n]);
        assert!(read_nodes(&b[..51], false, 8).is_none());
        assert!(read_nodes(&b, true, 8).is_none());
    }
}
