//! `[redial]`: how soon a peer that failed is dialled again. Mostly for tests,
//! which shorten it (`CCBT_REDIAL_BASE_MS`, `CCBT_REDIAL_MAX_MS`, the variables
//! the env rule gives these keys).

use std::time::Duration;

use ccbt_engine::peer_book::RedialPolicy;

use super::error::ConfigError;
use super::table_reader::TableReader;
use super::values::bounded_integer;

/// Longest first wait a config may ask for (ms): an hour.
const MAX_BASE_MS: i128 = 3_600_000;
/// Longest ceiling a config may ask for (ms): a day.
const MAX_CEILING_MS: i128 = 86_400_000;

/// The `[redial]` table; None = the engine's defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedialConfig {
    pub base_ms: Option<u64>,
    /// Replaces both ceilings (learned and hand-named peers).
    pub max_ms: Option<u64>,
}

impl RedialConfig {
    pub fn policy(&self) -> RedialPolicy {
        let mut policy = RedialPolicy::default();
        if let Some(base) = self.base_ms {
            policy.base = Duration::from_millis(base);
        }
        if let Some(max) = self.max_ms {
            policy.max = Duration::from_millis(max);
            policy.pinned_max = Duration::from_millis(max);
        }
        policy
    }
}

pub(super) fn read_redial(t: &TableReader<'_, '_>, redial: &mut RedialConfig) -> Result<(), ConfigError> {
    if let Some(f) = t.field("base_ms") {
        redial.base_ms = Some(bounded_integer(&f, 1, MAX_BASE_MS)? as u64);
    }
    if let Some(f) = t.field("max_ms") {
        redial.max_ms = Some(bounded_integer(&f, 1, MAX_CEILING_MS)? as u64);
    }
    Ok(())
}
