//! Reads the blocklists of `[security] ip_filter` into an [`IpFilter`] and keeps
//! it current: a thread of its own (never the control thread) polls the files'
//! modification times every [`POLL_EVERY`] and reloads on a change, or at once
//! when asked ([`IpFilterService::reload`]: the API, or a config change with new
//! paths). A new filter reaches every shard through [`IpFilterControl`]; a reload
//! that fails (a list unreadable, too large) keeps the filter in force, logs why
//! and says so in the status.
//!
//! Files are plain text or gzip (told by their first two bytes, whatever their
//! name), at most [`MAX_LIST_BYTES`] each once decompressed; lines longer than
//! `MAX_LINE_BYTES` are reported malformed without being kept whole.

use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccbt_engine::ip_filter::{IpFilter, IpFilterBuilder, ListLoader, ListReport, MAX_LINE_BYTES};
use ccbt_engine::peer_source::PeerSource;
use ccbt_shards::{BlockedCounts, IpFilterControl};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

use crate::api_types::{IpFilterBlocked, IpFilterList, IpFilterStatus, MalformedListLine};

/// How often the lists' modification times are looked at.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// Largest list, once decompressed: a million eMule lines are about 80 MB.
pub const MAX_LIST_BYTES: u64 = 1 << 30;
/// Reload requests waiting for the watcher, at most.
const REQUEST_QUEUE: usize = 16;

/// Why a list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListReadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: more than {MAX_LIST_BYTES} bytes{}", path.display(), if *gzip { " once decompressed" } else { "" })]
    TooLarge { path: PathBuf, gzip: bool },
}

/// One list read into a builder.
struct ReadList {
    report: ListReport,
    gzip: bool,
}

/// Reads one list (plain or gzip) line by line into `builder`.
fn read_list(path: &Path, builder: &mut IpFilterBuilder) -> Result<ReadList, ListReadError> {
    let io = |source| ListReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut plain = BufReader::with_capacity(64 * 1024, file);
    let gzip = plain.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut list = builder.list();
    let read = if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(plain);
        let mut limited = BufReader::with_capacity(64 * 1024, decoder.take(MAX_LIST_BYTES + 1));
        feed_lines(&mut limited, &mut list)
    } else {
        let mut limited = plain.take(MAX_LIST_BYTES + 1);
        feed_lines(&mut limited, &mut list)
    };
    let bytes = read.map_err(io)?;
    if bytes > MAX_LIST_BYTES {
        return Err(ListReadError::TooLarge {
            path: path.to_path_buf(),
            gzip,
        });
    }
    Ok(ReadList {
        report: list.finish(),
        gzip,
    })
}

/// Splits a stream into lines of at most `MAX_LINE_BYTES` kept bytes and feeds
/// them to `list`; returns the bytes read.
fn feed_lines(reader: &mut impl BufRead, list: &mut ListLoader<'_>) -> std::io::Result<u64> {
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let mut overlong = false;
    let mut total: u64 = 0;
    fn push(line: &mut Vec<u8>, overlong: &mut bool, list: &mut ListLoader<'_>) {
        if *overlong {
            list.push_overlong_line(line);
        } else {
            list.push_line(line);
        }
        line.clear();
        *overlong = false;
    }
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if !line.is_empty() || overlong {
                push(&mut line, &mut overlong, list);
            }
            return Ok(total);
        }
        let (chunk, end_of_line) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        if chunk.len() > room {
            overlong = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end_of_line.unwrap_or(buf.len());
        reader.consume(used);
        total += used as u64;
        if end_of_line.is_some() {
            push(&mut line, &mut overlong, list);
        }
    }
}

/// A filter built from lists, with what each contributed.
pub struct LoadedFilter {
    pub filter: IpFilter,
    pub lists: Vec<IpFilterList>,
    /// The first list that could not be read, if any (the others are in `filter`).
    pub error: Option<String>,
    pub took: Duration,
}

/// Reads every list; one that cannot be read is reported in its entry and in
/// `error`, the others still make the filter (with whatever a list that failed
/// part-way gave before it failed: the caller of a reload discards the lot).
pub fn load_lists(paths: &[PathBuf]) -> LoadedFilter {
    let started = Instant::now();
    let mut builder = IpFilterBuilder::new();
    let mut lists = Vec::with_capacity(paths.len());
    let mut error = None;
    for path in paths {
        let mut entry = IpFilterList {
            path: path.display().to_string(),
            ..IpFilterList::default()
        };
        match read_list(path, &mut builder) {
            Ok(read) => fill_entry(&mut entry, &read),
            Err(e) => {
                let message = e.to_string();
                entry.error = Some(message.clone());
                error.get_or_insert(message);
            }
        }
        lists.push(entry);
    }
    let filter = builder.build();
    LoadedFilter {
        filter,
        lists,
        error,
        took: started.elapsed(),
    }
}

fn fill_entry(entry: &mut IpFilterList, read: &ReadList) {
    let r = &read.report;
    entry.compression = if read.gzip { "gzip" } else { "plain" }.to_string();
    entry.lines = r.lines;
    entry.blocked_ranges = r.blocked;
    entry.allowed_ranges = r.allowed;
    entry.formats = r.formats_seen().map(|(f, n)| (f.to_string(), n)).collect();
    entry.malformed_lines = r.malformed;
    entry.malformed_examples = r
        .examples
        .iter()
        .map(|m| MalformedListLine {
            line: m.line,
            error: m.error.to_string(),
            text: m.text.clone(),
        })
        .collect();
}

/// The blocked counts as the API shows them.
pub fn blocked_view(c: &BlockedCounts) -> IpFilterBlocked {
    IpFilterBlocked {
        total: c.total(),
        incoming: c.incoming,
        outgoing: c.outgoing,
        disconnected: c.disconnected,
        by_source: PeerSource::ALL
            .iter()
            .map(|s| (s.name().to_string(), c.learned_from(*s)))
            .collect(),
    }
}

/// The filter in force and what the last load said, shared with the watcher.
struct State {
    paths: Vec<PathBuf>,
    filter: Arc<IpFilter>,
    status: IpFilterStatus,
}

enum WatchRequest {
    Reload {
        paths: Option<Vec<PathBuf>>,
        reply: Option<oneshot::Sender<IpFilterStatus>>,
    },
}

/// The IP filter's owner in the daemon; see the module docs.
pub struct IpFilterService {
    state: Arc<Mutex<State>>,
    control: IpFilterControl,
    requests: Sender<WatchRequest>,
}

impl IpFilterService {
    /// Loads the lists (on the caller's thread, before any torrent runs, so no
    /// peer slips in before the filter is up), hands the filter to the shards and
    /// starts the watcher. A list that cannot be read is logged and left out; the
    /// watcher picks it up once it appears or changes.
    pub fn start(paths: Vec<PathBuf>, control: IpFilterControl) -> IpFilterService {
        let loaded = load_lists(&paths);
        if let Some(error) = &loaded.error {
            tracing::error!(%error, "IP filter: a list could not be read; running with the others");
        }
        let stamps = stamps(&paths);
        let filter = Arc::new(loaded.filter);
        log_loaded(&filter, &loaded.lists, loaded.took);
        if !paths.is_empty() {
            let _ = control.set(filter.clone());
        }
        let status = status_of(&paths, &filter, loaded.lists, loaded.took, loaded.error);
        let state = Arc::new(Mutex::new(State { paths, filter, status }));
        let (requests, inbox) = crossbeam_channel::bounded(REQUEST_QUEUE);
        let watcher = Watcher {
            state: state.clone(),
            control: control.clone(),
            stamps,
        };
        let spawned = std::thread::Builder::new()
            .name("ccbt-ipfilter".into())
            .spawn(move || watcher.run(inbox));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "IP filter: cannot start the list watcher; lists are not reloaded");
        }
        IpFilterService {
            state,
            control,
            requests,
        }
    }

    /// Reloads the lists (with `paths` as the new `[security] ip_filter`, when
    /// given) off the calling thread; the receiver gets the status after it (drop
    /// it to reload in the background: the outcome is logged and in the status).
    /// A reload that fails keeps the filter in force (and the old paths). This is
    /// the one call a change of the config key needs.
    pub fn reload(&self, paths: Option<Vec<PathBuf>>) -> oneshot::Receiver<IpFilterStatus> {
        let (tx, rx) = oneshot::channel();
        // A full queue already holds reloads that will read the files afresh.
        let _ = self.requests.try_send(WatchRequest::Reload { paths, reply: Some(tx) });
        rx
    }

    /// The filter in force, its lists and what it blocked.
    pub fn status(&self) -> IpFilterStatus {
        let mut status = match self.state.lock() {
            Ok(s) => s.status.clone(),
            Err(poisoned) => poisoned.into_inner().status.clone(),
        };
        status.blocked = blocked_view(&self.control.blocked());
        status
    }

    /// Whether the filter in force blocks `ip`.
    pub fn blocks(&self, ip: IpAddr) -> bool {
        let filter = match self.state.lock() {
            Ok(s) => s.filter.clone(),
            Err(poisoned) => poisoned.into_inner().filter.clone(),
        };
        filter.is_blocked(ip)
    }
}

/// A file's modification time and length, or None when it cannot be read.
type Stamp = Option<(SystemTime, u64)>;

fn stamps(paths: &[PathBuf]) -> Vec<Stamp> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

struct Watcher {
    state: Arc<Mutex<State>>,
    control: IpFilterControl,
    /// The lists' stamps as of the last load.
    stamps: Vec<Stamp>,
}

impl Watcher {
    /// Until the service is dropped: reload on request, or when a list changed.
    fn run(mut self, inbox: Receiver<WatchRequest>) {
        loop {
            match inbox.recv_timeout(POLL_EVERY) {
                Ok(WatchRequest::Reload { paths, reply }) => {
                    let status = self.reload(paths);
                    if let Some(reply) = reply {
                        let _ = reply.send(status);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let paths = self.paths();
                    if !paths.is_empty() && stamps(&paths) != self.stamps {
                        tracing::info!("IP filter: a list changed on disk; reloading");
                        self.reload(None);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn paths(&self) -> Vec<PathBuf> {
        match self.state.lock() {
            Ok(s) => s.paths.clone(),
            Err(poisoned) => poisoned.into_inner().paths.clone(),
        }
    }

    fn reload(&mut self, new_paths: Option<Vec<PathBuf>>) -> IpFilterStatus {
        let paths = new_paths.unwrap_or_else(|| self.paths());
        // Taken before reading: a change made while reading is seen next poll.
        let stamps = stamps(&paths);
        let loaded = load_lists(&paths);
        if let Some(error) = loaded.error {
            tracing::warn!(%error, "IP filter: reload refused; the filter in force stays");
            let mut state = match self.state.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            // Seen: the next poll waits for another change rather than failing again.
            if paths == state.paths {
                self.stamps = stamps;
            }
            state.status.last_error = Some(error);
            return state.status.clone();
        }
        let filter = Arc::new(loaded.filter);
        log_loaded(&filter, &loaded.lists, loaded.took);
        // Outside the lock: a shard's full command queue may hold this up, and the
        // control thread reads the status meanwhile.
        if self.control.set(filter.clone()).is_err() {
            tracing::debug!("IP filter: the session has stopped");
        }
        self.stamps = stamps;
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.status = status_of(&paths, &filter, loaded.lists, loaded.took, None);
        state.paths = paths;
        state.filter = filter;
        state.status.clone()
    }
}

fn log_loaded(filter: &IpFilter, lists: &[IpFilterList], took: Duration) {
    if lists.is_empty() {
        return;
    }
    let malformed: u64 = lists.iter().map(|l| l.malformed_lines).sum();
    tracing::info!(
        lists = lists.len(),
        ranges_v4 = filter.ranges_v4(),
        ranges_v6 = filter.ranges_v6(),
        malformed_lines = malformed,
        ms = took.as_millis() as u64,
        "IP filter loaded"
    );
    for list in lists {
        for m in &list.malformed_examples {
            tracing::warn!(list = %list.path, line = m.line, error = %m.error, text = %m.text, "IP filter: line not understood");
        }
    }
}

fn status_of(
    paths: &[PathBuf],
    filter: &IpFilter,
    lists: Vec<IpFilterList>,
    took: Duration,
    error: Option<String>,
) -> IpFilterStatus {
    IpFilterStatus {
        enabled: !paths.is_empty(),
        ranges_v4: filter.ranges_v4() as u64,
        ranges_v6: filter.ranges_v6() as u64,
        lists,
        loaded_at: SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs()),
        load_ms: took.as_millis() as u64,
        last_error: error,
        blocked: IpFilterBlocked::default(),
    }
}

#[cfg(test)]
mod tests;
