//! Message floods: a peer that sends far more of some kind of message per second
//! than any real client does is cut off (and struck, like other hostile violations).
//!
//! Each kind is counted over a one-second window that starts with its first message.
//! The limits sit far above what honest clients send (see `docs/security.md`,
//! "Bans and limits"), because a false positive drops a good peer, while a flood
//! only has to be stopped before it costs real CPU: each of these messages makes us
//! do work (a bitfield rebuilds the picker's counts, a request is queued and
//! answered, an extension message is parsed) for no data in return.

use std::time::{Duration, Instant};

use crate::wire::Message;

/// The window every count runs over.
pub const FLOOD_WINDOW: Duration = Duration::from_secs(1);

/// A kind of flood, and its limit per [`FLOOD_WINDOW`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FloodAnomaly {
    /// Keep-alives: a real client sends one every minute or two.
    KeepAliveStorm,
    /// HAVE for a piece the peer already announced: no client repeats one.
    RepeatedHave,
    /// BITFIELD or HAVE ALL after the first that adds no piece (aria2 sends late
    /// BITFIELDs as batched HAVEs, each adding pieces; those are not counted).
    RepeatedBitfield,
    /// BEP 10 extension messages (PEX comes once a minute, metadata in a few pieces).
    ExtensionFlood,
    /// REQUESTs: the limit is 1.6 GB/s of 16 KiB blocks, beyond any real downloader.
    RequestFlood,
    /// Every small control message together (keep-alive, choke, interest, cancel,
    /// reject, suggest, port, unknown ids, repeated announcements).
    TinyMessageFlood,
}

impl FloodAnomaly {
    pub const ALL: [FloodAnomaly; 6] = [
        FloodAnomaly::KeepAliveStorm,
        FloodAnomaly::RepeatedHave,
        FloodAnomaly::RepeatedBitfield,
        FloodAnomaly::ExtensionFlood,
        FloodAnomaly::RequestFlood,
        FloodAnomaly::TinyMessageFlood,
    ];

    /// Most messages of this kind in one [`FLOOD_WINDOW`].
    pub const fn limit(self) -> u32 {
        match self {
            FloodAnomaly::KeepAliveStorm => 20,
            FloodAnomaly::RepeatedHave => 200,
            FloodAnomaly::RepeatedBitfield => 8,
            FloodAnomaly::ExtensionFlood => 500,
            FloodAnomaly::RequestFlood => 100_000,
            FloodAnomaly::TinyMessageFlood => 5_000,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FloodAnomaly::KeepAliveStorm => "keepalive_storm",
            FloodAnomaly::RepeatedHave => "repeated_have",
            FloodAnomaly::RepeatedBitfield => "repeated_bitfield",
            FloodAnomaly::ExtensionFlood => "extension_flood",
            FloodAnomaly::RequestFlood => "request_flood",
            FloodAnomaly::TinyMessageFlood => "tiny_message_flood",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What about a message may count toward a flood (decided by the torrent, which
/// knows whether an announcement repeats one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MessageClass {
    pub kind: Option<FloodAnomaly>,
    /// Counts toward [`FloodAnomaly::TinyMessageFlood`] too.
    pub tiny: bool,
}

impl MessageClass {
    /// How `message` counts; `repeats` says whether it announces nothing new (a HAVE
    /// of a piece already announced, a BITFIELD or HAVE ALL after the first).
    pub fn of(message: &Message, repeats: bool) -> MessageClass {
        let (kind, tiny) = match message {
            Message::KeepAlive => (Some(FloodAnomaly::KeepAliveStorm), true),
            Message::Have(_) if repeats => (Some(FloodAnomaly::RepeatedHave), true),
            Message::Bitfield(_) | Message::HaveAll if repeats => (Some(FloodAnomaly::RepeatedBitfield), true),
            Message::Extended { .. } => (Some(FloodAnomaly::ExtensionFlood), false),
            Message::Request(_) => (Some(FloodAnomaly::RequestFlood), false),
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::Cancel(_)
            | Message::Reject(_)
            | Message::Suggest(_)
            | Message::AllowedFast(_)
            | Message::Port(_)
            | Message::Unknown { .. } => (None, true),
            Message::Have(_) | Message::Bitfield(_) | Message::HaveAll | Message::HaveNone | Message::Piece { .. } => {
                (None, false)
            }
        };
        MessageClass { kind, tiny }
    }
}

/// One peer's counts in the current window of each kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct FloodMeter {
    windows: [Option<(Instant, u32)>; FloodAnomaly::ALL.len()],
}

impl FloodMeter {
    /// Counts one message; the anomaly and its count once a limit is passed.
    pub fn record(&mut self, class: MessageClass, now: Instant) -> Option<(FloodAnomaly, u32)> {
        let mut over = None;
        let tiny = class.tiny.then_some(FloodAnomaly::TinyMessageFlood);
        for kind in [class.kind, tiny].into_iter().flatten() {
            let slot = &mut self.windows[kind.index()];
            let count = match slot {
                Some((start, n)) if now.saturating_duration_since(*start) < FLOOD_WINDOW => {
                    *n = n.saturating_add(1);
                    *n
                }
                _ => {
                    *slot = Some((now, 1));
                    1
                }
            };
            if count > kind.limit() && over.is_none() {
                over = Some((kind, count));
            }
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_slots_are_distinct() {
        let labels: std::collections::HashSet<_> = FloodAnomaly::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), FloodAnomaly::ALL.len());
        for (i, k) in FloodAnomaly::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn a_keepalive_storm_trips_at_its_limit_within_one_window() {
        let t0 = Instant::now();
        let mut m = FloodMeter::default();
        let ka = MessageClass::of(&Message::KeepAlive, false);
        let limit = FloodAnomaly::KeepAliveStorm.limit();
        for i in 0..limit {
            assert_eq!(m.record(ka, t0 + Duration::from_millis(i as u64)), None);
        }
        assert_eq!(
            m.record(ka, t0 + Duration::from_millis(500)),
            Some((FloodAnomaly::KeepAliveStorm, limit + 1))
        );
    }

    #[test]
    fn the_same_count_spread_over_windows_is_fine() {
        let t0 = Instant::now();
        let mut m = FloodMeter::default();
        let ka = MessageClass::of(&Message::KeepAlive, false);
        for i in 0..10 * FloodAnomaly::KeepAliveStorm.limit() {
            // Two keep-alives a second, for a long time.
            assert_eq!(m.record(ka, t0 + Duration::from_millis(500 * i as u64)), None);
        }
    }

    #[test]
    fn new_announcements_never_count_and_repeats_do() {
        let t0 = Instant::now();
        let mut m = FloodMeter::default();
        let fresh = MessageClass::of(&Message::Have(crate::PieceIndex(1)), false);
        assert_eq!(fresh, MessageClass::default());
        for _ in 0..100_000 {
            assert_eq!(m.record(fresh, t0), None);
        }
        let again = MessageClass::of(&Message::Have(crate::PieceIndex(1)), true);
        let tripped = (0..=FloodAnomaly::RepeatedHave.limit()).find_map(|_| m.record(again, t0));
        assert_eq!(tripped.map(|t| t.0), Some(FloodAnomaly::RepeatedHave));
    }

    #[test]
    fn small_messages_of_mixed_kinds_add_up_to_a_tiny_message_flood() {
        let t0 = Instant::now();
        let mut m = FloodMeter::default();
        let kinds = [
            Message::Interested,
            Message::NotInterested,
            Message::Choke,
            Message::Unchoke,
        ];
        let mut tripped = None;
        for i in 0..=FloodAnomaly::TinyMessageFlood.limit() as usize {
            tripped = tripped.or(m.record(MessageClass::of(&kinds[i % 4], false), t0));
        }
        assert_eq!(tripped.map(|t| t.0), Some(FloodAnomaly::TinyMessageFlood));
    }
}
