//! What the API asks of the alerts (one `ControlRequest::Alerts` carries it to the
//! core, which owns the engine).

use crate::api_types::{AlertList, AlertRuleView, AlertView, NewAlertRule};
use crate::control::Reply;

#[derive(Debug)]
pub enum AlertRequest {
    /// `GET /api/v1/alerts`.
    List(Reply<AlertList>),
    /// `GET /api/v1/alerts/rules`.
    Rules(Reply<Vec<AlertRuleView>>),
    /// `POST /api/v1/alerts/rules`: a runtime rule, kept in the state dir.
    AddRule {
        rule: NewAlertRule,
        reply: Reply<AlertRuleView>,
    },
    /// `DELETE /api/v1/alerts/rules/{name}`.
    RemoveRule { name: String, reply: Reply<()> },
    /// `POST /api/v1/alerts/test`: fires (and resolves) a test alert through every
    /// channel; answers it.
    Test(Reply<AlertView>),
    /// A reloaded `[alerts]`: thresholds, config rules and delivery replaced.
    SetConfig {
        config: crate::daemon_config::AlertsConfig,
        reply: Reply<()>,
    },
}
