//! Incoming connections: the accepting shard reads the routing part of each
//! handshake, then serves the connection here or hands it to the shard that owns
//! its torrent.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use ccbt_engine::connection_policy::RefusalKind;
use ccbt_engine::wire::{parse_routing_prefix, HANDSHAKE_ROUTING_LEN};
use ccbt_engine::InfoHash;
use ccbt_io::socket_transfer::TransferableSocket;
use futures_lite::AsyncReadExt;
use glommio::net::{TcpListener, TcpStream};

use super::Shard;
use crate::messages::AdoptConnection;

/// Longest wait for the routing part of an incoming handshake.
const ROUTING_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted connections still sending the routing part of their handshake, at
/// most: beyond it new ones are closed at once, so silent sockets cannot pile up.
const MAX_ROUTING: usize = 1024;
/// Tries at duplicating a socket for a hand-over (it fails only when out of
/// descriptors, which a moment may cure), and the pause between them.
const HANDOVER_TRIES: u32 = 3;
const HANDOVER_RETRY: Duration = Duration::from_millis(50);

impl Shard {
    /// A connection handed over by another shard.
    pub(super) fn adopt(self: Rc<Self>, adopt: AdoptConnection) {
        let stream = adopt.socket.attach();
        glommio::spawn_local(async move {
            self.serve_incoming(stream, adopt.addr, adopt.info_hash, adopt.prefix)
                .await;
        })
        .detach();
    }

    /// Routes an incoming connection whose info-hash is known: here, or to the owner.
    async fn route(self: Rc<Self>, stream: TcpStream, addr: SocketAddr, prefix: [u8; HANDSHAKE_ROUTING_LEN]) {
        let Ok((_, info_hash)) = parse_routing_prefix(&prefix) else {
            return;
        };
        match self.ctx.router.owner(&info_hash) {
            Some(owner) if owner == self.ctx.id => self.serve_incoming(stream, addr, info_hash, prefix).await,
            Some(owner) => self.hand_over(stream, addr, owner, info_hash, prefix).await,
            None => self.ctx.router.count_unroutable(),
        }
    }

    /// Hands a connection to the shard that owns its torrent. Our stream stays
    /// open until the owner has the duplicate, so a failed hand-over loses nothing:
    /// duplicating is retried (it fails when out of descriptors), and if the owner
    /// is gone the router is asked again (the torrent may have come here).
    async fn hand_over(
        self: Rc<Self>,
        stream: TcpStream,
        addr: SocketAddr,
        owner: usize,
        info_hash: InfoHash,
        prefix: [u8; HANDSHAKE_ROUTING_LEN],
    ) {
        let Some(senders) = &self.senders else { return };
        let mut tries = 0;
        let socket = loop {
            match TransferableSocket::detach(&stream) {
                Ok(s) => break s,
                Err(e) if tries + 1 < HANDOVER_TRIES => {
                    tracing::debug!(%addr, error = %e, "retrying a hand-over");
                    tries += 1;
                    glommio::timer::sleep(HANDOVER_RETRY).await;
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "could not hand over connection");
                    return;
                }
            }
        };
        let adopt = AdoptConnection {
            socket,
            addr,
            info_hash,
            prefix,
        };
        match senders.send_to(owner, adopt).await {
            Ok(()) => {
                self.ctx.router.count_handover();
                drop(stream);
            }
            Err(e) => {
                tracing::warn!(%addr, owner, error = %e, "owner shard did not take the connection");
                if self.ctx.router.owner(&info_hash) == Some(self.ctx.id) {
                    self.serve_incoming(stream, addr, info_hash, prefix).await;
                }
            }
        }
    }

    async fn serve_incoming(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        info_hash: InfoHash,
        prefix: [u8; HANDSHAKE_ROUTING_LEN],
    ) {
        let Some(task) = self.running_task(&info_hash) else {
            if let Some(task) = self.metadata_task(&info_hash) {
                if let Err(e) = task.accept(stream, addr, &prefix).await {
                    tracing::debug!(error = %e, "incoming metadata peer ended");
                }
                return;
            }
            // Owned here but still checking its data: not ready for peers yet.
            self.ctx.router.count_unroutable();
            return;
        };
        if let Err(e) = ccbt_io::peer_connection::accept(task, stream, addr, &prefix).await {
            tracing::debug!(error = %e, "incoming peer connection ended");
        }
    }
}

pub(super) async fn accept_loop(shard: Rc<Shard>, listener: Rc<TcpListener>) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if shard.routing.get() >= MAX_ROUTING {
            // Too many connections have not said which torrent they want yet.
            shard.budget.refused(RefusalKind::RoutingFull);
            drop(stream);
            continue;
        }
        // Before anything is read or spawned for it: a flood of connections costs
        // an accept and a close each.
        let now = std::time::Instant::now();
        if !shard.accept_rate.borrow_mut().try_accept(now) {
            shard.budget.refused(RefusalKind::HandshakeRate);
            drop(stream);
            continue;
        }
        if stream
            .peer_addr()
            .is_ok_and(|a| shard.budget.is_session_banned(a.ip(), now))
        {
            shard.budget.refused(RefusalKind::Banned);
            drop(stream);
            continue;
        }
        let shard = shard.clone();
        glommio::spawn_local(async move {
            shard.routing.set(shard.routing.get() + 1);
            let _routed = RoutingSlot(&shard.routing);
            let Ok(addr) = stream.peer_addr() else { return };
            if shard.filter.refuses_incoming(addr) {
                return;
            }
            let mut stream = stream;
            let mut prefix = [0u8; HANDSHAKE_ROUTING_LEN];
            let read = futures_lite::future::or(async { stream.read_exact(&mut prefix).await.is_ok() }, async {
                glommio::timer::sleep(ROUTING_TIMEOUT).await;
                false
            })
            .await;
            if read {
                shard.clone().route(stream, addr, prefix).await;
            }
        })
        .detach();
    }
}

/// Gives back a routing slot however the routing task ends.
struct RoutingSlot<'a>(&'a std::cell::Cell<usize>);

impl Drop for RoutingSlot<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}
