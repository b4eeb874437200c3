//! The `[metrics]` table: what `GET /metrics` serves.
//!
//! ```toml
//! [metrics]
//! enabled = true          # false: /metrics answers 404
//! per_torrent = false     # series per torrent (label info_hash, and name)
//! per_torrent_max = 1000  # above this many torrents, the per-torrent series are left out
//! ```

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::bounded_integer;

/// Largest `per_torrent_max`: each torrent adds a dozen series, and a scrape of a
/// million series is more than a Prometheus server should take from one target.
pub const MAX_PER_TORRENT_SERIES_TORRENTS: usize = 100_000;

/// The keys of `[metrics]`, for the schema.
pub(super) const KEYS: &[&str] = &["enabled", "per_torrent", "per_torrent_max"];

/// The `[metrics]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (and `GET /api/v1/metrics`).
    pub enabled: bool,
    /// Add series per torrent (off by default: a seedbox of 100,000 torrents would
    /// otherwise send over a million series each scrape).
    pub per_torrent: bool,
    /// With more torrents than this, the per-torrent series are left out (and
    /// `ccbt_torrent_series_omitted` says how many torrents were).
    pub per_torrent_max: usize,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            enabled: true,
            per_torrent: false,
            per_torrent_max: 1000,
        }
    }
}

/// Reads `[metrics]` over the defaults.
pub(super) fn read_metrics(t: &TableReader<'_, '_>, metrics: &mut MetricsConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("enabled") {
        metrics.enabled = f.boolean()?;
    }
    if let Some(f) = t.field("per_torrent") {
        metrics.per_torrent = f.boolean()?;
    }
    if let Some(f) = t.field("per_torrent_max") {
        metrics.per_torrent_max = bounded_integer(&f, 0, MAX_PER_TORRENT_SERIES_TORRENTS as i128)? as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::daemon_config::DaemonConfig;

    use super::*;

    fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::from_toml(text, Path::new("/etc/ccbt/daemon.toml"))
    }

    #[test]
    fn defaults_serve_session_and_shard_series_only() {
        let config = parse("").unwrap();
        assert_eq!(config.metrics, MetricsConfig::default());
        assert!(config.metrics.enabled);
        assert!(!config.metrics.per_torrent);
        assert_eq!(config.metrics.per_torrent_max, 1000);
    }

    #[test]
    fn every_key_is_read() {
        let config = parse("[metrics]\nenabled = false\nper_torrent = true\nper_torrent_max = 50\n").unwrap();
        assert_eq!(
            config.metrics,
            MetricsConfig {
                enabled: false,
                per_torrent: true,
                per_torrent_max: 50
            }
        );
    }

    #[test]
    fn bad_values_name_the_line_and_key() {
        let e = parse("[metrics]\nper_torrent_max = 100001\n").unwrap_err().to_string();
        assert!(e.contains("daemon.toml:2"), "{e}");
        assert!(e.contains("metrics.per_torrent_max"), "{e}");
        let e = parse("[metrics]\n\nper_torrent = \"yes\"\n").unwrap_err().to_string();
        assert!(e.contains("daemon.toml:3"), "{e}");
        assert!(e.contains("metrics.per_torrent"), "{e}");
        let e = parse("[metrics]\nper_torent = true\n").unwrap_err().to_string();
        assert!(e.contains("per_torrent"), "the nearest key is suggested: {e}");
    }
}
