//! `btbt daemon start --trace FILE`: the session's spans as a Chrome trace (the
//! JSON array format that Perfetto and `chrome://tracing` open), bounded in size.
//!
//! Each span becomes one complete event (`"ph":"X"`) when it closes: its name,
//! target, the thread it closed on, its start and duration in microseconds, and its
//! fields (torrent, peer, piece) as `args`; each log event an instant event. The
//! layer only formats and hands the line to a writer thread through a bounded
//! queue (a full queue drops the line, counted), so a shard never waits on the
//! file. The writer stops at the size cap, says so in the log, and always closes
//! the array, so the file stays valid JSON however the run ends (short of a kill).
//!
//! Written here rather than taken from `tracing-chrome`, which has no size bound
//! and would leave a truncated file invalid.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Trace lines waiting for the writer, at most.
const QUEUE_DEPTH: usize = 16 * 1024;
/// Room kept under the cap for the closing bracket.
const CLOSING: &[u8] = b"\n]\n";

static NEXT_TID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's number in the trace (0 = not yet named).
    static TID: Cell<u64> = const { Cell::new(0) };
}

/// The layer that records spans and events.
pub struct ChromeTraceLayer {
    start: Instant,
    sender: Sender<String>,
    dropped: Arc<AtomicU64>,
}

/// Keeps the writer running; dropping it closes the trace and waits for the file.
pub struct ChromeTraceGuard {
    sender: Option<Sender<String>>,
    writer: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

/// A span's start and fields, kept in its extensions until it closes.
struct SpanRecord {
    start: Instant,
    args: Map<String, Value>,
}

struct JsonFields<'a>(&'a mut Map<String, Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

/// Creates `path` and starts the writer; the trace ends at `max_bytes`.
pub fn chrome_trace(path: &Path, max_bytes: u64) -> std::io::Result<(ChromeTraceLayer, ChromeTraceGuard)> {
    let file = File::create(path)?;
    let (sender, receiver) = crossbeam_channel::bounded::<String>(QUEUE_DEPTH);
    let dropped = Arc::new(AtomicU64::new(0));
    let shown = path.display().to_string();
    let writer = std::thread::Builder::new()
        .name("ccbt-trace".into())
        .spawn(move || write_trace(BufWriter::new(file), &receiver, max_bytes, &shown))?;
    let layer = ChromeTraceLayer {
        start: Instant::now(),
        sender: sender.clone(),
        dropped: Arc::clone(&dropped),
    };
    Ok((
        layer,
        ChromeTraceGuard {
            sender: Some(sender),
            writer: Some(writer),
            dropped,
        },
    ))
}

fn write_trace(mut out: BufWriter<File>, lines: &crossbeam_channel::Receiver<String>, max_bytes: u64, path: &str) {
    let budget = max_bytes.saturating_sub(CLOSING.len() as u64);
    let mut written: u64 = 1;
    let mut first = true;
    let mut full = false;
    let mut result = out.write_all(b"[");
    // Ends at the guard's empty marker (or when every sender is gone).
    for line in lines {
        if line.is_empty() {
            break;
        }
        if full || result.is_err() {
            continue;
        }
        let len = line.len() as u64 + 2;
        if written + len > budget {
            full = true;
            tracing::warn!(path, max_bytes, "trace file reached its size cap: recording stopped");
            continue;
        }
        result = out
            .write_all(if first { b"\n" } else { b",\n" })
            .and_then(|()| out.write_all(line.as_bytes()));
        first = false;
        written += len;
    }
    let closed = result.and_then(|()| out.write_all(CLOSING)).and_then(|()| out.flush());
    if let Err(e) = closed {
        eprintln!("ccbt: cannot write the trace {path}: {e}");
    }
}

impl ChromeTraceLayer {
    fn micros(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_nanos() as f64 / 1000.0
    }

    fn send(&self, value: Value) {
        let tid = thread_number(|name, tid| {
            // A thread's name once, as Perfetto shows it.
            let meta =
                serde_json::json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}});
            self.push(meta.to_string());
        });
        let mut value = value;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("pid".into(), Value::from(1));
            obj.insert("tid".into(), Value::from(tid));
        }
        self.push(value.to_string());
    }

    fn push(&self, line: String) {
        if let Err(TrySendError::Full(_)) = self.sender.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// This thread's number; `first` runs when the thread is seen for the first time.
fn thread_number(first: impl FnOnce(&str, u64)) -> u64 {
    TID.with(|cell| {
        let tid = cell.get();
        if tid != 0 {
            return tid;
        }
        let tid = NEXT_TID.fetch_add(1, Ordering::Relaxed);
        cell.set(tid);
        let current = std::thread::current();
        first(current.name().unwrap_or("thread"), tid);
        tid
    })
}

impl<S> Layer<S> for ChromeTraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut args = Map::new();
        attrs.record(&mut JsonFields(&mut args));
        span.extensions_mut().insert(SpanRecord {
            start: Instant::now(),
            args,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(record) = extensions.get_mut::<SpanRecord>() {
            values.record(&mut JsonFields(&mut record.args));
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut args = Map::new();
        event.record(&mut JsonFields(&mut args));
        let meta = event.metadata();
        let name = args
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| meta.name().to_string(), str::to_string);
        self.send(serde_json::json!({
            "name": name, "cat": meta.target(), "ph": "i", "s": "t",
            "ts": self.micros(Instant::now()), "args": args,
        }));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(record) = span.extensions_mut().remove::<SpanRecord>() else {
            return;
        };
        let now = Instant::now();
        let meta = span.metadata();
        self.send(serde_json::json!({
            "name": meta.name(), "cat": meta.target(), "ph": "X",
            "ts": self.micros(record.start),
            "dur": now.saturating_duration_since(record.start).as_nanos() as f64 / 1000.0,
            "args": record.args,
        }));
    }
}

impl Drop for ChromeTraceGuard {
    fn drop(&mut self) {
        // The layer keeps a sender inside the global subscriber, which lives until
        // the process ends: tell the writer to stop by a last marker instead.
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(String::new());
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "trace events dropped: the trace writer fell behind");
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}
