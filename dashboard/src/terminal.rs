//! The drawing thread: the terminal in raw mode on the alternate screen, keys in,
//! updates in, a redraw when something changed. The terminal is given back on every
//! way out: return, error, a panic (ratatui's hook restores it before the message)
//! and SIGTERM/SIGHUP (the caller's `stop` flag).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};

use crate::api::DaemonApi;
use crate::app::{App, Command};
use crate::fetcher::{follow_events, Fetcher};
use crate::ui;

/// Longest wait for a key before looking at the updates again.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// How bitonic runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Time between two fetches of what changed (one second by default).
    pub refresh: Duration,
    /// Set from outside (a signal handler) to quit.
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("bitonic needs a terminal (stdin and stdout must be a TTY); `btbt watch` prints the list to a pipe")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Gives the terminal back when dropped, whatever the way out.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs bitonic against `api` until `q`, Ctrl-C or `options.stop`.
pub fn run(api: Arc<dyn DaemonApi>, options: RunOptions) -> Result<(), DashboardError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(DashboardError::NotATerminal);
    }
    // Raw mode, the alternate screen, and the panic hook that undoes both; the
    // guard first, so a failure half-way through is undone too.
    let _restore = RestoreOnDrop;
    let mut terminal = ratatui::try_init()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (update_tx, updates) = mpsc::channel();
    let (command_tx, commands) = mpsc::channel::<Command>();
    let fetcher = Fetcher::new(api.clone(), update_tx.clone(), options.refresh);
    let fetcher_stop = stop.clone();
    let fetcher_thread = std::thread::Builder::new()
        .name("bitonic-fetch".into())
        .spawn(move || fetcher.run(commands, fetcher_stop))?;
    {
        let (api, commands, stop) = (api.clone(), command_tx.clone(), stop.clone());
        // Not joined: it may be blocked reading a quiet stream; it ends with the process.
        std::thread::Builder::new()
            .name("bitonic-events".into())
            .spawn(move || follow_events(api, update_tx, commands, stop))?;
    }
    let mut app = App::new(api.url());
    let result = (|| -> Result<(), DashboardError> {
        let mut last_draw: Option<Instant> = None;
        while !app.quit && !options.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            while let Ok(update) = updates.try_recv() {
                app.apply(update, now);
            }
            // Once a second at least, so a message on the status line goes away.
            if app.dirty || last_draw.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
                terminal.draw(|frame| ui::draw(frame, &mut app, now))?;
                app.dirty = false;
                last_draw = Some(now);
            }
            if event::poll(INPUT_POLL)? {
                match event::read()? {
                    Event::Key(key) if key.kind != KeyEventKind::Release => {
                        for command in app.on_key(key) {
                            let _ = command_tx.send(command);
                        }
                    }
                    Event::Resize(..) => {
                        terminal.autoresize()?;
                        app.dirty = true;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    drop(command_tx);
    // The fetcher notices within a request's timeout at most; do not wait that long.
    let deadline = Instant::now() + Duration::from_millis(500);
    while !fetcher_thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    result
}
