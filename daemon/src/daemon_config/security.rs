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
        None => f.strings().map_err(|_| f.wrong_type("a path or an array of paths"))?,
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::daemon_config::{ConfigError, DaemonConfig};

    fn read(text: &str) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::from_toml(text, Path::new("/etc/ccbt.toml"))
    }

    #[test]
    fn one_path_or_several() {
        let one = read("[security]\nip_filter = \"/lists/a.gz\"\n").unwrap();
        assert_eq!(one.security.ip_filter, vec![PathBuf::from("/lists/a.gz")]);
        let two = read("[security]\nip_filter = [\"/lists/a.gz\", \"b.txt\"]\n").unwrap();
        assert_eq!(
            two.security.ip_filter,
            vec![PathBuf::from("/lists/a.gz"), PathBuf::from("b.txt")]
        );
        assert!(read("").unwrap().security.ip_filter.is_empty());
    }

    #[test]
    fn bad_values_name_the_file_line_and_key() {
        let e = read("[security]\n\nip_filter = 3\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "/etc/ccbt.toml:3: `security.ip_filter` must be a path or an array of paths, not integer"
        );
        let e = read("[security]\nip_filter = [\"a\", \"a\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/ccbt.toml:2: `security.ip_filter`: 'a' is listed twice"),
            "{e}"
        );
        let e = read("[security]\nip_filter = [\"\"]\n").unwrap_err().to_string();
        assert!(e.contains("an empty path"), "{e}");
        let many: Vec<String> = (0..=super::MAX_IP_FILTER_LISTS).map(|i| format!("\"l{i}\"")).collect();
        let e = read(&format!("[security]\nip_filter = [{}]\n", many.join(",")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("out of range: at most 32 lists"), "{e}");
        let e = read("[security]\nip_filters = []\n").unwrap_err().to_string();
        assert!(
            e.contains("unknown key `security.ip_filters`") && e.contains("security.ip_filter"),
            "{e}"
        );
    }
}
