//! The life of one peer connection as a state machine: handshake, then the first
//! message (the bitfield window), then the active session.
//!
//! Each state is its own type and each transition consumes the old state (the rustls
//! way), so a connection cannot reach the torrent without a checked handshake:
//! [`Torrent::add_peer`](crate::torrent::Torrent::add_peer) takes only an
//! [`Established`]. The info-hash is compared here and nowhere else. The io layer
//! moves the bytes: it writes [`Dialing::handshake_bytes`] /
//! [`Accepting::handshake_bytes`] and feeds back what it read.
//!
//! ```text
//! dial:   Dialing ──receive(68 bytes)──────────────┐
//!                                                  ├─> Established ──add_peer──> Phase::BitfieldWindow ──any message──> Phase::Active
//! accept: Accepting::from_prefix(48 bytes) ──receive_peer_id(20 bytes)──┘
//! ```

use std::time::Duration;

use crate::types::{InfoHash, PeerId};
use crate::wire::{
    parse_routing_prefix, Handshake, Message, Reserved, WireError, HANDSHAKE_LEN, HANDSHAKE_ROUTING_LEN,
};

/// Longest wait for a TCP connect or for the other side's handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of the peer id that close an incoming handshake after its routing prefix.
pub const PEER_ID_LEN: usize = HANDSHAKE_LEN - HANDSHAKE_ROUTING_LEN;

/// Why a handshake did not lead to a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("handshake is for torrent {got}, not {expected}")]
    WrongTorrent { expected: InfoHash, got: InfoHash },
    #[error("connection to ourselves")]
    SelfConnection,
}

/// Which side opened the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
}

/// We dialed: our handshake goes out first, then theirs is awaited.
#[derive(Debug)]
pub struct Dialing {
    ours: Handshake,
}

impl Dialing {
    pub fn new(info_hash: InfoHash, our_id: PeerId) -> Self {
        Dialing {
            ours: Handshake {
                reserved: Reserved::ours(),
                info_hash,
                peer_id: our_id,
            },
        }
    }

    /// The 68 bytes to send.
    pub fn handshake_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        self.ours.encode()
    }

    /// Their complete handshake arrived.
    pub fn receive(self, theirs: &[u8]) -> Result<Established, HandshakeError> {
        let theirs = Handshake::parse(theirs)?;
        check(&self.ours, &theirs)?;
        Ok(Established {
            theirs,
            direction: Direction::Outgoing,
        })
    }
}

/// They dialed, and the listener read the routing prefix (protocol, reserved bits,
/// info-hash) to find the torrent: we answer with ours, then await their peer id.
#[derive(Debug)]
pub struct Accepting {
    ours: Handshake,
    reserved: Reserved,
}

impl Accepting {
    /// Checks the prefix against the torrent it was routed to.
    pub fn from_prefix(prefix: &[u8], info_hash: InfoHash, our_id: PeerId) -> Result<Self, HandshakeError> {
        let (reserved, got) = parse_routing_prefix(prefix)?;
        if got != info_hash {
            return Err(HandshakeError::WrongTorrent {
                expected: info_hash,
                got,
            });
        }
        Ok(Accepting {
            ours: Handshake {
                reserved: Reserved::ours(),
                info_hash,
                peer_id: our_id,
            },
            reserved,
        })
    }

    /// The 68 bytes to send.
    pub fn handshake_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        self.ours.encode()
    }

    /// The last 20 bytes of their handshake arrived.
    pub fn receive_peer_id(self, id: [u8; PEER_ID_LEN]) -> Result<Established, HandshakeError> {
        let theirs = Handshake {
            reserved: self.reserved,
            info_hash: self.ours.info_hash,
            peer_id: PeerId(id),
        };
        check(&self.ours, &theirs)?;
        Ok(Established {
            theirs,
            direction: Direction::Incoming,
        })
    }
}

fn check(ours: &Handshake, theirs: &Handshake) -> Result<(), HandshakeError> {
    if theirs.info_hash != ours.info_hash {
        return Err(HandshakeError::WrongTorrent {
            expected: ours.info_hash,
            got: theirs.info_hash,
        });
    }
    if theirs.peer_id == ours.peer_id {
        return Err(HandshakeError::SelfConnection);
    }
    Ok(())
}

/// Both handshakes exchanged and checked: the only way into a torrent.
#[derive(Debug, Clone)]
pub struct Established {
    theirs: Handshake,
    direction: Direction,
}

impl Established {
    pub fn peer_id(&self) -> PeerId {
        self.theirs.peer_id
    }

    pub fn info_hash(&self) -> InfoHash {
        self.theirs.info_hash
    }

    pub fn reserved(&self) -> Reserved {
        self.theirs.reserved
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }
}

/// Where an established session is, inside the torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing but keep-alives and extension messages seen yet: BITFIELD, HAVE ALL
    /// and HAVE NONE are expected here (BEP 3, BEP 6).
    BitfieldWindow,
    /// Any other message was seen.
    Active,
}

impl Phase {
    /// The phase after `message`.
    pub fn after(self, message: &Message) -> Phase {
        match (self, message) {
            (Phase::BitfieldWindow, Message::Extended { .. } | Message::KeepAlive) => Phase::BitfieldWindow,
            _ => Phase::Active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IH: InfoHash = InfoHash([7; 20]);

    #[test]
    fn a_dial_and_an_accept_meet_in_two_established_sessions() {
        let a = Dialing::new(IH, PeerId([b'a'; 20]));
        let hello = a.handshake_bytes();
        let b = Accepting::from_prefix(&hello[..HANDSHAKE_ROUTING_LEN], IH, PeerId([b'b'; 20])).unwrap();
        let reply = b.handshake_bytes();
        let mut id = [0u8; PEER_ID_LEN];
        id.copy_from_slice(&hello[HANDSHAKE_ROUTING_LEN..]);
        let at_b = b.receive_peer_id(id).unwrap();
        let at_a = a.receive(&reply).unwrap();
        assert_eq!(at_b.peer_id(), PeerId([b'a'; 20]));
        assert_eq!(at_a.peer_id(), PeerId([b'b'; 20]));
        assert_eq!(
            (at_a.direction(), at_b.direction()),
            (Direction::Outgoing, Direction::Incoming)
        );
        assert!(at_a.reserved().supports_fast() && at_b.reserved().supports_extensions());
    }

    #[test]
    fn the_info_hash_and_our_own_id_are_refused() {
        let other = InfoHash([8; 20]);
        let hello = Dialing::new(other, PeerId([b'a'; 20])).handshake_bytes();
        assert_eq!(
            Accepting::from_prefix(&hello, IH, PeerId([b'b'; 20])).unwrap_err(),
            HandshakeError::WrongTorrent {
                expected: IH,
                got: other
            }
        );
        let d = Dialing::new(IH, PeerId([b'a'; 20]));
        assert_eq!(
            d.receive(&Dialing::new(other, PeerId([b'b'; 20])).handshake_bytes())
                .unwrap_err(),
            HandshakeError::WrongTorrent {
                expected: IH,
                got: other
            }
        );
        let d = Dialing::new(IH, PeerId([b'a'; 20]));
        assert_eq!(
            d.receive(&Dialing::new(IH, PeerId([b'a'; 20])).handshake_bytes())
                .unwrap_err(),
            HandshakeError::SelfConnection
        );
        let d = Dialing::new(IH, PeerId([b'a'; 20]));
        assert!(matches!(d.receive(b"GET / HTTP/1.1\r\n"), Err(HandshakeError::Wire(_))));
    }

    #[test]
    fn the_bitfield_window_closes_at_the_first_real_message() {
        let p = Phase::BitfieldWindow;
        let p = p.after(&Message::KeepAlive);
        let p = p.after(&Message::Extended {
            id: 0,
            payload: Default::default(),
        });
        assert_eq!(p, Phase::BitfieldWindow);
        let p = p.after(&Message::HaveNone);
        assert_eq!(p, Phase::Active);
        assert_eq!(p.after(&Message::KeepAlive), Phase::Active);
    }
}
