//! The IP filter's shapes: `GET /api/v1/ipfilter`, `POST /api/v1/ipfilter/reload`,
//! `GET /api/v1/ipfilter/check/{addr}`, and the blocked counts in `/api/v1/stats`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/ipfilter` (and the answer of a reload).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpFilterStatus {
    /// Some list is configured (`[security] ip_filter`).
    pub enabled: bool,
    /// Disjoint blocked ranges in force, after merging and allow exceptions.
    pub ranges_v4: u64,
    pub ranges_v6: u64,
    /// Each configured list as last read.
    pub lists: Vec<IpFilterList>,
    /// Unix seconds of the load in force; none = nothing loaded yet.
    pub loaded_at: Option<u64>,
    /// How long that load took, milliseconds.
    pub load_ms: u64,
    /// Why the last reload was refused (the filter in force stayed); none = it
    /// succeeded.
    pub last_error: Option<String>,
    pub blocked: IpFilterBlocked,
}

/// One blocklist file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpFilterList {
    pub path: String,
    /// `plain` or `gzip`.
    pub compression: String,
    /// Lines read, comments included.
    pub lines: u64,
    /// Ranges that block, as read (before merging).
    pub blocked_ranges: u64,
    /// eMule ranges with a level of 128 or more: allowed whatever blocks them.
    pub allowed_ranges: u64,
    /// Ranges per format recognised: `emule`, `p2p`, `cidr`, `range`, `single`.
    pub formats: BTreeMap<String, u64>,
    /// Lines not understood; the first few are in `malformed_examples`.
    pub malformed_lines: u64,
    pub malformed_examples: Vec<MalformedListLine>,
    /// Why the file could not be read; none = read.
    pub error: Option<String>,
}

/// A line of a list that was not understood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedListLine {
    /// 1-based.
    pub line: u64,
    pub error: String,
    pub text: String,
}

/// What the IP filter refused since the daemon started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFilterBlocked {
    /// Every refusal below, summed.
    pub total: u64,
    /// Incoming connections closed at accept, before the handshake.
    pub incoming: u64,
    /// Dials not made to an address known before a reload blocked it.
    pub outgoing: u64,
    /// Connections closed because a reload blocked their address.
    pub disconnected: u64,
    /// Addresses dropped before they reached a torrent's peer list, by where they
    /// came from: `tracker`, `dht`, `pex`, `lsd`, `incoming`, `manual`.
    pub by_source: BTreeMap<String, u64>,
}

/// `GET /api/v1/ipfilter/check/{addr}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFilterCheck {
    pub address: String,
    pub blocked: bool,
}
