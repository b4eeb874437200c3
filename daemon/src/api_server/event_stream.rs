//! `GET /api/v1/events`: the core's event bus as Server-Sent Events.
//!
//! Each reader has its own bounded place on the bus (`EVENT_BUS_DEPTH` events); one
//! that falls behind loses the oldest, is told so by an `events_dropped` event, and
//! the loss is counted. `publish` never waits for a reader.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::{ApiState, EVENT_KEEP_ALIVE_SECS};
use crate::api_types::ApiEvent;
use crate::control::ControlHandle;

/// The SSE `event:` of the notice a lagging reader gets in place of what it lost.
pub const EVENTS_DROPPED_KIND: &str = "events_dropped";

pub(crate) async fn events(State(state): State<ApiState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let reader = EventReader {
        events: state.handle.subscribe(),
        stopping: state.stopping.clone(),
        handle: state.handle.clone(),
    };
    Sse::new(reader.into_stream()).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(EVENT_KEEP_ALIVE_SECS))
            .text("keep-alive"),
    )
}

/// One `/api/v1/events` reader's place on the bus.
pub(crate) struct EventReader {
    pub(crate) events: broadcast::Receiver<ApiEvent>,
    pub(crate) stopping: watch::Receiver<bool>,
    pub(crate) handle: ControlHandle,
}

/// What a reader gets next.
#[derive(Debug, PartialEq)]
pub(crate) enum NextEvent {
    Event(ApiEvent),
    /// The reader fell behind and lost this many events (already counted).
    Dropped(u64),
}

impl EventReader {
    /// The next event, or none once the server stops or the bus closes.
    pub(crate) async fn next(&mut self) -> Option<NextEvent> {
        if *self.stopping.borrow() {
            return None;
        }
        tokio::select! {
            biased;
            // A change can only be to `true`; an error means the server is gone.
            _ = self.stopping.changed() => None,
            received = self.events.recv() => match received {
                Ok(event) => Some(NextEvent::Event(event)),
                Err(RecvError::Lagged(missed)) => {
                    self.handle.count_dropped(missed);
                    tracing::debug!(missed, "an event stream reader fell behind");
                    Some(NextEvent::Dropped(missed))
                }
                Err(RecvError::Closed) => None,
            },
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut reader| async move {
            let next = reader.next().await?;
            Some((Ok(sse_event(next)), reader))
        })
    }
}

/// `event: <kind>`, `id: <seq>`, `data: <ApiEvent JSON>`; a drop notice has the same
/// data shape, `seq` 0 and no `id`.
fn sse_event(next: NextEvent) -> Event {
    let event = match next {
        NextEvent::Event(event) => event,
        NextEvent::Dropped(missed) => {
            return data_event(Event::default().event(EVENTS_DROPPED_KIND), &dropped_notice(missed));
        }
    };
    // An SSE field cannot hold a line break (axum panics on one); kinds never do.
    let kind: String = event.kind.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    data_event(Event::default().event(kind).id(event.seq.to_string()), &event)
}

fn data_event(event: Event, data: &ApiEvent) -> Event {
    match serde_json::to_string(data) {
        Ok(json) => event.data(json),
        Err(err) => {
            tracing::error!(%err, "an API event could not be serialized");
            event.comment("an event could not be serialized")
        }
    }
}

fn dropped_notice(missed: u64) -> ApiEvent {
    ApiEvent {
        seq: 0,
        kind: EVENTS_DROPPED_KIND.to_string(),
        id: None,
        info_hash: None,
        name: None,
        state: None,
        message: Some(format!(
            "{missed} events were dropped: this reader fell behind the event bus"
        )),
        time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
}
