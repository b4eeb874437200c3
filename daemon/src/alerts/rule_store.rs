//! Rules added through the API, kept in the state dir (`alert_rules.json`, written
//! atomically) so that a restart keeps them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rules::{AlertRule, RuleSource, MAX_RULES};
use crate::api_types::AlertSeverity;
use crate::state_dir::write_atomic;

/// The file's name in the state dir.
pub const RULES_FILE: &str = "alert_rules.json";
/// Largest file read back.
const MAX_RULES_FILE_BYTES: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredRule {
    name: String,
    condition: String,
    for_secs: u64,
    severity: AlertSeverity,
}

pub fn rules_path(state_dir: &Path) -> PathBuf {
    state_dir.join(RULES_FILE)
}

/// The runtime rules saved by the last run; a file that cannot be read or a rule
/// that no longer parses is logged and skipped, never fatal.
pub fn load(state_dir: &Path) -> Vec<AlertRule> {
    let path = rules_path(state_dir);
    let bytes = match std::fs::metadata(&path) {
        Ok(m) if m.len() > MAX_RULES_FILE_BYTES => {
            tracing::warn!(path = %path.display(), "alert rules file too large; ignored");
            return Vec::new();
        }
        Ok(_) => match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the alert rules");
                return Vec::new();
            }
        },
        Err(_) => return Vec::new(),
    };
    let stored: Vec<StoredRule> = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "alert rules file is not valid; ignored");
            return Vec::new();
        }
    };
    stored
        .into_iter()
        .take(MAX_RULES)
        .filter_map(|r| {
            AlertRule::new(
                &r.name,
                &r.condition,
                Duration::from_secs(r.for_secs),
                r.severity,
                RuleSource::Runtime,
            )
            .map_err(|e| tracing::warn!(error = %e, "saved alert rule skipped"))
            .ok()
        })
        .collect()
}

/// Writes the runtime rules (atomically: the old file or the new one).
pub fn save<'a>(state_dir: &Path, rules: impl Iterator<Item = &'a AlertRule>) -> Result<(), String> {
    let stored: Vec<StoredRule> = rules
        .map(|r| StoredRule {
            name: r.name.clone(),
            condition: r.condition_text.clone(),
            for_secs: r.hold.as_secs(),
            severity: r.severity,
        })
        .collect();
    let bytes = serde_json::to_vec_pretty(&stored).map_err(|e| e.to_string())?;
    write_atomic(&rules_path(state_dir), &bytes).map_err(|e| e.to_string())
}
