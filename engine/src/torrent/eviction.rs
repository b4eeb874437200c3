//! What the connection policy (`crate::connection_policy`) needs to know about a
//! torrent's peers: how useful each has been lately.

use std::time::Instant;

use super::Torrent;
use crate::connection_policy::{admit, Admission, ConnectionCounts, ConnectionLimits, PeerActivity};

impl Torrent {
    /// Every connected peer's usefulness, for eviction decisions.
    pub fn eviction_candidates(&self) -> impl Iterator<Item = PeerActivity> + '_ {
        self.peers.iter().map(|(key, p)| PeerActivity {
            key: *key,
            ip: p.addr.ip(),
            connected_at: p.connected_at,
            last_useful_at: p.last_useful,
            am_interested: p.am_interested,
            peer_interested: p.peer_interested,
        })
    }

    /// Decides on a newcomer from `ip` (see [`admit`]); `global` counts the shard's
    /// connections.
    pub fn admission(&self, limits: &ConnectionLimits, ip: std::net::IpAddr, global: usize, now: Instant) -> Admission {
        let counts = ConnectionCounts {
            torrent: self.peers.len(),
            same_ip: self.peers.values().filter(|p| p.addr.ip() == ip).count(),
            global,
        };
        admit(limits, counts, self.eviction_candidates(), now)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use crate::bitfield::Bitfield;
    use crate::connection_policy::{Refusal, DEFAULT_EVICT_IDLE_AFTER};
    use crate::torrent::{TorrentConfig, TorrentParams};
    use crate::types::{InfoHash, PeerId, PeerKey};
    use crate::wire::Message;

    use super::*;

    fn seeder(now: Instant) -> Torrent {
        let params = TorrentParams {
            info_hash: InfoHash([3; 20]),
            num_pieces: 4,
            piece_length: 16 * 1024,
            total_length: 4 * 16 * 1024,
            piece_hashes: vec![[0; 20]; 4].into(),
        };
        Torrent::new(
            params,
            &Bitfield::full(4),
            TorrentConfig::default(),
            PeerId([b's'; 20]),
            1,
            now,
        )
    }

    fn connect(t: &mut Torrent, key: u64, ip_last: u8, now: Instant) {
        let mut id = [b'p'; 20];
        id[..8].copy_from_slice(&key.to_le_bytes());
        let session = crate::torrent::tests::driver::established(InfoHash([3; 20]), PeerId([b's'; 20]), PeerId(id));
        let addr = SocketAddr::from(([127, 0, 0, ip_last], 40000 + key as u16));
        t.add_peer(PeerKey(key), addr, session, now).unwrap();
    }

    #[test]
    fn keep_alives_do_not_protect_a_peer_from_eviction_but_interest_does() {
        let t0 = Instant::now();
        let mut t = seeder(t0);
        let limits = ConnectionLimits {
            per_torrent: 2,
            ..ConnectionLimits::default()
        };
        connect(&mut t, 1, 2, t0);
        connect(&mut t, 2, 3, t0);
        let later = t0 + DEFAULT_EVICT_IDLE_AFTER + Duration::from_secs(1);
        // Peer 1 only sends keep-alives, right up to now; peer 2 says it is interested.
        for s in 0..30 {
            t.on_message(PeerKey(1), Message::KeepAlive, t0 + Duration::from_secs(s));
        }
        t.on_message(PeerKey(2), Message::Interested, t0 + Duration::from_secs(1));
        let ip = std::net::IpAddr::from([127, 0, 0, 9]);
        assert_eq!(t.admission(&limits, ip, 2, later), Admission::AdmitEvicting(PeerKey(1)));
        // Without the idle one, the torrent is full of a busy peer and refuses.
        t.remove_peer(PeerKey(1), later);
        connect(&mut t, 3, 4, later);
        assert_eq!(
            t.admission(&limits, ip, 2, later + Duration::from_secs(1)),
            Admission::Refuse(Refusal::TorrentFull { limit: 2 })
        );
    }

    #[test]
    fn connections_from_one_address_are_capped() {
        let t0 = Instant::now();
        let mut t = seeder(t0);
        let limits = ConnectionLimits {
            per_ip: 2,
            ..ConnectionLimits::default()
        };
        connect(&mut t, 1, 5, t0);
        connect(&mut t, 2, 5, t0);
        let same = std::net::IpAddr::from([127, 0, 0, 5]);
        let other = std::net::IpAddr::from([127, 0, 0, 6]);
        assert_eq!(
            t.admission(&limits, same, 2, t0),
            Admission::Refuse(Refusal::PerIp { limit: 2 })
        );
        assert_eq!(t.admission(&limits, other, 2, t0), Admission::Admit);
    }
}
