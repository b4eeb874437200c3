//! Where each effective value came from. Sources are applied in order, later
//! wins: defaults → the file → `CCBT_*` variables → command-line flags → runtime
//! overrides (`btbt config set`) → per-torrent settings (kept with each torrent).

use std::collections::BTreeMap;
use std::fmt;

/// One source of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSource {
    Default,
    /// The config file, at a line.
    File {
        path: String,
        line: usize,
    },
    /// An environment variable.
    Env {
        var: String,
    },
    /// A command-line flag (`--listen`).
    Flag {
        flag: String,
    },
    /// A runtime override, kept in the state dir.
    Runtime,
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueSource::Default => f.write_str("default"),
            ValueSource::File { path, line } => write!(f, "file:{path}:{line}"),
            ValueSource::Env { var } => write!(f, "env:{var}"),
            ValueSource::Flag { flag } => write!(f, "flag:{flag}"),
            ValueSource::Runtime => f.write_str("runtime"),
        }
    }
}

/// The source of every key that is not at its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    sources: BTreeMap<String, ValueSource>,
}

impl Provenance {
    /// `key` was set by `source`; a later source replaces an earlier one.
    pub fn record(&mut self, key: &str, source: ValueSource) {
        self.sources.insert(key.to_string(), source);
    }

    /// Where `key`'s value came from.
    pub fn source_of(&self, key: &str) -> ValueSource {
        self.sources.get(key).cloned().unwrap_or(ValueSource::Default)
    }

    /// Whether any source other than the defaults set `key`.
    pub fn is_set(&self, key: &str) -> bool {
        self.sources.contains_key(key)
    }

    /// Every key set by a source, with it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ValueSource)> {
        self.sources.iter().map(|(k, s)| (k.as_str(), s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_win_and_unset_keys_are_defaults() {
        let mut p = Provenance::default();
        p.record(
            "limits.download",
            ValueSource::File {
                path: "/etc/ccbt.toml".into(),
                line: 3,
            },
        );
        p.record(
            "limits.download",
            ValueSource::Env {
                var: "CCBT_LIMITS_DOWNLOAD".into(),
            },
        );
        assert_eq!(p.source_of("limits.download").to_string(), "env:CCBT_LIMITS_DOWNLOAD");
        assert_eq!(p.source_of("limits.upload"), ValueSource::Default);
        assert!(!p.is_set("limits.upload"));
        p.record("limits.download", ValueSource::Runtime);
        assert_eq!(p.source_of("limits.download").to_string(), "runtime");
    }
}
