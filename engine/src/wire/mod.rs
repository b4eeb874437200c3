//! Peer wire protocol codec: the handshake (BEP 3), the length-prefixed messages of
//! BEP 3, the Fast extension (BEP 6), PORT (BEP 5) and the extension protocol (BEP 10).
//!
//! Sans-IO: callers hand in bytes and get typed messages back, or hand in messages and
//! get bytes. Nothing here knows about sockets or per-connection protocol state (for
//! example whether Fast was negotiated); that belongs to the peer session.

mod decoder;
mod extension;
mod handshake;
mod message;
mod ut_metadata;

#[cfg(test)]
mod proptests;

pub use decoder::{MessageDecoder, WireLimits};
pub use extension::{
    ExtensionHandshake, EXTENDED_HANDSHAKE_ID, MAX_CLIENT_NAME_LEN, MAX_EXTENSIONS, MAX_EXTENSION_NAME_LEN,
};
pub use handshake::{parse_routing_prefix, Handshake, Reserved, HANDSHAKE_LEN, HANDSHAKE_ROUTING_LEN, PROTOCOL};
pub use message::{encode_piece_header, Message, PIECE_HEADER_LEN};
pub use ut_metadata::{
    metadata_piece_count, metadata_piece_len, MetadataMessage, MetadataMessageError, MAX_METADATA_SIZE,
    METADATA_PIECE_SIZE, OUR_UT_METADATA_ID, OUR_UT_PEX_ID, UT_METADATA, UT_PEX,
};

use crate::types::BlockRef;
use thiserror::Error;

/// Why bytes from a peer are not valid wire protocol. Every variant is fatal to the
/// connection that produced it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The length prefix of a message exceeds the limit for its id (`len` counts the
    /// id byte, as on the wire). Reported before the body is buffered.
    #[error("message id {id} announces {len} bytes, limit is {max}")]
    LengthTooLarge { id: u8, len: u32, max: u32 },
    /// A message has a size its type does not allow (fixed-size messages, or a
    /// variable-size one shorter than its header). `len` counts the id byte.
    #[error("{message} message with invalid length {len}")]
    BadLength { message: &'static str, len: u32 },
    /// An id this codec does not know. [`MessageDecoder`] never returns this (it yields
    /// [`Message::Unknown`]); it exists for callers that choose to be strict.
    #[error("unknown message id {0}")]
    UnknownMessageId(u8),
    /// The 68-byte handshake is malformed.
    #[error("bad handshake: {0}")]
    BadHandshake(&'static str),
    /// The BEP 10 extended handshake payload is not a usable dictionary.
    #[error("bad extension handshake: {0}")]
    BadExtensionHandshake(String),
    /// A REQUEST asks for more bytes than we serve in one block.
    #[error(
        "request for {} bytes at offset {} of piece {} exceeds the block limit {max}",
        block.length, block.offset, block.piece
    )]
    BlockTooLarge { block: BlockRef, max: u32 },
    /// A REQUEST that cannot name a real block (zero length, or its end overflows).
    #[error(
        "invalid request for {} bytes at offset {} of piece {}: {reason}",
        block.length, block.offset, block.piece
    )]
    BadRequest { block: BlockRef, reason: &'static str },
}
