//! Each view drawn on ratatui's `TestBackend` at 80x24 and 120x30, read back as text.

use std::collections::BTreeMap;
use std::time::Instant;

use ccbt_daemon::api_types::{
    AlertList, AlertSeverity, AlertView, FileEntry, FilePriorityName, PeerEntry, PeersBySource, PieceMap, SessionStats,
    ShardStats, TorrentChanges, TorrentDetail, TrackerEntry,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::app::tests::app_with_two;
use crate::app::{AlertsState, App, Connection, Update};
use ccbt_daemon::api_types::TorrentSummary;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 30)];

fn screen(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| super::draw(f, app, Instant::now())).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..height {
        for x in 0..width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn stats(shards: usize) -> SessionStats {
    SessionStats {
        download_rate: 3 * 1024 * 1024,
        upload_rate: 1024,
        session_downloaded: 10 << 20,
        session_uploaded: 0,
        total_downloaded: 10 << 20,
        total_uploaded: 0,
        torrents: 2,
        by_state: BTreeMap::from([("downloading".to_string(), 2)]),
        peers: 4,
        shards: (0..shards)
            .map(|i| ShardStats {
                shard: i,
                torrents: 1,
                peers: 2,
                download_rate: 1024 * 1024,
                upload_rate: 0,
                download_share: None,
                upload_share: None,
                busy_percent: 37.0,
            })
            .collect(),
        events_dropped: 0,
        handovers: 0,
        uptime_secs: 65,
        ip_filter_blocked: Default::default(),
        peer_guard: Default::default(),
    }
}

#[test]
fn torrents_view_shows_rows_and_the_keys_at_both_sizes() {
    for (w, h) in SIZES {
        let mut app = app_with_two();
        app.apply(Update::Stats(stats(2)), Instant::now());
        let text = screen(&mut app, w, h);
        assert!(text.contains("alpha") && text.contains("beta"), "{w}x{h}:\n{text}");
        assert!(text.contains("25%"), "{text}");
        assert!(text.contains("downloading"), "{text}");
        assert!(text.contains("2 of 2 torrents"), "{text}");
        assert!(text.contains("p pause"), "the help line shows the view's keys:\n{text}");
        assert_eq!(text.contains("Labels"), w >= 110, "labels only when wide:\n{text}");
    }
}

#[test]
fn only_the_rows_on_screen_are_drawn_at_10000_torrents() {
    let mut app = App::new("http://x:1".into());
    app.apply(
        Update::Changes(TorrentChanges {
            revision: 1,
            full: true,
            torrents: (0..10_000)
                .map(|i| TorrentSummary::sample(i, &format!("torrent-{i:05}")))
                .collect(),
            removed: vec![],
        }),
        Instant::now(),
    );
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("torrent-00000"), "{text}");
    assert!(!text.contains("torrent-00030"), "{text}");
    press(&mut app, KeyCode::End);
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("torrent-09999"), "{text}");
    assert!(text.contains("10000 of 10000 torrents"), "{text}");
}

#[test]
fn session_view_has_a_row_and_a_busy_bar_per_shard() {
    for (w, h) in SIZES {
        let mut app = app_with_two();
        for _ in 0..5 {
            app.apply(Update::Stats(stats(2)), Instant::now());
        }
        press(&mut app, KeyCode::Tab);
        let text = screen(&mut app, w, h);
        assert!(text.contains("shard 0") && text.contains("shard 1"), "{w}x{h}:\n{text}");
        assert!(text.contains("37%"), "{text}");
        assert!(text.contains("session (last"), "the chart:\n{text}");
        assert!(text.contains("Core busy"), "{text}");
    }
}

fn detail() -> TorrentDetail {
    TorrentDetail {
        summary: TorrentSummary::sample(1, "alpha"),
        piece_length: 16384,
        num_pieces: 16,
        pieces_have: 8,
        files: vec![
            FileEntry {
                index: 0,
                path: "alpha/disc1/track.flac".into(),
                length: 1 << 20,
                verified_bytes: 1 << 19,
                progress: 0.5,
                priority: FilePriorityName::High,
                padding: false,
            },
            FileEntry {
                index: 1,
                path: "alpha/notes.txt".into(),
                length: 100,
                verified_bytes: 0,
                progress: 0.0,
                priority: FilePriorityName::Skip,
                padding: false,
            },
        ],
        peers_list: vec![PeerEntry {
            addr: "127.0.0.1:6881".into(),
            client: "libtorrent 2.0".into(),
            flags: "D".into(),
            download_rate: 2048,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            progress: 1.0,
            source: "manual".into(),
        }],
        trackers: vec![TrackerEntry {
            url: "http://127.0.0.1:6969/announce".into(),
            tier: 0,
            status: "working".into(),
            next_announce_secs: Some(1800),
            seeders: Some(1),
            leechers: Some(0),
            last_error: None,
        }],
        last_check: None,
        peers_by_source: PeersBySource::default(),
    }
}

#[test]
fn torrent_view_panes_at_both_sizes() {
    for (w, h) in SIZES {
        let mut app = app_with_two();
        press(&mut app, KeyCode::Enter);
        app.apply(Update::Detail(Box::new(detail())), Instant::now());
        app.apply(
            Update::Pieces {
                id: 1,
                map: PieceMap {
                    num_pieces: 16,
                    have: 8,
                    bitfield_hex: "ff00".into(),
                },
            },
            Instant::now(),
        );
        let text = screen(&mut app, w, h);
        assert!(
            text.contains("disc1/") && text.contains("track.flac"),
            "{w}x{h}:\n{text}"
        );
        assert!(text.contains("high") && text.contains("skip"), "{text}");
        press(&mut app, KeyCode::Right);
        let text = screen(&mut app, w, h);
        assert!(text.contains("127.0.0.1:6881") && text.contains("libtorrent"), "{text}");
        press(&mut app, KeyCode::Right);
        let text = screen(&mut app, w, h);
        assert!(text.contains("6969/announce") && text.contains("working"), "{text}");
        press(&mut app, KeyCode::Right);
        let text = screen(&mut app, w, h);
        assert!(text.contains("8 of 16 pieces verified"), "{text}");
        assert!(text.contains("████████········"), "{text}");
        assert!(text.contains("rates (last"), "the chart:\n{text}");
    }
}

#[test]
fn alerts_view_lists_firing_and_resolved_or_says_there_is_no_api() {
    let mut app = app_with_two();
    press(&mut app, KeyCode::BackTab);
    app.apply(Update::Alerts(AlertsState::Unsupported), Instant::now());
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("no alerts API"), "{text}");
    let alert = |id, resolved_at| AlertView {
        id,
        rule: "torrent_stalled".into(),
        severity: AlertSeverity::Warning,
        torrent_id: Some(1),
        torrent_name: Some("alpha".into()),
        message: format!("stalled #{id}"),
        fired_at: 1,
        resolved_at,
    };
    app.apply(
        Update::Alerts(AlertsState::Loaded(AlertList {
            active: vec![alert(2, None)],
            recent: vec![alert(1, Some(5))],
        })),
        Instant::now(),
    );
    let text = screen(&mut app, 120, 30);
    assert!(text.contains("FIRING") && text.contains("stalled #2"), "{text}");
    assert!(text.contains("resolved") && text.contains("stalled #1"), "{text}");
    assert!(text.contains("Alerts (1)"), "{text}");
}

#[test]
fn a_missing_daemon_fills_the_screen_with_its_url() {
    for (w, h) in SIZES {
        let mut app = App::new("http://127.0.0.1:9".into());
        app.apply(
            Update::Down("no daemon answers at http://127.0.0.1:9/api/v1/torrents/changes: refused".into()),
            Instant::now(),
        );
        assert!(matches!(app.connection, Connection::Down { .. }));
        let text = screen(&mut app, w, h);
        assert!(text.contains("No daemon answers"), "{text}");
        assert!(text.contains("at http://127.0.0.1:9"), "{text}");
        assert!(text.contains("retrying"), "{text}");
    }
}

#[test]
fn help_and_prompts_draw_over_the_view_even_when_tiny() {
    let mut app = app_with_two();
    press(&mut app, KeyCode::Char('?'));
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("sort by the next column"), "{text}");
    press(&mut app, KeyCode::Char('x'));
    press(&mut app, KeyCode::Char('D'));
    let text = screen(&mut app, 80, 24);
    assert!(text.contains("DELETE ITS DATA"), "{text}");
    // A terminal far smaller than 80x24 still draws without a panic.
    let _ = screen(&mut app, 10, 3);
    let _ = screen(&mut app, 1, 1);
}
