//! The threads that talk to the daemon, so the one that draws never waits on the
//! network: the fetcher polls what changed (once a refresh, or at once when an event
//! or a key asks) and performs the actions; the event reader follows
//! `GET /api/v1/events`. Both send [`Update`]s to the drawing thread and stop when
//! told to.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{ApiFailure, DaemonApi, LimitTarget, TorrentAction};
use crate::app::{AlertsState, Command, Focus, Update};
use crate::sse::{SseItem, SseReader};

/// Time between two tries while the daemon does not answer.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Shortest time between two fetches that events asked for (a burst of 10,000 adds
/// makes a few fetches, not 10,000).
pub const MIN_EVENT_REFRESH: Duration = Duration::from_millis(250);

/// The fetching loop's state.
pub struct Fetcher {
    api: Arc<dyn DaemonApi>,
    updates: Sender<Update>,
    refresh: Duration,
    since: u64,
    /// The daemon has no changes route: the whole list each time.
    list_route_only: bool,
    focus: Focus,
    alerts_wanted: bool,
    up: bool,
}

impl Fetcher {
    pub fn new(api: Arc<dyn DaemonApi>, updates: Sender<Update>, refresh: Duration) -> Fetcher {
        Fetcher {
            api,
            updates,
            refresh,
            since: 0,
            list_route_only: false,
            focus: Focus::default(),
            alerts_wanted: true,
            up: false,
        }
    }

    /// Runs until `stop` is set or the command channel closes.
    pub fn run(mut self, commands: Receiver<Command>, stop: Arc<AtomicBool>) {
        let mut next = Instant::now();
        let mut last_fetch: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            let wait = next
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(200));
            match commands.recv_timeout(wait) {
                Ok(command) => {
                    let soon = self.command(command);
                    if soon {
                        let earliest = last_fetch.map_or(Instant::now(), |at| at + MIN_EVENT_REFRESH);
                        next = next.min(earliest);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= next {
                        last_fetch = Some(Instant::now());
                        self.tick();
                        next = Instant::now() + if self.up { self.refresh } else { RETRY_EVERY };
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn send(&self, update: Update) {
        // The drawing thread is gone only when bitonic is quitting.
        let _ = self.updates.send(update);
    }

    /// Performs one command; true when a fetch should follow soon.
    fn command(&mut self, command: Command) -> bool {
        let outcome = match command {
            Command::Focus(focus) => {
                let changed = focus != self.focus;
                self.focus = focus;
                return changed;
            }
            Command::RefreshNow => return true,
            Command::RefreshAlerts => {
                self.alerts_wanted = true;
                return true;
            }
            Command::Act { id, action } => self.api.act(id, action).map(|()| {
                let verb = match action {
                    TorrentAction::Pause => "paused",
                    TorrentAction::Resume => "resumed",
                };
                format!("{verb} torrent {id}")
            }),
            Command::Remove { id, delete_data } => self.api.remove(id, delete_data).map(|()| {
                if delete_data {
                    format!("removed torrent {id} and its data")
                } else {
                    format!("removed torrent {id}")
                }
            }),
            Command::Add(source) => self
                .api
                .add(&source)
                .map(|added| format!("added {} {}", added.id, added.name)),
            Command::SetLimits { target, down, up } => self.api.set_limits(target, &down, &up).map(|()| match target {
                LimitTarget::Session => "session limits set".to_string(),
                LimitTarget::Torrent(id) => format!("limits of torrent {id} set"),
            }),
        };
        match outcome {
            Ok(text) => self.send(Update::Done(text)),
            Err(e @ ApiFailure::Unreachable { .. }) => self.down(e),
            Err(e) => self.send(Update::Failed(e.to_string())),
        }
        true
    }

    fn down(&mut self, e: ApiFailure) {
        self.up = false;
        self.since = 0;
        self.alerts_wanted = true;
        self.send(Update::Down(e.to_string()));
    }

    /// One round: what changed, the session's figures, and what is on screen.
    fn tick(&mut self) {
        if let Err(e) = self.fetch_all() {
            match e {
                ApiFailure::Unreachable { .. } => self.down(e),
                // Nothing to show yet (a wrong token, say): the whole screen says why.
                other if !self.up => self.down(other),
                other => self.send(Update::Failed(other.to_string())),
            }
        }
    }

    fn fetch_all(&mut self) -> Result<(), ApiFailure> {
        if self.list_route_only {
            self.send(Update::FullList(self.api.torrents()?));
        } else {
            match self.api.torrent_changes(self.since) {
                Ok(changes) => {
                    self.since = changes.revision;
                    self.send(Update::Changes(changes));
                }
                Err(ApiFailure::NotFound(_)) => {
                    self.list_route_only = true;
                    self.send(Update::FullList(self.api.torrents()?));
                }
                Err(e) => return Err(e),
            }
        }
        self.up = true;
        self.send(Update::Stats(self.api.stats()?));
        if let Some(id) = self.focus.torrent {
            match self.api.torrent(id) {
                Ok(detail) => self.send(Update::Detail(Box::new(detail))),
                // Removed meanwhile: the next changes say so.
                Err(ApiFailure::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            match self.api.pieces(id) {
                Ok(map) => self.send(Update::Pieces { id, map }),
                Err(ApiFailure::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if self.focus.alerts || self.alerts_wanted {
            self.alerts_wanted = false;
            let state = match self.api.alerts() {
                Ok(list) => AlertsState::Loaded(list),
                Err(ApiFailure::NotFound(_)) => AlertsState::Unsupported,
                Err(e @ ApiFailure::Unreachable { .. }) => return Err(e),
                Err(e) => AlertsState::Failed(e.to_string()),
            };
            self.send(Update::Alerts(state));
        }
        Ok(())
    }
}

/// Follows the event stream until `stop`: each event goes to the drawing thread,
/// and the ones that change the list ask the fetcher for a refresh. A stream that
/// ends or fails is opened again after [`RETRY_EVERY`].
pub fn follow_events(
    api: Arc<dyn DaemonApi>,
    updates: Sender<Update>,
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(stream) = api.events() {
            let mut reader = SseReader::new(stream);
            while let Some(item) = reader.next_item() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let SseItem::Event(event) = item else { continue };
                let ask = match event.kind.as_str() {
                    "alert_fired" | "alert_resolved" => Some(Command::RefreshAlerts),
                    "added" | "removed" | "state_changed" | "completed" | "error" | "metadata_received"
                    | "events_dropped" => Some(Command::RefreshNow),
                    _ => None,
                };
                if let Some(command) = ask {
                    let _ = commands.send(command);
                }
                if updates.send(Update::Event(event)).is_err() {
                    return;
                }
            }
        }
        let until = Instant::now() + RETRY_EVERY;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
