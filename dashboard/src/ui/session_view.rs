//! The Session view: the global rates over the last minutes, and one row per shard
//! (core): its torrents, peers, rates and how busy it is. The view no other client
//! has, because no other client spreads torrents over cores.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::rate_chart;
use crate::app::App;
use crate::format;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let shards = app.stats.as_ref().map_or(0, |s| s.shards.len()) as u16;
    // Totals line, the chart, then the shard table (header + one row each) as room allows.
    let table_height = (shards + 1).min(area.height.saturating_sub(8).max(2));
    let [totals, chart, table] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(table_height),
    ])
    .areas(area);
    let Some(stats) = &app.stats else {
        frame.render_widget(Paragraph::new("waiting for the daemon's figures…"), totals);
        return;
    };
    let states: Vec<String> = stats.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
    frame.render_widget(
        Paragraph::new(Line::raw(format!(
            "{} torrents ({})  {} peers  session ↓{} ↑{}  up {}",
            stats.torrents,
            states.join(", "),
            stats.peers,
            format::bytes(stats.session_downloaded),
            format::bytes(stats.session_uploaded),
            format::eta(Some(stats.uptime_secs)),
        ))),
        totals,
    );
    rate_chart::draw(frame, chart, "session", Some(&app.session_history));
    let wide = area.width >= 100;
    let bar_width = if wide { 20 } else { 10 };
    let rows: Vec<Row> = stats
        .shards
        .iter()
        .map(|s| {
            let busy = s.busy_percent.clamp(0.0, 100.0);
            Row::new(vec![
                Cell::from(format!("shard {}", s.shard)),
                Cell::from(s.torrents.to_string()),
                Cell::from(s.peers.to_string()),
                Cell::from(format::rate(s.download_rate)),
                Cell::from(format::rate(s.upload_rate)),
                Cell::from(format!("{} {:>3.0}%", format::bar(busy / 100.0, bar_width), busy)).style(Style::new().fg(
                    if busy >= 90.0 {
                        Color::Red
                    } else if busy >= 60.0 {
                        Color::Yellow
                    } else {
                        Color::Green
                    },
                )),
            ])
        })
        .collect();
    let header = Row::new(["Shard", "Torrents", "Peers", "Down", "Up", "Core busy"])
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(11),
                Constraint::Length(11),
                Constraint::Length(bar_width as u16 + 6),
            ],
        )
        .header(header),
        table,
    );
}
