//! The one listening TCP socket a session accepts peers on, shared by every shard.
//!
//! Why not glommio's `TcpListener::bind` on each shard: it sets `SO_REUSEPORT` and
//! not `SO_REUSEADDR`. Without `SO_REUSEADDR` the connections a previous run left
//! in TIME-WAIT block the bind for about a minute, so a restart on the same port
//! fails; and `SO_REUSEPORT` lets any other process of the same user bind the same
//! port beside us, so two ccbt could silently share one port.
//!
//! So the socket is made once, with `SO_REUSEADDR` only (Linux never lets two
//! sockets listen on one address with it, while TIME-WAIT leftovers no longer
//! block), and each shard gets a duplicate of the descriptor: every shard accepts
//! from the same queue. The descriptor is non-blocking, so an `accept` that loses
//! the race for a connection to another shard never blocks its thread.

#![allow(unsafe_code)]

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// Connections the kernel queues before shards accept them.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Why the listening socket could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// A bound, listening socket that can be handed to any executor thread.
#[derive(Debug)]
pub struct SharedListener {
    socket: Socket,
    local: SocketAddr,
}

impl SharedListener {
    /// Binds and listens on `addr` (port 0 picks a free port). Fails if anything
    /// else listens there, whatever options it set.
    pub fn bind(addr: SocketAddr) -> Result<SharedListener, ListenError> {
        let err = |source| ListenError { addr, source };
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
        socket.set_reuse_address(true).map_err(err)?;
        socket.bind(&SockAddr::from(addr)).map_err(err)?;
        socket.listen(LISTEN_BACKLOG).map_err(err)?;
        // Shared by several threads' accepts: see the module docs.
        socket.set_nonblocking(true).map_err(err)?;
        let local = socket
            .local_addr()
            .map_err(err)?
            .as_socket()
            .ok_or_else(|| err(std::io::Error::other("not an IP socket")))?;
        Ok(SharedListener { socket, local })
    }

    /// The bound address (with the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Another descriptor for the same socket, for another shard.
    pub fn try_clone(&self) -> Result<SharedListener, ListenError> {
        let socket = self.socket.try_clone().map_err(|source| ListenError {
            addr: self.local,
            source,
        })?;
        Ok(SharedListener {
            socket,
            local: self.local,
        })
    }

    /// The socket as a glommio listener of the current executor. Must be called on
    /// the glommio executor thread that will accept on it.
    pub fn into_glommio(self) -> glommio::net::TcpListener {
        // SAFETY: the descriptor is a bound, listening TCP socket that we own
        // exclusively; ownership moves into the glommio listener.
        unsafe { glommio::net::TcpListener::from_raw_fd(self.socket.into_raw_fd()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_executor;

    fn loopback(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_second_bind_on_the_port_fails_naming_the_address() {
        let first = SharedListener::bind(loopback(0)).unwrap();
        let addr = first.local_addr();
        assert_ne!(addr.port(), 0);
        let err = SharedListener::bind(addr).unwrap_err();
        assert_eq!(err.addr, addr);
        assert_eq!(err.source.kind(), std::io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        // Nor can a socket that asks to share the port with SO_REUSEPORT join it.
        let other = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        other.set_reuse_port(true).unwrap();
        other.set_reuse_address(true).unwrap();
        assert!(other.bind(&SockAddr::from(addr)).is_err());
    }

    #[test]
    fn rebinds_at_once_after_serving_a_connection() {
        let first = SharedListener::bind(loopback(0)).unwrap();
        let addr = first.local_addr();
        let std_listener: std::net::TcpListener = first.socket.into();
        std_listener.set_nonblocking(false).unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (served, _) = std_listener.accept().unwrap();
        // The server closes first, so its side of the connection waits in TIME-WAIT.
        drop(served);
        drop(std_listener);
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(client);
        let again = SharedListener::bind(addr).expect("rebind while the old connection is in TIME-WAIT");
        assert_eq!(again.local_addr(), addr);
    }

    #[test]
    fn every_clone_accepts_from_the_one_queue() {
        let listener = SharedListener::bind(loopback(0)).unwrap();
        let addr = listener.local_addr();
        let clone = listener.try_clone().unwrap();
        drop(listener);
        // Connects once the accept is surely waiting in the ring, not before.
        let client = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::net::TcpStream::connect(addr).map(|_| ())
        });
        test_executor::run(move || async move {
            let glommio_listener = clone.into_glommio();
            let stream = glommio_listener.accept().await.expect("accepted on the clone");
            assert_eq!(stream.local_addr().unwrap(), addr);
        });
        client.join().unwrap().unwrap();
    }
}
