//! The core's side of the alerts: each tick it hands the figures it already keeps
//! to the [`AlertEngine`], then publishes and delivers what fired or resolved; it
//! answers the alert routes of the API.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{unix_now, DaemonCore, Managed};
use crate::alerts::{
    rule_store, AlertDelivery, AlertEngine, AlertRequest, AlertRule, AlertTransition, Figures, RuleChangeError,
    RuleSource, TorrentFigures,
};
use crate::api_types::{AlertRuleView, AlertSeverity, TorrentStateName};
use crate::control::ApiError;
use crate::daemon_config::AlertsConfig;

/// Disk space is measured at most this often (one `statvfs`).
const DISK_FREE_EVERY: Duration = Duration::from_secs(10);

/// The alert engine and where its alerts go.
pub(crate) struct Alerting {
    engine: AlertEngine,
    delivery: AlertDelivery,
    config: AlertsConfig,
    disk_free: Option<u64>,
    disk_checked: Option<Instant>,
    /// Suppressed alerts already logged.
    suppressed_logged: u64,
}

impl Alerting {
    /// The config's rules and the runtime rules the state dir kept.
    pub fn new(config: AlertsConfig, state_dir: &Path) -> Alerting {
        Alerting {
            engine: AlertEngine::new(&config, rule_store::load(state_dir)),
            delivery: AlertDelivery::start(&config),
            config,
            disk_free: None,
            disk_checked: None,
            suppressed_logged: 0,
        }
    }
}

/// Bytes available to us on the filesystem holding `dir`.
fn disk_free(dir: &Path) -> Option<u64> {
    match rustix::fs::statvfs(dir) {
        Ok(s) => Some(s.f_bavail.saturating_mul(s.f_frsize)),
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "cannot measure free disk space");
            None
        }
    }
}

/// A torrent's figures, from its latest status (nothing is computed per file).
fn torrent_figures(t: &Managed) -> TorrentFigures<'_> {
    let state = t.state();
    let status = t.status.as_ref();
    let (verified, wanted) = status.map_or((0, 0), |s| (s.stats.verified_bytes, s.wanted_bytes));
    let left = if t.complete { 0 } else { wanted.saturating_sub(verified) };
    let trackers = status.map_or(&[][..], |s| &s.trackers[..]);
    let running = state == TorrentStateName::Downloading || state == TorrentStateName::Seeding;
    TorrentFigures {
        id: t.id,
        name: t.name(),
        download_rate: status.filter(|_| running).map_or(0, |s| s.stats.download_rate),
        upload_rate: status.filter(|_| running).map_or(0, |s| s.stats.upload_rate),
        progress: if wanted == 0 {
            f64::from(u8::from(t.complete))
        } else {
            (verified.min(wanted) as f64) / wanted as f64
        },
        left,
        peers: status.map_or(0, |s| s.stats.peers),
        ratio: t.ratio(),
        hash_failures: status.map_or(0, |s| s.stats.hash_failures),
        downloading: state == TorrentStateName::Downloading,
        seeding: state == TorrentStateName::Seeding,
        error: state == TorrentStateName::Error,
        trackers: u32::try_from(trackers.len()).unwrap_or(u32::MAX),
        trackers_failing: u32::try_from(trackers.iter().filter(|tr| tr.last_error.is_some()).count())
            .unwrap_or(u32::MAX),
    }
}

fn rule_view(r: &AlertRule) -> AlertRuleView {
    AlertRuleView {
        name: r.name.clone(),
        condition: r.condition_text.clone(),
        for_secs: r.hold.as_secs(),
        severity: r.severity,
        source: match r.source {
            RuleSource::Builtin => "builtin",
            RuleSource::Config => "config",
            RuleSource::Runtime => "runtime",
        }
        .to_string(),
        per_torrent: r.condition.per_torrent(),
    }
}

fn change_error(e: RuleChangeError) -> ApiError {
    match e {
        RuleChangeError::Invalid(e) => ApiError::bad_request(e.to_string()),
        RuleChangeError::NotFound(_) => ApiError::not_found(e.to_string()),
        RuleChangeError::Duplicate(_) => ApiError::new(409, "duplicate", e.to_string()),
        RuleChangeError::TooMany | RuleChangeError::NotRuntime { .. } => ApiError::conflict(e.to_string()),
    }
}

impl DaemonCore {
    /// Checks the alert rules against this tick's figures (called from `tick`).
    pub(super) fn check_alerts(&mut self) {
        let now = Instant::now();
        let alerting = &mut self.alerting;
        if alerting.engine.needs_disk_free() {
            if alerting
                .disk_checked
                .is_none_or(|at| now.saturating_duration_since(at) >= DISK_FREE_EVERY)
            {
                alerting.disk_free = disk_free(&self.download_dir);
                alerting.disk_checked = Some(now);
            }
        } else {
            alerting.disk_free = None;
        }
        let torrents: Vec<TorrentFigures<'_>> = self.torrents.values().map(torrent_figures).collect();
        let mut figures = Figures::from_torrents(torrents, alerting.disk_free);
        let transitions = alerting.engine.evaluate(now, unix_now(), &mut figures);
        drop(figures);
        let suppressed = self.alerting.engine.suppressed();
        if suppressed > self.alerting.suppressed_logged {
            tracing::warn!(
                suppressed,
                limit = crate::alerts::MAX_ACTIVE_ALERTS,
                "alerts not fired: too many firing at once"
            );
            self.alerting.suppressed_logged = suppressed;
        }
        for t in &transitions {
            self.publish_alert(t);
        }
    }

    /// On the event bus (the alert as JSON in `message`), in the log, to the webhook
    /// and the command.
    fn publish_alert(&mut self, transition: &AlertTransition) {
        let view = transition.view();
        let message = serde_json::to_string(view).unwrap_or_default();
        let torrent = view.torrent_id.and_then(|id| self.torrents.get(&id));
        self.publish(transition.kind(), torrent, Some(message));
        self.alerting.delivery.deliver(transition, self.automation.hooks_mut());
    }

    /// Applies a new `[alerts]` (a config reload sends it): the
    /// built-in thresholds and config rules are replaced (alerts of rules that are
    /// gone resolve), runtime rules stay, and the webhook and command change.
    pub fn set_config_rules(&mut self, config: AlertsConfig) {
        let transitions = self.alerting.engine.set_config_rules(&config, unix_now());
        let delivery_changed = config.webhook != self.alerting.config.webhook
            || config.webhook_timeout != self.alerting.config.webhook_timeout
            || config.webhook_retries != self.alerting.config.webhook_retries
            || config.command != self.alerting.config.command;
        if delivery_changed {
            self.alerting.delivery = AlertDelivery::start(&config);
        }
        self.alerting.config = config;
        for t in &transitions {
            self.publish_alert(t);
        }
    }

    pub(super) fn handle_alert_request(&mut self, req: AlertRequest) {
        match req {
            AlertRequest::List(reply) => {
                let _ = reply.send(Ok(self.alerting.engine.list()));
            }
            AlertRequest::Rules(reply) => {
                let _ = reply.send(Ok(self.alerting.engine.rules().iter().map(rule_view).collect()));
            }
            AlertRequest::AddRule { rule, reply } => {
                let _ = reply.send(self.add_alert_rule(rule));
            }
            AlertRequest::RemoveRule { name, reply } => {
                let result = self
                    .alerting
                    .engine
                    .remove_runtime_rule(&name, unix_now())
                    .map_err(change_error)
                    .and_then(|transitions| {
                        for t in &transitions {
                            self.publish_alert(t);
                        }
                        self.save_alert_rules()
                    });
                let _ = reply.send(result);
            }
            AlertRequest::Test(reply) => {
                let transitions = self.alerting.engine.fire_test(unix_now());
                for t in &transitions {
                    self.publish_alert(t);
                }
                let _ = reply.send(Ok(transitions[0].view().clone()));
            }
            AlertRequest::SetConfig { config, reply } => {
                self.set_config_rules(config);
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn add_alert_rule(&mut self, new: crate::api_types::NewAlertRule) -> Result<AlertRuleView, ApiError> {
        if crate::alerts::is_builtin_rule(&new.name) {
            return Err(ApiError::new(
                409,
                "duplicate",
                format!("{:?} is a built-in rule's name", new.name),
            ));
        }
        let rule = AlertRule::new(
            &new.name,
            &new.condition,
            Duration::from_secs(new.for_secs),
            new.severity.unwrap_or(AlertSeverity::Warning),
            RuleSource::Runtime,
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let view = rule_view(&rule);
        self.alerting.engine.add_runtime_rule(rule).map_err(change_error)?;
        if let Err(e) = self.save_alert_rules() {
            // Not kept across a restart: undo, so what the API says stays true.
            let _ = self.alerting.engine.remove_runtime_rule(&new.name, unix_now());
            return Err(e);
        }
        tracing::info!(rule = %view.name, condition = %view.condition, "alert rule added");
        Ok(view)
    }

    fn save_alert_rules(&self) -> Result<(), ApiError> {
        rule_store::save(&self.state_dir, self.alerting.engine.runtime_rules())
            .map_err(|e| ApiError::internal(format!("cannot keep the alert rules: {e}")))
    }
}
