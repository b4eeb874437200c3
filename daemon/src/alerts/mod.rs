//! Alerts: rules over the session's own figures that fire and resolve.
//!
//! A rule is a condition (`condition.rs`, a small grammar parsed with nom), a
//! duration it must hold (`for`) and a severity. Built-in rules come from the
//! `[alerts]` thresholds, more from `[[alerts.rules]]` and from the API
//! (`rules.rs`, kept in the state dir by `rule_store.rs`). Each tick the core hands
//! its figures to the [`AlertEngine`] (`engine.rs`, sans IO: `now` comes in,
//! transitions go out) and publishes what fired or resolved on the event bus;
//! `delivery.rs` logs them and sends them to a webhook and a command.

mod condition;
pub mod delivery;
mod engine;
mod figures;
mod requests;
pub mod rule_store;
mod rules;

pub use condition::{metric_names, Condition, ConditionError, MAX_CONDITION_LEN};
pub use delivery::{AlertDelivery, AlertPayload};
pub use engine::{AlertEngine, AlertTransition, RuleChangeError, MAX_ACTIVE_ALERTS, RECENT_ALERTS, TEST_RULE};
pub use figures::{Figures, SessionFigures, TorrentFigures};
pub use requests::AlertRequest;
pub use rules::{
    builtin_rules, check_rule_name, AlertRule, RuleError, RuleSource, DISK_ERROR, DISK_FREE_LOW, HASH_FAILURES,
    MAX_HOLD, MAX_RULES, TORRENT_STALLED, TRACKER_FAILING,
};

/// Whether `name` is a built-in rule's (config and API rules cannot take it).
pub fn is_builtin_rule(name: &str) -> bool {
    [
        TORRENT_STALLED,
        TRACKER_FAILING,
        DISK_FREE_LOW,
        HASH_FAILURES,
        DISK_ERROR,
        TEST_RULE,
    ]
    .contains(&name)
}
