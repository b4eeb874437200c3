//! The Alerts view: what fires now, then what fired lately.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use ccbt_daemon::api_types::{AlertSeverity, AlertView};

use crate::app::{AlertsState, App};

fn severity_style(s: AlertSeverity) -> Style {
    match s {
        AlertSeverity::Info => Style::new().fg(Color::Blue),
        AlertSeverity::Warning => Style::new().fg(Color::Yellow),
        AlertSeverity::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

fn row(a: &AlertView, firing: bool) -> Row<'static> {
    let severity = match a.severity {
        AlertSeverity::Info => "info",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Critical => "critical",
    };
    let about = match (&a.torrent_name, a.torrent_id) {
        (Some(name), _) => name.clone(),
        (None, Some(id)) => format!("torrent {id}"),
        (None, None) => String::new(),
    };
    Row::new(vec![
        Cell::from(if firing { "FIRING" } else { "resolved" }),
        Cell::from(severity).style(severity_style(a.severity)),
        Cell::from(a.rule.clone()),
        Cell::from(about),
        Cell::from(a.message.clone()),
    ])
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let list = match &app.alerts {
        AlertsState::Loaded(list) => list,
        other => {
            let text = match other {
                AlertsState::Unsupported => {
                    "this daemon has no alerts API (GET /api/v1/alerts answers 404)".to_string()
                }
                AlertsState::Failed(reason) => format!("the alerts could not be read: {reason}"),
                _ => "loading the alerts…".to_string(),
            };
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
            return;
        }
    };
    if list.active.is_empty() && list.recent.is_empty() {
        frame.render_widget(Paragraph::new("no alerts: nothing fires, nothing fired lately"), area);
        return;
    }
    let rows: Vec<Row> = list
        .active
        .iter()
        .map(|a| row(a, true))
        .chain(
            list.recent
                .iter()
                .filter(|a| a.resolved_at.is_some())
                .map(|a| row(a, false)),
        )
        .take(area.height.saturating_sub(1) as usize)
        .collect();
    let header = Row::new(["", "Severity", "Rule", "Torrent", "Message"])
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(16),
                Constraint::Length(16),
                Constraint::Min(10),
            ],
        )
        .header(header),
        area,
    );
}
