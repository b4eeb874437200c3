//! `btbt watch`: the list, redrawn each second until `q` or Ctrl-C. On a terminal
//! it draws in place on the alternate screen; otherwise it prints the list each
//! second until interrupted.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccbt_daemon::api_types::TorrentSummary;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};

use super::api_client::ApiClient;
use super::list_view::render_list;
use crate::error::CliError;

/// Time between two redraws.
pub const REFRESH: Duration = Duration::from_secs(1);
/// Longest wait for a key before looking at the signal flag again.
const KEY_POLL: Duration = Duration::from_millis(100);

pub fn watch(client: &ApiClient) -> Result<(), CliError> {
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        watch_terminal(client)
    } else {
        watch_plain(client)
    }
}

/// Not a terminal: a blank line, the time and the list, each second.
fn watch_plain(client: &ApiClient) -> Result<(), CliError> {
    let start = Instant::now();
    loop {
        let torrents: Vec<TorrentSummary> = client.get("/torrents")?;
        let mut out = std::io::stdout().lock();
        let text = format!("\n[{}s]\n{}", start.elapsed().as_secs(), render_list(&torrents));
        // A closed pipe (`btbt watch | head`) ends the watch.
        if out.write_all(text.as_bytes()).and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
        drop(out);
        std::thread::sleep(REFRESH);
    }
}

/// Raw mode and the alternate screen for as long as it lives; dropping it (on
/// return, error or panic) gives the terminal back as it was.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> Result<TerminalGuard, CliError> {
        terminal::enable_raw_mode().map_err(CliError::Terminal)?;
        // From here on the guard exists, so a failure below still restores.
        let guard = TerminalGuard;
        execute!(std::io::stdout(), terminal::EnterAlternateScreen, cursor::Hide).map_err(CliError::Terminal)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

fn watch_terminal(client: &ApiClient) -> Result<(), CliError> {
    // Raw mode turns Ctrl-C into a key; SIGTERM and SIGHUP still arrive as
    // signals and must restore the terminal too.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let _guard = TerminalGuard::enter()?;
    let title = format!("btbt watch  {}  (q to quit)", client.endpoint().base_url);
    loop {
        let torrents: Vec<TorrentSummary> = client.get("/torrents")?;
        draw(&title, &render_list(&torrents)).map_err(CliError::Terminal)?;
        let next = Instant::now() + REFRESH;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            if !event::poll((next - now).min(KEY_POLL)).map_err(CliError::Terminal)? {
                continue;
            }
            match event::read().map_err(CliError::Terminal)? {
                Event::Key(key) if key.kind != KeyEventKind::Release => {
                    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc) {
                        return Ok(());
                    }
                }
                // Redraw at once for the new size.
                Event::Resize(..) => break,
                _ => {}
            }
        }
    }
}

/// Clears the screen and writes the title and the table, cut to the terminal's size.
fn draw(title: &str, body: &str) -> std::io::Result<()> {
    // A terminal that does not know its size (a fresh pty says 0x0) gets 80x24.
    let (cols, rows) = match terminal::size() {
        Ok((c, r)) if c > 0 && r > 0 => (c, r),
        _ => (80, 24),
    };
    let mut out = std::io::stdout().lock();
    queue!(out, cursor::MoveTo(0, 0), terminal::Clear(terminal::ClearType::All))?;
    let lines = std::iter::once(title).chain(std::iter::once("")).chain(body.lines());
    for (i, line) in lines.take(usize::from(rows)).enumerate() {
        if i > 0 {
            // Raw mode: a line feed does not return the carriage.
            out.write_all(b"\r\n")?;
        }
        let cut: String = line.chars().take(usize::from(cols)).collect();
        out.write_all(cut.as_bytes())?;
    }
    out.flush()
}
