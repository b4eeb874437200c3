//! The Torrents view: one row per torrent, only the rows on screen built.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;

use ccbt_daemon::api_types::{TorrentStateName, TorrentSummary};

use crate::app::App;
use crate::format;
use crate::torrent_list::Column;

/// Widths of the fixed columns; the name takes the rest.
fn width_of(column: Column, wide: bool) -> u16 {
    match column {
        Column::Name => 0,
        Column::State => 11,
        Column::Progress => {
            if wide {
                16
            } else {
                11
            }
        }
        Column::Size => 9,
        Column::Down | Column::Up => 11,
        Column::Ratio => 6,
        Column::Peers => 5,
        Column::Eta => 7,
        Column::Labels => 12,
    }
}

/// The columns that fit: all from 110 cells on, else without ratio, ETA and labels.
pub(super) fn columns(width: u16) -> Vec<Column> {
    if width >= 110 {
        Column::ALL.to_vec()
    } else {
        vec![
            Column::Name,
            Column::State,
            Column::Progress,
            Column::Size,
            Column::Down,
            Column::Up,
            Column::Peers,
        ]
    }
}

pub(super) fn state_style(state: TorrentStateName) -> Style {
    match state {
        TorrentStateName::Downloading | TorrentStateName::Metadata => Style::new().fg(Color::Cyan),
        TorrentStateName::Seeding => Style::new().fg(Color::Green),
        TorrentStateName::Error => Style::new().fg(Color::Red),
        TorrentStateName::Paused | TorrentStateName::Finished => Style::new().fg(Color::DarkGray),
        TorrentStateName::Queued | TorrentStateName::Checking => Style::new().fg(Color::Yellow),
    }
}

fn cell(t: &TorrentSummary, column: Column, wide: bool) -> Cell<'static> {
    match column {
        Column::Name => Cell::from(t.name.clone()),
        Column::State => Cell::from(t.state.as_str()).style(state_style(t.state)),
        Column::Progress => {
            let bar = if wide { 10 } else { 6 };
            Cell::from(format!(
                "{} {:>4}",
                format::bar(t.progress, bar),
                format::percent(t.progress)
            ))
        }
        Column::Size => Cell::from(format::bytes(t.wanted_bytes)),
        Column::Down => Cell::from(format::rate(t.download_rate)),
        Column::Up => Cell::from(format::rate(t.upload_rate)),
        Column::Ratio => Cell::from(format::ratio(t.ratio)),
        Column::Peers => Cell::from(t.peers.to_string()),
        Column::Eta => Cell::from(format::eta(t.eta_secs)),
        Column::Labels => Cell::from(t.labels.join(",")),
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [info, table_area] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let filters = app.list.describe_filters();
    let arrow = if app.list.descending { "▼" } else { "▲" };
    let summary = format!(
        "{} of {} torrents  sort: {} {arrow}{}",
        app.list.rows().len(),
        app.store.len(),
        app.list.sort.title(),
        if filters.is_empty() {
            String::new()
        } else {
            format!("  filter: {filters}")
        }
    );
    frame.render_widget(Paragraph::new(Line::raw(summary)), info);

    let wide = area.width >= 110;
    let columns = columns(area.width);
    // Header row, then as many rows as fit.
    let height = table_area.height.saturating_sub(1) as usize;
    let offset = app.list.scroll_to_selection(height);
    let selected = app.list.selected();
    let rows: Vec<Row> = app
        .list
        .rows()
        .iter()
        .skip(offset)
        .take(height)
        .filter_map(|id| app.store.get(*id))
        .map(|t| {
            let row = Row::new(columns.iter().map(|c| cell(t, *c, wide)));
            if Some(t.id) == selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let header = Row::new(columns.iter().map(|c| {
        let title = if *c == app.list.sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        Cell::from(title)
    }))
    .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|c| match c {
            Column::Name => Constraint::Min(12),
            other => Constraint::Length(width_of(*other, wide)),
        })
        .collect();
    if app.list.rows().is_empty() {
        let text = if app.store.is_empty() {
            "no torrents yet: `a` adds one (a magnet link or a .torrent path)"
        } else {
            "no torrent matches the filters (`c` clears them)"
        };
        frame.render_widget(Table::new(Vec::<Row>::new(), widths.clone()).header(header), table_area);
        if table_area.height > 2 {
            let below = Rect {
                y: table_area.y + 2,
                height: 1,
                ..table_area
            };
            frame.render_widget(Paragraph::new(text), below);
        }
        return;
    }
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), table_area);
}
