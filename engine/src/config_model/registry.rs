//! One key of the registry, and the questions asked of all of them.

use super::keys::SECTIONS;
use super::value_kind::ValueKind;

/// Whether a running daemon takes a new value without a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Applied within seconds of a config file edit or `btbt config set`.
    Live,
    /// Read at start only; a change is logged as "needs a restart".
    Restart,
}

impl Reload {
    pub fn as_str(self) -> &'static str {
        match self {
            Reload::Live => "live",
            Reload::Restart => "restart",
        }
    }
}

/// Everything known about one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Dotted path, as in the TOML file: `limits.download` is `download` in `[limits]`.
    pub path: &'static str,
    pub kind: ValueKind,
    /// The default as a user would write it, or what happens when it is unset.
    pub default: &'static str,
    pub reload: Reload,
    /// One line: what it does.
    pub doc: &'static str,
}

impl KeySpec {
    /// The table the key sits in (`limits.alt_schedule` for `limits.alt_schedule.begin`).
    pub fn table(&self) -> &'static str {
        self.path.rsplit_once('.').map_or("", |(table, _)| table)
    }

    /// The key's own name within its table.
    pub fn name(&self) -> &'static str {
        self.path.rsplit_once('.').map_or(self.path, |(_, name)| name)
    }

    /// The top-level section (`limits` for `limits.alt_schedule.begin`).
    pub fn section(&self) -> &'static str {
        self.path.split('.').next().unwrap_or(self.path)
    }

    pub fn env_var(&self) -> String {
        super::env_rule::env_var_name(self.path)
    }

    /// Whether the key sits in a list of tables (`[[alerts.rules]]`): one value per
    /// table, so it is written only in the file, never as one variable or override.
    pub fn in_table_list(&self) -> bool {
        TABLE_LISTS.contains(&self.table())
    }

    /// The environment variable as the reference shows it (`-` for a key in a list
    /// of tables).
    pub fn env_var_shown(&self) -> String {
        if self.in_table_list() {
            "-".to_string()
        } else {
            self.env_var()
        }
    }
}

/// The tables written as `[[name]]`, any number of times.
pub const TABLE_LISTS: &[&str] = &["alerts.rules"];

/// Every key, section by section, in the registry's order.
pub fn all_keys() -> impl Iterator<Item = &'static KeySpec> {
    SECTIONS.iter().flat_map(|section| section.iter())
}

/// The key at a dotted path.
pub fn find_key(path: &str) -> Option<&'static KeySpec> {
    all_keys().find(|k| k.path == path)
}

/// Every table that holds keys or tables, dotted, top level first (`""`, then
/// `api`, `api.transmission`, …), each once.
pub fn table_names() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = vec![""];
    for key in all_keys() {
        let mut table = key.table();
        // The table and every table above it.
        loop {
            if !tables.contains(&table) {
                tables.push(table);
            }
            match table.rsplit_once('.') {
                Some((parent, _)) => table = parent,
                None => break,
            }
        }
    }
    tables
}

/// The valid key nearest to a mistyped dotted path: one a few edits away, else
/// one with the same last name in another table (`limits.max_active_seeds` →
/// `queue.max_active_seeds`).
pub fn nearest_key(path: &str) -> Option<&'static str> {
    let close_enough = (path.chars().count() / 4).max(2);
    let by_edits = all_keys()
        .map(|k| (strsim::levenshtein(path, k.path), k.path))
        .filter(|(d, _)| *d <= close_enough)
        .min();
    if let Some((_, key)) = by_edits {
        return Some(key);
    }
    let name = path.rsplit_once('.').map_or(path, |(_, n)| n);
    all_keys().find(|k| k.name() == name).map(|k| k.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for key in all_keys() {
            assert!(seen.insert(key.path), "{} is registered twice", key.path);
            assert!(
                key.path.split('.').all(|part| !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
                "{} is not lower_snake dotted",
                key.path
            );
            assert!(
                !key.doc.is_empty() && !key.doc.contains('\n'),
                "{}: one line of doc",
                key.path
            );
            assert!(!key.default.is_empty(), "{}: say what the default is", key.path);
        }
    }

    #[test]
    fn no_key_is_also_a_table() {
        let tables = table_names();
        for key in all_keys() {
            assert!(!tables.contains(&key.path), "{} is both a key and a table", key.path);
        }
    }

    #[test]
    fn typos_find_the_nearest_key() {
        assert_eq!(nearest_key("limits.downlaod"), Some("limits.download"));
        assert_eq!(
            nearest_key("queue.max_active_download"),
            Some("queue.max_active_downloads")
        );
        assert_eq!(nearest_key("limits.max_active_seeds"), Some("queue.max_active_seeds"));
        assert_eq!(nearest_key("completely.unrelated"), None);
    }

    #[test]
    fn tables_include_their_parents() {
        let tables = table_names();
        assert!(tables.contains(&"limits.alt_schedule"));
        assert!(tables.contains(&"api.transmission"));
        let limits = tables.iter().position(|t| *t == "limits");
        let schedule = tables.iter().position(|t| *t == "limits.alt_schedule");
        assert!(limits < schedule);
    }
}
