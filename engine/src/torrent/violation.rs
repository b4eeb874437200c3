//! The ways a peer can break the protocol, as one typed enum, so that the ban logic
//! and the metrics can count them by kind instead of parsing strings.

use crate::bitfield::BitfieldError;
use crate::types::BlockRef;
use crate::wire::WireError;

/// A rule of the peer wire protocol the peer broke. Every variant ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// Bytes that do not frame into a valid message (reported by the io layer's decoder).
    #[error("malformed message: {0}")]
    Malformed(WireError),
    /// A BITFIELD of the wrong length, or with spare bits set.
    #[error("bad bitfield: {0}")]
    BadBitfield(BitfieldError),
    /// HAVE NONE once other messages were exchanged (BEP 6 puts it first).
    #[error("HAVE NONE after other messages")]
    LateHaveNone,
    /// A Fast extension message from a peer that did not negotiate it.
    #[error("{message} from a peer without the Fast extension")]
    FastWithoutNegotiation { message: &'static str },
    /// A message naming a piece the torrent does not have.
    #[error("{message} names piece {index}, the torrent has {num_pieces} pieces")]
    PieceIndexOutOfRange {
        message: &'static str,
        index: u32,
        num_pieces: u32,
    },
    /// A REQUEST for bytes outside its piece, empty, or larger than we serve.
    #[error(
        "request for piece {} offset {} length {} (piece is {piece_size} bytes)",
        block.piece.0,
        block.offset,
        block.length
    )]
    RequestOutOfRange { block: BlockRef, piece_size: u32 },
    /// More requests queued with us than the `reqq` we advertised, again and again.
    #[error("{refused} requests beyond the advertised queue of {limit}")]
    TooManyRequests { refused: u32, limit: u32 },
    /// PIECE messages for blocks we never asked this peer for (or cancelled long ago).
    #[error("{count} blocks nobody requested")]
    UnrequestedBlocks { count: u32 },
    /// A BEP 10 message we understand but whose payload is broken.
    #[error("bad extension message: {0}")]
    BadExtensionMessage(WireError),
    /// A broken `ut_metadata` message (BEP 9) under the id we gave it.
    #[error("bad ut_metadata message: {0}")]
    BadMetadataMessage(crate::wire::MetadataMessageError),
    /// A broken `ut_pex` message (BEP 11) under the id we gave it.
    #[error("bad ut_pex message: {0}")]
    BadPexMessage(crate::pex::PexError),
    /// Far more messages of one kind per second than any real client sends.
    #[error("{} flood: {count} messages within {:?} (limit {})", anomaly.label(), super::FLOOD_WINDOW, anomaly.limit())]
    Flood { anomaly: super::FloodAnomaly, count: u32 },
}

/// The kind of a [`ProtocolViolation`], without its details: what counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    Malformed,
    BadBitfield,
    LateHaveNone,
    FastWithoutNegotiation,
    PieceIndexOutOfRange,
    RequestOutOfRange,
    TooManyRequests,
    UnrequestedBlock,
    BadExtensionMessage,
    /// A message flood (see [`super::FloodAnomaly`]), one kind per anomaly.
    Flood(super::FloodAnomaly),
}

impl ViolationKind {
    /// Every kind, in a fixed order (the order of [`ViolationCounts`]).
    pub const ALL: [ViolationKind; 15] = [
        ViolationKind::Malformed,
        ViolationKind::BadBitfield,
        ViolationKind::LateHaveNone,
        ViolationKind::FastWithoutNegotiation,
        ViolationKind::PieceIndexOutOfRange,
        ViolationKind::RequestOutOfRange,
        ViolationKind::TooManyRequests,
        ViolationKind::UnrequestedBlock,
        ViolationKind::BadExtensionMessage,
        ViolationKind::Flood(super::FloodAnomaly::KeepAliveStorm),
        ViolationKind::Flood(super::FloodAnomaly::RepeatedHave),
        ViolationKind::Flood(super::FloodAnomaly::RepeatedBitfield),
        ViolationKind::Flood(super::FloodAnomaly::ExtensionFlood),
        ViolationKind::Flood(super::FloodAnomaly::RequestFlood),
        ViolationKind::Flood(super::FloodAnomaly::TinyMessageFlood),
    ];

    /// A stable snake_case name, for metrics labels and JSON keys.
    pub fn label(self) -> &'static str {
        match self {
            ViolationKind::Malformed => "malformed",
            ViolationKind::BadBitfield => "bad_bitfield",
            ViolationKind::LateHaveNone => "late_have_none",
            ViolationKind::FastWithoutNegotiation => "fast_without_negotiation",
            ViolationKind::PieceIndexOutOfRange => "piece_index_out_of_range",
            ViolationKind::RequestOutOfRange => "request_out_of_range",
            ViolationKind::TooManyRequests => "too_many_requests",
            ViolationKind::UnrequestedBlock => "unrequested_block",
            ViolationKind::BadExtensionMessage => "bad_extension_message",
            ViolationKind::Flood(anomaly) => anomaly.label(),
        }
    }

    /// Whether the violation is an attack rather than a bug: it also counts as a
    /// strike against the sender's address, so a host that keeps coming back to do
    /// it is banned like one that sends corrupt data.
    pub fn is_hostile(self) -> bool {
        matches!(
            self,
            ViolationKind::UnrequestedBlock | ViolationKind::TooManyRequests | ViolationKind::Flood(_)
        )
    }

    fn index(self) -> usize {
        // ALL is short: a linear search costs less than keeping two lists in step.
        ViolationKind::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

impl ProtocolViolation {
    pub fn kind(&self) -> ViolationKind {
        match self {
            ProtocolViolation::Malformed(_) => ViolationKind::Malformed,
            ProtocolViolation::BadBitfield(_) => ViolationKind::BadBitfield,
            ProtocolViolation::LateHaveNone => ViolationKind::LateHaveNone,
            ProtocolViolation::FastWithoutNegotiation { .. } => ViolationKind::FastWithoutNegotiation,
            ProtocolViolation::PieceIndexOutOfRange { .. } => ViolationKind::PieceIndexOutOfRange,
            ProtocolViolation::RequestOutOfRange { .. } => ViolationKind::RequestOutOfRange,
            ProtocolViolation::TooManyRequests { .. } => ViolationKind::TooManyRequests,
            ProtocolViolation::UnrequestedBlocks { .. } => ViolationKind::UnrequestedBlock,
            ProtocolViolation::BadExtensionMessage(_)
            | ProtocolViolation::BadMetadataMessage(_)
            | ProtocolViolation::BadPexMessage(_) => ViolationKind::BadExtensionMessage,
            ProtocolViolation::Flood { anomaly, .. } => ViolationKind::Flood(*anomaly),
        }
    }
}

/// How many violations of each kind a torrent saw (each dropped unrequested block
/// counts once, whether or not it ended the connection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViolationCounts([u64; ViolationKind::ALL.len()]);

impl ViolationCounts {
    pub fn record(&mut self, kind: ViolationKind) {
        self.0[kind.index()] += 1;
    }

    pub fn get(&self, kind: ViolationKind) -> u64 {
        self.0[kind.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Each kind with its count, zeros included, in [`ViolationKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (ViolationKind, u64)> + '_ {
        ViolationKind::ALL.iter().map(|k| (*k, self.get(*k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_index_their_own_slot() {
        for (i, k) in ViolationKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
        let mut c = ViolationCounts::default();
        c.record(ViolationKind::UnrequestedBlock);
        c.record(ViolationKind::UnrequestedBlock);
        c.record(ViolationKind::Malformed);
        assert_eq!(c.get(ViolationKind::UnrequestedBlock), 2);
        assert_eq!(c.get(ViolationKind::Malformed), 1);
        assert_eq!(c.total(), 3);
        let labels: std::collections::HashSet<_> = ViolationKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), ViolationKind::ALL.len(), "labels are distinct");
    }
}
