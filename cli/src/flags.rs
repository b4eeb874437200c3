//! Checks on command-line values that clap's types cannot express: a peer that
//! must resolve, and bounds that keep a silly number from hanging the start or
//! eating memory. Each failure is bad input (exit 2) naming the flag.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::CliError;

/// Most shards per available core. Each shard is an executor with its own
/// io_uring rings and memory; beyond a few per core they only compete for the
/// same cores (64 shards on 2 cores never finished starting).
pub const MAX_SHARDS_PER_CORE: usize = 4;
/// Most shards on any machine, whatever its core count.
pub const MAX_SHARDS: usize = 256;
/// Smallest rate limit: one 16 KiB block a second. Below it a single block takes
/// longer than a peer waits for it, and the transfer stalls instead of slowing.
pub const MIN_RATE_LIMIT: u64 = 16 * 1024;

/// The largest `--shards` this machine accepts: 4 per core, at most 256.
pub fn max_shards(cores: usize) -> usize {
    cores.max(1).saturating_mul(MAX_SHARDS_PER_CORE).min(MAX_SHARDS)
}

/// `--shards N`: at least 1, at most [`max_shards`] of the available cores.
pub fn check_shards(flag: &'static str, n: usize, cores: usize) -> Result<usize, CliError> {
    let max = max_shards(cores);
    if n == 0 || n > max {
        return Err(CliError::BadFlag {
            flag,
            value: n.to_string(),
            reason: format!(
                "must be between 1 and {max} ({MAX_SHARDS_PER_CORE} per core on {cores} core(s), at most {MAX_SHARDS})"
            ),
        });
    }
    Ok(n)
}

/// `--piece-size` of `ccbt demo`: a power of two of at least 16 KiB that fits a
/// `u32`, checked before the payload is written.
pub fn check_piece_size(flag: &'static str, n: u64) -> Result<u32, CliError> {
    match u32::try_from(n) {
        Ok(p) if p >= 16 * 1024 && p.is_power_of_two() => Ok(p),
        _ => Err(CliError::BadFlag {
            flag,
            value: n.to_string(),
            reason: "must be a power of two from 16K to 2G".into(),
        }),
    }
}

/// `--download-limit` / `--upload-limit`: `0` means no limit (as in other clients);
/// otherwise at least [`MIN_RATE_LIMIT`].
pub fn check_rate_limit(flag: &'static str, limit: Option<u64>) -> Result<Option<u64>, CliError> {
    match limit {
        None | Some(0) => Ok(None),
        Some(n) if n < MIN_RATE_LIMIT => Err(CliError::BadFlag {
            flag,
            value: n.to_string(),
            reason: format!(
                "below the smallest limit, {MIN_RATE_LIMIT} bytes/s (16K, one block a second); 0 means no limit"
            ),
        }),
        Some(n) => Ok(Some(n)),
    }
}

/// `--peer HOST:PORT`: an IP address or a host name that resolves, with a port.
pub fn resolve_peer(arg: &str) -> Result<SocketAddr, CliError> {
    let bad = |reason: String| CliError::BadPeer {
        arg: arg.to_string(),
        reason,
    };
    let mut addrs = arg
        .to_socket_addrs()
        .map_err(|e| bad(format!("{e} (expected HOST:PORT, e.g. 127.0.0.1:6881)")))?;
    let addr = addrs
        .next()
        .ok_or_else(|| bad("the name resolves to no address".into()))?;
    if addr.port() == 0 {
        return Err(bad("port 0 cannot be dialled".into()));
    }
    Ok(addr)
}

/// Every `--peer`, resolved.
pub fn resolve_peers(args: &[String]) -> Result<Vec<SocketAddr>, CliError> {
    args.iter().map(|a| resolve_peer(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_bound_is_four_per_core_capped() {
        assert_eq!(max_shards(2), 8);
        assert_eq!(max_shards(0), 4);
        assert_eq!(max_shards(1000), MAX_SHARDS);
        assert!(check_shards("--shards", 8, 2).is_ok());
        let err = check_shards("--shards", 64, 2).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--shards 64"), "{err}");
        assert!(check_shards("--shards", 0, 2).is_err());
    }

    #[test]
    fn piece_sizes() {
        assert_eq!(check_piece_size("--piece-size", 1 << 20).unwrap(), 1 << 20);
        for bad in [0, 1000, 8192, 3 << 20, 1 << 32] {
            assert_eq!(check_piece_size("--piece-size", bad).unwrap_err().exit_code(), 2);
        }
    }

    #[test]
    fn rate_limits() {
        assert_eq!(check_rate_limit("--upload-limit", Some(0)).unwrap(), None);
        assert_eq!(check_rate_limit("--upload-limit", None).unwrap(), None);
        assert_eq!(check_rate_limit("--upload-limit", Some(16384)).unwrap(), Some(16384));
        let err = check_rate_limit("--download-limit", Some(100)).unwrap_err();
        assert!(err.to_string().starts_with("--download-limit 100:"), "{err}");
    }

    #[test]
    fn peers_resolve_or_name_the_argument() {
        assert_eq!(
            resolve_peer("127.0.0.1:7000").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 7000))
        );
        assert_eq!(resolve_peer("localhost:7000").unwrap().port(), 7000);
        for bad in ["not-an-address", "127.0.0.1", "127.0.0.1:0", "1.2.3.4:99999"] {
            let err = resolve_peer(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}

/// `--dht-bootstrap HOST:PORT`: the form is checked here; the name is resolved by
/// the DHT itself, off the shards, where a failure only skips that router.
pub fn check_host_port(flag: &'static str, value: &str) -> Result<String, CliError> {
    let bad = |reason: &str| CliError::BadFlag {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (host, port) = value.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.len() > 253 || host.contains(char::is_whitespace) {
        return Err(bad("expected HOST:PORT with a host name or address"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(value.to_string()),
        _ => Err(bad("the port must be 1-65535")),
    }
}

/// The DHT settings of `--no-dht`, `--dht-port` and `--dht-bootstrap` (which
/// replaces the default routers); None when the DHT is off.
pub fn dht_settings(
    no_dht: bool,
    port: Option<u16>,
    bootstrap: &[String],
) -> Result<Option<ccbt_shards::DhtSettings>, CliError> {
    if no_dht {
        return Ok(None);
    }
    let bootstrap = if bootstrap.is_empty() {
        ccbt_shards::DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect()
    } else {
        bootstrap
            .iter()
            .map(|b| check_host_port("--dht-bootstrap", b))
            .collect::<Result<_, _>>()?
    };
    Ok(Some(ccbt_shards::DhtSettings {
        port,
        bootstrap,
        ..Default::default()
    }))
}
