//! Moving an accepted TCP connection from one executor to another.
//!
//! glommio streams belong to the executor that made them. To hand a connection to
//! the shard that owns its torrent, we duplicate its descriptor into a `Send` value,
//! drop the original, and rebuild a stream on the receiving executor.

#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use glommio::net::TcpStream;

/// A connected socket in transit between executors.
#[derive(Debug)]
pub struct TransferableSocket(OwnedFd);

impl TransferableSocket {
    /// Duplicates the stream's descriptor; the caller then drops `stream`.
    pub fn detach(stream: &TcpStream) -> std::io::Result<TransferableSocket> {
        // SAFETY: the descriptor is open for as long as `stream` lives, which covers this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
        Ok(TransferableSocket(borrowed.try_clone_to_owned()?))
    }

    /// Rebuilds a stream on the current executor.
    pub fn attach(self) -> TcpStream {
        // SAFETY: we own this descriptor exclusively and it is a connected TCP socket.
        unsafe { TcpStream::from_raw_fd(self.0.into_raw_fd()) }
    }
}
