//! The rules checked against each tick's figures: which alerts fire and which
//! resolve. Sans IO: the figures, `now` and the wall-clock seconds come in, the
//! transitions go out; the core publishes and delivers them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::condition::{Metric, SessionMetric, TorrentMetric};
use super::figures::{Figures, TorrentFigures};
use super::rules::{builtin_rules, AlertRule, RuleError, RuleSource, MAX_RULES};
use crate::api_types::{AlertList, AlertSeverity, AlertView};
use crate::daemon_config::AlertsConfig;

/// Resolved alerts kept for `GET /api/v1/alerts`, newest first.
pub const RECENT_ALERTS: usize = 100;
/// Alerts firing at once, at most; more are counted and not fired (10,000 torrents
/// all stalled are one problem, not 10,000 webhooks).
pub const MAX_ACTIVE_ALERTS: usize = 1000;
/// The window of `session.hash_failures_per_min`.
const HASH_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Samples kept for that window, at most (one per tick).
const HASH_FAILURE_SAMPLES: usize = 120;
/// The rule name of `POST /api/v1/alerts/test`.
pub const TEST_RULE: &str = "test";

/// An alert that started or ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertTransition {
    Fired(AlertView),
    Resolved(AlertView),
}

impl AlertTransition {
    pub fn view(&self) -> &AlertView {
        match self {
            AlertTransition::Fired(v) | AlertTransition::Resolved(v) => v,
        }
    }

    /// The event kind on the bus.
    pub fn kind(&self) -> &'static str {
        match self {
            AlertTransition::Fired(_) => "alert_fired",
            AlertTransition::Resolved(_) => "alert_resolved",
        }
    }
}

/// Why a rule could not be added or removed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleChangeError {
    #[error(transparent)]
    Invalid(#[from] RuleError),
    #[error("a rule named {0:?} exists already")]
    Duplicate(String),
    #[error("at most {MAX_RULES} rules")]
    TooMany,
    #[error("no rule named {0:?}")]
    NotFound(String),
    #[error("rule {name:?} is {}: change it in the config file", match origin { RuleSource::Builtin => "built in", _ => "from the config file" })]
    NotRuntime { name: String, origin: RuleSource },
}

/// A rule checked for the session (`None`) or for one torrent.
type Key = (usize, Option<u32>);

/// Pieces failing their hash over the last minute, from the torrents' counters.
#[derive(Debug, Default)]
struct HashFailureWindow {
    last_total: Option<u64>,
    samples: VecDeque<(Instant, u64)>,
}

impl HashFailureWindow {
    fn record(&mut self, now: Instant, total: u64) -> u64 {
        // A torrent removed or restarted lowers the total: that is no failure.
        let new = self.last_total.map_or(0, |last| total.saturating_sub(last));
        self.last_total = Some(total);
        if new > 0 {
            self.samples.push_back((now, new));
        }
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= HASH_FAILURE_WINDOW)
            || self.samples.len() > HASH_FAILURE_SAMPLES
        {
            self.samples.pop_front();
        }
        self.samples.iter().map(|(_, n)| n).sum()
    }
}

pub struct AlertEngine {
    /// Built-in and config rules, then runtime ones.
    rules: Vec<AlertRule>,
    /// Condition holding since, not yet fired; with the tick it was last seen.
    pending: HashMap<Key, (Instant, u64)>,
    active: HashMap<Key, (AlertView, u64)>,
    recent: VecDeque<AlertView>,
    next_id: u64,
    tick: u64,
    hash_failures: HashFailureWindow,
    /// Alerts not fired because [`MAX_ACTIVE_ALERTS`] were firing.
    suppressed: u64,
}

impl AlertEngine {
    pub fn new(config: &AlertsConfig, runtime_rules: Vec<AlertRule>) -> AlertEngine {
        let mut engine = AlertEngine {
            rules: Vec::new(),
            pending: HashMap::new(),
            active: HashMap::new(),
            recent: VecDeque::new(),
            next_id: 1,
            tick: 0,
            hash_failures: HashFailureWindow::default(),
            suppressed: 0,
        };
        engine.rules = config_rules(config);
        for rule in runtime_rules {
            if engine.rules.len() < MAX_RULES && engine.rule_index(&rule.name).is_none() {
                engine.rules.push(rule);
            }
        }
        engine
    }

    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    pub fn runtime_rules(&self) -> impl Iterator<Item = &AlertRule> {
        self.rules.iter().filter(|r| r.source == RuleSource::Runtime)
    }

    /// Whether some rule compares `disk.free` (the core measures it only then).
    pub fn needs_disk_free(&self) -> bool {
        self.rules.iter().any(AlertRule::needs_disk_free)
    }

    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    fn rule_index(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.name == name)
    }

    /// Replaces the built-in and config rules (at start and on a config reload);
    /// runtime rules stay, unless a config rule now has their name. Alerts of rules
    /// that are gone resolve; those of rules kept by name keep firing.
    pub fn set_config_rules(&mut self, config: &AlertsConfig, unix_now: u64) -> Vec<AlertTransition> {
        let mut rules = config_rules(config);
        let runtime: Vec<AlertRule> = self
            .rules
            .iter()
            .filter(|r| r.source == RuleSource::Runtime)
            .cloned()
            .collect();
        for rule in runtime {
            if rules.len() < MAX_RULES && !rules.iter().any(|r| r.name == rule.name) {
                rules.push(rule);
            }
        }
        self.replace_rules(rules, unix_now)
    }

    /// Adds a rule made through the API.
    pub fn add_runtime_rule(&mut self, rule: AlertRule) -> Result<(), RuleChangeError> {
        if self.rule_index(&rule.name).is_some() {
            return Err(RuleChangeError::Duplicate(rule.name));
        }
        if self.rules.len() >= MAX_RULES {
            return Err(RuleChangeError::TooMany);
        }
        self.rules.push(AlertRule {
            source: RuleSource::Runtime,
            ..rule
        });
        Ok(())
    }

    /// Removes a runtime rule; its alerts resolve.
    pub fn remove_runtime_rule(&mut self, name: &str, unix_now: u64) -> Result<Vec<AlertTransition>, RuleChangeError> {
        let i = self
            .rule_index(name)
            .ok_or_else(|| RuleChangeError::NotFound(name.to_string()))?;
        let source = self.rules[i].source;
        if source != RuleSource::Runtime {
            return Err(RuleChangeError::NotRuntime {
                name: name.to_string(),
                origin: source,
            });
        }
        let mut rules = self.rules.clone();
        rules.remove(i);
        Ok(self.replace_rules(rules, unix_now))
    }

    fn replace_rules(&mut self, rules: Vec<AlertRule>, unix_now: u64) -> Vec<AlertTransition> {
        let old_names: Vec<String> = self.rules.iter().map(|r| r.name.clone()).collect();
        let new_index = |old: usize| old_names.get(old).and_then(|n| rules.iter().position(|r| &r.name == n));
        let mut out = Vec::new();
        let active = std::mem::take(&mut self.active);
        for ((rule, torrent), (view, seen)) in active {
            match new_index(rule) {
                Some(i) => {
                    self.active.insert((i, torrent), (view, seen));
                }
                None => out.push(self.resolved(view, unix_now)),
            }
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending = pending
            .into_iter()
            .filter_map(|((rule, torrent), v)| new_index(rule).map(|i| ((i, torrent), v)))
            .collect();
        self.rules = rules;
        out
    }

    /// Checks every rule against this tick's figures. `figures.hash_failures_per_min`
    /// is filled in here.
    pub fn evaluate(&mut self, now: Instant, unix_now: u64, figures: &mut Figures<'_>) -> Vec<AlertTransition> {
        self.tick += 1;
        let total_failures = figures.torrents.iter().map(|t| u64::from(t.hash_failures)).sum();
        figures.hash_failures_per_min = self.hash_failures.record(now, total_failures);
        let mut fire = Vec::new();
        // Taken out for the loop, which updates the pending and active maps.
        let rules = std::mem::take(&mut self.rules);
        for (i, rule) in rules.iter().enumerate() {
            if rule.condition.per_torrent() {
                for t in &figures.torrents {
                    let holds = rule.condition.holds(figures, Some(t));
                    if let Some(due) = self.step((i, Some(t.id)), holds, rule.hold, now) {
                        fire.push((due, describe(rule, figures, Some(t)), Some((t.id, t.name))));
                    }
                }
            } else {
                let holds = rule.condition.holds(figures, None);
                if let Some(due) = self.step((i, None), holds, rule.hold, now) {
                    fire.push((due, describe(rule, figures, None), None));
                }
            }
        }
        self.rules = rules;
        let mut out = Vec::new();
        let tick = self.tick;
        // Torrents that are gone: their alerts resolve, their pending conditions end.
        let gone: Vec<Key> = self
            .active
            .iter()
            .filter(|(_, (_, seen))| *seen != tick)
            .map(|(k, _)| *k)
            .collect();
        for key in gone {
            if let Some((view, _)) = self.active.remove(&key) {
                out.push(self.resolved(view, unix_now));
            }
        }
        self.pending.retain(|_, (_, seen)| *seen == tick);
        for (key, message, torrent) in fire {
            if self.active.len() >= MAX_ACTIVE_ALERTS {
                self.suppressed += 1;
                continue;
            }
            let Some(rule) = self.rules.get(key.0) else { continue };
            let view = AlertView {
                id: self.next_id,
                rule: rule.name.clone(),
                severity: rule.severity,
                torrent_id: torrent.map(|(id, _)| id),
                torrent_name: torrent.map(|(_, name)| name.to_string()),
                message,
                fired_at: unix_now,
                resolved_at: None,
            };
            self.next_id += 1;
            self.pending.remove(&key);
            self.active.insert(key, (view.clone(), tick));
            out.push(AlertTransition::Fired(view));
        }
        out
    }

    /// One rule for one subject this tick; the key to fire, if it is due.
    fn step(&mut self, key: Key, holds: bool, hold: Duration, now: Instant) -> Option<Key> {
        let tick = self.tick;
        if let Some((_, seen)) = self.active.get_mut(&key) {
            *seen = tick;
            if !holds {
                // Resolved below, with the other removals of this tick.
                *seen = 0;
            }
            return None;
        }
        if !holds {
            // Most subjects most of the time: nothing to look up when nothing pends.
            if !self.pending.is_empty() {
                self.pending.remove(&key);
            }
            return None;
        }
        let since = self.pending.entry(key).or_insert((now, tick));
        since.1 = tick;
        (now.saturating_duration_since(since.0) >= hold).then_some(key)
    }

    fn resolved(&mut self, mut view: AlertView, unix_now: u64) -> AlertTransition {
        view.resolved_at = Some(unix_now);
        self.recent.push_front(view.clone());
        self.recent.truncate(RECENT_ALERTS);
        AlertTransition::Resolved(view)
    }

    /// A test alert through every channel: it fires and resolves at once.
    pub fn fire_test(&mut self, unix_now: u64) -> [AlertTransition; 2] {
        let view = AlertView {
            id: self.next_id,
            rule: TEST_RULE.to_string(),
            severity: AlertSeverity::Info,
            torrent_id: None,
            torrent_name: None,
            message: "a test alert (btbt alerts test)".to_string(),
            fired_at: unix_now,
            resolved_at: None,
        };
        self.next_id += 1;
        let fired = AlertTransition::Fired(view.clone());
        [fired, self.resolved(view, unix_now)]
    }

    /// What fires now (oldest first) and what resolved lately (newest first).
    pub fn list(&self) -> AlertList {
        let mut active: Vec<AlertView> = self.active.values().map(|(v, _)| v.clone()).collect();
        active.sort_by_key(|v| v.id);
        AlertList {
            active,
            recent: self.recent.iter().cloned().collect(),
        }
    }
}

/// The built-in rules `[alerts]` leaves on, then the config's own.
fn config_rules(config: &AlertsConfig) -> Vec<AlertRule> {
    let mut rules = builtin_rules(config);
    for r in &config.rules {
        if rules.len() >= MAX_RULES {
            break;
        }
        if rules.iter().any(|b| b.name == r.name) {
            continue;
        }
        // Checked when the config was read; a rule that no longer parses is skipped.
        match AlertRule::new(&r.name, &r.condition, r.hold, r.severity, RuleSource::Config) {
            Ok(rule) => rules.push(rule),
            Err(e) => tracing::warn!(error = %e, "alert rule skipped"),
        }
    }
    rules
}

/// What an alert says: the rule's summary (or its condition and `for`), then the
/// figures its condition compares, as they are now.
fn describe(rule: &AlertRule, figures: &Figures<'_>, torrent: Option<&TorrentFigures<'_>>) -> String {
    let head = match rule.summary {
        Some(s) if rule.hold.is_zero() => s.to_string(),
        Some(s) => format!("{s} for {}", hold_text(rule.hold)),
        None if rule.hold.is_zero() => format!("`{}`", rule.condition_text),
        None => format!("`{}` for {}", rule.condition_text, hold_text(rule.hold)),
    };
    let mut seen: Vec<Metric> = Vec::new();
    let mut parts = Vec::new();
    for t in rule.condition.tests() {
        if seen.contains(&t.metric) {
            continue;
        }
        seen.push(t.metric);
        if let Some(v) = figure_text(t.metric, figures, torrent) {
            parts.push(v);
        }
    }
    if parts.is_empty() {
        head
    } else {
        format!("{head} ({})", parts.join(", "))
    }
}

fn hold_text(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn figure_text(metric: Metric, f: &Figures<'_>, torrent: Option<&TorrentFigures<'_>>) -> Option<String> {
    Some(match metric {
        Metric::DiskFree => format!("disk.free={}", f.disk_free?),
        Metric::Session(SessionMetric::HashFailuresPerMin) => {
            format!("session.hash_failures_per_min={}", f.hash_failures_per_min)
        }
        Metric::Session(m) => {
            let s = &f.session;
            let (name, v) = match m {
                SessionMetric::DownloadRate => ("download_rate", s.download_rate),
                SessionMetric::UploadRate => ("upload_rate", s.upload_rate),
                SessionMetric::Peers => ("peers", s.peers as u64),
                SessionMetric::Torrents => ("torrents", u64::from(s.torrents)),
                SessionMetric::Downloading => ("downloading", u64::from(s.downloading)),
                SessionMetric::Seeding => ("seeding", u64::from(s.seeding)),
                SessionMetric::Errors => ("errors", u64::from(s.errors)),
                SessionMetric::HashFailuresPerMin => ("hash_failures_per_min", f.hash_failures_per_min),
            };
            format!("session.{name}={v}")
        }
        Metric::Torrent(m) => {
            let t = torrent?;
            match m {
                TorrentMetric::DownloadRate => format!("torrent.download_rate={}", t.download_rate),
                TorrentMetric::UploadRate => format!("torrent.upload_rate={}", t.upload_rate),
                TorrentMetric::Progress => format!("torrent.progress={:.3}", t.progress),
                TorrentMetric::Left => format!("torrent.left={}", t.left),
                TorrentMetric::Peers => format!("torrent.peers={}", t.peers),
                TorrentMetric::Ratio => format!("torrent.ratio={:.3}", t.ratio),
                TorrentMetric::HashFailures => format!("torrent.hash_failures={}", t.hash_failures),
                TorrentMetric::Trackers => format!("torrent.trackers={}", t.trackers),
                TorrentMetric::TrackersFailing | TorrentMetric::AllTrackersFailing => {
                    format!("torrent.trackers_failing={}/{}", t.trackers_failing, t.trackers)
                }
                // Flags say nothing the summary does not.
                TorrentMetric::Downloading | TorrentMetric::Seeding | TorrentMetric::Error => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests;
