//! The DHT (BEP 5, with BEP 32's IPv6 fields, BEP 42 ids and BEP 51 samples), sans-IO.
//!
//! - [`krpc`]: the messages, parsed as hostile input; [`compact`]: address forms.
//! - [`node_id`]: ids, XOR distance, BEP 42.
//! - [`routing_table`]: k-buckets; [`lookup`]: iterative lookups;
//!   [`tokens`]: write tokens; [`peer_store`]: peers announced to us.
//! - [`node`]: [`DhtNode`], the state machine that ties them together, driven by
//!   datagrams and the time (`now`) its caller passes in.
//! - [`schedule`]: when each torrent asks the DHT for peers again.

pub mod compact;
pub mod krpc;
pub mod lookup;
pub mod node;
pub mod node_id;
pub mod peer_store;
pub mod routing_table;
pub mod schedule;
pub mod tokens;

pub use compact::NodeInfo;
pub use lookup::LookupId;
pub use node::{DhtConfig, DhtEvent, DhtNode, DhtStats};
pub use node_id::NodeId;

#[cfg(test)]
mod simulation;
