//! The `[security]` table: the peer-facing protections.
//!
//! ```toml
//! [security]
//! # Blocklists: eMule ipfilter.dat, PeerGuardian P2P, CIDR or address lists,
//! # plain or gzip; reloaded when a file changes or the key does.
//! ip_filter = ["~/lists/level1.p2p.gz", "/etc/ccbt/blocked.txt"]
//! ```
//!
//! Each key is read by its own function below, so a new key is one more `if let`.

use std::path::PathBuf;

use super::error::ConfigError;
use super::table_reader::{Field, TableReader};

/// Most blocklist files `security.ip_filter` may name.
pub const MAX_IP_FILTER_LISTS: usize = 32;

/// The keys of `[security]`, for the config's schema.
pub(super) const SECURITY_KEYS: &[&str] = &["ip_filter"];

/// The `[security]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Blocklist files, in order; empty = no IP filter.
    pub ip_filter: Vec<PathBuf>,
}

pub(super) fn read_security(t: &TableReader<'_, '_>, security: &mut SecurityConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("ip_filter") {
        security.ip_filter = ip_filter_lists(&f)?;
    }
    Ok(())
}

/// One path or an array of them; `~/` is the home directory.
fn ip_filter_lists(f: &Field<'_, '_>) -> Result<Vec<PathBuf>, ConfigError> {
    let items = match f.value().as_str() {
        Some(one) => vec![one],
        None => f
            .strings()
            .map_err(|_| f.wrong_type("a path or an array of paths"))?,
    };
    if items.len() > MAX_IP_FILTER_LISTS {
        return Err(f.out_of_range(format!("at most {MAX_IP_FILTER_LISTS} lists")));
    }
    let mut paths: Vec<PathBuf> = Vec::with_capacity(items.len());
    for item in items {
        if item.trim().is_empty() {
            return Err(f.bad_value("an empty path"));
        }
        let path = match item.strip_prefix("~/") {
            Some(rest) => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(rest),
                None => return Err(f.bad_value(format!("'{item}' starts with ~ but HOME is not set"))),
            },
            None => PathBuf::from(item),
        };
        if paths.contains(&path) {
            return Err(f.bad_value(format!("'{item}' is listed twice")));
        }
        paths.push(path);
    }
    Ok(paths)
}
