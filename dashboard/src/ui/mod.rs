//! Drawing: one function per view, over the [`App`] state. Each draws only what fits
//! (the Torrents view builds just the rows on screen), so a redraw costs the same at
//! 10 torrents and at 10,000.

mod alerts_view;
mod chrome;
mod rate_chart;
mod session_view;
mod torrent_view;
mod torrents_view;

#[cfg(test)]
mod tests;

use std::time::Instant;

use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use crate::app::{App, Connection, View};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &mut App, now: Instant) {
    let [title, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
    chrome::title_bar(frame, title, app);
    let unreachable = matches!(app.connection, Connection::Down { .. } | Connection::Connecting);
    if unreachable {
        chrome::daemon_down(frame, body, app);
    } else {
        app.list.refresh(&app.store);
        match app.view {
            View::Torrents => torrents_view::draw(frame, body, app),
            View::Torrent => torrent_view::draw(frame, body, app),
            View::Session => session_view::draw(frame, body, app),
            View::Alerts => alerts_view::draw(frame, body, app),
        }
    }
    chrome::bottom_line(frame, bottom, app, now);
    chrome::overlays(frame, body, app);
}
