//! `[peers]`: how many peer connections the session keeps, and how fast it takes new
//! ones. Every key is per shard, as the shards count on their own (`max_connections`
//! 4000 with 2 shards allows 8000 in all); read at start (a change needs a restart).
//!
//! ```toml
//! [peers]
//! max_connections = 4000      # per shard, over all its torrents
//! max_per_torrent = 100
//! max_half_open = 64          # dials still connecting, per shard
//! max_per_ip = 8              # incoming connections from one address to one torrent
//! handshakes_per_sec = 200    # incoming connections accepted per second (0 = no limit)
//! ```

use ccbt_engine::connection_policy::ConnectionLimits;

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::bounded_integer;

/// Largest `max_connections` (descriptors run out long before).
const MAX_CONNECTIONS: i128 = 1_000_000;

/// Reads `[peers]` over the defaults of [`ConnectionLimits`].
pub(super) fn read_peers(t: &TableReader<'_, '_>, limits: &mut ConnectionLimits) -> Result<(), ConfigError> {
    for (key, slot, min) in [
        ("max_connections", &mut limits.global, 1),
        ("max_per_torrent", &mut limits.per_torrent, 1),
        ("max_half_open", &mut limits.half_open, 1),
        ("max_per_ip", &mut limits.per_ip, 1),
    ] {
        if let Some(f) = t.field(key) {
            *slot = bounded_integer(&f, min, MAX_CONNECTIONS)? as usize;
        }
    }
    if let Some(f) = t.field("handshakes_per_sec") {
        limits.handshakes_per_sec = bounded_integer(&f, 0, 1_000_000)? as u32;
    }
    Ok(())
}
