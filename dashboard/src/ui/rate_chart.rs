//! A download/upload rate chart over a [`RateHistory`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};
use ratatui::Frame;

use crate::format;
use crate::rate_history::{RateHistory, HISTORY_SAMPLES};

pub(super) fn draw(frame: &mut Frame, area: Rect, title: &str, history: Option<&RateHistory>) {
    let empty = RateHistory::default();
    let history = history.unwrap_or(&empty);
    let down = history.down_points();
    let up = history.up_points();
    let peak = history.peak().max(1);
    let samples = history.len().max(2);
    let datasets = vec![
        Dataset::default()
            .name(format!("down {}", format::rate(down.last().map_or(0, |p| p.1 as u64))))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(&down),
        Dataset::default()
            .name(format!("up {}", format::rate(up.last().map_or(0, |p| p.1 as u64))))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Green))
            .data(&up),
    ];
    let span_secs = samples.min(HISTORY_SAMPLES);
    let chart = Chart::new(datasets)
        .block(Block::new().borders(Borders::ALL).title(format!(
            "{title} (last {}s, peak {})",
            span_secs,
            format::rate(peak)
        )))
        .x_axis(Axis::default().bounds([0.0, (samples - 1) as f64]))
        .y_axis(
            Axis::default()
                .bounds([0.0, peak as f64 * 1.1])
                .labels(vec![Span::raw("0"), Span::raw(format::bytes(peak))]),
        );
    frame.render_widget(chart, area);
}
