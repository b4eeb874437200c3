//! What every view shares: the title bar, the bottom line (keys, messages, the
//! search being typed), the daemon-down screen, and the help, prompt and confirm
//! boxes drawn over the view.

use std::time::Instant;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::api::LimitTarget;
use crate::app::{App, Connection, Mode, PromptKind, View};
use crate::format;

pub(super) fn title_bar(frame: &mut Frame, area: Rect, app: &App) {
    let tab = |name: &str, active: bool| {
        if active {
            Span::styled(format!(" {name} "), Style::new().add_modifier(Modifier::REVERSED))
        } else {
            Span::raw(format!(" {name} "))
        }
    };
    let mut spans = vec![
        Span::styled("bitonic ", Style::new().add_modifier(Modifier::BOLD)),
        tab("Torrents", matches!(app.view, View::Torrents | View::Torrent)),
        tab("Session", app.view == View::Session),
        tab(
            &if app.firing_alerts > 0 {
                format!("Alerts ({})", app.firing_alerts)
            } else {
                "Alerts".to_string()
            },
            app.view == View::Alerts,
        ),
    ];
    if let Some(stats) = &app.stats {
        spans.push(Span::raw(format!(
            " ↓{} ↑{} {} torrents",
            format::rate(stats.download_rate),
            format::rate(stats.upload_rate),
            app.store.len()
        )));
    }
    spans.push(Span::styled(format!("  {}", app.url), Style::new().fg(Color::DarkGray)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(super) fn bottom_line(frame: &mut Frame, area: Rect, app: &App, now: Instant) {
    let line = match &app.mode {
        Mode::Search => Line::from(vec![
            Span::styled("/", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(app.list.search.clone()),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled(format!("   {}", app.help_line()), Style::new().fg(Color::DarkGray)),
        ]),
        _ => match app.current_flash(now) {
            Some(text) => Line::from(Span::styled(text.to_string(), Style::new().fg(Color::Yellow))),
            None => Line::from(Span::styled(app.help_line(), Style::new().fg(Color::DarkGray))),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// No daemon yet, or not any more: where bitonic looks, why it failed, and that it
/// keeps trying.
pub(super) fn daemon_down(frame: &mut Frame, area: Rect, app: &App) {
    let text = match &app.connection {
        Connection::Down { reason, attempts } => vec![
            Line::from(Span::styled(
                // `ApiFailure::Unreachable`'s words; anything else did answer.
                if reason.starts_with("no daemon answers") {
                    "No daemon answers"
                } else {
                    "The daemon does not answer bitonic"
                },
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            )),
            Line::raw(""),
            Line::raw(format!("at {}", app.url)),
            Line::raw(""),
            Line::raw(reason.clone()),
            Line::raw(""),
            Line::raw(format!("retrying every 2 s (attempt {attempts}); q quits")),
            Line::raw("start one with `btbt daemon start`, or point bitonic at one with --api URL"),
        ],
        _ => vec![Line::raw(format!("connecting to {} …", app.url))],
    };
    let height = text.len() as u16 + 2;
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height.min(area.height)),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true })
            .block(Block::new().borders(Borders::ALL)),
        middle,
    );
}

const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous view: Torrents, Session, Alerts"),
    ("↑ ↓  j k", "move; PgUp PgDn, g G: page, first, last"),
    ("Enter", "open the torrent: files, peers, trackers, pieces, rates"),
    ("← →", "the torrent's panes; Esc goes back"),
    ("/", "search names; Esc clears"),
    ("s  S", "sort by the next column; reverse the order"),
    ("f  t  c", "filter by state; by label; clear the filters"),
    ("p  r", "pause; resume"),
    ("d  D", "remove; remove with its data (asks first)"),
    ("a", "add a magnet link or a .torrent path"),
    ("l", "limits: `DOWN UP` (10M 1M, none, - keeps one)"),
    ("?  q", "this help; quit"),
];

pub(super) fn overlays(frame: &mut Frame, area: Rect, app: &App) {
    match &app.mode {
        Mode::Help => {
            let lines: Vec<Line> = HELP
                .iter()
                .map(|(keys, what)| {
                    Line::from(vec![
                        Span::styled(format!("{keys:<16}"), Style::new().add_modifier(Modifier::BOLD)),
                        Span::raw(*what),
                    ])
                })
                .collect();
            popup(frame, area, " keys ", lines, 70);
        }
        Mode::ConfirmRemove { name, delete_data, .. } => {
            let what = if *delete_data {
                "Remove it AND DELETE ITS DATA?"
            } else {
                "Remove it (its data stays)?"
            };
            popup(
                frame,
                area,
                " remove ",
                vec![Line::raw(format::fit(name, 60)), Line::raw(what), Line::raw("y / n")],
                64,
            );
        }
        Mode::Prompt { kind, input } => {
            let (title, hint) = match kind {
                PromptKind::Add => (" add ".to_string(), "a magnet link, or a .torrent path on this machine"),
                PromptKind::Limits(LimitTarget::Session) => (
                    " session limits ".to_string(),
                    "DOWN UP, e.g. `10M 1M`, `none none`; - keeps one",
                ),
                PromptKind::Limits(LimitTarget::Torrent(id)) => (
                    format!(" limits of torrent {id} "),
                    "DOWN UP, e.g. `10M 1M`, `none`, `global`; - keeps one",
                ),
            };
            // The end of a long line stays in sight.
            let width = 70usize;
            let count = input.chars().count();
            let shown: String = input.chars().skip(count.saturating_sub(width - 4)).collect();
            popup(
                frame,
                area,
                &title,
                vec![Line::raw(hint), Line::raw(format!("> {shown}█"))],
                width as u16,
            );
        }
        Mode::Normal | Mode::Search => {}
    }
}

fn popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, width: u16) {
    let width = (width + 2).min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(title.to_string())),
        rect,
    );
}
