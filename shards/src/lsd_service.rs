//! Local service discovery (BEP 14) for the whole session, on one shard.
//!
//! Every shard publishes, every few ticks, which of its torrents may be announced
//! (running, not held, not failed, not private) into [`LsdTorrents`]. The service
//! on shard 0 announces them to the multicast group on the engine's schedule and
//! hands the peers other hosts announce for torrents we have to their owning
//! shards, as `PeerSource::Lsd`.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccbt_engine::lsd::{LsdAnnounce, LsdIntake, LsdSchedule, LSD_GROUP_V4};
use ccbt_engine::peer_source::PeerSource;
use ccbt_engine::{InfoHash, PeerId};
use ccbt_io::lsd_socket::{LsdSocket, LsdSocketError, LSD_RECV_BUFFER};
use crossbeam_channel::Sender;

use crate::messages::ShardCommand;
use crate::router::Router;

/// How often the service looks for announces that are due.
const ANNOUNCE_CHECK: Duration = Duration::from_secs(1);
/// Shards publish their announceable torrents every this many ticks.
pub(crate) const PUBLISH_EVERY_TICKS: u64 = 5;

/// How to run local service discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsdSettings {
    /// The multicast group and port (BEP 14: 239.192.152.143:6771).
    pub group: SocketAddrV4,
    /// The interface to join the group on (`0.0.0.0`: the route's choice).
    pub interface: Ipv4Addr,
}

impl Default for LsdSettings {
    fn default() -> Self {
        LsdSettings {
            group: LSD_GROUP_V4,
            interface: Ipv4Addr::UNSPECIFIED,
        }
    }
}

/// Each shard's announceable torrents, shared by the shards and the service.
#[derive(Debug, Default)]
pub struct LsdTorrents {
    enabled: AtomicBool,
    by_shard: Mutex<Vec<Vec<InfoHash>>>,
}

impl LsdTorrents {
    pub(crate) fn new(shards: usize) -> Self {
        LsdTorrents {
            enabled: AtomicBool::new(false),
            by_shard: Mutex::new(vec![Vec::new(); shards]),
        }
    }

    /// Whether the service runs (shards publish only then).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Replaces shard `shard`'s list.
    pub(crate) fn publish(&self, shard: usize, mut torrents: Vec<InfoHash>) {
        torrents.sort();
        if let Ok(mut lists) = self.by_shard.lock() {
            if let Some(slot) = lists.get_mut(shard) {
                *slot = torrents;
            }
        }
    }

    /// Every shard's torrents, sorted.
    pub(crate) fn all(&self) -> Vec<InfoHash> {
        let mut all: Vec<InfoHash> = self
            .by_shard
            .lock()
            .map(|lists| lists.iter().flatten().copied().collect())
            .unwrap_or_default();
        all.sort();
        all
    }

    fn contains(&self, info_hash: &InfoHash) -> bool {
        self.by_shard
            .lock()
            .map(|lists| lists.iter().any(|l| l.binary_search(info_hash).is_ok()))
            .unwrap_or(false)
    }
}

/// What the service needs from the session (made by
/// [`Session::start_lsd`](crate::Session::start_lsd)).
#[derive(Debug)]
pub struct LsdStart {
    pub(crate) settings: LsdSettings,
    /// The TCP port announced (the session's listening port).
    pub(crate) listen_port: u16,
    pub(crate) our_id: PeerId,
    pub(crate) torrents: Arc<LsdTorrents>,
    pub(crate) router: Arc<Router>,
    /// Every shard's command queue, to hand peers to a torrent's owner.
    pub(crate) shards: Vec<Sender<ShardCommand>>,
}

/// Binds the socket and starts announcing and listening on this executor.
pub(crate) fn start(start: LsdStart) -> Result<(), LsdSocketError> {
    let socket = Rc::new(LsdSocket::bind_v4(start.settings.group, start.settings.interface)?);
    start.torrents.enabled.store(true, Ordering::Relaxed);
    // The cookie marks our own announces, which multicast loop brings back to us.
    let cookie: String = start.our_id.0[12..].iter().map(|b| format!("{b:02x}")).collect();
    let start = Rc::new(start);
    tracing::debug!(group = %start.settings.group, port = start.listen_port, "local service discovery on");
    glommio::spawn_local(announce_loop(socket.clone(), start.clone(), cookie.clone())).detach();
    glommio::spawn_local(listen_loop(socket, start, cookie)).detach();
    Ok(())
}

async fn announce_loop(socket: Rc<LsdSocket>, start: Rc<LsdStart>, cookie: String) {
    let mut schedule = LsdSchedule::new();
    let host = socket.group().to_string();
    loop {
        let torrents = start.torrents.all();
        for announce in schedule.due(&torrents, start.listen_port, &cookie, Instant::now()) {
            if let Err(error) = socket.announce(&announce.encode(&host)).await {
                tracing::debug!(%error, "LSD announce not sent");
            }
        }
        glommio::timer::sleep(ANNOUNCE_CHECK).await;
    }
}

async fn listen_loop(socket: Rc<LsdSocket>, start: Rc<LsdStart>, cookie: String) {
    let intake = RefCell::new(LsdIntake::new());
    let mut buf = vec![0u8; LSD_RECV_BUFFER];
    loop {
        let (n, from) = match socket.recv(&mut buf).await {
            Ok(got) => got,
            Err(error) => {
                tracing::debug!(%error, "LSD receive failed");
                glommio::timer::sleep(ANNOUNCE_CHECK).await;
                continue;
            }
        };
        let announce = match LsdAnnounce::decode(&buf[..n]) {
            Ok(a) => a,
            Err(error) => {
                tracing::debug!(%from, %error, "LSD datagram ignored");
                continue;
            }
        };
        if announce.cookie.as_deref() == Some(cookie.as_str()) {
            continue;
        }
        let peer = SocketAddr::new(from.ip(), announce.port);
        let now = Instant::now();
        for info_hash in announce.info_hashes {
            if !start.torrents.contains(&info_hash) || !intake.borrow_mut().accept(peer, info_hash, now) {
                continue;
            }
            let Some(owner) = start.router.owner(&info_hash) else {
                continue;
            };
            tracing::debug!(torrent = %info_hash, %peer, "peer found by local service discovery");
            // Never wait on a shard's queue here: a full one loses this peer, which
            // announces again in a few minutes.
            let _ = start.shards[owner].try_send(ShardCommand::AddDiscoveredPeers {
                info_hash,
                addrs: vec![peer],
                source: PeerSource::Lsd,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_lists_are_merged_and_searchable() {
        let t = LsdTorrents::new(2);
        assert!(!t.enabled());
        t.publish(1, vec![InfoHash([3; 20]), InfoHash([1; 20])]);
        t.publish(0, vec![InfoHash([2; 20])]);
        t.publish(7, vec![InfoHash([9; 20])]);
        assert_eq!(t.all(), vec![InfoHash([1; 20]), InfoHash([2; 20]), InfoHash([3; 20])]);
        assert!(t.contains(&InfoHash([3; 20])));
        assert!(!t.contains(&InfoHash([9; 20])), "no such shard");
        t.publish(1, Vec::new());
        assert!(!t.contains(&InfoHash([3; 20])), "a list replaces the last one");
    }
}
