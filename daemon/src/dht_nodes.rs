//! The DHT routing table kept across restarts: `dht_nodes.json` in the state dir
//! holds our node id and the table's nodes, so a restart rejoins through them
//! instead of the public routers alone. Written atomically; a missing, unreadable
//! or malformed file means a fresh start (logged), never a failed one.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use ccbt_engine::dht::{NodeId, NodeInfo};
use ccbt_shards::{DhtSettings, DhtStatus};
use serde::{Deserialize, Serialize};

use crate::state_dir::write_atomic;

/// The file's name in the state dir.
pub const DHT_NODES_FILE: &str = "dht_nodes.json";
/// Nodes saved at most (a full table near us is a few hundred).
pub const MAX_SAVED_NODES: usize = 512;
/// Largest file read back.
const MAX_FILE_BYTES: u64 = 256 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct SavedTable {
    /// Our node id, hex.
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_ip: Option<IpAddr>,
    nodes: Vec<SavedNode>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedNode {
    id: String,
    addr: SocketAddr,
}

fn parse_id(hex: &str) -> Option<NodeId> {
    ccbt_engine::InfoHash::from_hex(hex).map(|h| NodeId(h.0))
}

/// Fills `settings` with the id and nodes of the last run, if the file holds them.
pub fn load_into(state_dir: &Path, settings: &mut DhtSettings) {
    let path = state_dir.join(DHT_NODES_FILE);
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if m.len() <= MAX_FILE_BYTES => match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return tracing::warn!(path = %path.display(), error = %e, "DHT nodes not read"),
        },
        Ok(m) => return tracing::warn!(path = %path.display(), bytes = m.len(), "DHT nodes file too large; ignored"),
        Err(_) => return,
    };
    let saved: SavedTable = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => return tracing::warn!(path = %path.display(), error = %e, "DHT nodes file malformed; ignored"),
    };
    settings.node_id = parse_id(&saved.id);
    settings.external_ip = saved.external_ip;
    settings.saved_nodes = saved
        .nodes
        .iter()
        .take(MAX_SAVED_NODES)
        .filter_map(|n| {
            Some(NodeInfo {
                id: parse_id(&n.id)?,
                addr: n.addr,
            })
        })
        .collect();
    // An id made before our external address was known is replaced by a BEP 42
    // one once it is.
    if let (Some(id), Some(ip)) = (settings.node_id, settings.external_ip) {
        if !id.is_bep42_for(ip) {
            settings.node_id = None;
        }
    }
}

/// Writes the node's id and table; logs (does not fail) on error.
pub fn save(state_dir: &Path, status: &DhtStatus) {
    if status.nodes.is_empty() {
        // Nothing learned (offline, or stopped at once): keep what the last run saved.
        return;
    }
    let saved = SavedTable {
        id: status.id.to_string(),
        external_ip: status.external_ip,
        nodes: status
            .nodes
            .iter()
            .take(MAX_SAVED_NODES)
            .map(|n| SavedNode {
                id: n.id.to_string(),
                addr: n.addr,
            })
            .collect(),
    };
    let path = state_dir.join(DHT_NODES_FILE);
    let result = serde_json::to_vec(&saved)
        .map_err(|e| e.to_string())
        .and_then(|json| write_atomic(&path, &json).map_err(|e| e.to_string()));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "DHT nodes not saved");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_table_comes_back_and_junk_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<NodeInfo> = (1..=3u8)
            .map(|b| NodeInfo {
                id: NodeId([b; 20]),
                addr: SocketAddr::from(([10, 0, 0, b], 6881)),
            })
            .collect();
        let status = DhtStatus {
            id: NodeId([9; 20]),
            nodes: nodes.clone(),
            ..Default::default()
        };
        save(dir.path(), &status);
        let mut settings = DhtSettings::default();
        load_into(dir.path(), &mut settings);
        assert_eq!(settings.node_id, Some(NodeId([9; 20])));
        assert_eq!(settings.saved_nodes, nodes);
        // An empty table does not overwrite a good file.
        save(dir.path(), &DhtStatus::default());
        let mut again = DhtSettings::default();
        load_into(dir.path(), &mut again);
        assert_eq!(again.saved_nodes.len(), 3);
        std::fs::write(dir.path().join(DHT_NODES_FILE), b"{not json").unwrap();
        let mut fresh = DhtSettings::default();
        load_into(dir.path(), &mut fresh);
        assert!(fresh.node_id.is_none() && fresh.saved_nodes.is_empty());
    }
}
