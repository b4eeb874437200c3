//! bitonic's whole state and how it reacts: keys in, [`Command`]s out for the
//! threads that talk to the daemon, [`Update`]s in from them. No terminal and no
//! I/O here, so every view and key is tested with ratatui's `TestBackend`.

use std::time::{Duration, Instant};

use ccbt_daemon::api_types::{
    AlertList, ApiEvent, PieceMap, SessionStats, TorrentChanges, TorrentDetail, TorrentSummary,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::api::{LimitTarget, TorrentAction};
use crate::rate_history::{RateHistory, TorrentHistories};
use crate::torrent_list::TorrentList;
use crate::torrent_store::TorrentStore;

/// How long a message on the status line stays.
pub const FLASH_FOR: Duration = Duration::from_secs(6);
/// Longest text a prompt takes (a magnet link with many trackers fits).
pub const MAX_PROMPT_CHARS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Torrents,
    /// One torrent (Enter on a row).
    Torrent,
    Session,
    Alerts,
}

/// The panes of the Torrent view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailTab {
    Files,
    Peers,
    Trackers,
    Pieces,
}

impl DetailTab {
    pub const ALL: [DetailTab; 4] = [
        DetailTab::Files,
        DetailTab::Peers,
        DetailTab::Trackers,
        DetailTab::Pieces,
    ];

    pub fn title(self) -> &'static str {
        match self {
            DetailTab::Files => "Files",
            DetailTab::Peers => "Peers",
            DetailTab::Trackers => "Trackers",
            DetailTab::Pieces => "Pieces",
        }
    }

    fn step(self, delta: isize) -> DetailTab {
        let i = DetailTab::ALL.iter().position(|t| *t == self).unwrap_or(0) as isize;
        let n = DetailTab::ALL.len() as isize;
        DetailTab::ALL[((i + delta).rem_euclid(n)) as usize]
    }
}

/// What the keyboard is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    /// Typing after `/`: the list filters as you type.
    Search,
    /// `d`/`D` waits for y/n.
    ConfirmRemove {
        id: u32,
        name: String,
        delete_data: bool,
    },
    /// `a` or `l` waits for a line.
    Prompt {
        kind: PromptKind,
        input: String,
    },
    Help,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// A magnet link or a `.torrent` path.
    Add,
    Limits(LimitTarget),
}

/// Whether the daemon answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    Connecting,
    Up,
    Down { reason: String, attempts: u32 },
}

/// The Alerts view's content.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertsState {
    NotLoaded,
    /// The daemon answered 404: it has no alerts API.
    Unsupported,
    Loaded(AlertList),
    Failed(String),
}

/// What the threads that talk to the daemon should do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Act {
        id: u32,
        action: TorrentAction,
    },
    Remove {
        id: u32,
        delete_data: bool,
    },
    Add(String),
    SetLimits {
        target: LimitTarget,
        down: String,
        up: String,
    },
    /// What is on screen, so only that is fetched: a torrent's detail, the alerts.
    Focus(Focus),
    /// Fetch changes now (an event said something happened).
    RefreshNow,
    /// Read the alerts again (one fired or resolved).
    RefreshAlerts,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Focus {
    pub torrent: Option<u32>,
    pub alerts: bool,
}

/// What the daemon answered.
#[derive(Debug)]
pub enum Update {
    Changes(TorrentChanges),
    FullList(Vec<TorrentSummary>),
    Stats(SessionStats),
    Detail(Box<TorrentDetail>),
    Pieces {
        id: u32,
        map: PieceMap,
    },
    Alerts(AlertsState),
    Event(ApiEvent),
    /// A call could not reach the daemon.
    Down(String),
    /// An action's outcome, for the status line.
    Done(String),
    Failed(String),
}

/// The open torrent's data.
#[derive(Debug)]
pub struct DetailState {
    pub id: u32,
    pub tab: DetailTab,
    pub detail: Option<TorrentDetail>,
    pub pieces: Option<PieceMap>,
    /// First row of the pane on screen.
    pub scroll: usize,
}

/// Everything bitonic shows.
#[derive(Debug)]
pub struct App {
    pub url: String,
    pub view: View,
    pub mode: Mode,
    pub connection: Connection,
    pub store: TorrentStore,
    pub list: TorrentList,
    pub stats: Option<SessionStats>,
    pub session_history: RateHistory,
    pub torrent_histories: TorrentHistories,
    pub detail: Option<DetailState>,
    pub alerts: AlertsState,
    /// Alerts firing now, as the events told (before the view is opened).
    pub firing_alerts: usize,
    pub flash: Option<(String, Instant)>,
    pub quit: bool,
    /// Redraw needed.
    pub dirty: bool,
}

impl App {
    pub fn new(url: String) -> App {
        App {
            url,
            view: View::Torrents,
            mode: Mode::Normal,
            connection: Connection::Connecting,
            store: TorrentStore::default(),
            list: TorrentList::default(),
            stats: None,
            session_history: RateHistory::default(),
            torrent_histories: TorrentHistories::default(),
            detail: None,
            alerts: AlertsState::NotLoaded,
            firing_alerts: 0,
            flash: None,
            quit: false,
            dirty: true,
        }
    }

    /// What the fetching thread should keep current for this screen.
    pub fn focus(&self) -> Focus {
        Focus {
            torrent: match self.view {
                View::Torrent => self.detail.as_ref().map(|d| d.id),
                _ => None,
            },
            alerts: self.view == View::Alerts,
        }
    }

    fn flash(&mut self, text: impl Into<String>, now: Instant) {
        self.flash = Some((text.into(), now));
    }

    /// The status line's message, while it is fresh.
    pub fn current_flash(&self, now: Instant) -> Option<&str> {
        self.flash
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < FLASH_FOR)
            .map(|(text, _)| text.as_str())
    }

    /// Takes in one answer from the daemon.
    pub fn apply(&mut self, update: Update, now: Instant) {
        self.dirty = true;
        if !matches!(update, Update::Down(_) | Update::Failed(_) | Update::Done(_)) {
            self.connection = Connection::Up;
        }
        match update {
            Update::Changes(changes) => self.store.apply(changes),
            Update::FullList(list) => self.store.replace_all(list),
            Update::Stats(stats) => {
                self.session_history.push(stats.download_rate, stats.upload_rate);
                self.torrent_histories.sample(&self.store);
                self.stats = Some(stats);
            }
            Update::Detail(detail) => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == detail.summary.id) {
                    self.store.update(detail.summary.clone());
                    d.detail = Some(*detail);
                }
            }
            Update::Pieces { id, map } => {
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
                    d.pieces = Some(map);
                }
            }
            Update::Alerts(alerts) => {
                if let AlertsState::Loaded(list) = &alerts {
                    self.firing_alerts = list.active.len();
                }
                self.alerts = alerts;
            }
            Update::Event(event) => self.on_event(event, now),
            Update::Down(reason) => {
                let attempts = match &self.connection {
                    Connection::Down { attempts, .. } => attempts + 1,
                    _ => 1,
                };
                self.connection = Connection::Down { reason, attempts };
                self.store.forget_revision();
            }
            Update::Done(text) => self.flash(text, now),
            Update::Failed(text) => self.flash(format!("error: {text}"), now),
        }
    }

    fn on_event(&mut self, event: ApiEvent, now: Instant) {
        let name = event.name.clone().unwrap_or_default();
        match event.kind.as_str() {
            "alert_fired" => {
                self.firing_alerts += 1;
                self.flash(format!("alert: {}", alert_text(&event)), now);
            }
            "alert_resolved" => {
                self.firing_alerts = self.firing_alerts.saturating_sub(1);
                self.flash(format!("resolved: {}", alert_text(&event)), now);
            }
            "completed" => self.flash(format!("completed: {name}"), now),
            "error" => self.flash(format!("{name}: {}", event.message.as_deref().unwrap_or("error")), now),
            "added" => self.flash(format!("added: {name}"), now),
            "removed" => self.flash(format!("removed: {name}"), now),
            _ => {}
        }
    }

    /// One key in Normal, Search, Prompt, Confirm or Help mode; returns what to ask
    /// the daemon.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        self.dirty = true;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help => Vec::new(),
            Mode::Search => {
                self.search_key(key);
                Vec::new()
            }
            Mode::ConfirmRemove { id, name, delete_data } => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    if self.view == View::Torrent {
                        self.close_torrent();
                    }
                    vec![Command::Remove { id, delete_data }, Command::Focus(self.focus())]
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => Vec::new(),
                _ => {
                    self.mode = Mode::ConfirmRemove { id, name, delete_data };
                    Vec::new()
                }
            },
            Mode::Prompt { kind, mut input } => match key.code {
                KeyCode::Esc => Vec::new(),
                KeyCode::Enter => prompt_command(kind, input.trim()).into_iter().collect(),
                KeyCode::Backspace => {
                    input.pop();
                    self.mode = Mode::Prompt { kind, input };
                    Vec::new()
                }
                KeyCode::Char(c) => {
                    if input.chars().count() < MAX_PROMPT_CHARS {
                        input.push(c);
                    }
                    self.mode = Mode::Prompt { kind, input };
                    Vec::new()
                }
                _ => {
                    self.mode = Mode::Prompt { kind, input };
                    Vec::new()
                }
            },
        }
    }

    fn search_key(&mut self, key: KeyEvent) {
        let mut search = self.list.search.clone();
        match key.code {
            KeyCode::Esc => {
                self.list.set_search(String::new());
                return;
            }
            KeyCode::Enter | KeyCode::Down | KeyCode::Up => return,
            KeyCode::Backspace => {
                search.pop();
            }
            KeyCode::Char(c) if search.chars().count() < MAX_PROMPT_CHARS => search.push(c),
            _ => {}
        }
        self.list.set_search(search);
        self.mode = Mode::Search;
    }

    /// The torrent the keys act on: the open one, else the selected row.
    fn target(&self) -> Option<u32> {
        match self.view {
            View::Torrent => self.detail.as_ref().map(|d| d.id),
            View::Torrents => self.list.selected(),
            _ => None,
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let page = 10;
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Tab => return self.switch_view(1),
            KeyCode::BackTab => return self.switch_view(-1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll(-1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll(1),
            KeyCode::PageUp => self.scroll(-page),
            KeyCode::PageDown => self.scroll(page),
            KeyCode::Home | KeyCode::Char('g') => self.scroll(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.scroll(isize::MAX / 2),
            KeyCode::Enter if self.view == View::Torrents => {
                if let Some(id) = self.list.selected() {
                    self.detail = Some(DetailState {
                        id,
                        tab: DetailTab::Files,
                        detail: None,
                        pieces: None,
                        scroll: 0,
                    });
                    self.view = View::Torrent;
                    return vec![Command::Focus(self.focus())];
                }
            }
            KeyCode::Esc | KeyCode::Backspace if self.view == View::Torrent => {
                self.close_torrent();
                return vec![Command::Focus(self.focus())];
            }
            KeyCode::Left | KeyCode::Char('h') if self.view == View::Torrent => self.step_tab(-1),
            KeyCode::Right if self.view == View::Torrent => self.step_tab(1),
            KeyCode::Char('/') if self.view == View::Torrents => self.mode = Mode::Search,
            KeyCode::Char('s') if self.view == View::Torrents => self.list.next_sort(),
            KeyCode::Char('S') if self.view == View::Torrents => self.list.reverse(),
            KeyCode::Char('f') if self.view == View::Torrents => self.list.next_state_filter(),
            KeyCode::Char('t') if self.view == View::Torrents => {
                let labels = self.store.labels();
                self.list.next_label_filter(&labels);
            }
            KeyCode::Char('c') if self.view == View::Torrents => self.list.clear_filters(),
            KeyCode::Char('p') => {
                if let Some(id) = self.target() {
                    return vec![Command::Act {
                        id,
                        action: TorrentAction::Pause,
                    }];
                }
            }
            KeyCode::Char('r') => {
                if let Some(id) = self.target() {
                    return vec![Command::Act {
                        id,
                        action: TorrentAction::Resume,
                    }];
                }
            }
            KeyCode::Char(c @ ('d' | 'D')) => {
                if let Some(id) = self.target() {
                    let name = self.store.get(id).map(|t| t.name.clone()).unwrap_or_default();
                    self.mode = Mode::ConfirmRemove {
                        id,
                        name,
                        delete_data: c == 'D',
                    };
                }
            }
            KeyCode::Char('a') => {
                self.mode = Mode::Prompt {
                    kind: PromptKind::Add,
                    input: String::new(),
                }
            }
            KeyCode::Char('l') => {
                let target = match self.target() {
                    Some(id) => LimitTarget::Torrent(id),
                    None => LimitTarget::Session,
                };
                self.mode = Mode::Prompt {
                    kind: PromptKind::Limits(target),
                    input: String::new(),
                };
            }
            _ => {}
        }
        Vec::new()
    }

    fn close_torrent(&mut self) {
        self.detail = None;
        self.view = View::Torrents;
    }

    fn step_tab(&mut self, delta: isize) {
        if let Some(d) = self.detail.as_mut() {
            d.tab = d.tab.step(delta);
            d.scroll = 0;
        }
    }

    fn switch_view(&mut self, delta: isize) -> Vec<Command> {
        const ORDER: [View; 3] = [View::Torrents, View::Session, View::Alerts];
        let at = match self.view {
            View::Torrent | View::Torrents => 0,
            View::Session => 1,
            View::Alerts => 2,
        };
        self.view = ORDER[((at + delta).rem_euclid(ORDER.len() as isize)) as usize];
        if self.view != View::Torrents {
            self.detail = None;
        }
        vec![Command::Focus(self.focus())]
    }

    fn scroll(&mut self, delta: isize) {
        match self.view {
            View::Torrents => {
                if delta <= isize::MIN / 4 {
                    self.list.select_first()
                } else if delta >= isize::MAX / 4 {
                    self.list.select_last()
                } else {
                    self.list.move_selection(delta)
                }
            }
            View::Torrent => {
                if let Some(d) = self.detail.as_mut() {
                    d.scroll = (d.scroll as isize).saturating_add(delta).max(0) as usize;
                }
            }
            View::Session | View::Alerts => {}
        }
    }

    /// The key help of the bottom line, for this view and mode; help and quit first,
    /// so they show at 80 columns whatever is cut.
    pub fn help_line(&self) -> &'static str {
        match (&self.mode, self.view) {
            (Mode::Search, _) => "type to filter  Enter keep  Esc clear",
            (Mode::ConfirmRemove { .. }, _) => "y remove  n cancel",
            (Mode::Prompt { .. }, _) => "Enter apply  Esc cancel",
            (Mode::Help, _) => "any key closes the help",
            (Mode::Normal, View::Torrents) => {
                "? help  q quit  ↑↓ move  Enter open  / search  s sort  f/t filter  p pause  r resume  d/D remove  a add  l limits  Tab view"
            }
            (Mode::Normal, View::Torrent) => {
                "? help  q quit  ←→ pane  ↑↓ scroll  Esc back  p pause  r resume  d/D remove  l limits  Tab view"
            }
            (Mode::Normal, View::Session) => "? help  q quit  l session limits  a add  Tab view",
            (Mode::Normal, View::Alerts) => "? help  q quit  a add  Tab view",
        }
    }
}

/// An alert event's text: its message is the alert as JSON.
fn alert_text(event: &ApiEvent) -> String {
    let message = event.message.as_deref().unwrap_or("");
    match serde_json::from_str::<ccbt_daemon::api_types::AlertView>(message) {
        Ok(alert) => format!("{} {}", alert.rule, alert.message),
        Err(_) => message.to_string(),
    }
}

/// The command a prompt's line asks for; none for an empty line.
fn prompt_command(kind: PromptKind, input: &str) -> Option<Command> {
    if input.is_empty() {
        return None;
    }
    Some(match kind {
        PromptKind::Add => Command::Add(input.to_string()),
        PromptKind::Limits(target) => {
            let mut words = input.split_whitespace();
            let down = words.next().unwrap_or("").to_string();
            let up = words.next().unwrap_or("").to_string();
            // `-` leaves one side as it is: `- 1M` sets only the upload limit.
            let keep = |s: String| if s == "-" { String::new() } else { s };
            Command::SetLimits {
                target,
                down: keep(down),
                up: keep(up),
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod tests;
