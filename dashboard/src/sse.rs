//! Reads `GET /api/v1/events`, a `text/event-stream`: `data:` lines carry an
//! [`ApiEvent`] as JSON, a blank line ends a message, `:` lines are keep-alives.
//! Lines are bounded, so a broken stream cannot make the reader allocate without end.

use std::io::{BufRead, BufReader, Read};

use ccbt_daemon::api_types::ApiEvent;

/// Longest line kept; an event is a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What the next message was.
#[derive(Debug, PartialEq)]
pub enum SseItem {
    Event(ApiEvent),
    /// A message whose data is not an event (or a line over the bound): skipped.
    Unreadable,
}

/// Messages of one stream, in order; `None` when it ends.
pub struct SseReader<R> {
    input: BufReader<R>,
    data: String,
    line: Vec<u8>,
}

impl<R: Read> SseReader<R> {
    pub fn new(input: R) -> SseReader<R> {
        SseReader {
            input: BufReader::new(input),
            data: String::new(),
            line: Vec::new(),
        }
    }

    /// Blocks until the next message; `None` at the end of the stream or on a read error.
    pub fn next_item(&mut self) -> Option<SseItem> {
        let mut too_long = false;
        loop {
            self.line.clear();
            let read = (&mut self.input)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .ok()?;
            if read == 0 {
                return None;
            }
            if self.line.last() != Some(&b'\n') && self.line.len() > MAX_LINE_BYTES {
                // Skip the rest of the overlong line, then the message it belongs to.
                too_long = true;
                continue;
            }
            let text = String::from_utf8_lossy(&self.line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                if self.data.is_empty() && !too_long {
                    continue;
                }
                let data = std::mem::take(&mut self.data);
                if too_long {
                    return Some(SseItem::Unreadable);
                }
                return Some(match serde_json::from_str::<ApiEvent>(&data) {
                    Ok(event) => SseItem::Event(event),
                    Err(_) => SseItem::Unreadable,
                });
            }
            if let Some(rest) = text.strip_prefix("data:") {
                if self.data.len() + rest.len() > MAX_LINE_BYTES {
                    too_long = true;
                    self.data.clear();
                    continue;
                }
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            }
            // `event:`, `id:` and `:` comments: the data carries the kind and seq.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_json(seq: u64, kind: &str) -> String {
        format!(
            r#"{{"seq":{seq},"kind":"{kind}","id":3,"info_hash":null,"name":"a","state":null,"message":null,"time":1}}"#
        )
    }

    #[test]
    fn messages_keepalives_and_the_end() {
        let stream = format!(
            ": keep-alive\n\nevent: added\nid: 1\ndata: {}\n\nevent: removed\r\ndata: {}\r\n\r\n",
            event_json(1, "added"),
            event_json(2, "removed")
        );
        let mut reader = SseReader::new(stream.as_bytes());
        match reader.next_item() {
            Some(SseItem::Event(e)) => assert_eq!((e.seq, e.kind.as_str(), e.id), (1, "added", Some(3))),
            other => panic!("{other:?}"),
        }
        match reader.next_item() {
            Some(SseItem::Event(e)) => assert_eq!(e.kind, "removed"),
            other => panic!("{other:?}"),
        }
        assert_eq!(reader.next_item(), None);
    }

    #[test]
    fn garbage_and_overlong_lines_are_skipped_not_kept() {
        let long = "x".repeat(MAX_LINE_BYTES * 3);
        let stream = format!(
            "data: not json\n\ndata: {long}\n\ndata: {}\n\n",
            event_json(7, "completed")
        );
        let mut reader = SseReader::new(stream.as_bytes());
        assert_eq!(reader.next_item(), Some(SseItem::Unreadable));
        assert_eq!(reader.next_item(), Some(SseItem::Unreadable));
        match reader.next_item() {
            Some(SseItem::Event(e)) => assert_eq!(e.seq, 7),
            other => panic!("{other:?}"),
        }
        assert!(reader.data.capacity() <= MAX_LINE_BYTES * 2);
    }
}
