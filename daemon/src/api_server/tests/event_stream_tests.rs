//! `/api/v1/events`: published events arrive in order as SSE; a reader that does not
//! keep up loses the oldest (told and counted) and never holds up `publish`.

use std::io::{BufRead, BufReader, Read};

use minreq::Method;
use tokio::sync::watch;

use super::harness::{assert_alive, TestServer};
use crate::api_server::event_stream::{EventReader, NextEvent};
use crate::api_server::EVENTS_DROPPED_KIND;
use crate::api_types::{ApiEvent, TorrentStateName};
use crate::control::{control_channel, EVENT_BUS_DEPTH};

/// Most bytes a test reads from one event stream.
const MAX_STREAM_BYTES: usize = 512 * 1024 * 1024;

fn event(kind: &str, message: Option<String>) -> ApiEvent {
    ApiEvent {
        seq: 0,
        kind: kind.to_string(),
        id: Some(1),
        info_hash: Some("1111111111111111111111111111111111111111".to_string()),
        name: Some("ubuntu.iso".to_string()),
        state: (kind == "state_changed").then_some(TorrentStateName::Seeding),
        message,
        time: 1_700_000_000,
    }
}

/// One parsed SSE message: `event:`, `id:`, `data:`.
#[derive(Debug, Default)]
struct SseMessage {
    event: Option<String>,
    id: Option<String>,
    data: String,
}

/// Reads SSE messages off a response, skipping comments (keep-alives).
struct SseReader<R: Read> {
    lines: BufReader<R>,
    bytes_read: usize,
}

impl<R: Read> SseReader<R> {
    fn new(inner: R) -> Self {
        SseReader {
            lines: BufReader::with_capacity(256 * 1024, inner),
            bytes_read: 0,
        }
    }

    fn next_message(&mut self) -> SseMessage {
        let mut message = SseMessage::default();
        let mut line = String::new();
        loop {
            assert!(
                self.bytes_read < MAX_STREAM_BYTES,
                "read {} bytes without the expected events",
                self.bytes_read
            );
            line.clear();
            let n = self.lines.read_line(&mut line).expect("read the event stream");
            assert!(n > 0, "the event stream ended");
            self.bytes_read += n;
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if message.event.is_some() || !message.data.is_empty() {
                    return message;
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("event:") {
                message.event = Some(value.trim_start().to_string());
            } else if let Some(value) = line.strip_prefix("id:") {
                message.id = Some(value.trim_start().to_string());
            } else if let Some(value) = line.strip_prefix("data:") {
                message.data.push_str(value.trim_start());
            }
        }
    }
}

fn open_stream(server: &TestServer) -> SseReader<minreq::ResponseLazy> {
    let response = server
        .request(Method::Get, "/api/v1/events")
        .send_lazy()
        .expect("open /api/v1/events");
    assert_eq!(response.status_code, 200);
    let content_type = response
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.clone());
    assert_eq!(content_type.as_deref(), Some("text/event-stream"));
    SseReader::new(response)
}

#[test]
fn published_events_arrive_in_order() {
    let server = TestServer::start();
    // The handler subscribes before it answers, so the stream is live once the
    // headers are here.
    let mut stream = open_stream(&server);
    let kinds = ["added", "state_changed", "completed"];
    for kind in kinds {
        server.bus.publish(event(kind, None));
    }
    let mut last_seq = 0;
    for kind in kinds {
        let message = stream.next_message();
        assert_eq!(message.event.as_deref(), Some(kind));
        let data: ApiEvent = serde_json::from_str(&message.data).unwrap();
        assert_eq!(data.kind, kind);
        assert!(data.seq > last_seq, "seq {} after {last_seq}", data.seq);
        assert_eq!(message.id, Some(data.seq.to_string()));
        last_seq = data.seq;
    }
}

#[test]
fn a_slow_reader_loses_the_oldest_events_without_blocking_publish() {
    let server = TestServer::start();
    let mut stream = open_stream(&server);
    // Far more than the bus keeps per reader plus what the socket buffers hold while
    // the reader reads nothing.
    let filler = "x".repeat(4096);
    let published = 5 * EVENT_BUS_DEPTH as u64;
    for _ in 0..published {
        server.bus.publish(event("state_changed", Some(filler.clone())));
    }
    // The stalled stream holds up neither the core nor other requests.
    assert_alive(&server);
    let mut previous: Option<u64> = None;
    let mut dropped = None;
    for _ in 0..published {
        let message = stream.next_message();
        let data: ApiEvent = serde_json::from_str(&message.data).unwrap();
        if message.event.as_deref() == Some(EVENTS_DROPPED_KIND) {
            assert_eq!(message.id, None);
            let missed_in = |data: &ApiEvent| -> u64 {
                let text = data.message.clone().unwrap();
                text.split(' ').next().unwrap().parse().unwrap()
            };
            let mut missed = missed_in(&data);
            // The next event picks up where the reader was left. On a loaded machine
            // the reader may fall behind again before it gets there: each further
            // notice adds its own count.
            let next = loop {
                let message = stream.next_message();
                let next: ApiEvent = serde_json::from_str(&message.data).unwrap();
                if message.event.as_deref() != Some(EVENTS_DROPPED_KIND) {
                    break next;
                }
                missed += missed_in(&next);
            };
            dropped = Some(missed);
            assert_eq!(next.seq, previous.unwrap_or(0) + missed + 1);
            break;
        }
        if let Some(previous) = previous {
            assert_eq!(data.seq, previous + 1, "a gap without a notice");
        }
        previous = Some(data.seq);
    }
    let missed = dropped.expect("the slow reader was never told it lost events");
    assert!(missed > 0);
    assert!(server.bus.dropped() >= missed, "the loss was not counted");
}

#[test]
fn stopping_the_server_ends_open_event_streams() {
    let server = TestServer::start();
    let mut stream = open_stream(&server);
    server.bus.publish(event("added", None));
    assert_eq!(stream.next_message().event.as_deref(), Some("added"));
    // The stream is still open; a graceful stop must end it rather than wait on it.
    server.stop().expect("serve returns Ok");
    let mut rest = Vec::new();
    let _ = stream.lines.read_to_end(&mut rest);
}

#[tokio::test]
async fn reader_reports_exactly_what_it_lost() {
    let (handle, inbox) = control_channel();
    let (_stop_tx, stopping) = watch::channel(false);
    let mut reader = EventReader {
        events: handle.subscribe(),
        stopping,
        handle: handle.clone(),
    };
    let extra = 5;
    for _ in 0..EVENT_BUS_DEPTH + extra {
        inbox.events.publish(event("added", None));
    }
    assert_eq!(reader.next().await, Some(NextEvent::Dropped(extra as u64)));
    assert_eq!(inbox.events.dropped(), extra as u64);
    match reader.next().await {
        Some(NextEvent::Event(next)) => assert_eq!(next.seq, extra as u64 + 1),
        other => panic!("expected the oldest kept event, got {other:?}"),
    }
}

#[tokio::test]
async fn reader_ends_when_the_server_stops() {
    let (handle, inbox) = control_channel();
    let (stop_tx, stopping) = watch::channel(false);
    let mut reader = EventReader {
        events: handle.subscribe(),
        stopping,
        handle,
    };
    inbox.events.publish(event("added", None));
    assert!(matches!(reader.next().await, Some(NextEvent::Event(_))));
    stop_tx.send(true).unwrap();
    inbox.events.publish(event("completed", None));
    assert_eq!(reader.next().await, None);
}
