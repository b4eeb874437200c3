//! Alerts leaving the daemon: POSTed to a webhook by a thread of its own, and run
//! as a command through the hook runner. Neither ever blocks the core: the webhook
//! takes alerts through a bounded queue (a full queue drops the alert, counted and
//! logged), and each POST is bounded by its timeout and retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use serde::Serialize;

use super::engine::AlertTransition;
use crate::api_types::AlertView;
use crate::daemon_config::AlertsConfig;
use crate::hooks::HookRunner;

/// Alerts waiting for the webhook, at most.
pub const WEBHOOK_QUEUE_DEPTH: usize = 64;
/// First wait before a retry; doubled each time.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// What the webhook receives (and the command in `CCBT_ALERT_JSON`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertPayload<'a> {
    /// `alert_fired` or `alert_resolved`.
    pub event: &'static str,
    pub alert: &'a AlertView,
}

impl AlertTransition {
    pub fn payload_json(&self) -> String {
        let payload = AlertPayload {
            event: self.kind(),
            alert: self.view(),
        };
        serde_json::to_string(&payload).unwrap_or_default()
    }
}

/// Counts of the webhook since start.
#[derive(Default)]
pub struct WebhookCounters {
    pub delivered: AtomicU64,
    /// Gave up after every retry.
    pub failed: AtomicU64,
    /// The queue was full.
    pub dropped: AtomicU64,
}

struct Webhook {
    sender: Sender<String>,
    _thread: JoinHandle<()>,
}

/// The webhook and the command of `[alerts]`.
pub struct AlertDelivery {
    webhook: Option<Webhook>,
    command: Option<String>,
    counters: Arc<WebhookCounters>,
}

impl AlertDelivery {
    pub fn start(config: &AlertsConfig) -> AlertDelivery {
        let counters = Arc::new(WebhookCounters::default());
        let webhook = config.webhook.as_ref().and_then(|url| {
            let (sender, receiver) = crossbeam_channel::bounded::<String>(WEBHOOK_QUEUE_DEPTH);
            let (url, timeout, retries) = (url.clone(), config.webhook_timeout, config.webhook_retries);
            let counters = Arc::clone(&counters);
            let spawned = std::thread::Builder::new().name("ccbt-webhook".into()).spawn(move || {
                // Ends when the delivery is dropped (a reload or shutdown) and the
                // queue is empty.
                for body in receiver {
                    let ok = post_with_retries(&url, &body, timeout, retries);
                    let counter = if ok { &counters.delivered } else { &counters.failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            });
            match spawned {
                Ok(thread) => Some(Webhook {
                    sender,
                    _thread: thread,
                }),
                Err(e) => {
                    tracing::error!(error = %e, "alerts: cannot start the webhook thread");
                    None
                }
            }
        });
        AlertDelivery {
            webhook,
            command: config.command.clone(),
            counters,
        }
    }

    pub fn counters(&self) -> &WebhookCounters {
        &self.counters
    }

    /// Logs the alert and hands it to the webhook and the command; never blocks.
    pub fn deliver(&self, transition: &AlertTransition, hooks: &mut HookRunner) {
        let view = transition.view();
        let torrent = view.torrent_name.as_deref().unwrap_or("");
        match transition {
            AlertTransition::Fired(_) => tracing::warn!(
                rule = %view.rule, severity = ?view.severity, torrent, alert = view.id,
                "alert fired: {}", view.message
            ),
            AlertTransition::Resolved(_) => tracing::info!(
                rule = %view.rule, torrent, alert = view.id, "alert resolved: {}", view.message
            ),
        }
        if self.webhook.is_none() && self.command.is_none() {
            return;
        }
        let json = transition.payload_json();
        if let Some(webhook) = &self.webhook {
            match webhook.sender.try_send(json.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(rule = %view.rule, alert = view.id, "alert not sent to the webhook: its queue is full");
                }
            }
        }
        if let Some(command) = &self.command {
            hooks.fire_command(transition.kind(), command, &view.rule, environment(transition, json));
        }
    }
}

/// The environment of the alert command, besides the daemon's own.
pub fn environment(transition: &AlertTransition, json: String) -> Vec<(&'static str, String)> {
    let v = transition.view();
    let severity = serde_json::to_value(v.severity)
        .ok()
        .and_then(|s| s.as_str().map(str::to_string))
        .unwrap_or_default();
    vec![
        ("CCBT_EVENT", transition.kind().to_string()),
        ("CCBT_ALERT_ID", v.id.to_string()),
        ("CCBT_ALERT_RULE", v.rule.clone()),
        ("CCBT_ALERT_SEVERITY", severity),
        ("CCBT_ALERT_MESSAGE", v.message.clone()),
        ("CCBT_ALERT_JSON", json),
        ("CCBT_ID", v.torrent_id.map(|i| i.to_string()).unwrap_or_default()),
        ("CCBT_NAME", v.torrent_name.clone().unwrap_or_default()),
    ]
}

/// POSTs `body`; true once the webhook answered 2xx.
fn post_with_retries(url: &str, body: &str, timeout: Duration, retries: u32) -> bool {
    let mut backoff = RETRY_BACKOFF;
    for attempt in 0..=retries {
        let sent = minreq::post(url)
            .with_header("Content-Type", "application/json")
            .with_header("User-Agent", concat!("ccbt/", env!("CARGO_PKG_VERSION")))
            .with_body(body)
            .with_timeout(timeout.as_secs().max(1))
            .send();
        match sent {
            Ok(r) if (200..300).contains(&r.status_code) => return true,
            Ok(r) => tracing::warn!(url, status = r.status_code, attempt, "alert webhook refused the alert"),
            Err(e) => tracing::warn!(url, error = %e, attempt, "alert webhook unreachable"),
        }
        if attempt < retries {
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
    tracing::warn!(url, retries, "alert webhook: gave up on an alert");
    false
}
