//! A bound on the API's open connections. They share the process's file descriptors
//! with the shards' peer sockets and files, so a client opening connections without
//! end must not take those; past the bound, new connections wait in the listen
//! backlog until one closes. A connection on which nothing moves either way for the
//! idle timeout is closed, so silent clients cannot hold every place (an event
//! stream's keep-alive comments count as movement).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// A listener that holds one permit per open connection.
pub(crate) struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl BoundedListener {
    pub(crate) fn new(inner: TcpListener, max_connections: usize, idle_timeout: Duration) -> BoundedListener {
        BoundedListener {
            inner,
            permits: Arc::new(Semaphore::new(max_connections)),
            idle_timeout,
        }
    }
}

/// The address of the client on the other end of a request's connection, for
/// handlers as `ConnectInfo<ClientAddr>` (the compatibility APIs let loopback
/// clients in without credentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, BoundedListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, BoundedListener>) -> ClientAddr {
        ClientAddr(*stream.remote_addr())
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        // The semaphore is never closed, so this waits for a permit and gets one.
        let permit = self.permits.clone().acquire_owned().await.ok();
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let stream = CountedStream {
            stream,
            _permit: permit,
            idle_timeout: self.idle_timeout,
            idle_deadline: Box::pin(tokio::time::sleep(self.idle_timeout)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that gives its permit back when it closes, and fails its reads once
/// nothing has moved for the idle timeout.
pub(crate) struct CountedStream {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
    idle_timeout: Duration,
    idle_deadline: Pin<Box<Sleep>>,
}

impl CountedStream {
    fn moved(&mut self) {
        self.idle_deadline.as_mut().reset(Instant::now() + self.idle_timeout);
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let filled = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Pending => match this.idle_deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "control API connection idle for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
            Poll::Ready(result) => {
                if buf.filled().len() > filled {
                    this.moved();
                }
                Poll::Ready(result)
            }
        }
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                this.moved();
            }
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            if n > 0 {
                this.moved();
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::pin::Pin;
    use std::time::Duration;

    use axum::serve::Listener;
    use tokio::io::{AsyncRead, ReadBuf};

    use super::BoundedListener;

    #[tokio::test]
    async fn a_connection_past_the_bound_waits_for_one_to_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut bounded = BoundedListener::new(listener, 1, Duration::from_secs(600));
        let _first_client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _second_client = tokio::net::TcpStream::connect(addr).await.unwrap();

        let (first, _) = bounded.accept().await;
        let waiting = tokio::time::timeout(Duration::from_millis(200), bounded.accept()).await;
        assert!(waiting.is_err(), "a second connection was accepted past the bound of 1");

        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(10), bounded.accept()).await;
        assert!(
            second.is_ok(),
            "the second connection was not accepted after the first closed"
        );
    }

    async fn read_some(stream: &mut super::CountedStream) -> std::io::Result<usize> {
        let mut bytes = [0u8; 64];
        let mut buf = ReadBuf::new(&mut bytes);
        std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, &mut buf)).await?;
        Ok(buf.filled().len())
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_a_talking_one_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let idle = Duration::from_millis(300);
        let mut bounded = BoundedListener::new(listener, 4, idle);

        let client = std::net::TcpStream::connect(addr).unwrap();
        let (mut server_side, _) = bounded.accept().await;
        // Bytes arriving keep it open past the idle timeout...
        for _ in 0..3 {
            tokio::time::sleep(idle / 2).await;
            (&client).write_all(b"x").unwrap();
            assert_eq!(read_some(&mut server_side).await.unwrap(), 1);
        }
        // ...and silence ends it.
        let err = tokio::time::timeout(Duration::from_secs(10), read_some(&mut server_side))
            .await
            .expect("the idle timeout never fired")
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }
}
