//! Keys and updates against the state: what each key asks of the daemon.

use std::time::Instant;

use ccbt_daemon::api_types::{ApiEvent, TorrentChanges};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use ccbt_daemon::api_types::TorrentSummary;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn chars(app: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| app.on_key(key(KeyCode::Char(c)))).collect()
}

/// An app that has heard of torrents 1 (alpha) and 2 (beta).
pub(crate) fn app_with_two() -> App {
    let mut app = App::new("http://127.0.0.1:64124".into());
    app.apply(
        Update::Changes(TorrentChanges {
            revision: 1,
            full: true,
            torrents: vec![TorrentSummary::sample(1, "alpha"), TorrentSummary::sample(2, "beta")],
            removed: vec![],
        }),
        Instant::now(),
    );
    app.list.refresh(&app.store);
    app
}

#[test]
fn pause_and_resume_act_on_the_selected_row() {
    let mut app = app_with_two();
    assert_eq!(app.connection, Connection::Up);
    app.on_key(key(KeyCode::Down));
    assert_eq!(
        app.on_key(key(KeyCode::Char('p'))),
        vec![Command::Act {
            id: 2,
            action: TorrentAction::Pause
        }]
    );
    app.on_key(key(KeyCode::Char('k')));
    assert_eq!(
        app.on_key(key(KeyCode::Char('r'))),
        vec![Command::Act {
            id: 1,
            action: TorrentAction::Resume
        }]
    );
}

#[test]
fn remove_asks_first_and_capital_d_deletes_data() {
    let mut app = app_with_two();
    assert!(app.on_key(key(KeyCode::Char('d'))).is_empty());
    assert!(matches!(
        app.mode,
        Mode::ConfirmRemove {
            id: 1,
            delete_data: false,
            ..
        }
    ));
    assert!(app.on_key(key(KeyCode::Char('n'))).is_empty(), "n cancels");
    assert_eq!(app.mode, Mode::Normal);
    app.on_key(key(KeyCode::Char('D')));
    let commands = app.on_key(key(KeyCode::Char('y')));
    assert_eq!(
        commands[0],
        Command::Remove {
            id: 1,
            delete_data: true
        }
    );
}

#[test]
fn add_and_limits_prompts_send_what_was_typed() {
    let mut app = app_with_two();
    app.on_key(key(KeyCode::Char('a')));
    chars(&mut app, "magnet:?xt=urn:btih:abc");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Command::Add("magnet:?xt=urn:btih:abc".into())]
    );
    app.on_key(key(KeyCode::Char('l')));
    chars(&mut app, "- 1M");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Command::SetLimits {
            target: LimitTarget::Torrent(1),
            down: String::new(),
            up: "1M".into()
        }]
    );
    // Esc drops a prompt; an empty line sends nothing.
    app.on_key(key(KeyCode::Char('a')));
    chars(&mut app, "x");
    assert!(app.on_key(key(KeyCode::Esc)).is_empty());
    app.on_key(key(KeyCode::Char('a')));
    assert!(app.on_key(key(KeyCode::Enter)).is_empty());
    // In the session view, `l` is the session's.
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.view, View::Session);
    app.on_key(key(KeyCode::Char('l')));
    chars(&mut app, "10M none");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        vec![Command::SetLimits {
            target: LimitTarget::Session,
            down: "10M".into(),
            up: "none".into()
        }]
    );
}

#[test]
fn enter_opens_a_torrent_and_focus_follows_the_view() {
    let mut app = app_with_two();
    let commands = app.on_key(key(KeyCode::Enter));
    assert_eq!(app.view, View::Torrent);
    assert_eq!(
        commands,
        vec![Command::Focus(Focus {
            torrent: Some(1),
            alerts: false
        })]
    );
    app.on_key(key(KeyCode::Right));
    assert_eq!(app.detail.as_ref().map(|d| d.tab), Some(DetailTab::Peers));
    app.on_key(key(KeyCode::Left));
    app.on_key(key(KeyCode::Left));
    assert_eq!(
        app.detail.as_ref().map(|d| d.tab),
        Some(DetailTab::Pieces),
        "the panes wrap"
    );
    assert_eq!(app.on_key(key(KeyCode::Esc)), vec![Command::Focus(Focus::default())]);
    assert_eq!(app.view, View::Torrents);
    // Tab, Tab: the alerts view, which wants the alerts.
    app.on_key(key(KeyCode::Tab));
    let commands = app.on_key(key(KeyCode::Tab));
    assert_eq!(
        commands,
        vec![Command::Focus(Focus {
            torrent: None,
            alerts: true
        })]
    );
    app.on_key(key(KeyCode::BackTab));
    assert_eq!(app.view, View::Session);
}

#[test]
fn search_filters_as_typed_and_esc_clears() {
    let mut app = app_with_two();
    app.on_key(key(KeyCode::Char('/')));
    chars(&mut app, "bet");
    app.list.refresh(&app.store);
    assert_eq!(app.list.rows(), &[2]);
    assert_eq!(app.mode, Mode::Search);
    // While typing, letters are text, not keys: `q` did not quit.
    chars(&mut app, "q");
    assert!(!app.quit);
    app.on_key(key(KeyCode::Backspace));
    app.on_key(key(KeyCode::Esc));
    app.list.refresh(&app.store);
    assert_eq!(app.list.rows(), &[1, 2]);
    app.on_key(key(KeyCode::Char('q')));
    assert!(app.quit);
}

#[test]
fn a_lost_daemon_is_counted_and_forgets_the_revision() {
    let mut app = app_with_two();
    let now = Instant::now();
    app.apply(Update::Down("connection refused".into()), now);
    app.apply(Update::Down("connection refused".into()), now);
    assert_eq!(
        app.connection,
        Connection::Down {
            reason: "connection refused".into(),
            attempts: 2
        }
    );
    assert_eq!(app.store.revision(), 0);
    app.apply(
        Update::Changes(TorrentChanges {
            revision: 9,
            full: true,
            torrents: vec![TorrentSummary::sample(1, "alpha")],
            removed: vec![],
        }),
        now,
    );
    assert_eq!(app.connection, Connection::Up);
    assert_eq!(app.store.len(), 1);
}

#[test]
fn alert_events_count_and_flash() {
    let mut app = app_with_two();
    let now = Instant::now();
    let alert = r#"{"id":1,"rule":"torrent_stalled","severity":"warning","torrent_id":1,"torrent_name":"alpha","message":"no progress for 5m","fired_at":1,"resolved_at":null}"#;
    let event = |kind: &str| ApiEvent {
        seq: 1,
        kind: kind.into(),
        id: Some(1),
        info_hash: None,
        name: Some("alpha".into()),
        state: None,
        message: Some(alert.into()),
        time: 1,
    };
    app.apply(Update::Event(event("alert_fired")), now);
    assert_eq!(app.firing_alerts, 1);
    assert_eq!(
        app.current_flash(now),
        Some("alert: torrent_stalled no progress for 5m")
    );
    app.apply(Update::Event(event("alert_resolved")), now);
    assert_eq!(app.firing_alerts, 0);
    assert!(app.current_flash(now + FLASH_FOR).is_none(), "messages go away");
}
