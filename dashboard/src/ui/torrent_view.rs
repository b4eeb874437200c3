//! The Torrent view: the open torrent's figures, a pane (files as a tree, peers,
//! trackers, piece map) and its rate chart.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use ccbt_daemon::api_types::{FilePriorityName, TorrentDetail};

use super::rate_chart;
use super::torrents_view::state_style;
use crate::app::{App, DetailTab};
use crate::{file_tree, format, piece_map};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let Some(open) = app.detail.as_ref() else { return };
    let chart_height = if area.height >= 18 { 8 } else { 0 };
    let [head, tabs, pane, chart] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(chart_height),
    ])
    .areas(area);
    let Some(t) = app.store.get(open.id) else {
        frame.render_widget(Paragraph::new(format!("torrent {} is gone", open.id)), head);
        return;
    };
    let first = Line::from(vec![
        Span::styled(format!("{} ", t.id), Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(t.name.clone(), Style::new().add_modifier(Modifier::BOLD)),
        Span::raw("  "),
        Span::styled(t.state.as_str(), state_style(t.state)),
    ]);
    let mut second = format!(
        "{} {}  of {}  ↓{} ↑{}  ratio {}  peers {}  eta {}",
        format::bar(t.progress, 10),
        format::percent(t.progress),
        format::bytes(t.wanted_bytes),
        format::rate(t.download_rate),
        format::rate(t.upload_rate),
        format::ratio(t.ratio),
        t.peers,
        format::eta(t.eta_secs),
    );
    if let Some(e) = &t.error {
        second.push_str(&format!("  error: {e}"));
    }
    frame.render_widget(Paragraph::new(vec![first, Line::raw(second)]), head);

    let tab_spans: Vec<Span> = DetailTab::ALL
        .iter()
        .map(|tab| {
            if *tab == open.tab {
                Span::styled(
                    format!(" {} ", tab.title()),
                    Style::new().add_modifier(Modifier::REVERSED),
                )
            } else {
                Span::raw(format!(" {} ", tab.title()))
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(tab_spans)), tabs);

    match &open.detail {
        None => frame.render_widget(Paragraph::new("loading…"), pane),
        Some(detail) => match open.tab {
            DetailTab::Files => files(frame, pane, detail, open.scroll),
            DetailTab::Peers => peers(frame, pane, detail, open.scroll),
            DetailTab::Trackers => trackers(frame, pane, detail, open.scroll),
            DetailTab::Pieces => pieces(frame, pane, app),
        },
    }
    if chart_height > 0 {
        rate_chart::draw(frame, chart, "rates", app.torrent_histories.get(open.id));
    }
}

fn bold_header(titles: &[&'static str]) -> Row<'static> {
    Row::new(titles.to_vec()).style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

fn priority_name(p: FilePriorityName) -> &'static str {
    match p {
        FilePriorityName::Skip => "skip",
        FilePriorityName::Low => "low",
        FilePriorityName::Normal => "normal",
        FilePriorityName::High => "high",
    }
}

fn files(frame: &mut Frame, area: Rect, detail: &TorrentDetail, scroll: usize) {
    let lines = file_tree::tree_lines(&detail.files);
    let rows: Vec<Row> = lines
        .iter()
        .skip(scroll.min(lines.len().saturating_sub(1)))
        .take(area.height.saturating_sub(1) as usize)
        .map(|l| {
            Row::new(vec![
                Cell::from(format!("{}{}", "  ".repeat(l.depth), l.name)),
                Cell::from(format!(
                    "{} {:>4}",
                    format::bar(l.progress(), 6),
                    format::percent(l.progress())
                )),
                Cell::from(format::bytes(l.length)),
                Cell::from(l.priority.map_or("", priority_name)),
            ])
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(20),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(6),
            ],
        )
        .header(bold_header(&["File", "Progress", "Size", "Prio"])),
        area,
    );
}

fn peers(frame: &mut Frame, area: Rect, detail: &TorrentDetail, scroll: usize) {
    if detail.peers_list.is_empty() {
        frame.render_widget(Paragraph::new("no peers connected"), area);
        return;
    }
    let rows: Vec<Row> = detail
        .peers_list
        .iter()
        .skip(scroll.min(detail.peers_list.len().saturating_sub(1)))
        .take(area.height.saturating_sub(1) as usize)
        .map(|p| {
            Row::new(vec![
                Cell::from(p.addr.clone()),
                Cell::from(p.client.clone()),
                Cell::from(p.flags.clone()),
                Cell::from(format::rate(p.download_rate)),
                Cell::from(format::rate(p.upload_rate)),
                Cell::from(format::percent(p.progress)),
            ])
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(15),
                Constraint::Length(16),
                Constraint::Length(6),
                Constraint::Length(11),
                Constraint::Length(11),
                Constraint::Length(5),
            ],
        )
        .header(bold_header(&["Address", "Client", "Flags", "Down", "Up", "Has"])),
        area,
    );
}

fn trackers(frame: &mut Frame, area: Rect, detail: &TorrentDetail, scroll: usize) {
    if detail.trackers.is_empty() {
        frame.render_widget(
            Paragraph::new("no trackers (peers come from DHT, PEX, LSD or by hand)"),
            area,
        );
        return;
    }
    let count = |n: Option<u32>| n.map_or("-".to_string(), |n| n.to_string());
    let rows: Vec<Row> = detail
        .trackers
        .iter()
        .skip(scroll.min(detail.trackers.len().saturating_sub(1)))
        .take(area.height.saturating_sub(1) as usize)
        .map(|t| {
            Row::new(vec![
                Cell::from(t.url.clone()),
                Cell::from(t.status.clone()),
                Cell::from(format::eta(t.next_announce_secs)),
                Cell::from(format!("{}/{}", count(t.seeders), count(t.leechers))),
                Cell::from(t.last_error.clone().unwrap_or_default()),
            ])
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Fill(4),
                Constraint::Length(12),
                Constraint::Length(7),
                Constraint::Length(10),
                Constraint::Fill(1),
            ],
        )
        .header(bold_header(&["Tracker", "Status", "Next", "Seed/Leech", "Last error"])),
        area,
    );
}

fn pieces(frame: &mut Frame, area: Rect, app: &App) {
    let Some(map) = app.detail.as_ref().and_then(|d| d.pieces.as_ref()) else {
        frame.render_widget(Paragraph::new("loading the piece map…"), area);
        return;
    };
    let have = piece_map::have_pieces(&map.bitfield_hex, map.num_pieces);
    let room = area.width as usize * area.height.saturating_sub(1) as usize;
    let cells = piece_map::cells(&have, room);
    let per_cell = (map.num_pieces as usize).div_ceil(cells.chars().count().max(1));
    let mut lines = vec![Line::raw(format!(
        "{} of {} pieces verified  (one cell = {} piece{})",
        map.have,
        map.num_pieces,
        per_cell,
        if per_cell == 1 { "" } else { "s" }
    ))];
    lines.push(Line::raw(cells));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}
