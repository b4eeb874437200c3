//! Peer wire protocol codec (being written).
