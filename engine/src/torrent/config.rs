//! Per-torrent tunables, with defaults that serve without a config file.

use std::time::Duration;

/// Limits and timings of one torrent's protocol state.
#[derive(Clone, Debug)]
pub struct TorrentConfig {
    /// Regular unchoke slots; 0 unchokes every interested peer.
    pub unchoke_slots: usize,
    /// Outstanding requests a peer may have queued with us before we reject more.
    pub max_peer_requests: usize,
    /// A request unanswered this long is given to another peer.
    pub request_timeout: Duration,
    /// A peer that sends nothing at all (not even a keep-alive) this long is dropped.
    pub peer_idle_timeout: Duration,
    /// Pieces that failed their hash with a peer's data before it is banned.
    pub max_hash_failures: u32,
    /// How long an address that sent corrupt data is refused.
    pub ban_duration: Duration,
    /// Cap on pieces being assembled in memory at once (0 = no cap).
    pub max_in_flight_pieces: u32,
    /// Download pieces in index order instead of rarest first.
    pub sequential: bool,
    /// Pieces offered as allowed-fast to peers we choke (BEP 6).
    pub allowed_fast_count: usize,
    /// Listen port advertised in the extension handshake.
    pub listen_port: Option<u16>,
    /// Client name in the extension handshake.
    pub client_name: String,
    /// Exchange peers with `ut_pex` (BEP 11); private torrents never do.
    pub pex: bool,
}

impl Default for TorrentConfig {
    fn default() -> Self {
        TorrentConfig {
            unchoke_slots: 8,
            max_peer_requests: 2000,
            request_timeout: Duration::from_secs(20),
            peer_idle_timeout: Duration::from_secs(180),
            max_hash_failures: 3,
            ban_duration: Duration::from_secs(3600),
            max_in_flight_pieces: 256,
            sequential: false,
            allowed_fast_count: 10,
            listen_port: None,
            client_name: concat!("ccbt ", env!("CARGO_PKG_VERSION")).to_string(),
            pex: true,
        }
    }
}
