//! The UDP socket of local service discovery (BEP 14): bound to the group's port on
//! every interface, joined to the multicast group, shared with other clients on the
//! host (`SO_REUSEADDR`/`SO_REUSEPORT`: every socket bound to the group receives
//! each announce). What to send and what a datagram means is the engine's
//! (`ccbt_engine::lsd`); this only moves datagrams.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use glommio::net::UdpSocket;
use socket2::{Domain, Protocol, Socket, Type};

/// Bytes read per datagram: more than any announce we accept (the engine refuses
/// anything over `ccbt_engine::lsd::MAX_DATAGRAM`), so an oversized one is seen whole
/// and refused, not cut to look valid.
pub const LSD_RECV_BUFFER: usize = 2048;

/// Why the LSD socket could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("local service discovery on {group}: {step}: {source}")]
pub struct LsdSocketError {
    pub group: SocketAddrV4,
    pub step: &'static str,
    #[source]
    pub source: io::Error,
}

/// A socket joined to an IPv4 LSD multicast group.
pub struct LsdSocket {
    socket: UdpSocket,
    group: SocketAddrV4,
}

impl LsdSocket {
    /// Binds `0.0.0.0:<group port>` and joins `group` on `interface`
    /// (`0.0.0.0`: the interface the kernel's route for the group picks). Our own
    /// announces come back to us (multicast loop stays on, so two clients on one host
    /// find each other); the engine's cookie tells them apart. TTL 1: the LAN only.
    pub fn bind_v4(group: SocketAddrV4, interface: Ipv4Addr) -> Result<LsdSocket, LsdSocketError> {
        let err = |step| move |source| LsdSocketError { group, step, source };
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(err("socket"))?;
        socket.set_reuse_address(true).map_err(err("SO_REUSEADDR"))?;
        socket.set_reuse_port(true).map_err(err("SO_REUSEPORT"))?;
        let bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, group.port()));
        socket.bind(&bind.into()).map_err(err("bind"))?;
        socket
            .join_multicast_v4(group.ip(), &interface)
            .map_err(err("join the multicast group"))?;
        socket.set_multicast_loop_v4(true).map_err(err("IP_MULTICAST_LOOP"))?;
        socket.set_multicast_ttl_v4(1).map_err(err("IP_MULTICAST_TTL"))?;
        if !interface.is_unspecified() {
            socket.set_multicast_if_v4(&interface).map_err(err("IP_MULTICAST_IF"))?;
        }
        Ok(LsdSocket {
            socket: UdpSocket::from(socket),
            group,
        })
    }

    /// The group announces go to.
    pub fn group(&self) -> SocketAddrV4 {
        self.group
    }

    /// Sends one announce to the group.
    pub async fn announce(&self, datagram: &[u8]) -> io::Result<()> {
        self.socket
            .send_to(datagram, SocketAddr::V4(self.group))
            .await
            .map(|_| ())
            .map_err(io::Error::from)
    }

    /// The next datagram and who sent it.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.recv_from(buf).await.map_err(io::Error::from)
    }
}
