//! The session's one DHT node: it lives on shard 0 with its UDP socket and serves
//! every torrent. Each shard asks it, through a bounded channel, to look up and
//! announce its torrents on the engine's schedule (`dht::schedule`); peers found go
//! to the torrent's owner as [`ShardCommand::AddDiscoveredPeers`] with
//! [`PeerSource::Dht`]. Private torrents (BEP 27) are never looked up.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccbt_engine::dht::schedule::{LookupSchedule, TorrentDemand};
use ccbt_engine::dht::{DhtConfig, DhtEvent, DhtNode, DhtStats, NodeId, NodeInfo};
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::InfoHash;
use ccbt_io::dht_socket::DhtSocket;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::messages::ShardCommand;
use crate::router::Router;

/// The public routers other clients bootstrap from; used when the config names none.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "dht.libtorrent.org:25401",
];

/// Lookup requests waiting for the DHT node, from all shards.
pub(crate) const REQUEST_QUEUE_DEPTH: usize = 4096;
/// Longest the node waits for a datagram before looking at requests again.
const SERVICE_POLL: Duration = Duration::from_millis(100);
/// Requests taken per round, so a burst cannot starve the socket.
const REQUESTS_PER_ROUND: usize = 256;
/// How often the status readable from the session is refreshed.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How often each shard looks for torrents due a lookup.
const SCHEDULE_CHECK: Duration = Duration::from_secs(5);

/// How the session's DHT node starts.
#[derive(Clone, Debug, Default)]
pub struct DhtSettings {
    /// UDP port; None = the peer listen port's number (as other clients do).
    pub port: Option<u16>,
    /// `host:port` routers to bootstrap from, resolved off the shards.
    pub bootstrap: Vec<String>,
    /// Nodes saved from the last run.
    pub saved_nodes: Vec<NodeInfo>,
    /// The id from the last run (None = a new one).
    pub node_id: Option<NodeId>,
    /// Our address as the internet sees it, for a BEP 42 id (None = unknown).
    pub external_ip: Option<IpAddr>,
}

/// What the DHT node looks like now (refreshed every second).
#[derive(Clone, Debug, Default)]
pub struct DhtStatus {
    pub local_addr: Option<SocketAddr>,
    pub id: NodeId,
    pub stats: DhtStats,
    /// The routing table's nodes, to save for the next run.
    pub nodes: Vec<NodeInfo>,
    /// The address other nodes say they see us at (BEP 42), once two agree.
    pub external_ip: Option<IpAddr>,
    /// Datagrams the socket could not send.
    pub send_errors: u64,
}

/// Reads the DHT node's status from any thread (it outlives a moved session handle).
#[derive(Clone, Debug)]
pub struct DhtWatch(pub(crate) Arc<Mutex<DhtStatus>>);

impl DhtWatch {
    /// The status as last published (at most a second old).
    pub fn status(&self) -> DhtStatus {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A shard's request to the DHT node.
#[derive(Debug)]
pub(crate) enum DhtRequest {
    GetPeers {
        info_hash: InfoHash,
        announce_port: Option<u16>,
    },
}

/// What shard 0 needs to run the node (made by `Session::start_dht`).
pub struct DhtStart {
    pub(crate) socket: DhtSocket,
    pub(crate) settings: DhtSettings,
    pub(crate) requests: Receiver<DhtRequest>,
    pub(crate) status: Arc<Mutex<DhtStatus>>,
    pub(crate) commands: Vec<Sender<ShardCommand>>,
    pub(crate) router: Arc<Router>,
    pub(crate) seed: u64,
}

impl fmt::Debug for DhtStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhtStart")
            .field("socket", &self.socket.local_addr())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A shard's way to the DHT node (made by `Session::start_dht`).
#[derive(Clone, Debug)]
pub struct DhtLink {
    pub(crate) requests: Sender<DhtRequest>,
    /// The peer port we announce.
    pub(crate) announce_port: u16,
}

/// Runs the node on shard 0 for as long as the shard runs.
pub(crate) async fn run(start: DhtStart) {
    let DhtStart {
        socket,
        settings,
        requests,
        status,
        commands,
        router,
        seed,
    } = start;
    let local = socket.local_addr();
    let now = Instant::now();
    let config = DhtConfig {
        id: settings.node_id,
        external_ip: settings.external_ip,
        ipv6: local.is_ipv6(),
        ..DhtConfig::default()
    };
    let mut endpoint = socket.into_endpoint(DhtNode::new(config, seed, now));
    tracing::info!(%local, id = %endpoint.node().id(), saved = settings.saved_nodes.len(), "DHT node started");
    if !settings.saved_nodes.is_empty() {
        endpoint.node().bootstrap(now, &[], &settings.saved_nodes);
    }
    let routers = reachable_routers(settings.bootstrap, local);
    let resolved = resolve_off_thread(routers, local.is_ipv6());
    let mut last_publish: Option<Instant> = None;
    loop {
        endpoint.step(SERVICE_POLL).await;
        let now = Instant::now();
        while let Ok(routers) = resolved.try_recv() {
            if !routers.is_empty() {
                tracing::debug!(?routers, "DHT bootstrap");
                endpoint.node().bootstrap(now, &routers, &[]);
            }
        }
        for _ in 0..REQUESTS_PER_ROUND {
            match requests.try_recv() {
                Ok(DhtRequest::GetPeers {
                    info_hash,
                    announce_port,
                }) => {
                    endpoint.node().get_peers(now, info_hash, announce_port);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        while let Some(event) = endpoint.node().poll_event() {
            match event {
                DhtEvent::PeersFound { info_hash, peers, .. } => {
                    tracing::debug!(%info_hash, peers = peers.len(), "DHT peers found");
                    if let Some(owner) = router.owner(&info_hash) {
                        // Never block the node: a full queue loses this batch only.
                        let _ = commands[owner].try_send(ShardCommand::AddDiscoveredPeers {
                            info_hash,
                            addrs: peers,
                            source: PeerSource::Dht,
                        });
                    }
                }
                DhtEvent::LookupDone {
                    info_hash,
                    peers_found,
                    announced_to,
                    closest,
                    ..
                } => {
                    tracing::debug!(
                        ?info_hash,
                        peers_found,
                        announced_to,
                        closest = closest.len(),
                        "DHT lookup done"
                    );
                }
            }
        }
        endpoint.flush().await;
        if last_publish.is_none_or(|t| now.saturating_duration_since(t) >= PUBLISH_EVERY) {
            last_publish = Some(now);
            let send_errors = endpoint.send_errors();
            let node = endpoint.node();
            let fresh = DhtStatus {
                local_addr: Some(local),
                id: node.id(),
                stats: node.stats(now),
                nodes: node.nodes(),
                external_ip: node.external_ip(),
                send_errors,
            };
            if let Ok(mut s) = status.lock() {
                *s = fresh;
            }
        }
    }
}

/// The bootstrap entries a node bound to `local` can reach. A node on a loopback
/// address reaches only loopback nodes, so the public routers are dropped there
/// (without even a DNS query): tests and loopback-only setups never leave the host.
fn reachable_routers(names: Vec<String>, local: SocketAddr) -> Vec<String> {
    if !local.ip().is_loopback() {
        return names;
    }
    names
        .into_iter()
        .filter(|name| match name.parse::<SocketAddr>() {
            Ok(addr) => addr.ip().is_loopback(),
            Err(_) => name
                .rsplit_once(':')
                .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
        })
        .collect()
}

/// Resolves `host:port` names on a thread of its own (DNS blocks), sending each
/// name's addresses of our family as they come; a name that fails is logged and skipped.
fn resolve_off_thread(names: Vec<String>, ipv6: bool) -> Receiver<Vec<SocketAddr>> {
    let (tx, rx) = crossbeam_channel::bounded(names.len().max(1));
    if names.is_empty() {
        return rx;
    }
    let spawned = std::thread::Builder::new()
        .name("ccbt-dht-resolve".into())
        .spawn(move || {
            for name in names {
                match name.to_socket_addrs() {
                    Ok(addrs) => {
                        let addrs: Vec<SocketAddr> = addrs.filter(|a| a.is_ipv6() == ipv6).take(8).collect();
                        let _ = tx.send(addrs);
                    }
                    Err(e) => tracing::info!(router = %name, error = %e, "DHT bootstrap router not resolved"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "DHT: cannot start the resolver thread");
    }
    rx
}

/// On every shard: asks the node for lookups of the shard's torrents when they are
/// due. `demand` lists the shard's public running torrents; None ends the loop.
pub(crate) async fn lookup_loop(link: DhtLink, demand: impl Fn() -> Option<Vec<TorrentDemand>>) {
    let mut schedule = LookupSchedule::default();
    loop {
        let Some(torrents) = demand() else { return };
        for info_hash in schedule.due(Instant::now(), &torrents) {
            let request = DhtRequest::GetPeers {
                info_hash,
                announce_port: Some(link.announce_port),
            };
            if let Err(crossbeam_channel::TrySendError::Disconnected(_)) = link.requests.try_send(request) {
                return;
            }
        }
        glommio::timer::sleep(SCHEDULE_CHECK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_node_bootstraps_only_from_loopback_nodes() {
        let names = vec![
            "router.bittorrent.com:6881".to_string(),
            "127.0.0.1:7000".to_string(),
            "10.0.0.1:6881".to_string(),
            "localhost:7001".to_string(),
        ];
        assert_eq!(
            reachable_routers(names.clone(), "127.0.0.1:6881".parse().unwrap()),
            ["127.0.0.1:7000", "localhost:7001"]
        );
        assert_eq!(reachable_routers(names.clone(), "0.0.0.0:6881".parse().unwrap()), names);
    }
}
