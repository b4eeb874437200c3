//! The DHT's UDP endpoint: one socket, bound where the caller likes (any thread),
//! then driven on an executor around the engine's [`DhtNode`]: datagrams in, the
//! node's datagrams out, its deadlines kept. No DHT decision is made here.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ccbt_engine::dht::krpc::MAX_PACKET;
use ccbt_engine::dht::DhtNode;
use glommio::net::UdpSocket;
use socket2::{Domain, Protocol, Socket, Type};

/// Why the DHT socket could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DhtSocketError {
    #[error("DHT: cannot bind UDP {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound UDP socket, not yet on an executor (it may cross threads).
#[derive(Debug)]
pub struct DhtSocket {
    socket: Socket,
    local: SocketAddr,
}

impl DhtSocket {
    /// Binds `addr` (port 0 picks one). Binding here, on the caller's thread,
    /// reports a taken port at once instead of inside a shard.
    pub fn bind(addr: SocketAddr) -> Result<DhtSocket, DhtSocketError> {
        let err = |source| DhtSocketError::Bind { addr, source };
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true).map_err(err)?;
        }
        socket.bind(&addr.into()).map_err(err)?;
        let local = socket
            .local_addr()
            .map_err(err)?
            .as_socket()
            .ok_or_else(|| err(std::io::Error::other("not an inet address")))?;
        Ok(DhtSocket { socket, local })
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Moves the socket onto the current executor, around `node`.
    pub fn into_endpoint(self, node: DhtNode) -> DhtEndpoint {
        DhtEndpoint {
            socket: UdpSocket::from(self.socket),
            node,
            buf: vec![0u8; MAX_PACKET + 1],
            send_errors: 0,
        }
    }
}

/// A [`DhtNode`] with its socket, on one executor.
pub struct DhtEndpoint {
    socket: UdpSocket,
    node: DhtNode,
    buf: Vec<u8>,
    send_errors: u64,
}

impl DhtEndpoint {
    /// The node, to ask for lookups and read events and counters.
    pub fn node(&mut self) -> &mut DhtNode {
        &mut self.node
    }

    /// Datagrams that could not be sent (an unreachable network, say).
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// One round: the node's due timers, its queued datagrams sent, then a wait of
    /// at most `max_wait` (less if the node has a deadline sooner) for one
    /// datagram, which is fed to the node.
    pub async fn step(&mut self, max_wait: Duration) {
        let now = Instant::now();
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
        }
        self.flush().await;
        let wait = self
            .node
            .poll_timeout()
            .map_or(max_wait, |t| t.saturating_duration_since(Instant::now()).min(max_wait));
        let socket = &self.socket;
        let buf = &mut self.buf;
        let received = futures_lite::future::or(async { Some(socket.recv_from(buf).await) }, async {
            glommio::timer::sleep(wait).await;
            None
        })
        .await;
        match received {
            Some(Ok((n, from))) => {
                tracing::trace!(%from, bytes = n, "DHT datagram in");
                let datagram = &self.buf[..n.min(self.buf.len())];
                self.node.handle_packet(Instant::now(), from, datagram);
                self.flush().await;
            }
            Some(Err(e)) => {
                // ICMP errors from an earlier send surface here; the socket stays usable.
                tracing::debug!(error = %e, "DHT receive failed");
            }
            None => {}
        }
    }

    /// Sends everything the node has queued.
    pub async fn flush(&mut self) {
        while let Some((to, bytes)) = self.node.poll_transmit() {
            tracing::trace!(%to, bytes = bytes.len(), "DHT datagram out");
            if let Err(e) = self.socket.send_to(&bytes, to).await {
                self.send_errors += 1;
                tracing::debug!(%to, error = %e, "DHT send failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccbt_engine::dht::{DhtConfig, DhtEvent};
    use ccbt_engine::InfoHash;

    use crate::test_executor;

    #[test]
    fn two_endpoints_find_each_others_announce_over_loopback() {
        test_executor::run(|| async {
            let a = DhtSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let b = DhtSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
            assert_ne!(a_addr.port(), 0);
            let now = Instant::now();
            let mut a = a.into_endpoint(DhtNode::new(DhtConfig::default(), 1, now));
            let mut b = b.into_endpoint(DhtNode::new(DhtConfig::default(), 2, now));
            let info_hash = InfoHash([5; 20]);
            a.node().bootstrap(now, &[b_addr], &[]);
            a.node().get_peers(now, info_hash, Some(4321));
            let mut announced = false;
            for _ in 0..400 {
                a.step(Duration::from_millis(5)).await;
                b.step(Duration::from_millis(5)).await;
                while let Some(ev) = a.node().poll_event() {
                    if let DhtEvent::LookupDone {
                        info_hash: Some(_),
                        announced_to,
                        ..
                    } = ev
                    {
                        assert_eq!(announced_to, 1);
                        announced = true;
                    }
                }
                if announced && b.node().stats(Instant::now()).stored_peers == 1 {
                    break;
                }
            }
            assert!(announced);
            assert_eq!(b.node().stats(Instant::now()).stored_peers, 1);
            // A second lookup from a finds its own announce, stored at b.
            let l = a.node().get_peers(Instant::now(), info_hash, None);
            let mut found = Vec::new();
            for _ in 0..400 {
                a.step(Duration::from_millis(5)).await;
                b.step(Duration::from_millis(5)).await;
                let mut done = false;
                while let Some(ev) = a.node().poll_event() {
                    match ev {
                        DhtEvent::PeersFound { lookup, peers, .. } if lookup == l => found.extend(peers),
                        DhtEvent::LookupDone { lookup, .. } if lookup == l => done = true,
                        _ => {}
                    }
                }
                if done {
                    break;
                }
            }
            assert_eq!(found, vec![SocketAddr::new(a_addr.ip(), 4321)]);
        });
    }
}
